ALTER TABLE api_keys DROP COLUMN sso_organization_id;
CREATE TABLE sessions_old (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    method TEXT NOT NULL DEFAULT 'password' CHECK (method IN ('password', 'link', 'invite'))
);
INSERT INTO sessions_old (id, user_id, created_at, expires_at, revoked_at, method)
    SELECT id, user_id, created_at, expires_at, revoked_at, method FROM sessions
    WHERE method <> 'sso';
DROP TABLE sessions;
ALTER TABLE sessions_old RENAME TO sessions;
CREATE INDEX sessions_user_id ON sessions(user_id);
DROP TABLE sso_flows;
DROP TABLE sso_connections;
