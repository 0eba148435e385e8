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
-- role's permissions (src/domain/custom_roles). A foreign key within the
-- organization keeps every `role_id` pointing at a role of the same
-- organization.
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
-- Calls that name a role by its roleid alone find its organization by this.
CREATE INDEX roles_id ON roles(id);

ALTER TABLE memberships ADD COLUMN role_id TEXT,
    ADD CONSTRAINT memberships_custom_role CHECK (role_id IS NULL OR role = 'collaborator'),
    ADD FOREIGN KEY (organization_id, role_id) REFERENCES roles (organization_id, id);
ALTER TABLE invites ADD COLUMN role_id TEXT,
    ADD CONSTRAINT invites_custom_role CHECK (role_id IS NULL OR role = 'collaborator'),
    ADD FOREIGN KEY (organization_id, role_id) REFERENCES roles (organization_id, id);
ALTER TABLE domains ADD COLUMN role_id TEXT,
    ADD CONSTRAINT domains_custom_role CHECK (role_id IS NULL OR role = 'collaborator'),
    ADD FOREIGN KEY (organization_id, role_id) REFERENCES roles (organization_id, id);
-- What holds a role, found by it (role_in_use, membercount).
CREATE INDEX memberships_role_id ON memberships(organization_id, role_id) WHERE role_id IS NOT NULL;
CREATE INDEX invites_role_id ON invites(organization_id, role_id) WHERE role_id IS NOT NULL;
CREATE INDEX domains_role_id ON domains(organization_id, role_id) WHERE role_id IS NOT NULL;

-- A collaborator list shows its members' role names: renaming a role
-- changes the roster (migration 000005).
CREATE FUNCTION bump_rosters_of_roles() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (NEW.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = roster_versions.version + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER roles_bump_rename AFTER UPDATE ON roles
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION bump_rosters_of_roles();
