//! One check asked with a service key, in one statement: the key, the
//! person's membership in force, the custom role it holds, its grant on the
//! project asked about, and each of its teams with its role and its grant
//! on that project. This is the provider's hot path (API.md §10: a check
//! costs about what a list of 50 collaborators costs, or less): one
//! statement of equalities, prepared once per connection and backend.
//!
//! Two questions may need one more statement each, and only then: what the
//! custom roles some of the member's teams carry give, when nothing else
//! allows what is asked; and, for a project question that a permission on
//! every project would allow, whether the project is the organization's
//! (the parent module asks that).

use std::collections::HashMap;

use diesel::prelude::*;

use super::decision::{own_permissions, Asked, Effective, Person, Question};
use crate::domain::kernel::error::DomainResult;
use crate::domain::permissions::PermissionSet;
use crate::domain::teamwork;
use crate::store::kinds::{Permission as Level, Role};
use crate::store::lookups::live;
use crate::store::schema::{
    memberships, project_permissions, roles, service_keys, team_members, team_project_permissions,
    teams, users,
};
use crate::store::DbConn;

/// One row: the key, and the membership (role, `cancreateprojects`, custom
/// role's set, grant) with one of its teams (role, custom role, grant), or
/// none.
type Row = (
    (String, Option<i64>),
    (Option<Role>, Option<bool>, Option<String>, Option<Level>),
    (Option<Role>, Option<String>, Option<Level>),
);

/// The statement, for the account `$person` finds, the organization, the
/// project (the empty id, which no project has, for an organization
/// question), the time and the key's hash.
macro_rules! one_check {
    ($person:expr, $organization:expr, $project:expr, $now:expr, $hash:expr) => {
        service_keys::table
            .left_join(users::table.on($person))
            .left_join(
                memberships::table.on(memberships::user_id
                    .eq(users::id)
                    .and(memberships::organization_id.eq($organization))
                    .and(live($now))),
            )
            .left_join(
                roles::table.on(roles::organization_id
                    .eq(memberships::organization_id)
                    .and(memberships::role_id.eq(roles::id.nullable()))),
            )
            .left_join(
                project_permissions::table.on(project_permissions::organization_id
                    .eq(memberships::organization_id)
                    .and(project_permissions::membership_id.eq(memberships::id))
                    .and(project_permissions::project_id.eq($project.clone()))),
            )
            .left_join(
                team_members::table.on(team_members::organization_id
                    .eq(memberships::organization_id)
                    .and(team_members::membership_id.eq(memberships::id))),
            )
            .left_join(
                teams::table.on(teams::organization_id
                    .eq(team_members::organization_id)
                    .and(teams::id.eq(team_members::team_id))),
            )
            .left_join(
                team_project_permissions::table.on(team_project_permissions::organization_id
                    .eq(team_members::organization_id)
                    .and(team_project_permissions::team_id.eq(team_members::team_id))
                    .and(team_project_permissions::project_id.eq($project.clone()))),
            )
            .filter(service_keys::secret_hash.eq($hash))
            .select((
                (service_keys::id, service_keys::last_used_at),
                (
                    memberships::role.nullable(),
                    memberships::can_create_projects.nullable(),
                    roles::permissions.nullable(),
                    project_permissions::permission.nullable(),
                ),
                (
                    teams::role.nullable(),
                    teams::role_id.nullable(),
                    team_project_permissions::permission.nullable(),
                ),
            ))
    };
}

/// What the key's lookup found: its id and when it was last used.
pub struct KeyFound {
    pub key_id: String,
    pub last_used_at: Option<i64>,
}

/// What one statement says about `asked`: the key (`None`: no key has
/// this hash), and everything the person's membership holds (`None`: no
/// member).
pub type Loaded = Option<(KeyFound, Option<Effective>)>;

/// The key whose secret hashes to `key_hash`, and `asked`'s member with
/// everything they hold that bears on it: one statement (and one more for
/// the custom roles of their teams, only when those alone could allow it).
pub fn load(conn: &mut DbConn, key_hash: &str, asked: &Asked, now: i64) -> DomainResult<Loaded> {
    let project = match &asked.question {
        Question::Project { project_id, .. } => project_id.as_str(),
        Question::Organization(_) => "",
    };
    let organization = asked.organization_id.as_str();
    // Owned values: Diesel names a statement this deep by a 'static type.
    let (org, at, hash) = (
        organization.to_string(),
        project.to_string(),
        key_hash.to_string(),
    );
    let rows: Vec<Row> = match (&mut *conn, &asked.person) {
        (DbConn::Pg(c), Person::UserId(id)) => {
            one_check!(users::id.eq(id.clone()), org, at, now, hash).load(c)
        }
        (DbConn::Pg(c), Person::Email(email)) => {
            one_check!(users::email.eq(email.clone()), org, at, now, hash).load(c)
        }
        (DbConn::Sqlite(c), Person::UserId(id)) => {
            one_check!(users::id.eq(id.clone()), org, at, now, hash).load(c)
        }
        (DbConn::Sqlite(c), Person::Email(email)) => {
            one_check!(users::email.eq(email.clone()), org, at, now, hash).load(c)
        }
    }?;
    let Some(((key_id, last_used_at), (role, can_create, custom, _), _)) = rows.first().cloned()
    else {
        return Ok(None);
    };
    let key = KeyFound {
        key_id,
        last_used_at,
    };
    let Some(role) = role else {
        return Ok(Some((key, None)));
    };
    let mut effective = Effective {
        role: own_permissions(role, can_create.unwrap_or(false), custom.as_deref()),
        ..Effective::default()
    };
    let mut custom_roles: Vec<String> = Vec::new();
    for (_, (_, _, _, own_grant), (team_role, team_role_id, team_grant)) in rows {
        if let Some(level) = own_grant {
            effective.grants.insert(project.to_string(), level);
        }
        let teams = &mut effective.teams;
        teams.permissions = teamwork::given_by(team_role, None)
            .iter()
            .fold(teams.permissions, PermissionSet::with);
        if let Some(level) = team_grant {
            teamwork::raise(&mut teams.grants, project.to_string(), level);
        }
        custom_roles.extend(team_role_id);
    }
    if !custom_roles.is_empty() && !effective.decide(&asked.question, true).allowed {
        let sets = custom_role_sets(conn, organization, &custom_roles)?;
        let teams = &mut effective.teams;
        teams.permissions = sets
            .values()
            .flat_map(|stored| PermissionSet::parse(stored).iter())
            .fold(teams.permissions, PermissionSet::with);
    }
    Ok(Some((key, Some(effective))))
}

/// The stored permission sets of the custom roles `ids` of
/// `organization_id`, by id.
fn custom_role_sets(
    conn: &mut DbConn,
    organization_id: &str,
    ids: &[String],
) -> DomainResult<HashMap<String, String>> {
    let rows: Vec<(String, String)> = roles::table
        .filter(roles::organization_id.eq(organization_id))
        .filter(roles::id.eq_any(ids))
        .select((roles::id, roles::permissions))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}
