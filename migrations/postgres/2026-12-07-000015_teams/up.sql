-- Teams (API.md §10): groups of an organization's members that carry a
-- role and grants on projects. Organization tables (API.md §12): the
-- organization leads every key, and the foreign keys between them name it.

-- role: a system role below owner, or none (NULL).
CREATE TABLE teams (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    role TEXT CHECK (role IN ('admin', 'technical', 'collaborator')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, id)
);
-- A name once per organization; listteams pages by (name, id).
CREATE UNIQUE INDEX teams_org_name ON teams(organization_id, name);
-- A teamid alone names its organization: found by this, in every one.
CREATE INDEX teams_id ON teams(id);

-- Who is in a team: leaves with the membership (removed, left, expired,
-- account closed) and with the team.
CREATE TABLE team_members (
    organization_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    membership_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, team_id, membership_id),
    FOREIGN KEY (organization_id, team_id) REFERENCES teams(organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, membership_id)
        REFERENCES memberships(organization_id, id) ON DELETE CASCADE
);
-- A member's teams, at every gate.
CREATE INDEX team_members_membership ON team_members(organization_id, membership_id, team_id);

-- What a team holds on projects; goes with the project and with the team.
CREATE TABLE team_project_permissions (
    organization_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    permission TEXT NOT NULL CHECK (permission IN ('read', 'full')),
    PRIMARY KEY (organization_id, team_id, project_id),
    FOREIGN KEY (organization_id, team_id) REFERENCES teams(organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, project_id)
        REFERENCES projects(organization_id, id) ON DELETE CASCADE
);
CREATE INDEX team_project_permissions_project
    ON team_project_permissions(organization_id, project_id);

-- The collaborator list shows each member's teams and, to a viewer who sees
-- only some projects, the grants on those their teams see too: a change to
-- any of these tables moves the roster's version (migration 000005).
CREATE FUNCTION bump_rosters_of_teams() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO roster_versions (organization_id, version)
        SELECT DISTINCT organization_id, 1 FROM changed
        ON CONFLICT (organization_id) DO UPDATE SET version = roster_versions.version + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER teams_bump_update AFTER UPDATE ON teams
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_teams();
CREATE TRIGGER teams_bump_delete AFTER DELETE ON teams
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_teams();
CREATE TRIGGER team_members_bump_insert AFTER INSERT ON team_members
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_teams();
CREATE TRIGGER team_members_bump_delete AFTER DELETE ON team_members
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_teams();
CREATE TRIGGER team_grants_bump_insert AFTER INSERT ON team_project_permissions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_teams();
CREATE TRIGGER team_grants_bump_update AFTER UPDATE ON team_project_permissions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_teams();
CREATE TRIGGER team_grants_bump_delete AFTER DELETE ON team_project_permissions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION bump_rosters_of_teams();
