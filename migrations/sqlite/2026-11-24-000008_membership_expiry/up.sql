-- Time-limited memberships (API.md §6): a membership ends at expires_at; an
-- invite may carry the end of the membership it makes.
ALTER TABLE memberships ADD COLUMN expires_at BIGINT;
ALTER TABLE invites ADD COLUMN membership_expires_at BIGINT;
-- The sweep's scan: only time-limited memberships, by their end.
CREATE INDEX memberships_expires_at ON memberships(expires_at) WHERE expires_at IS NOT NULL;
