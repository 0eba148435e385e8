-- Custom roles (API.md §10): an organization's own roles, each a set of
-- permissions from the catalogue, held by members, invites and domains
-- beside the four system roles.
--
-- A holder keeps its `role` column (a system role's name, as before) and
-- gains `role_id`, NULL for a system role. With a custom role, `role_id`
-- names it and `role` is 'collaborator', the least of the system roles, so
-- that every rule about the owner role (only owners touch owners, the last
-- owner, owners' memberships never end) reads `role` alone and never takes
-- a custom role for the owner role; what the holder may do comes from the
-- role's permissions (src/domain/custom_roles). Every `role_id` names a
-- role of the same organization: PostgreSQL keeps it with a foreign key on
-- (organization_id, role_id); SQLite cannot add a two-column foreign key to
-- a table without making it again, so triggers keep it here.
--
-- A role is deleted softly (`deleted_at`): `customer/deleterole` refuses
-- while a member, a pending invite or a domain holds it (409 role_in_use),
-- and ended invites keep naming the role they offered. Names are unique
-- among the organization's roles not deleted.
CREATE TABLE roles (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    -- The permissions' names, separated by single spaces, in catalogue order.
    permissions TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT,
    PRIMARY KEY (organization_id, id)
);
CREATE UNIQUE INDEX roles_live_name ON roles(organization_id, name) WHERE deleted_at IS NULL;
CREATE INDEX roles_id ON roles(id);

ALTER TABLE memberships ADD COLUMN role_id TEXT CHECK (role_id IS NULL OR role = 'collaborator');
ALTER TABLE invites ADD COLUMN role_id TEXT CHECK (role_id IS NULL OR role = 'collaborator');
ALTER TABLE domains ADD COLUMN role_id TEXT CHECK (role_id IS NULL OR role = 'collaborator');
CREATE INDEX memberships_role_id ON memberships(organization_id, role_id) WHERE role_id IS NOT NULL;
CREATE INDEX invites_role_id ON invites(organization_id, role_id) WHERE role_id IS NOT NULL;
CREATE INDEX domains_role_id ON domains(organization_id, role_id) WHERE role_id IS NOT NULL;

CREATE TRIGGER memberships_role_insert BEFORE INSERT ON memberships
    WHEN NEW.role_id IS NOT NULL AND NOT EXISTS
        (SELECT 1 FROM roles WHERE organization_id = NEW.organization_id AND id = NEW.role_id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END;
CREATE TRIGGER memberships_role_update BEFORE UPDATE OF role_id ON memberships
    WHEN NEW.role_id IS NOT NULL AND NOT EXISTS
        (SELECT 1 FROM roles WHERE organization_id = NEW.organization_id AND id = NEW.role_id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END;
CREATE TRIGGER invites_role_insert BEFORE INSERT ON invites
    WHEN NEW.role_id IS NOT NULL AND NOT EXISTS
        (SELECT 1 FROM roles WHERE organization_id = NEW.organization_id AND id = NEW.role_id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END;
CREATE TRIGGER invites_role_update BEFORE UPDATE OF role_id ON invites
    WHEN NEW.role_id IS NOT NULL AND NOT EXISTS
        (SELECT 1 FROM roles WHERE organization_id = NEW.organization_id AND id = NEW.role_id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END;
CREATE TRIGGER domains_role_insert BEFORE INSERT ON domains
    WHEN NEW.role_id IS NOT NULL AND NOT EXISTS
        (SELECT 1 FROM roles WHERE organization_id = NEW.organization_id AND id = NEW.role_id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END;
CREATE TRIGGER domains_role_update BEFORE UPDATE OF role_id ON domains
    WHEN NEW.role_id IS NOT NULL AND NOT EXISTS
        (SELECT 1 FROM roles WHERE organization_id = NEW.organization_id AND id = NEW.role_id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END;
-- A role row goes only with its organization, whose cascade takes its
-- holders too.

-- A collaborator list shows its members' role names: renaming a role
-- changes the roster (migration 000005).
CREATE TRIGGER roles_bump_rename AFTER UPDATE OF name ON roles
    WHEN OLD.name IS NOT NEW.name BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (NEW.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
