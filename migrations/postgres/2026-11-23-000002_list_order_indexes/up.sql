-- Indexes that serve each keyset page in its order, so a page never sorts the
-- whole list: an organization's members by id, the invites waiting for an
-- address by id.
CREATE INDEX memberships_org_id ON memberships(organization_id, id);
DROP INDEX invites_email_state;
CREATE INDEX invites_email_state_id ON invites(email, state, id);
