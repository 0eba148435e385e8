-- Organization sign-in through a company's OpenID Connect provider (API.md §9).

-- One connection per organization. The client secret is sealed with the
-- server's key (never stored in clear, never shown again). `role` and
-- `role_id` are what a newcomer joins as, as for domains (migration 000014):
-- a system role, or 'collaborator' with a custom role's id. `enforced_at`:
-- since when the organization enforces its SSO (NULL: it does not); API
-- keys made before then keep working.
CREATE TABLE sso_connections (
    organization_id TEXT PRIMARY KEY NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret_sealed TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'technical', 'collaborator')),
    role_id TEXT CHECK (role_id IS NULL OR role = 'collaborator'),
    enforced_at BIGINT,
    created_at BIGINT NOT NULL,
    FOREIGN KEY (organization_id, role_id) REFERENCES roles (organization_id, id)
);
CREATE INDEX sso_connections_role_id ON sso_connections(organization_id, role_id)
    WHERE role_id IS NOT NULL;

-- Sign-ins begun and not yet finished, so that any process can finish a
-- flow another began. The state the browser carries starts with the
-- organization's id, so a flow is found by its organization and its
-- state's hash (one shard under Citus); only the hash is kept, and the
-- PKCE verifier is sealed. `browser_hash` is the hash of the cookie the
-- browser that began it holds: only that browser finishes it. Each works
-- once (`used_at`), for 10 minutes; the retention sweep deletes them after.
CREATE TABLE sso_flows (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    state_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    verifier_sealed TEXT NOT NULL,
    browser_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (organization_id, state_hash)
);
CREATE INDEX sso_flows_created_at ON sso_flows(created_at);

-- Sessions made by an organization's SSO say so, and which organization's
-- (its enforcement, API.md §9, accepts only those). A session outlives the
-- organization that made it as an ordinary session: deleting the
-- organization clears the column (src/domain/organizations.rs). No foreign
-- key: sessions are of no organization (docs/scaling.md). SQLite cannot change a
-- column's CHECK: the table is made again (nothing refers to it).
CREATE TABLE sessions_new (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    method TEXT NOT NULL DEFAULT 'password'
        CHECK (method IN ('password', 'link', 'invite', 'sso')),
    sso_organization_id TEXT
);
INSERT INTO sessions_new (id, user_id, created_at, expires_at, revoked_at, method)
    SELECT id, user_id, created_at, expires_at, revoked_at, method FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_user_id ON sessions(user_id);
CREATE INDEX sessions_sso_organization ON sessions(sso_organization_id)
    WHERE sso_organization_id IS NOT NULL;

-- The organization whose SSO made the session that made an API key, if
-- one did: such a key keeps working where that organization enforces its
-- SSO (API.md §9), as keys made before enforcement began do.
ALTER TABLE api_keys ADD COLUMN sso_organization_id TEXT;
