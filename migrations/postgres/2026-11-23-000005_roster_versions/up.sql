-- A version per organization of everything its collaborator list shows
-- (memberships, their grants, the names of projects and people). Triggers
-- bump it in the transaction of every change, whichever code path or
-- process makes it, so a page rendered at version v is served again only
-- while the version is still v. No foreign key: a deleted organization's
-- cascades still bump it.
CREATE TABLE roster_versions (
    organization_id TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);

CREATE FUNCTION bump_roster(org TEXT) RETURNS VOID LANGUAGE SQL AS $$
    INSERT INTO roster_versions (organization_id, version) VALUES (org, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = roster_versions.version + 1;
$$;

CREATE FUNCTION bump_roster_of_membership() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN PERFORM bump_roster(OLD.organization_id); END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.organization_id <> OLD.organization_id) THEN
        PERFORM bump_roster(NEW.organization_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER memberships_bump AFTER INSERT OR UPDATE OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION bump_roster_of_membership();

CREATE FUNCTION bump_roster_of_grant() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bump_roster(m.organization_id) FROM memberships m
        WHERE m.id = CASE WHEN TG_OP = 'DELETE' THEN OLD.membership_id ELSE NEW.membership_id END;
    RETURN NULL;
END $$;
CREATE TRIGGER grants_bump AFTER INSERT OR UPDATE OR DELETE ON project_permissions
    FOR EACH ROW EXECUTE FUNCTION bump_roster_of_grant();

CREATE FUNCTION bump_roster_of_project() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bump_roster(OLD.organization_id);
    RETURN NULL;
END $$;
CREATE TRIGGER projects_bump AFTER UPDATE OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION bump_roster_of_project();

CREATE FUNCTION bump_roster_of_user() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bump_roster(m.organization_id) FROM memberships m WHERE m.user_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER users_bump AFTER UPDATE OF name, email ON users
    FOR EACH ROW EXECUTE FUNCTION bump_roster_of_user();
