-- The language of an account's and an organization's emails and pages
-- (API.md §13): a language code collabd has, NULL until set.
ALTER TABLE users ADD COLUMN language TEXT;
ALTER TABLE organizations ADD COLUMN language TEXT;
