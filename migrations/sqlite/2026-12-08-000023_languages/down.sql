ALTER TABLE organizations DROP COLUMN language;
ALTER TABLE users DROP COLUMN language;
