-- Verified domains (API.md §6): an organization claims an email domain,
-- proves it by a link mailed to an address there, and from then on accounts
-- at that domain join it as they sign in.
CREATE TABLE domains (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'technical', 'collaborator')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'verified')),
    verification_email TEXT NOT NULL,
    -- SHA-256 of the emailed token; a newer claim of the same domain by the
    -- same organization replaces it.
    token_hash TEXT NOT NULL UNIQUE,
    token_expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    verified_at BIGINT
);
CREATE INDEX domains_org ON domains(organization_id, id);
-- An organization claims a domain once.
CREATE UNIQUE INDEX domains_org_domain ON domains(organization_id, domain);
-- A domain is verified for at most one organization; sign-ins look it up here.
CREATE UNIQUE INDEX domains_verified ON domains(domain) WHERE state = 'verified';

-- Who was removed from, left, or outlived an organization: a verified
-- domain never adds them again. Kept by address too (no foreign key to the
-- account), so closing the account and signing up again changes nothing.
CREATE TABLE departures (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    user_id TEXT NOT NULL,
    departed_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, email)
);
CREATE INDEX departures_user ON departures(organization_id, user_id);

-- The departures before this table existed, from the audit log (what it
-- still holds): removals, leavings (an account closed included) and ends.
INSERT INTO departures (organization_id, email, user_id, departed_at)
SELECT organization_id, lower((details::json ->> 'email')), (details::json ->> 'userid'), MAX(created_at)
FROM audit_events
WHERE action IN ('collaborator.removed', 'collaborator.left', 'collaborator.expired')
  AND (details::json ->> 'email') IS NOT NULL AND (details::json ->> 'userid') IS NOT NULL
GROUP BY organization_id, lower((details::json ->> 'email')), (details::json ->> 'userid')
ON CONFLICT DO NOTHING;
