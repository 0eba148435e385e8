DROP INDEX invites_email_state_id;
CREATE INDEX invites_email_state ON invites(email, state);
DROP INDEX memberships_org_id;
