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

CREATE TRIGGER memberships_bump_insert AFTER INSERT ON memberships BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (NEW.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER memberships_bump_update AFTER UPDATE ON memberships BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (NEW.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER memberships_bump_delete AFTER DELETE ON memberships BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (OLD.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER grants_bump_insert AFTER INSERT ON project_permissions BEGIN
    INSERT INTO roster_versions (organization_id, version)
        SELECT organization_id, 1 FROM memberships WHERE id = NEW.membership_id
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER grants_bump_update AFTER UPDATE ON project_permissions BEGIN
    INSERT INTO roster_versions (organization_id, version)
        SELECT organization_id, 1 FROM memberships WHERE id = NEW.membership_id
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER grants_bump_delete AFTER DELETE ON project_permissions BEGIN
    INSERT INTO roster_versions (organization_id, version)
        SELECT organization_id, 1 FROM memberships WHERE id = OLD.membership_id
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER projects_bump_update AFTER UPDATE ON projects BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (NEW.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER projects_bump_delete AFTER DELETE ON projects BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (OLD.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER users_bump_update AFTER UPDATE OF name, email ON users BEGIN
    INSERT INTO roster_versions (organization_id, version)
        SELECT organization_id, 1 FROM memberships WHERE user_id = NEW.id
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
