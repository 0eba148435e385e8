-- Identity from elsewhere (API.md §9).

-- The accounts behind provider tokens and SSO sign-ins, by (iss, sub): a
-- later change of the issuer's address claim does not move the link.
CREATE TABLE identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX identities_user ON identities(user_id);

-- How each session was made (a password, an emailed sign-in link, an
-- accepted invite). Sessions older than this column are recorded as
-- `password`: how they were made was not kept.
ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password'
    CHECK (method IN ('password', 'link', 'invite'));
