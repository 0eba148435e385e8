ALTER TABLE teams DROP COLUMN updated_at;
ALTER TABLE teams DROP COLUMN external_id;
DROP TABLE scim_users;
ALTER TABLE memberships DROP COLUMN suspended_at;
