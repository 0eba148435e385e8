-- Service keys (API.md §10): the provider's own services call the
-- permission checks with them, for any organization. Made on the server
-- (`collabd servicekey create NAME`), shown once, kept only as a SHA-256
-- hash. They belong to no organization and no account: a reference table
-- (API.md §12), which references no organization's table.
CREATE TABLE service_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
