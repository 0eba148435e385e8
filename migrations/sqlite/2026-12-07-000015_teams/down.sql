-- Children first; their triggers go with them.
DROP TABLE team_project_permissions;
DROP TABLE team_members;
DROP TABLE teams;
