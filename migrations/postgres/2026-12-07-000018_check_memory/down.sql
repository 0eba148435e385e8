DROP TRIGGER roles_bump_change ON roles;
CREATE TRIGGER roles_bump_rename AFTER UPDATE ON roles
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION bump_rosters_of_roles();
