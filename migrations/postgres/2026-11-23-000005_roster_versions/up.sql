-- A version per organization of everything its collaborator list shows
-- (memberships, their grants, the names of projects and people). Triggers
-- bump it in the transaction of every change, whichever code path or
-- process makes it, so a page rendered at version v is served again only
-- while the version is still v. No foreign key: a deleted organization's
-- cascades still bump it. The triggers run once per statement, over its
-- transition table, so a statement that changes many rows bumps each
-- organization once (a row per change would update one version row again
-- and again inside one transaction).
CREATE TABLE roster_versions (
    organization_id TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);

CREATE FUNCTION bump_rosters_of_memberships() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_versions (organization_id, version)
        SELECT DISTINCT organization_id, 1 FROM changed
        ON CONFLICT (organization_id) DO UPDATE SET version = roster_versions.version + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER memberships_bump_insert AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_memberships();
CREATE TRIGGER memberships_bump_update AFTER UPDATE ON memberships
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_memberships();
CREATE TRIGGER memberships_bump_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_memberships();

CREATE FUNCTION bump_rosters_of_grants() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_versions (organization_id, version)
        SELECT DISTINCT m.organization_id, 1 FROM changed c JOIN memberships m ON m.id = c.membership_id
        ON CONFLICT (organization_id) DO UPDATE SET version = roster_versions.version + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER grants_bump_insert AFTER INSERT ON project_permissions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_grants();
CREATE TRIGGER grants_bump_update AFTER UPDATE ON project_permissions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_grants();
CREATE TRIGGER grants_bump_delete AFTER DELETE ON project_permissions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_grants();

CREATE FUNCTION bump_rosters_of_projects() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_versions (organization_id, version)
        SELECT DISTINCT organization_id, 1 FROM changed
        ON CONFLICT (organization_id) DO UPDATE SET version = roster_versions.version + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER projects_bump_update AFTER UPDATE ON projects
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_projects();
CREATE TRIGGER projects_bump_delete AFTER DELETE ON projects
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_projects();

CREATE FUNCTION bump_rosters_of_users() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_versions (organization_id, version)
        SELECT DISTINCT m.organization_id, 1
        FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN memberships m ON m.user_id = n.id
        WHERE n.name IS DISTINCT FROM o.name OR n.email IS DISTINCT FROM o.email
        ON CONFLICT (organization_id) DO UPDATE SET version = roster_versions.version + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER users_bump_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_users();
