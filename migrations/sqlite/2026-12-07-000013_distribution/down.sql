-- Back to one-column keys, as migrations 000001-000011 made the tables.
-- Invites whose sender's account has closed cannot name a sender any more
-- (invited_by was NOT NULL then): they are left out, as the closing did
-- before. Made again as up.sql does: copies aside, children dropped first.

CREATE TEMP TABLE old_memberships AS SELECT * FROM memberships;
CREATE TEMP TABLE old_projects AS SELECT * FROM projects;
CREATE TEMP TABLE old_project_permissions AS SELECT * FROM project_permissions;
CREATE TEMP TABLE old_invites AS SELECT * FROM invites WHERE invited_by IS NOT NULL;
CREATE TEMP TABLE old_invite_projects AS SELECT * FROM invite_projects;
CREATE TEMP TABLE old_webhooks AS SELECT * FROM webhooks;
CREATE TEMP TABLE old_webhook_deliveries AS SELECT * FROM webhook_deliveries;
CREATE TEMP TABLE old_domains AS SELECT * FROM domains;
CREATE TEMP TABLE old_audit_events AS SELECT * FROM audit_events;
CREATE TEMP TABLE old_api_keys AS SELECT * FROM api_keys;
CREATE TEMP TABLE old_link_tokens AS SELECT * FROM link_tokens;

DROP TABLE project_permissions;
DROP TABLE invite_projects;
DROP TABLE webhook_deliveries;
DROP TABLE memberships;
DROP TABLE projects;
DROP TABLE invites;
DROP TABLE webhooks;
DROP TABLE domains;
DROP TABLE audit_events;
DROP TABLE api_keys;
DROP TABLE link_tokens;
DROP TABLE verified_domains;

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    organization_id TEXT REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_keys_user_id ON api_keys(user_id);
INSERT INTO api_keys SELECT * FROM old_api_keys
    WHERE organization_id IS NULL OR organization_id IN (SELECT id FROM organizations);

CREATE TABLE memberships (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'technical', 'collaborator')),
    can_create_projects BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    UNIQUE (organization_id, user_id)
);
CREATE INDEX memberships_user_id ON memberships(user_id);
CREATE INDEX memberships_org_role ON memberships(organization_id, role);
CREATE INDEX memberships_org_id ON memberships(organization_id, id);
CREATE INDEX memberships_expires_at ON memberships(expires_at) WHERE expires_at IS NOT NULL;
INSERT INTO memberships (id, organization_id, user_id, role, can_create_projects, created_at, expires_at)
    SELECT id, organization_id, user_id, role, can_create_projects, created_at, expires_at
    FROM old_memberships;

CREATE TABLE projects (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX projects_org_name_id ON projects(organization_id, name, id);
INSERT INTO projects (id, organization_id, name, created_at)
    SELECT id, organization_id, name, created_at FROM old_projects;

CREATE TABLE project_permissions (
    membership_id TEXT NOT NULL REFERENCES memberships(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    permission TEXT NOT NULL CHECK (permission IN ('read', 'full')),
    PRIMARY KEY (membership_id, project_id)
);
CREATE INDEX project_permissions_project_id ON project_permissions(project_id);
INSERT INTO project_permissions (membership_id, project_id, permission)
    SELECT membership_id, project_id, permission FROM old_project_permissions;

CREATE TABLE invites (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'technical', 'collaborator')),
    can_create_projects BOOLEAN NOT NULL DEFAULT FALSE,
    token_hash TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
    invited_by TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT,
    membership_expires_at BIGINT
);
CREATE UNIQUE INDEX invites_one_pending ON invites(organization_id, email) WHERE state = 'pending';
CREATE INDEX invites_email_state_id ON invites(email, state, id);
CREATE INDEX invites_org_state ON invites(organization_id, state, id);
CREATE INDEX invites_org_id ON invites(organization_id, id);
INSERT INTO invites (id, organization_id, email, role, can_create_projects, token_hash, state,
                     invited_by, created_at, expires_at, ended_at, membership_expires_at)
    SELECT id, organization_id, email, role, can_create_projects, token_hash, state,
           invited_by, created_at, expires_at, ended_at, membership_expires_at
    FROM old_invites;

CREATE TABLE retired_invite_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    invite_id TEXT NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
    retired_at BIGINT NOT NULL
);
CREATE INDEX retired_invite_tokens_invite_id ON retired_invite_tokens(invite_id);
INSERT INTO retired_invite_tokens (token_hash, invite_id, retired_at)
    SELECT t.token_hash, t.target_id, t.retired_at FROM old_link_tokens t
    JOIN old_invites i ON i.organization_id = t.organization_id AND i.id = t.target_id
    WHERE t.purpose = 'invite' AND t.retired_at IS NOT NULL;

CREATE TABLE invite_projects (
    invite_id TEXT NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    permission TEXT NOT NULL CHECK (permission IN ('read', 'full')),
    PRIMARY KEY (invite_id, project_id)
);
CREATE INDEX invite_projects_project_id ON invite_projects(project_id);
INSERT INTO invite_projects (invite_id, project_id, permission)
    SELECT p.invite_id, p.project_id, p.permission FROM old_invite_projects p
    JOIN old_invites i ON i.organization_id = p.organization_id AND i.id = p.invite_id;

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhooks_org ON webhooks(organization_id, id);
INSERT INTO webhooks (id, organization_id, url, events, description, secret, created_at)
    SELECT id, organization_id, url, events, description, secret, created_at FROM old_webhooks;

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    claim TEXT,
    last_code INTEGER,
    last_error TEXT,
    last_attempt_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at, id);
CREATE INDEX webhook_deliveries_claim ON webhook_deliveries(claim);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, id);
INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload, state, attempts,
                                next_attempt_at, claimed_until, claim, last_code, last_error,
                                last_attempt_at, created_at)
    SELECT id, webhook_id, event_id, event_type, payload, state, attempts, next_attempt_at,
           claimed_until, claim, last_code, last_error, last_attempt_at, created_at
    FROM old_webhook_deliveries;

CREATE TABLE domains (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'technical', 'collaborator')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'verified')),
    verification_email TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    token_expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    verified_at BIGINT
);
CREATE INDEX domains_org ON domains(organization_id, id);
CREATE UNIQUE INDEX domains_org_domain ON domains(organization_id, domain);
CREATE UNIQUE INDEX domains_verified ON domains(domain) WHERE state = 'verified';
INSERT INTO domains (id, organization_id, domain, role, state, verification_email, token_hash,
                     token_expires_at, created_at, verified_at)
    SELECT id, organization_id, domain, role, state, verification_email, token_hash,
           token_expires_at, created_at, verified_at
    FROM old_domains;

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    actor_user_id TEXT,
    actor_email TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    details TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_events_org ON audit_events(organization_id, id);
INSERT INTO audit_events (id, organization_id, actor_user_id, actor_email, action, target,
                          details, created_at)
    SELECT id, organization_id, actor_user_id, actor_email, action, target, details, created_at
    FROM old_audit_events;

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
    INSERT INTO roster_versions (organization_id, version)
        SELECT organization_id, 1 FROM memberships WHERE id = NEW.membership_id
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER grants_bump_update AFTER UPDATE ON project_permissions BEGIN
    INSERT INTO roster_versions (organization_id, version)
        SELECT organization_id, 1 FROM memberships WHERE id = NEW.membership_id
        ON CONFLICT (organization_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER grants_bump_delete AFTER DELETE ON project_permissions BEGIN
    INSERT INTO roster_versions (organization_id, version)
        SELECT organization_id, 1 FROM memberships WHERE id = OLD.membership_id
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

DROP TABLE old_memberships;
DROP TABLE old_projects;
DROP TABLE old_project_permissions;
DROP TABLE old_invites;
DROP TABLE old_invite_projects;
DROP TABLE old_webhooks;
DROP TABLE old_webhook_deliveries;
DROP TABLE old_domains;
DROP TABLE old_audit_events;
DROP TABLE old_api_keys;
DROP TABLE old_link_tokens;
