-- Back to system roles only: holders of a custom role keep 'collaborator'.
DROP TRIGGER roles_bump_rename;
DROP TRIGGER memberships_role_insert;
DROP TRIGGER memberships_role_update;
DROP TRIGGER invites_role_insert;
DROP TRIGGER invites_role_update;
DROP TRIGGER domains_role_insert;
DROP TRIGGER domains_role_update;
DROP INDEX memberships_role_id;
DROP INDEX invites_role_id;
DROP INDEX domains_role_id;
ALTER TABLE memberships DROP COLUMN role_id;
ALTER TABLE invites DROP COLUMN role_id;
ALTER TABLE domains DROP COLUMN role_id;
DROP TABLE roles;
