DROP TRIGGER roles_bump_change;
CREATE TRIGGER roles_bump_rename AFTER UPDATE OF name ON roles
    WHEN OLD.name IS NOT NEW.name BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (NEW.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
