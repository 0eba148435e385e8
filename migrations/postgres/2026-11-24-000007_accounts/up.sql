-- Accounts that can always get back in (API.md §5): an address waiting for
-- confirmation, TOTP two-factor, recovery codes, and the reset and sign-in
-- links.
ALTER TABLE users ADD COLUMN pending_email TEXT;
-- The TOTP seed, sealed with a key derived from the server's secret; set by
-- user/enabletwofactor, in force once totp_enabled.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled BOOLEAN NOT NULL DEFAULT FALSE;
-- The last 30-second step whose code was used: a code of that step or an
-- earlier one is refused.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

-- The address a confirmation link proves: NULL for the account's own, else
-- the new address of a change (user/edit email).
ALTER TABLE email_confirmations ADD COLUMN new_email TEXT;

CREATE TABLE recovery_codes (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT
);
CREATE INDEX recovery_codes_user_id ON recovery_codes(user_id);

-- Password-reset and sign-in links, stored as SHA-256 hashes.
CREATE TABLE account_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('reset', 'signin')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX account_tokens_user_id ON account_tokens(user_id, purpose);
CREATE INDEX account_tokens_expires_at ON account_tokens(expires_at);
