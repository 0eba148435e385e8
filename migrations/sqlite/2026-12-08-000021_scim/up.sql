-- SCIM 2.0 provisioning (API.md §11).

-- A suspended membership (SCIM `active: false`) is no membership for any
-- other call, while it, its grants and its teams stay; NULL: in force.
ALTER TABLE memberships ADD COLUMN suspended_at BIGINT;

-- The directory's view of a member, as SCIM last wrote it: read back
-- exactly as written, never the account's own address or name. A member
-- without a row here shows the account's address and name. `user_name_key`
-- is `user_name` lower-cased (Unicode, by collabd): userName is unique in
-- the organization regardless of case, and looked up so. `email_key` is the
-- lower-cased address of the view's primary (else work, else first) email.
CREATE TABLE scim_users (
    organization_id TEXT NOT NULL,
    membership_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    user_name_key TEXT NOT NULL,
    external_id TEXT,
    given_name TEXT,
    family_name TEXT,
    display_name TEXT,
    emails TEXT NOT NULL DEFAULT '[]',
    email_key TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, membership_id),
    FOREIGN KEY (organization_id, membership_id)
        REFERENCES memberships(organization_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX scim_users_user_name ON scim_users(organization_id, user_name_key);
CREATE INDEX scim_users_external_id ON scim_users(organization_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX scim_users_email ON scim_users(organization_id, email_key)
    WHERE email_key IS NOT NULL;

-- A group's (team's) directory id, and when SCIM or the API last changed it
-- (its version).
ALTER TABLE teams ADD COLUMN external_id TEXT;
ALTER TABLE teams ADD COLUMN updated_at BIGINT;
