DROP INDEX memberships_expires_at;
ALTER TABLE invites DROP COLUMN membership_expires_at;
ALTER TABLE memberships DROP COLUMN expires_at;
