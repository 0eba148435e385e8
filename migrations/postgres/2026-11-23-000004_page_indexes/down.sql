DROP INDEX projects_org_name_id;
CREATE INDEX projects_organization_id ON projects(organization_id, id);
DROP INDEX invites_org_id;
