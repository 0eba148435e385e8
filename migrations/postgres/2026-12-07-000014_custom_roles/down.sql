-- Back to system roles only: holders of a custom role keep 'collaborator'.
DROP TRIGGER roles_bump_rename ON roles;
DROP FUNCTION bump_rosters_of_roles();
ALTER TABLE memberships DROP CONSTRAINT memberships_custom_role, DROP COLUMN role_id;
ALTER TABLE invites DROP CONSTRAINT invites_custom_role, DROP COLUMN role_id;
ALTER TABLE domains DROP CONSTRAINT domains_custom_role, DROP COLUMN role_id;
DROP TABLE roles;
