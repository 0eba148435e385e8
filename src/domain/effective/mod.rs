//! What a member may do in an organization, and why: the one place that
//! answers it for the permission checks (`access/check`, API.md §10) and for
//! `customer/mypermissions`.
//!
//! A member's permissions come from separate inputs, kept apart so each
//! answer can say where it came from ([`decision`] decides from them):
//!
//! - their own role's permission set, system or custom ([`Reason::Role`]);
//! - their own grants on projects ([`Reason::Grant`]);
//! - their teams' roles' sets (system or custom) and their teams' grants
//!   ([`Reason::Team`]).
//!
//! Organization permissions come from the role, then the teams. On a
//! project, `projects:read` / `projects:write` give `read` / `full` on every
//! project of the organization (from the role, else from a team), then the
//! member's own grant on it, then the teams' grants. A project the
//! organization does not have (unknown, or another organization's) is
//! granted to nobody, so an answer never tells one organization's project
//! from another's.
//!
//! [`decide_all`] answers many questions with one statement for every
//! membership they name (with the custom role each holds and its grants on
//! the projects they name); one more, only for the members whose own role
//! and grants leave a question open, for what their teams give; and one
//! more only to learn whether projects exist that only a role or a team
//! would give. [`decide_with_key`] answers one question asked with a
//! service key, the provider's hot path, in one statement with the key
//! ([`single`]). Neither scans an organization: its size and number of
//! teams do not matter.

mod decision;
mod single;

use std::collections::HashSet;

use diesel::prelude::*;

pub use decision::{Asked, Decision, Effective, Person, Question, Reason, TeamInputs};
pub use single::KeyFound;

use super::access::{live, Member};
use super::kernel::error::DomainResult;
use super::permissions::PermissionSet;
use super::roles::holder_permissions;
use super::teamwork;
use crate::clock::now_ms;
use crate::store::json_lists::in_json;
use crate::store::kinds::{Permission as Level, Role};
use crate::store::schema::{
    memberships, project_permissions, projects, roles, team_members, team_project_permissions,
    teams, users,
};
use crate::store::DbConn;

/// Everything `member` holds: their role's set, every grant of theirs and
/// what their teams add (`customer/mypermissions`).
pub fn of_member(conn: &mut DbConn, member: &Member) -> DomainResult<Effective> {
    let organization_id = member.organization_id().to_string();
    let membership_id = member.membership.id.as_str();
    let grants: Vec<(String, Level)> = project_permissions::table
        .filter(project_permissions::organization_id.eq(&organization_id))
        .filter(project_permissions::membership_id.eq(membership_id))
        .select((
            project_permissions::project_id,
            project_permissions::permission,
        ))
        .load(conn)?;
    let teams = TeamInputs {
        permissions: teamwork::team_permissions(conn, &organization_id, membership_id)?,
        grants: teamwork::team_grants_of_member(conn, &organization_id, membership_id)?,
    };
    Ok(Effective {
        // The own role's set: `member.permissions` also holds the teams'.
        role: member
            .assigned
            .permissions(member.membership.can_create_projects),
        grants: grants.into_iter().collect(),
        teams,
    })
}

/// A membership found for a batch, with the address of its account.
struct Found {
    membership: Held,
    email: String,
    effective: Effective,
}

/// Which membership: what a batch's answers are matched by.
struct Held {
    id: String,
    organization_id: String,
    user_id: String,
}

/// A membership's row as a batch reads it: only what bears on an answer
/// (ids, role, `cancreateprojects`, the custom role's permissions, the
/// account's address) and one grant on a project asked about.
type Row = (
    (String, String, String, Role, bool, Option<String>),
    String,
    Option<String>,
    Option<Level>,
);

/// The statement of [`load_memberships`] with its filters on the
/// organization, the person and the projects, built straight on one
/// backend's connection (see `access::organization_for_read`: the
/// multi-backend wrapper writes a statement's SQL out again on every call).
/// The custom role a membership holds comes in the same row.
macro_rules! memberships_query {
    ($organization:expr, $person:expr, $projects:expr, $now:expr) => {
        memberships::table
            .inner_join(users::table)
            .left_join(
                roles::table.on(roles::organization_id
                    .eq(memberships::organization_id)
                    .and(memberships::role_id.eq(roles::id.nullable()))),
            )
            .left_join(
                project_permissions::table.on(project_permissions::organization_id
                    .eq(memberships::organization_id)
                    .and(project_permissions::membership_id.eq(memberships::id))
                    .and($projects)),
            )
            .filter($organization)
            .filter($person)
            .filter(live($now))
            .select((
                (
                    memberships::id,
                    memberships::organization_id,
                    memberships::user_id,
                    memberships::role,
                    memberships::can_create_projects,
                    roles::permissions.nullable(),
                ),
                users::email,
                project_permissions::project_id.nullable(),
                project_permissions::permission.nullable(),
            ))
    };
}

/// The project a question names, or the empty id (which no project has)
/// for an organization question: so a single question's statements join
/// on an equality either way.
fn project_of(question: &Question) -> &str {
    match question {
        Question::Project { project_id, .. } => project_id.as_str(),
        Question::Organization(_) => "",
    }
}

/// One question's rows: every filter an equality, so each backend prepares
/// each of its two shapes (by id, by address) once per connection and plans
/// it from its indexes (`(organization_id, user_id)`, `users.email`).
fn rows_of_one(conn: &mut DbConn, asked: &Asked, now: i64) -> DomainResult<Vec<Row>> {
    let organization = memberships::organization_id.eq(asked.organization_id.as_str());
    let on = project_permissions::project_id.eq(project_of(&asked.question));
    let rows = match (conn, &asked.person) {
        (DbConn::Pg(c), Person::UserId(id)) => {
            let person = memberships::user_id.eq(id.as_str());
            memberships_query!(organization, person, on, now).load::<Row>(c)
        }
        (DbConn::Pg(c), Person::Email(email)) => {
            let person = users::email.eq(email.as_str());
            memberships_query!(organization, person, on, now).load::<Row>(c)
        }
        (DbConn::Sqlite(c), Person::UserId(id)) => {
            let person = memberships::user_id.eq(id.as_str());
            memberships_query!(organization, person, on, now).load::<Row>(c)
        }
        (DbConn::Sqlite(c), Person::Email(email)) => {
            let person = users::email.eq(email.as_str());
            memberships_query!(organization, person, on, now).load::<Row>(c)
        }
    }?;
    Ok(rows)
}

/// The distinct values, sorted.
fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut list: Vec<&str> = values.collect();
    list.sort_unstable();
    list.dedup();
    list
}

/// The projects `asked` names.
fn projects_named(asked: &[&Asked]) -> Vec<String> {
    distinct(asked.iter().filter_map(|a| match &a.question {
        Question::Project { project_id, .. } => Some(project_id.as_str()),
        Question::Organization(_) => None,
    }))
    .into_iter()
    .map(str::to_string)
    .collect()
}

/// Many questions' rows. The people are found first, from the accounts'
/// own indexes (by id, by address, or both in one `or` on `users`), then
/// their memberships: never a scan of a large organization's members.
fn rows_of_many(conn: &mut DbConn, asked: &[Asked], now: i64) -> DomainResult<Vec<Row>> {
    let organizations = distinct(asked.iter().map(|a| a.organization_id.as_str()));
    let ids = distinct(asked.iter().filter_map(|a| match &a.person {
        Person::UserId(id) => Some(id.as_str()),
        Person::Email(_) => None,
    }));
    let emails = distinct(asked.iter().filter_map(|a| match &a.person {
        Person::Email(email) => Some(email.as_str()),
        Person::UserId(_) => None,
    }));
    let projects = projects_named(&asked.iter().collect::<Vec<_>>());
    // Each membership's grants are read in their key's order and kept when
    // their project was asked about: as an index seek per project and
    // membership, SQLite spent most of a batch (`|| ''` keeps the column
    // out of the index; PostgreSQL filters it so anyway). SQLite takes each
    // list as one JSON array (`store::json_lists`), PostgreSQL as one array.
    let rows = match conn {
        DbConn::Pg(c) => {
            let organization = memberships::organization_id.eq_any(&organizations);
            let on = project_permissions::project_id.concat("").eq_any(&projects);
            let (by_id, by_email) = (users::id.eq_any(&ids), users::email.eq_any(&emails));
            match (ids.is_empty(), emails.is_empty()) {
                (_, true) => memberships_query!(organization, by_id, on, now).load::<Row>(c),
                (true, _) => memberships_query!(organization, by_email, on, now).load::<Row>(c),
                _ => memberships_query!(organization, by_id.or(by_email), on, now).load::<Row>(c),
            }
        }
        DbConn::Sqlite(c) => {
            let organization = in_json(memberships::organization_id, &organizations);
            let on = in_json(project_permissions::project_id.concat(""), &projects);
            let (by_id, by_email) = (in_json(users::id, &ids), in_json(users::email, &emails));
            match (ids.is_empty(), emails.is_empty()) {
                (_, true) => memberships_query!(organization, by_id, on, now).load::<Row>(c),
                (true, _) => memberships_query!(organization, by_email, on, now).load::<Row>(c),
                _ => memberships_query!(organization, by_id.or(by_email), on, now).load::<Row>(c),
            }
        }
    }?;
    Ok(rows)
}

/// One statement: the memberships in force of the people `asked` names in
/// the organizations it names, each with its custom role and its grants on
/// the projects it names. (Pairs nobody asked about come back too, and are
/// never used.)
fn load_memberships(conn: &mut DbConn, asked: &[Asked]) -> DomainResult<Vec<Found>> {
    let now = now_ms();
    let rows = match asked {
        [one] => rows_of_one(conn, one, now)?,
        _ => rows_of_many(conn, asked, now)?,
    };
    let mut found: Vec<Found> = Vec::new();
    for ((id, organization_id, user_id, role, can_create, custom), email, project_id, level) in rows
    {
        let index = match found.iter().position(|f| f.membership.id == id) {
            Some(index) => index,
            None => {
                found.push(Found {
                    membership: Held {
                        id,
                        organization_id,
                        user_id,
                    },
                    email,
                    effective: Effective {
                        role: holder_permissions(
                            role,
                            custom.as_deref().map(PermissionSet::parse),
                            can_create,
                        ),
                        ..Effective::default()
                    },
                });
                found.len() - 1
            }
        };
        if let (Some(project_id), Some(level)) = (project_id, level) {
            found[index].effective.grants.insert(project_id, level);
        }
    }
    Ok(found)
}

/// A team row of [`add_teams`]: the membership, the team's system role or
/// custom role's stored set, and its grant on an asked project.
type TeamRow = (
    String,
    Option<Role>,
    Option<String>,
    Option<String>,
    Option<Level>,
);

/// The statement of [`add_teams`]: the teams of the memberships `$members`
/// selects, each with what its role gives (a custom role as it is now) and
/// its grants on the projects `$projects` selects.
macro_rules! teams_query {
    ($members:expr, $projects:expr) => {
        team_members::table
            .inner_join(
                teams::table.on(teams::organization_id
                    .eq(team_members::organization_id)
                    .and(teams::id.eq(team_members::team_id))),
            )
            .left_join(
                roles::table.on(roles::organization_id
                    .eq(teams::organization_id)
                    .and(teams::role_id.eq(roles::id.nullable()))),
            )
            .left_join(
                team_project_permissions::table.on(team_project_permissions::organization_id
                    .eq(team_members::organization_id)
                    .and(team_project_permissions::team_id.eq(team_members::team_id))
                    .and($projects)),
            )
            .filter($members)
            .select((
                team_members::membership_id,
                teams::role,
                roles::permissions.nullable(),
                team_project_permissions::project_id.nullable(),
                team_project_permissions::permission.nullable(),
            ))
    };
}

/// What their teams give the members `found[open]`, about the projects
/// `asked` names: one statement, of equalities alone for a single question.
fn add_teams(
    conn: &mut DbConn,
    found: &mut [Found],
    open: &[usize],
    asked: &[Asked],
) -> DomainResult<()> {
    let rows: Vec<TeamRow> = match (asked, open) {
        ([one], [index]) => {
            let m = &found[*index].membership;
            let members = team_members::organization_id
                .eq(m.organization_id.as_str())
                .and(team_members::membership_id.eq(m.id.as_str()));
            let on = team_project_permissions::project_id.eq(project_of(&one.question));
            match conn {
                DbConn::Pg(c) => teams_query!(members, on).load(c),
                DbConn::Sqlite(c) => teams_query!(members, on).load(c),
            }?
        }
        _ => {
            let organizations = distinct(
                open.iter()
                    .map(|i| found[*i].membership.organization_id.as_str()),
            );
            let ids = distinct(open.iter().map(|i| found[*i].membership.id.as_str()));
            let about: Vec<&Asked> = asked
                .iter()
                .filter(|a| open.iter().any(|i| is_about(&found[*i], a)))
                .collect();
            let projects = projects_named(&about);
            // As for members' grants: each team's grants read in their
            // key's order, not a seek per project asked (`|| ''`).
            let granted = team_project_permissions::project_id.concat("");
            match conn {
                DbConn::Pg(c) => {
                    let members = team_members::organization_id
                        .eq_any(&organizations)
                        .and(team_members::membership_id.eq_any(&ids));
                    teams_query!(members, granted.eq_any(&projects)).load(c)
                }
                DbConn::Sqlite(c) => {
                    let members = in_json(team_members::organization_id, &organizations)
                        .and(in_json(team_members::membership_id, &ids));
                    teams_query!(members, in_json(granted, &projects)).load(c)
                }
            }?
        }
    };
    for (membership_id, role, custom, project_id, level) in rows {
        let Some(f) = found.iter_mut().find(|f| f.membership.id == membership_id) else {
            continue;
        };
        let teams = &mut f.effective.teams;
        teams.permissions = teamwork::given_by(role, custom.as_deref())
            .iter()
            .fold(teams.permissions, |set, p| set.with(p));
        if let (Some(project_id), Some(level)) = (project_id, level) {
            teamwork::raise(&mut teams.grants, project_id, level);
        }
    }
    Ok(())
}

/// Which of the `(organization, project)` pairs are projects of that
/// organization. One statement; none when there is nothing to ask.
fn existing_projects(
    conn: &mut DbConn,
    pairs: &HashSet<(&str, &str)>,
) -> DomainResult<HashSet<(String, String)>> {
    if pairs.is_empty() {
        return Ok(HashSet::new());
    }
    let organizations: HashSet<&str> = pairs.iter().map(|p| p.0).collect();
    let ids: HashSet<&str> = pairs.iter().map(|p| p.1).collect();
    let rows: Vec<(String, String)> = projects::table
        .filter(projects::organization_id.eq_any(organizations))
        .filter(projects::id.eq_any(ids))
        .select((projects::organization_id, projects::id))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

fn is_about(found: &Found, asked: &Asked) -> bool {
    found.membership.organization_id == asked.organization_id
        && match &asked.person {
            Person::UserId(id) => &found.membership.user_id == id,
            Person::Email(email) => &found.email == email,
        }
}

/// The answers to `asked`, in order: a person who is no member (or no
/// account) is [`Reason::NotMember`]. One statement for every membership
/// named; one for what the teams give the members whose own role and
/// grants do not allow what is asked of them (a team only ever adds, and an
/// answer the member's own role or grant gives names that reason first);
/// and one more only when a project question's answer would come from a
/// permission on every project and the project's existence is not known
/// from a grant.
pub fn decide_all(conn: &mut DbConn, asked: &[Asked]) -> DomainResult<Vec<Decision>> {
    if asked.len() > 1 && matches!(conn, DbConn::Pg(_)) {
        // PostgreSQL planned the teams' statement anew on every batch (its
        // generic plan looked dearer than a custom one): most of a batch's
        // time on the server. The plans kept per connection do for any
        // lists, so this transaction asks for them.
        return conn.transaction(|conn| {
            diesel::sql_query("SET LOCAL plan_cache_mode = force_generic_plan").execute(conn)?;
            decide_many(conn, asked)
        });
    }
    decide_many(conn, asked)
}

fn decide_many(conn: &mut DbConn, asked: &[Asked]) -> DomainResult<Vec<Decision>> {
    if asked.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = load_memberships(conn, asked)?;
    let whom: Vec<Option<usize>> = asked
        .iter()
        .map(|a| found.iter().position(|f| is_about(f, a)))
        .collect();
    let mut open: Vec<usize> = Vec::new();
    for (a, index) in asked.iter().zip(&whom) {
        if let Some(index) = *index {
            // As if the project were the organization's: when it is not,
            // no team could give it either.
            let own = found[index].effective.decide(&a.question, true);
            if !own.allowed && !open.contains(&index) {
                open.push(index);
            }
        }
    }
    if !open.is_empty() {
        add_teams(conn, &mut found, &open, asked)?;
    }
    let mut unknown: HashSet<(&str, &str)> = HashSet::new();
    for (a, index) in asked.iter().zip(&whom) {
        if let (Some(index), Question::Project { project_id, .. }) = (index, &a.question) {
            let effective = &found[*index].effective;
            // Only an answer that would allow needs the project to exist.
            if effective.needs_project(&a.question) && effective.decide(&a.question, true).allowed {
                unknown.insert((a.organization_id.as_str(), project_id.as_str()));
            }
        }
    }
    let existing = existing_projects(conn, &unknown)?;
    Ok(asked
        .iter()
        .zip(&whom)
        .map(|(a, index)| {
            let Some(f) = index.map(|i| &found[i]) else {
                return Decision::no(Reason::NotMember);
            };
            let in_organization = match &a.question {
                Question::Project { project_id, .. } => {
                    f.effective.granted_on(project_id)
                        || existing.contains(&(a.organization_id.clone(), project_id.clone()))
                }
                Question::Organization(_) => true,
            };
            f.effective.decide(&a.question, in_organization)
        })
        .collect())
}

/// One check asked with the service key whose secret hashes to `key_hash`:
/// the key and the answer, from one statement (and one more only when a
/// permission on every project would allow it, about a project no grant
/// names, to learn whether the project is the organization's). `None` when
/// no key has this hash.
pub fn decide_with_key(
    conn: &mut DbConn,
    key_hash: &str,
    asked: &Asked,
) -> DomainResult<Option<(KeyFound, Decision)>> {
    let Some((key, member)) = single::load(conn, key_hash, asked, now_ms())? else {
        return Ok(None);
    };
    let Some(effective) = member else {
        return Ok(Some((key, Decision::no(Reason::NotMember))));
    };
    let in_organization = match &asked.question {
        Question::Project { project_id, .. }
            if effective.needs_project(&asked.question)
                && effective.decide(&asked.question, true).allowed =>
        {
            let pair = HashSet::from([(asked.organization_id.as_str(), project_id.as_str())]);
            !existing_projects(conn, &pair)?.is_empty()
        }
        _ => true,
    };
    Ok(Some((
        key,
        effective.decide(&asked.question, in_organization),
    )))
}
