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
//! [`decide_all`] answers many questions from what this process has read
//! of the people and projects they name, while the organization's roster
//! version says it stands ([`memory`]): one statement for the version. What
//! it has not read it reads with one statement for every membership named
//! (with the custom role each holds and all its grants), one for what their
//! teams give, and one more only to learn whether projects exist that only
//! a role or a team would give. [`decide_with_key`] answers one question
//! asked with a service key, the provider's hot path, in one statement with
//! the key ([`single`]). Neither scans an organization: its size and number
//! of teams do not matter.

mod decision;
mod memory;
mod single;

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

pub use decision::{Asked, Decision, Effective, Person, Question, Reason, TeamInputs};
pub use memory::CheckMemory;
pub use single::KeyFound;

use memory::{Holder, Readings};

use super::access::{live, Member};
use super::kernel::error::{DomainError, DomainResult};
use super::permissions::PermissionSet;
use super::roles::holder_permissions;
use super::{rosters, teamwork};
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
    until: Option<i64>,
}

/// Which membership: what a batch's answers are matched by.
struct Held {
    id: String,
    organization_id: String,
    user_id: String,
}

/// A membership's row as a batch reads it: only what bears on an answer
/// (ids, role, `cancreateprojects`, the custom role's permissions, its end,
/// the account's address) and one of its grants.
type Row = (
    (
        String,
        String,
        String,
        Role,
        bool,
        Option<String>,
        Option<i64>,
    ),
    String,
    Option<String>,
    Option<Level>,
);

/// The statement of [`load_memberships`] with its filters on the
/// organization and the person, built straight on one
/// backend's connection (see `access::organization_for_read`: the
/// multi-backend wrapper writes a statement's SQL out again on every call).
/// The custom role a membership holds comes in the same row.
macro_rules! memberships_query {
    ($organization:expr, $person:expr, $now:expr) => {
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
                    .and(project_permissions::membership_id.eq(memberships::id))),
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
                    memberships::expires_at,
                ),
                users::email,
                project_permissions::project_id.nullable(),
                project_permissions::permission.nullable(),
            ))
    };
}

/// One person's rows: every filter an equality, so each backend prepares
/// each of its two shapes (by id, by address) once per connection and plans
/// it from its indexes (`(organization_id, user_id)`, `users.email`).
fn rows_of_one(conn: &mut DbConn, asked: &Asked, now: i64) -> DomainResult<Vec<Row>> {
    let organization = memberships::organization_id.eq(asked.organization_id.as_str());
    let rows = match (conn, &asked.person) {
        (DbConn::Pg(c), Person::UserId(id)) => {
            let person = memberships::user_id.eq(id.as_str());
            memberships_query!(organization, person, now).load::<Row>(c)
        }
        (DbConn::Pg(c), Person::Email(email)) => {
            let person = users::email.eq(email.as_str());
            memberships_query!(organization, person, now).load::<Row>(c)
        }
        (DbConn::Sqlite(c), Person::UserId(id)) => {
            let person = memberships::user_id.eq(id.as_str());
            memberships_query!(organization, person, now).load::<Row>(c)
        }
        (DbConn::Sqlite(c), Person::Email(email)) => {
            let person = users::email.eq(email.as_str());
            memberships_query!(organization, person, now).load::<Row>(c)
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

/// Many people's rows. The people are found first, from the accounts' own
/// indexes (by id, by address, or both in one `or` on `users`), then their
/// memberships: never a scan of a large organization's members. SQLite
/// takes each list as one JSON array (`store::json_lists`), PostgreSQL as
/// one array.
fn rows_of_many(conn: &mut DbConn, asked: &[&Asked], now: i64) -> DomainResult<Vec<Row>> {
    let organizations = distinct(asked.iter().map(|a| a.organization_id.as_str()));
    let ids = distinct(asked.iter().filter_map(|a| match &a.person {
        Person::UserId(id) => Some(id.as_str()),
        Person::Email(_) => None,
    }));
    let emails = distinct(asked.iter().filter_map(|a| match &a.person {
        Person::Email(email) => Some(email.as_str()),
        Person::UserId(_) => None,
    }));
    let rows = match conn {
        DbConn::Pg(c) => {
            let organization = memberships::organization_id.eq_any(&organizations);
            let (by_id, by_email) = (users::id.eq_any(&ids), users::email.eq_any(&emails));
            match (ids.is_empty(), emails.is_empty()) {
                (_, true) => memberships_query!(organization, by_id, now).load::<Row>(c),
                (true, _) => memberships_query!(organization, by_email, now).load::<Row>(c),
                _ => memberships_query!(organization, by_id.or(by_email), now).load::<Row>(c),
            }
        }
        DbConn::Sqlite(c) => {
            let organization = in_json(memberships::organization_id, &organizations);
            let (by_id, by_email) = (in_json(users::id, &ids), in_json(users::email, &emails));
            match (ids.is_empty(), emails.is_empty()) {
                (_, true) => memberships_query!(organization, by_id, now).load::<Row>(c),
                (true, _) => memberships_query!(organization, by_email, now).load::<Row>(c),
                _ => memberships_query!(organization, by_id.or(by_email), now).load::<Row>(c),
            }
        }
    }?;
    Ok(rows)
}

/// One statement: the memberships in force of the people `asked` names in
/// the organizations it names, each with its custom role and every grant.
/// (Pairs nobody asked about come back too, and are never used.)
fn load_memberships(conn: &mut DbConn, asked: &[&Asked], now: i64) -> DomainResult<Vec<Found>> {
    let rows = match asked {
        [one] => rows_of_one(conn, one, now)?,
        _ => rows_of_many(conn, asked, now)?,
    };
    let mut found: Vec<Found> = Vec::new();
    for (
        (id, organization_id, user_id, role, can_create, custom, until),
        email,
        project_id,
        level,
    ) in rows
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
                    until,
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
/// custom role's stored set, and one of its grants.
type TeamRow = (
    String,
    Option<Role>,
    Option<String>,
    Option<String>,
    Option<Level>,
);

/// The statement of [`add_teams`]: the teams of the memberships `$members`
/// selects, each with what its role gives (a custom role as it is now) and
/// its grants.
macro_rules! teams_query {
    ($members:expr) => {
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
                    .and(team_project_permissions::team_id.eq(team_members::team_id))),
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

/// What their teams give the members `found`: one statement, of equalities
/// alone for a single member.
fn add_teams(conn: &mut DbConn, found: &mut [Found]) -> DomainResult<()> {
    let rows: Vec<TeamRow> = match found {
        [] => return Ok(()),
        [one] => {
            let m = &one.membership;
            let members = team_members::organization_id
                .eq(m.organization_id.as_str())
                .and(team_members::membership_id.eq(m.id.as_str()));
            match conn {
                DbConn::Pg(c) => teams_query!(members).load(c),
                DbConn::Sqlite(c) => teams_query!(members).load(c),
            }?
        }
        _ => {
            let organizations =
                distinct(found.iter().map(|f| f.membership.organization_id.as_str()));
            let ids = distinct(found.iter().map(|f| f.membership.id.as_str()));
            match conn {
                DbConn::Pg(c) => {
                    let members = team_members::organization_id
                        .eq_any(&organizations)
                        .and(team_members::membership_id.eq_any(&ids));
                    teams_query!(members).load(c)
                }
                DbConn::Sqlite(c) => {
                    let members = in_json(team_members::organization_id, &organizations)
                        .and(in_json(team_members::membership_id, &ids));
                    teams_query!(members).load(c)
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
/// account) is [`Reason::NotMember`]. One statement for the roster
/// versions of the organizations asked about; what `memory` read of them at
/// those versions answers; for the rest, one statement for every
/// membership they name with all its grants, one for all their teams give,
/// and one more only when an answer would come from a permission on every
/// project and the project's existence is not known from a grant. What
/// those read is kept in `memory` under the versions read first.
pub fn decide_all(
    conn: &mut DbConn,
    memory: &CheckMemory,
    asked: &[Asked],
) -> DomainResult<Vec<Decision>> {
    let now = now_ms();
    let organizations = distinct(asked.iter().map(|a| a.organization_id.as_str()));
    let versions = rosters::versions(conn, &organizations)?;
    let version = |organization: &str| versions.get(organization).copied().unwrap_or(0);
    let mut answers = memory.answers(asked, version, now);
    let missing: Vec<&Asked> = asked
        .iter()
        .zip(&answers)
        .filter_map(|(a, answer)| answer.is_none().then_some(a))
        .collect();
    if missing.is_empty() {
        return Ok(answers.into_iter().flatten().collect());
    }
    let readings = if missing.len() > 1 && matches!(conn, DbConn::Pg(_)) {
        // PostgreSQL planned the teams' statement anew on every batch (its
        // generic plan looked dearer than a custom one). The plans kept per
        // connection do for any lists, so this transaction asks for them.
        conn.transaction(|conn| {
            diesel::sql_query("SET LOCAL plan_cache_mode = force_generic_plan").execute(conn)?;
            read(conn, &missing, now)
        })?
    } else {
        read(conn, &missing, now)?
    };
    for (answer, a) in answers.iter_mut().zip(asked) {
        if answer.is_none() {
            *answer = readings
                .get(&a.organization_id)
                .and_then(|r| r.answer(a, now));
        }
    }
    for (organization, readings) in readings {
        memory.keep(&organization, version(&organization), readings);
    }
    // Every question missing was read about, so each has its answer now.
    answers
        .into_iter()
        .map(|a| a.ok_or_else(|| DomainError::Internal("a check read without an answer".into())))
        .collect()
}

/// Reads what answers `asked`, per organization: everything each person
/// named holds (or that they are no member), and whether the projects are
/// the organization's where that decides an answer.
fn read(conn: &mut DbConn, asked: &[&Asked], now: i64) -> DomainResult<HashMap<String, Readings>> {
    let mut found = load_memberships(conn, asked, now)?;
    add_teams(conn, &mut found)?;
    let mut readings: HashMap<String, Readings> = HashMap::new();
    let mut unknown: HashSet<(&str, &str)> = HashSet::new();
    for a in asked {
        let holder = found.iter().find(|f| is_about(f, a));
        if let Some(project) = holder.and_then(|f| f.effective.existence_decides(&a.question)) {
            unknown.insert((a.organization_id.as_str(), project));
        }
        let holder = holder.map(|f| Holder {
            effective: f.effective.clone(),
            until: f.until,
        });
        readings
            .entry(a.organization_id.clone())
            .or_default()
            .people
            .insert(a.person.clone(), holder);
    }
    let existing = existing_projects(conn, &unknown)?;
    for (organization, project) in unknown {
        let exists = existing.contains(&(organization.to_string(), project.to_string()));
        readings
            .entry(organization.to_string())
            .or_default()
            .projects
            .insert(project.to_string(), exists);
    }
    Ok(readings)
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
    let in_organization = match effective.existence_decides(&asked.question) {
        Some(project) => {
            let pair = HashSet::from([(asked.organization_id.as_str(), project)]);
            !existing_projects(conn, &pair)?.is_empty()
        }
        None => true,
    };
    Ok(Some((
        key,
        effective.decide(&asked.question, in_organization),
    )))
}
