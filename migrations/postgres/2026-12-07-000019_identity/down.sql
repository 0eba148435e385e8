ALTER TABLE sessions DROP COLUMN method;
DROP TABLE identities;
