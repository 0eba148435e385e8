-- A team may carry one of its organization's custom roles (API.md §10), as
-- members, invites and domains may (migration 000014). A team holds a
-- system role (`role`), a custom role (`role_id`), or none: never both.
-- Unlike a member's, a team's `role` has no owner rules to keep, so beside
-- a custom role it is NULL rather than 'collaborator'. Triggers keep each
-- `role_id` naming a role of the team's organization (SQLite cannot add a
-- two-column foreign key to a table without making it again).
ALTER TABLE teams ADD COLUMN role_id TEXT CHECK (role_id IS NULL OR role IS NULL);
-- The teams holding a role, found by it (role_in_use).
CREATE INDEX teams_role_id ON teams(organization_id, role_id) WHERE role_id IS NOT NULL;
CREATE TRIGGER teams_role_insert BEFORE INSERT ON teams
    WHEN NEW.role_id IS NOT NULL AND NOT EXISTS
        (SELECT 1 FROM roles WHERE organization_id = NEW.organization_id AND id = NEW.role_id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END;
CREATE TRIGGER teams_role_update BEFORE UPDATE OF role_id ON teams
    WHEN NEW.role_id IS NOT NULL AND NOT EXISTS
        (SELECT 1 FROM roles WHERE organization_id = NEW.organization_id AND id = NEW.role_id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END;
