-- A team may carry one of its organization's custom roles (API.md §10), as
-- members, invites and domains may (migration 000014). A team holds a
-- system role (`role`), a custom role (`role_id`), or none: never both.
-- Unlike a member's, a team's `role` has no owner rules to keep, so beside
-- a custom role it is NULL rather than 'collaborator'.
ALTER TABLE teams ADD COLUMN role_id TEXT,
    ADD CONSTRAINT teams_one_role CHECK (role_id IS NULL OR role IS NULL),
    ADD FOREIGN KEY (organization_id, role_id) REFERENCES roles (organization_id, id);
-- The teams holding a role, found by it (role_in_use).
CREATE INDEX teams_role_id ON teams(organization_id, role_id) WHERE role_id IS NOT NULL;
