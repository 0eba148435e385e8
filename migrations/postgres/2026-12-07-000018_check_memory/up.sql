-- The permission checks keep what they read of an organization in memory
-- while its roster version stands (src/domain/effective/memory.rs), so the
-- version must also move when a custom role's permissions change, not only
-- its name. (A new project needs no bump: project ids are never reused, so
-- no answer kept about an id can be about a project made later.)
DROP TRIGGER roles_bump_rename ON roles;
CREATE TRIGGER roles_bump_change AFTER UPDATE ON roles
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.permissions IS DISTINCT FROM NEW.permissions)
    EXECUTE FUNCTION bump_rosters_of_roles();
