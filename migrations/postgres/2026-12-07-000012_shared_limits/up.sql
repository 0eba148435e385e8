-- The rate limits of API.md §8, counted where every process sees them
-- (API.md §12): one row per limit (`bucket`) and key, in fixed windows. The
-- key is a keyed hash (HMAC under a key derived from the server's secret) of
-- what is counted (an email address, a client address or its /64, an
-- organization), so strangers' addresses do not rest here in clear. `used`
-- never goes past the limit plus one; a window that has ended starts over on
-- its next count, and the retention sweep deletes ended ones. Not an
-- organization's table: it references none.
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    used INTEGER NOT NULL,
    ends_at BIGINT NOT NULL,
    PRIMARY KEY (bucket, key_hash)
);
CREATE INDEX rate_limits_ends_at ON rate_limits (ends_at);
