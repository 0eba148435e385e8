-- Back to system roles on teams: a team with a custom role is left with none.
DROP INDEX teams_role_id;
ALTER TABLE teams DROP COLUMN role_id;
