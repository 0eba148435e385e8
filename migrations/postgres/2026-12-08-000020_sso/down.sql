ALTER TABLE api_keys DROP COLUMN sso_organization_id;
DROP INDEX sessions_sso_organization;
ALTER TABLE sessions DROP COLUMN sso_organization_id;
DELETE FROM sessions WHERE method = 'sso';
ALTER TABLE sessions DROP CONSTRAINT sessions_method_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_method_check
    CHECK (method IN ('password', 'link', 'invite'));
DROP TABLE sso_flows;
DROP TABLE sso_connections;
