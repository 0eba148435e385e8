-- The permission checks keep what they read of an organization in memory
-- while its roster version stands (src/domain/effective/memory.rs), so the
-- version must also move when a custom role's permissions change, not only
-- its name. (A new project needs no bump: project ids are never reused, so
-- no answer kept about an id can be about a project made later.)
DROP TRIGGER roles_bump_rename;
CREATE TRIGGER roles_bump_change AFTER UPDATE OF name, permissions ON roles
    WHEN OLD.name IS NOT NEW.name OR OLD.permissions IS NOT NEW.permissions BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (NEW.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
