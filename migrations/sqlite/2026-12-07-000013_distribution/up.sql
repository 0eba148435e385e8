-- Organizations are the unit of distribution (API.md §12, docs/scaling.md):
-- every table that belongs to an organization carries organization_id in its
-- primary key, its unique keys and its foreign keys to other such tables;
-- what must be unique across organizations (a link's token found by its
-- hash, a verified email domain) moves to reference tables that name the
-- organization and reference none of its tables. And an account that closes
-- no longer takes the invites it sent with it (API.md §12, §5): they keep
-- the inviter's name and address, with invited_by set to NULL.
--
-- SQLite cannot change a table's keys, so the tables are made again. This
-- runs in the transaction diesel_migrations opens for each migration, with
-- foreign keys on (`PRAGMA foreign_keys` cannot change inside a
-- transaction), so every row copied back is checked against its parents.
-- The rows are first copied aside; then the tables are dropped children
-- first, so that no drop's implicit delete cascades into a table still
-- holding rows; then made again parents first and filled from the copies.

CREATE TEMP TABLE old_memberships AS SELECT * FROM memberships;
CREATE TEMP TABLE old_projects AS SELECT * FROM projects;
CREATE TEMP TABLE old_project_permissions AS SELECT * FROM project_permissions;
CREATE TEMP TABLE old_invites AS SELECT * FROM invites;
CREATE TEMP TABLE old_invite_projects AS SELECT * FROM invite_projects;
CREATE TEMP TABLE old_retired_invite_tokens AS SELECT * FROM retired_invite_tokens;
CREATE TEMP TABLE old_webhooks AS SELECT * FROM webhooks;
CREATE TEMP TABLE old_webhook_deliveries AS SELECT * FROM webhook_deliveries;
CREATE TEMP TABLE old_domains AS SELECT * FROM domains;
CREATE TEMP TABLE old_audit_events AS SELECT * FROM audit_events;
CREATE TEMP TABLE old_api_keys AS SELECT * FROM api_keys;

-- Children first; a table's triggers and indexes go with it.
DROP TABLE project_permissions;
DROP TABLE invite_projects;
DROP TABLE retired_invite_tokens;
DROP TABLE webhook_deliveries;
DROP TABLE memberships;
DROP TABLE projects;
DROP TABLE invites;
DROP TABLE webhooks;
DROP TABLE domains;
DROP TABLE audit_events;
DROP TABLE api_keys;

-- A reference table: no foreign key into an organization's tables (a key's
-- organization is kept by the key; deleting an organization deletes its
-- keys in src/domain/organizations.rs).
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    organization_id TEXT,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_keys_user_id ON api_keys(user_id);
INSERT INTO api_keys SELECT * FROM old_api_keys;

CREATE TABLE memberships (
    id TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'technical', 'collaborator')),
    can_create_projects BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, user_id)
);
CREATE INDEX memberships_user_id ON memberships(user_id);
CREATE INDEX memberships_org_role ON memberships(organization_id, role);
CREATE INDEX memberships_expires_at ON memberships(expires_at) WHERE expires_at IS NOT NULL;
INSERT INTO memberships (id, organization_id, user_id, role, can_create_projects, created_at, expires_at)
    SELECT id, organization_id, user_id, role, can_create_projects, created_at, expires_at
    FROM old_memberships;

CREATE TABLE projects (
    id TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX projects_org_name_id ON projects(organization_id, name, id);
INSERT INTO projects (id, organization_id, name, created_at)
    SELECT id, organization_id, name, created_at FROM old_projects;

CREATE TABLE project_permissions (
    membership_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    permission TEXT NOT NULL CHECK (permission IN ('read', 'full')),
    organization_id TEXT NOT NULL,
    PRIMARY KEY (organization_id, membership_id, project_id),
    FOREIGN KEY (organization_id, membership_id)
        REFERENCES memberships(organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, project_id)
        REFERENCES projects(organization_id, id) ON DELETE CASCADE
);
CREATE INDEX project_permissions_project_id ON project_permissions(organization_id, project_id);
INSERT INTO project_permissions (membership_id, project_id, permission, organization_id)
    SELECT p.membership_id, p.project_id, p.permission, m.organization_id
    FROM old_project_permissions p JOIN old_memberships m ON m.id = p.membership_id;

-- invited_by is NULL once the sender's account has closed; the inviter_*
-- columns then keep who they were (NULL while the account is open).
CREATE TABLE invites (
    id TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'technical', 'collaborator')),
    can_create_projects BOOLEAN NOT NULL DEFAULT FALSE,
    token_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
    invited_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT,
    membership_expires_at BIGINT,
    inviter_name TEXT,
    inviter_email TEXT,
    inviter_confirmed BOOLEAN,
    PRIMARY KEY (organization_id, id),
    CONSTRAINT invites_inviter_known
        CHECK (invited_by IS NOT NULL OR (inviter_name IS NOT NULL AND inviter_email IS NOT NULL))
);
CREATE UNIQUE INDEX invites_one_pending ON invites(organization_id, email) WHERE state = 'pending';
CREATE INDEX invites_email_state_id ON invites(email, state, id);
CREATE INDEX invites_org_state ON invites(organization_id, state, id);
CREATE INDEX invites_invited_by ON invites(invited_by);
INSERT INTO invites (id, organization_id, email, role, can_create_projects, token_hash, state,
                     invited_by, created_at, expires_at, ended_at, membership_expires_at)
    SELECT id, organization_id, email, role, can_create_projects, token_hash, state,
           invited_by, created_at, expires_at, ended_at, membership_expires_at
    FROM old_invites;

CREATE TABLE invite_projects (
    invite_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    permission TEXT NOT NULL CHECK (permission IN ('read', 'full')),
    organization_id TEXT NOT NULL,
    PRIMARY KEY (organization_id, invite_id, project_id),
    FOREIGN KEY (organization_id, invite_id)
        REFERENCES invites(organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, project_id)
        REFERENCES projects(organization_id, id) ON DELETE CASCADE
);
CREATE INDEX invite_projects_project_id ON invite_projects(organization_id, project_id);
INSERT INTO invite_projects (invite_id, project_id, permission, organization_id)
    SELECT p.invite_id, p.project_id, p.permission, i.organization_id
    FROM old_invite_projects p JOIN old_invites i ON i.id = p.invite_id;

CREATE TABLE webhooks (
    id TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    -- A JSON list of audit actions, or ["*"].
    events TEXT NOT NULL,
    description TEXT,
    -- The signing secret, sealed with a key derived from the server's secret.
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, id)
);
INSERT INTO webhooks (id, organization_id, url, events, description, secret, created_at)
    SELECT id, organization_id, url, events, description, secret, created_at FROM old_webhooks;

CREATE TABLE webhook_deliveries (
    id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    -- The audit event's id: the webhook-id header on every try. No foreign
    -- key, so audit retention never takes a pending delivery with it.
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    -- The exact body sent on every try.
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    claim TEXT,
    last_code INTEGER,
    last_error TEXT,
    last_attempt_at BIGINT,
    created_at BIGINT NOT NULL,
    organization_id TEXT NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, webhook_id)
        REFERENCES webhooks(organization_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at, id);
CREATE INDEX webhook_deliveries_claim ON webhook_deliveries(claim);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(organization_id, webhook_id, id);
INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload, state, attempts,
                                next_attempt_at, claimed_until, claim, last_code, last_error,
                                last_attempt_at, created_at, organization_id)
    SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.payload, d.state, d.attempts,
           d.next_attempt_at, d.claimed_until, d.claim, d.last_code, d.last_error,
           d.last_attempt_at, d.created_at, w.organization_id
    FROM old_webhook_deliveries d JOIN old_webhooks w ON w.id = d.webhook_id;

-- token_hash: SHA-256 of the emailed token; a newer claim of the same
-- domain by the same organization replaces it. Found through link_tokens.
CREATE TABLE domains (
    id TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'technical', 'collaborator')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'verified')),
    verification_email TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    token_expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    verified_at BIGINT,
    PRIMARY KEY (organization_id, id)
);
-- An organization claims a domain once.
CREATE UNIQUE INDEX domains_org_domain ON domains(organization_id, domain);
INSERT INTO domains (id, organization_id, domain, role, state, verification_email, token_hash,
                     token_expires_at, created_at, verified_at)
    SELECT id, organization_id, domain, role, state, verification_email, token_hash,
           token_expires_at, created_at, verified_at
    FROM old_domains;

CREATE TABLE audit_events (
    id TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    actor_user_id TEXT,
    actor_email TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    details TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, id)
);
INSERT INTO audit_events (id, organization_id, actor_user_id, actor_email, action, target,
                          details, created_at)
    SELECT id, organization_id, actor_user_id, actor_email, action, target, details, created_at
    FROM old_audit_events;

-- Calls that name a row by its id alone (collaboratorid, inviteid,
-- webhookid, domainid; the delivery queue's claims) find it by these, in
-- every organization (docs/scaling.md); what follows reads one.
CREATE INDEX memberships_id ON memberships(id);
CREATE INDEX invites_id ON invites(id);
CREATE INDEX webhooks_id ON webhooks(id);
CREATE INDEX webhook_deliveries_id ON webhook_deliveries(id);
CREATE INDEX domains_id ON domains(id);

-- Every link token mailed for an organization's row, found by its hash:
-- an invite's current token (retired_at NULL), the ones invite/resend
-- replaced (410 from then on), and a domain claim's. A reference table:
-- the hash is unique across organizations, and the row names the
-- organization and the row it opens, so the lookup that follows stays in
-- one organization. No foreign key (a reference table has none into an
-- organization's tables): the code deletes a row's tokens with it, and a
-- token whose row is gone answers as an unknown one.
CREATE TABLE link_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('invite', 'domain')),
    organization_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    retired_at BIGINT
);
CREATE INDEX link_tokens_target ON link_tokens(organization_id, target_id);
INSERT INTO link_tokens (token_hash, purpose, organization_id, target_id, retired_at)
    SELECT token_hash, 'invite', organization_id, id, NULL FROM old_invites;
INSERT INTO link_tokens (token_hash, purpose, organization_id, target_id, retired_at)
    SELECT r.token_hash, 'invite', i.organization_id, r.invite_id, r.retired_at
    FROM old_retired_invite_tokens r JOIN old_invites i ON i.id = r.invite_id;
INSERT INTO link_tokens (token_hash, purpose, organization_id, target_id, retired_at)
    SELECT token_hash, 'domain', organization_id, id, NULL FROM old_domains;

-- Each email domain verified for an organization, at most one: sign-ins
-- look their domain up here. A reference table, as link_tokens.
CREATE TABLE verified_domains (
    domain TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL,
    domain_id TEXT NOT NULL
);
CREATE INDEX verified_domains_org ON verified_domains(organization_id, domain_id);
INSERT INTO verified_domains (domain, organization_id, domain_id)
    SELECT domain, organization_id, id FROM old_domains WHERE state = 'verified';

-- The roster triggers of the tables made again (migration 000005), a
-- grant's organization now its own row's.
CREATE TRIGGER memberships_bump_insert AFTER INSERT ON memberships BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (NEW.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER memberships_bump_update AFTER UPDATE ON memberships BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (NEW.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER memberships_bump_delete AFTER DELETE ON memberships BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (OLD.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER grants_bump_insert AFTER INSERT ON project_permissions BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (NEW.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER grants_bump_update AFTER UPDATE ON project_permissions BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (NEW.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER grants_bump_delete AFTER DELETE ON project_permissions BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (OLD.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER projects_bump_update AFTER UPDATE ON projects BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (NEW.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER projects_bump_delete AFTER DELETE ON projects BEGIN
    INSERT INTO roster_versions (organization_id, version) VALUES (OLD.organization_id, 1)
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;

-- No row made again names a parent that is not there: checked row by row
-- as they were copied (foreign keys are on), and once more over the tables,
-- so that the migration fails rather than leave a dangling row.
CREATE TEMP TABLE foreign_key_check (violations INTEGER NOT NULL CHECK (violations = 0));
INSERT INTO foreign_key_check SELECT COUNT(*) FROM pragma_foreign_key_check
    WHERE "table" IN ('api_keys', 'memberships', 'projects', 'project_permissions', 'invites',
                      'invite_projects', 'webhooks', 'webhook_deliveries', 'domains',
                      'audit_events');
DROP TABLE foreign_key_check;

DROP TABLE old_memberships;
DROP TABLE old_projects;
DROP TABLE old_project_permissions;
DROP TABLE old_invites;
DROP TABLE old_invite_projects;
DROP TABLE old_retired_invite_tokens;
DROP TABLE old_webhooks;
DROP TABLE old_webhook_deliveries;
DROP TABLE old_domains;
DROP TABLE old_audit_events;
DROP TABLE old_api_keys;
