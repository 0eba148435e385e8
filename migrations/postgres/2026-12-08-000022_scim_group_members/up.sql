-- The name a directory gave a team's member (SCIM Group `members.display`),
-- read back as written; NULL: the member's own name is shown.
ALTER TABLE team_members ADD COLUMN display TEXT;
