-- Organizations are the unit of distribution (API.md §12, docs/scaling.md):
-- every table that belongs to an organization carries organization_id in its
-- primary key, its unique keys and its foreign keys to other such tables;
-- what must be unique across organizations (a link's token found by its
-- hash, a verified email domain) moves to reference tables that name the
-- organization and reference none of its tables. And an account that closes
-- no longer takes the invites it sent with it (API.md §12, §5): they keep
-- the inviter's name and address, with invited_by set to NULL.

-- 1. The foreign keys between organization tables, which rest on the
-- primary keys about to change, and the one from a reference table into an
-- organization table (a key's organization is kept by the key; deleting an
-- organization deletes its keys in src/domain/organizations.rs).
ALTER TABLE project_permissions DROP CONSTRAINT project_permissions_membership_id_fkey;
ALTER TABLE project_permissions DROP CONSTRAINT project_permissions_project_id_fkey;
ALTER TABLE invite_projects DROP CONSTRAINT invite_projects_invite_id_fkey;
ALTER TABLE invite_projects DROP CONSTRAINT invite_projects_project_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_webhook_id_fkey;
ALTER TABLE retired_invite_tokens DROP CONSTRAINT retired_invite_tokens_invite_id_fkey;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_organization_id_fkey;

-- 2. The organization in every row that belongs to one, from its parent.
ALTER TABLE project_permissions ADD COLUMN organization_id TEXT;
UPDATE project_permissions p SET organization_id = m.organization_id
    FROM memberships m WHERE m.id = p.membership_id;
ALTER TABLE project_permissions ALTER COLUMN organization_id SET NOT NULL;

ALTER TABLE invite_projects ADD COLUMN organization_id TEXT;
UPDATE invite_projects p SET organization_id = i.organization_id
    FROM invites i WHERE i.id = p.invite_id;
ALTER TABLE invite_projects ALTER COLUMN organization_id SET NOT NULL;

ALTER TABLE webhook_deliveries ADD COLUMN organization_id TEXT;
UPDATE webhook_deliveries d SET organization_id = w.organization_id
    FROM webhooks w WHERE w.id = d.webhook_id;
ALTER TABLE webhook_deliveries ALTER COLUMN organization_id SET NOT NULL;

-- 3. Primary keys led by the organization.
ALTER TABLE memberships DROP CONSTRAINT memberships_pkey, ADD PRIMARY KEY (organization_id, id);
ALTER TABLE projects DROP CONSTRAINT projects_pkey, ADD PRIMARY KEY (organization_id, id);
ALTER TABLE invites DROP CONSTRAINT invites_pkey, ADD PRIMARY KEY (organization_id, id);
ALTER TABLE webhooks DROP CONSTRAINT webhooks_pkey, ADD PRIMARY KEY (organization_id, id);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey,
    ADD PRIMARY KEY (organization_id, id);
ALTER TABLE domains DROP CONSTRAINT domains_pkey, ADD PRIMARY KEY (organization_id, id);
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey, ADD PRIMARY KEY (organization_id, id);
ALTER TABLE project_permissions DROP CONSTRAINT project_permissions_pkey,
    ADD PRIMARY KEY (organization_id, membership_id, project_id);
ALTER TABLE invite_projects DROP CONSTRAINT invite_projects_pkey,
    ADD PRIMARY KEY (organization_id, invite_id, project_id);
-- The primary keys serve these now.
DROP INDEX memberships_org_id;
DROP INDEX invites_org_id;
DROP INDEX webhooks_org;
DROP INDEX domains_org;
DROP INDEX audit_events_org;

-- Calls that name a row by its id alone (collaboratorid, inviteid,
-- webhookid, domainid; the delivery queue's claims) find it by these, in
-- every organization (docs/scaling.md); what follows reads one.
CREATE INDEX memberships_id ON memberships(id);
CREATE INDEX invites_id ON invites(id);
CREATE INDEX webhooks_id ON webhooks(id);
CREATE INDEX webhook_deliveries_id ON webhook_deliveries(id);
CREATE INDEX domains_id ON domains(id);

-- 4. Foreign keys between organization tables, within the organization.
ALTER TABLE project_permissions
    ADD FOREIGN KEY (organization_id, membership_id)
        REFERENCES memberships (organization_id, id) ON DELETE CASCADE,
    ADD FOREIGN KEY (organization_id, project_id)
        REFERENCES projects (organization_id, id) ON DELETE CASCADE;
ALTER TABLE invite_projects
    ADD FOREIGN KEY (organization_id, invite_id)
        REFERENCES invites (organization_id, id) ON DELETE CASCADE,
    ADD FOREIGN KEY (organization_id, project_id)
        REFERENCES projects (organization_id, id) ON DELETE CASCADE;
ALTER TABLE webhook_deliveries
    ADD FOREIGN KEY (organization_id, webhook_id)
        REFERENCES webhooks (organization_id, id) ON DELETE CASCADE;
DROP INDEX project_permissions_project_id;
CREATE INDEX project_permissions_project_id ON project_permissions(organization_id, project_id);
DROP INDEX invite_projects_project_id;
CREATE INDEX invite_projects_project_id ON invite_projects(organization_id, project_id);
DROP INDEX webhook_deliveries_webhook;
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(organization_id, webhook_id, id);

-- 5. Every link token mailed for an organization's row, found by its hash:
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
    SELECT token_hash, 'invite', organization_id, id, NULL FROM invites;
INSERT INTO link_tokens (token_hash, purpose, organization_id, target_id, retired_at)
    SELECT r.token_hash, 'invite', i.organization_id, r.invite_id, r.retired_at
    FROM retired_invite_tokens r JOIN invites i ON i.id = r.invite_id;
INSERT INTO link_tokens (token_hash, purpose, organization_id, target_id, retired_at)
    SELECT token_hash, 'domain', organization_id, id, NULL FROM domains;
DROP TABLE retired_invite_tokens;
ALTER TABLE invites DROP CONSTRAINT invites_token_hash_key;
ALTER TABLE domains DROP CONSTRAINT domains_token_hash_key;

-- 6. Each email domain verified for an organization, at most one: sign-ins
-- look their domain up here. A reference table, as link_tokens.
CREATE TABLE verified_domains (
    domain TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL,
    domain_id TEXT NOT NULL
);
CREATE INDEX verified_domains_org ON verified_domains(organization_id, domain_id);
INSERT INTO verified_domains (domain, organization_id, domain_id)
    SELECT domain, organization_id, id FROM domains WHERE state = 'verified';
DROP INDEX domains_verified;

-- 7. An invite outlives its sender's account: the inviter as they were
-- when the account closed (NULL while it is open), and invited_by NULL from
-- then on.
ALTER TABLE invites ADD COLUMN inviter_name TEXT;
ALTER TABLE invites ADD COLUMN inviter_email TEXT;
ALTER TABLE invites ADD COLUMN inviter_confirmed BOOLEAN;
ALTER TABLE invites DROP CONSTRAINT invites_invited_by_fkey;
ALTER TABLE invites ALTER COLUMN invited_by DROP NOT NULL;
ALTER TABLE invites ADD FOREIGN KEY (invited_by) REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE invites ADD CONSTRAINT invites_inviter_known
    CHECK (invited_by IS NOT NULL OR (inviter_name IS NOT NULL AND inviter_email IS NOT NULL));
-- Closing an account finds the invites it sent by this.
CREATE INDEX invites_invited_by ON invites(invited_by);

-- 8. A grant's organization is its own row's now.
CREATE OR REPLACE FUNCTION bump_rosters_of_grants() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_versions (organization_id, version)
        SELECT DISTINCT organization_id, 1 FROM changed
        ON CONFLICT (organization_id) DO UPDATE SET version = roster_versions.version + 1;
    RETURN NULL;
END $$;
