-- Every keyset page read in the order of an index, so a page costs the same
-- however long its list: an organization's invites by id (without a state),
-- its projects by name then id.
CREATE INDEX invites_org_id ON invites(organization_id, id);
DROP INDEX projects_organization_id;
CREATE INDEX projects_org_name_id ON projects(organization_id, name, id);
