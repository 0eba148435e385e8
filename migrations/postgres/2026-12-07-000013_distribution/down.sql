-- Back to one-column keys. Invites whose sender's account has closed cannot
-- name a sender any more (invited_by was NOT NULL then): they are deleted,
-- as the closing did before.
CREATE OR REPLACE FUNCTION bump_rosters_of_grants() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_versions (organization_id, version)
        SELECT DISTINCT m.organization_id, 1 FROM changed c JOIN memberships m ON m.id = c.membership_id
        ON CONFLICT (organization_id) DO UPDATE SET version = roster_versions.version + 1;
    RETURN NULL;
END $$;

DROP INDEX memberships_id;
DROP INDEX invites_id;
DROP INDEX webhooks_id;
DROP INDEX webhook_deliveries_id;
DROP INDEX domains_id;
DELETE FROM invites WHERE invited_by IS NULL;
DROP INDEX invites_invited_by;
ALTER TABLE invites DROP CONSTRAINT invites_inviter_known;
ALTER TABLE invites DROP CONSTRAINT invites_invited_by_fkey;
ALTER TABLE invites ALTER COLUMN invited_by SET NOT NULL;
ALTER TABLE invites ADD FOREIGN KEY (invited_by) REFERENCES users(id) ON DELETE CASCADE;
ALTER TABLE invites DROP COLUMN inviter_name;
ALTER TABLE invites DROP COLUMN inviter_email;
ALTER TABLE invites DROP COLUMN inviter_confirmed;

CREATE UNIQUE INDEX domains_verified ON domains(domain) WHERE state = 'verified';
DROP TABLE verified_domains;

ALTER TABLE invites ADD CONSTRAINT invites_token_hash_key UNIQUE (token_hash);
ALTER TABLE domains ADD CONSTRAINT domains_token_hash_key UNIQUE (token_hash);
CREATE TABLE retired_invite_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    invite_id TEXT NOT NULL,
    retired_at BIGINT NOT NULL
);
CREATE INDEX retired_invite_tokens_invite_id ON retired_invite_tokens(invite_id);
INSERT INTO retired_invite_tokens (token_hash, invite_id, retired_at)
    SELECT t.token_hash, t.target_id, t.retired_at FROM link_tokens t
    JOIN invites i ON i.organization_id = t.organization_id AND i.id = t.target_id
    WHERE t.purpose = 'invite' AND t.retired_at IS NOT NULL;
DROP TABLE link_tokens;

ALTER TABLE project_permissions DROP CONSTRAINT project_permissions_organization_id_membership_id_fkey;
ALTER TABLE project_permissions DROP CONSTRAINT project_permissions_organization_id_project_id_fkey;
ALTER TABLE invite_projects DROP CONSTRAINT invite_projects_organization_id_invite_id_fkey;
ALTER TABLE invite_projects DROP CONSTRAINT invite_projects_organization_id_project_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_organization_id_webhook_id_fkey;

ALTER TABLE memberships DROP CONSTRAINT memberships_pkey, ADD PRIMARY KEY (id);
ALTER TABLE projects DROP CONSTRAINT projects_pkey, ADD PRIMARY KEY (id);
ALTER TABLE invites DROP CONSTRAINT invites_pkey, ADD PRIMARY KEY (id);
ALTER TABLE webhooks DROP CONSTRAINT webhooks_pkey, ADD PRIMARY KEY (id);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey, ADD PRIMARY KEY (id);
ALTER TABLE domains DROP CONSTRAINT domains_pkey, ADD PRIMARY KEY (id);
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey, ADD PRIMARY KEY (id);
ALTER TABLE project_permissions DROP CONSTRAINT project_permissions_pkey,
    ADD PRIMARY KEY (membership_id, project_id);
ALTER TABLE invite_projects DROP CONSTRAINT invite_projects_pkey,
    ADD PRIMARY KEY (invite_id, project_id);
CREATE INDEX memberships_org_id ON memberships(organization_id, id);
CREATE INDEX invites_org_id ON invites(organization_id, id);
CREATE INDEX webhooks_org ON webhooks(organization_id, id);
CREATE INDEX domains_org ON domains(organization_id, id);
CREATE INDEX audit_events_org ON audit_events(organization_id, id);

DROP INDEX project_permissions_project_id;
DROP INDEX invite_projects_project_id;
DROP INDEX webhook_deliveries_webhook;
ALTER TABLE project_permissions DROP COLUMN organization_id;
ALTER TABLE invite_projects DROP COLUMN organization_id;
ALTER TABLE webhook_deliveries DROP COLUMN organization_id;
CREATE INDEX project_permissions_project_id ON project_permissions(project_id);
CREATE INDEX invite_projects_project_id ON invite_projects(project_id);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, id);

ALTER TABLE project_permissions
    ADD FOREIGN KEY (membership_id) REFERENCES memberships(id) ON DELETE CASCADE,
    ADD FOREIGN KEY (project_id) REFERENCES projects(id) ON DELETE CASCADE;
ALTER TABLE invite_projects
    ADD FOREIGN KEY (invite_id) REFERENCES invites(id) ON DELETE CASCADE,
    ADD FOREIGN KEY (project_id) REFERENCES projects(id) ON DELETE CASCADE;
ALTER TABLE retired_invite_tokens
    ADD FOREIGN KEY (invite_id) REFERENCES invites(id) ON DELETE CASCADE;
ALTER TABLE webhook_deliveries
    ADD FOREIGN KEY (webhook_id) REFERENCES webhooks(id) ON DELETE CASCADE;
ALTER TABLE api_keys
    ADD FOREIGN KEY (organization_id) REFERENCES organizations(id) ON DELETE CASCADE;
