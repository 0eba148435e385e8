//! What a member may do in an organization, and why: the one place that
//! answers it for the permission checks (`access/check`, API.md §10) and for
//! `customer/mypermissions`.
//!
//! A member's permissions come from separate inputs, kept apart so each
//! answer can say where it came from:
//!
//! - their own role's permission set ([`Reason::Role`]);
//! - their own grants on projects ([`Reason::Grant`]);
//! - their teams' roles' sets and their teams' grants ([`Reason::Team`]),
//!   read by [`team_inputs`] (none yet: teams come with their own tables).
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
//! membership they name (and their grants on the projects they name), and at
//! most one more to learn whether projects exist that only a role or a team
//! would give.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::access::{live, Member};
use super::kernel::error::DomainResult;
use super::permissions::{Permission, PermissionSet};
use super::teamwork;
use crate::clock::now_ms;
use crate::store::kinds::Permission as Level;
use crate::store::rows::{MembershipRow, RoleRow};
use crate::store::schema::{memberships, project_permissions, projects, roles, users};
use crate::store::DbConn;

/// Why a check answered as it did (API.md §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The member's own role gives it.
    Role,
    /// Only one of the member's teams gives it.
    Team,
    /// The member's own grant on the project gives it.
    Grant,
    /// The person is no member of the organization (or no account).
    NotMember,
    /// A member, to whom nothing gives it.
    NotGranted,
}

/// An answer: allowed or not, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
}

impl Decision {
    fn yes(reason: Reason) -> Decision {
        Decision {
            allowed: true,
            reason,
        }
    }

    fn no(reason: Reason) -> Decision {
        Decision {
            allowed: false,
            reason,
        }
    }
}

/// What is asked of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// A permission of the catalogue.
    Organization(Permission),
    /// `project:read` or `project:full` on one project.
    Project { project_id: String, level: Level },
}

/// Whom a question is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Person {
    UserId(String),
    /// As stored: normalized (`normalize_email`).
    Email(String),
}

/// One question about one person in one organization.
#[derive(Debug, Clone)]
pub struct Asked {
    pub organization_id: String,
    pub person: Person,
    pub question: Question,
}

/// What a team adds to a member: its role's permissions and its grants.
#[derive(Debug, Clone, Default)]
pub struct TeamInputs {
    pub permissions: PermissionSet,
    /// Project id → the highest grant of any of the member's teams.
    pub grants: HashMap<String, Level>,
}

/// Everything a member holds in one organization, by where it comes from.
#[derive(Debug, Clone, Default)]
pub struct Effective {
    /// The member's own role's set.
    pub role: PermissionSet,
    /// The member's own grants, by project id (projects of the organization).
    pub grants: HashMap<String, Level>,
    /// What the member's teams add.
    pub teams: TeamInputs,
}

fn higher(a: Option<Level>, b: Option<Level>) -> Option<Level> {
    match (a, b) {
        (Some(Level::Full), _) | (_, Some(Level::Full)) => Some(Level::Full),
        (Some(Level::Read), _) | (_, Some(Level::Read)) => Some(Level::Read),
        _ => None,
    }
}

/// True when `held` is at least `wanted`.
fn covers(held: Option<Level>, wanted: Level) -> bool {
    matches!(
        (held, wanted),
        (Some(Level::Full), _) | (Some(Level::Read), Level::Read)
    )
}

/// The level a permission set gives on every project.
fn everywhere(set: PermissionSet) -> Option<Level> {
    if set.contains(Permission::ProjectsWrite) {
        Some(Level::Full)
    } else if set.contains(Permission::ProjectsRead) {
        Some(Level::Read)
    } else {
        None
    }
}

impl Effective {
    /// The answer to `question`. `in_organization` says whether the
    /// project a project question names is one of the organization's.
    pub fn decide(&self, question: &Question, in_organization: bool) -> Decision {
        match question {
            Question::Organization(permission) => {
                if self.role.contains(*permission) {
                    Decision::yes(Reason::Role)
                } else if self.teams.permissions.contains(*permission) {
                    Decision::yes(Reason::Team)
                } else {
                    Decision::no(Reason::NotGranted)
                }
            }
            Question::Project { .. } if !in_organization => Decision::no(Reason::NotGranted),
            Question::Project { project_id, level } => {
                if covers(everywhere(self.role), *level) {
                    Decision::yes(Reason::Role)
                } else if covers(self.grants.get(project_id).copied(), *level) {
                    Decision::yes(Reason::Grant)
                } else if covers(everywhere(self.teams.permissions), *level)
                    || covers(self.teams.grants.get(project_id).copied(), *level)
                {
                    Decision::yes(Reason::Team)
                } else {
                    Decision::no(Reason::NotGranted)
                }
            }
        }
    }

    /// True when the member's own or a team's grant names `project_id`
    /// (so the project is the organization's: grants go with their project).
    fn granted_on(&self, project_id: &str) -> bool {
        self.grants.contains_key(project_id) || self.teams.grants.contains_key(project_id)
    }

    /// True when an answer about `project_id` would come from a permission
    /// on every project, and so depends on the project being there.
    fn needs_project(&self, question: &Question) -> bool {
        match question {
            Question::Project { project_id, .. } => !self.granted_on(project_id),
            Question::Organization(_) => false,
        }
    }

    /// The organization permissions held, from the role and the teams.
    pub fn organization(&self) -> PermissionSet {
        let both: Vec<Permission> = self
            .role
            .iter()
            .chain(self.teams.permissions.iter())
            .collect();
        PermissionSet::of(&both)
    }

    /// Each project the member or a team holds a grant on, with the highest
    /// permission held there from any source (a `read` grant of a member
    /// whose role gives `full` everywhere is `full`), by project id.
    pub fn projects(&self) -> Vec<(String, Level)> {
        let wide = higher(everywhere(self.role), everywhere(self.teams.permissions));
        let ids: HashSet<&String> = self.grants.keys().chain(self.teams.grants.keys()).collect();
        let mut out: Vec<(String, Level)> = ids
            .into_iter()
            .filter_map(|id| {
                let own = self.grants.get(id).copied();
                let team = self.teams.grants.get(id).copied();
                higher(wide, higher(own, team)).map(|level| (id.clone(), level))
            })
            .collect();
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// The permission set of a member's own role, system or custom.
fn role_permissions(
    conn: &mut DbConn,
    membership: MembershipRow,
) -> DomainResult<(MembershipRow, PermissionSet)> {
    let custom: Option<RoleRow> = match &membership.role_id {
        Some(role_id) => roles::table
            .filter(roles::organization_id.eq(&membership.organization_id))
            .filter(roles::id.eq(role_id))
            .select(RoleRow::as_select())
            .first(conn)
            .optional()?,
        None => None,
    };
    let member = Member::new(membership, custom);
    let own = member
        .assigned
        .permissions(member.membership.can_create_projects);
    Ok((member.membership, own))
}

/// What the memberships `(organization id, membership id)` get from their
/// teams: the union of their teams' roles' permissions, and per project the
/// highest of their teams' grants.
pub fn team_inputs(
    conn: &mut DbConn,
    memberships: &[(String, String)],
) -> DomainResult<HashMap<(String, String), TeamInputs>> {
    let mut out = HashMap::new();
    for (organization_id, membership_id) in memberships {
        let permissions = teamwork::team_permissions(conn, organization_id, membership_id)?;
        let grants = teamwork::team_grants_of_member(conn, organization_id, membership_id)?;
        out.insert(
            (organization_id.clone(), membership_id.clone()),
            TeamInputs {
                permissions,
                grants: grants.into_iter().collect(),
            },
        );
    }
    Ok(out)
}

/// Everything `member` holds: their role's set, every grant of theirs and
/// what their teams add. One statement for the grants.
pub fn of_member(conn: &mut DbConn, member: &Member) -> DomainResult<Effective> {
    let organization_id = member.organization_id().to_string();
    let grants: Vec<(String, Level)> = project_permissions::table
        .filter(project_permissions::organization_id.eq(&organization_id))
        .filter(project_permissions::membership_id.eq(&member.membership.id))
        .select((
            project_permissions::project_id,
            project_permissions::permission,
        ))
        .load(conn)?;
    let key = (organization_id, member.membership.id.clone());
    let teams = team_inputs(conn, std::slice::from_ref(&key))?
        .remove(&key)
        .unwrap_or_default();
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
    membership: MembershipRow,
    email: String,
    effective: Effective,
}

type Row = (MembershipRow, String, Option<String>, Option<Level>);

/// The statement of [`load_memberships`] with its filters on the
/// organization, the person and the projects, built straight on one
/// backend's connection (see `access::organization_for_read`: the
/// multi-backend wrapper writes a statement's SQL out again on every call).
macro_rules! memberships_query {
    ($organization:expr, $person:expr, $projects:expr, $now:expr) => {
        memberships::table
            .inner_join(users::table)
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
                MembershipRow::as_select(),
                users::email,
                project_permissions::project_id.nullable(),
                project_permissions::permission.nullable(),
            ))
    };
}

/// One question's rows: every filter an equality, so each backend prepares
/// each of its two shapes (by id, by address) once per connection and plans
/// it from its indexes (`(organization_id, user_id)`, `users.email`). An
/// organization question joins no grant (no project has the empty id).
fn rows_of_one(conn: &mut DbConn, asked: &Asked, now: i64) -> DomainResult<Vec<Row>> {
    let project = match &asked.question {
        Question::Project { project_id, .. } => project_id.as_str(),
        Question::Organization(_) => "",
    };
    let organization = memberships::organization_id.eq(asked.organization_id.as_str());
    let on = project_permissions::project_id.eq(project);
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

/// Many questions' rows. The people are found first, from the accounts'
/// own indexes (by id, by address, or both in one `or` on `users`), then
/// their memberships: never a scan of a large organization's members.
fn rows_of_many(conn: &mut DbConn, asked: &[Asked], now: i64) -> DomainResult<Vec<Row>> {
    let mut organizations: Vec<&str> = asked.iter().map(|a| a.organization_id.as_str()).collect();
    let (mut ids, mut emails, mut projects) = (Vec::new(), Vec::new(), Vec::new());
    for a in asked {
        match &a.person {
            Person::UserId(id) => ids.push(id.as_str()),
            Person::Email(email) => emails.push(email.as_str()),
        }
        if let Question::Project { project_id, .. } = &a.question {
            projects.push(project_id.as_str());
        }
    }
    for list in [&mut organizations, &mut ids, &mut emails, &mut projects] {
        list.sort_unstable();
        list.dedup();
    }
    let organization = memberships::organization_id.eq_any(&organizations);
    // Each membership's grants are read in their key's order and kept when
    // their project was asked about: as an index seek per project and
    // membership, SQLite spent most of a batch (`|| ''` keeps the column
    // out of the index; PostgreSQL filters it so anyway).
    let on = project_permissions::project_id.concat("").eq_any(&projects);
    let (by_id, by_email) = (users::id.eq_any(&ids), users::email.eq_any(&emails));
    let rows = match (conn, ids.is_empty(), emails.is_empty()) {
        (DbConn::Pg(c), _, true) => memberships_query!(organization, by_id, on, now).load(c),
        (DbConn::Pg(c), true, _) => memberships_query!(organization, by_email, on, now).load(c),
        (DbConn::Pg(c), _, _) => {
            memberships_query!(organization, by_id.or(by_email), on, now).load::<Row>(c)
        }
        (DbConn::Sqlite(c), _, true) => memberships_query!(organization, by_id, on, now).load(c),
        (DbConn::Sqlite(c), true, _) => memberships_query!(organization, by_email, on, now).load(c),
        (DbConn::Sqlite(c), _, _) => {
            memberships_query!(organization, by_id.or(by_email), on, now).load::<Row>(c)
        }
    }?;
    Ok(rows)
}

/// One statement: the memberships in force of the people `asked` names in
/// the organizations it names, each with its grants on the projects it
/// names. (Pairs nobody asked about come back too, and are never used.)
fn load_memberships(conn: &mut DbConn, asked: &[Asked]) -> DomainResult<Vec<Found>> {
    let now = now_ms();
    let rows = match asked {
        [one] => rows_of_one(conn, one, now)?,
        _ => rows_of_many(conn, asked, now)?,
    };
    let mut found: Vec<Found> = Vec::new();
    for (membership, email, project_id, level) in rows {
        let index = match found.iter().position(|f| f.membership.id == membership.id) {
            Some(index) => index,
            None => {
                let (membership, role) = role_permissions(conn, membership)?;
                found.push(Found {
                    membership,
                    email,
                    effective: Effective {
                        role,
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
/// named, one for what their teams add (none yet), and one more only when
/// a project question's answer would come from a permission on every
/// project and the project's existence is not known from a grant.
pub fn decide_all(conn: &mut DbConn, asked: &[Asked]) -> DomainResult<Vec<Decision>> {
    if asked.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = load_memberships(conn, asked)?;
    let keys: Vec<(String, String)> = found
        .iter()
        .map(|f| {
            let m = &f.membership;
            (m.organization_id.clone(), m.id.clone())
        })
        .collect();
    let mut teams = team_inputs(conn, &keys)?;
    for (f, key) in found.iter_mut().zip(&keys) {
        f.effective.teams = teams.remove(key).unwrap_or_default();
    }
    let whom: Vec<Option<&Found>> = asked
        .iter()
        .map(|a| found.iter().find(|f| is_about(f, a)))
        .collect();
    let mut unknown: HashSet<(&str, &str)> = HashSet::new();
    for (a, f) in asked.iter().zip(&whom) {
        if let (Some(f), Question::Project { project_id, .. }) = (f, &a.question) {
            if f.effective.needs_project(&a.question) {
                unknown.insert((a.organization_id.as_str(), project_id.as_str()));
            }
        }
    }
    let existing = existing_projects(conn, &unknown)?;
    Ok(asked
        .iter()
        .zip(&whom)
        .map(|(a, f)| {
            let Some(f) = f else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::permissions::system_role;
    use crate::domain::roles::Role;

    fn project(level: Level) -> Question {
        Question::Project {
            project_id: "p".into(),
            level,
        }
    }

    fn member(role: Role) -> Effective {
        Effective {
            role: system_role(role, false),
            ..Effective::default()
        }
    }

    #[test]
    fn the_role_comes_first_then_the_grant_then_the_teams() {
        let admin = member(Role::Admin);
        assert_eq!(
            admin.decide(&project(Level::Full), true),
            Decision::yes(Reason::Role)
        );
        let mut collaborator = member(Role::Collaborator);
        assert_eq!(
            collaborator.decide(&project(Level::Read), true),
            Decision::no(Reason::NotGranted)
        );
        collaborator.grants.insert("p".into(), Level::Read);
        assert_eq!(
            collaborator.decide(&project(Level::Read), true),
            Decision::yes(Reason::Grant)
        );
        assert_eq!(
            collaborator.decide(&project(Level::Full), true),
            Decision::no(Reason::NotGranted)
        );
        collaborator.teams.grants.insert("p".into(), Level::Full);
        assert_eq!(
            collaborator.decide(&project(Level::Full), true),
            Decision::yes(Reason::Team)
        );
        assert_eq!(
            collaborator.decide(&project(Level::Read), true),
            Decision::yes(Reason::Grant)
        );
        collaborator.teams.permissions = PermissionSet::of(&[Permission::AuditRead]);
        assert_eq!(
            collaborator.decide(&Question::Organization(Permission::AuditRead), true),
            Decision::yes(Reason::Team)
        );
        assert_eq!(
            collaborator.decide(&Question::Organization(Permission::OrganizationRead), true),
            Decision::yes(Reason::Role)
        );
    }

    #[test]
    fn a_project_the_organization_lacks_is_granted_to_nobody() {
        assert_eq!(
            member(Role::Owner).decide(&project(Level::Read), false),
            Decision::no(Reason::NotGranted)
        );
    }

    #[test]
    fn projects_show_the_highest_permission_from_any_source() {
        let mut technical = member(Role::Technical);
        technical.grants.insert("a".into(), Level::Read);
        technical.teams.grants.insert("a".into(), Level::Full);
        technical.teams.grants.insert("b".into(), Level::Read);
        assert_eq!(
            technical.projects(),
            [("a".into(), Level::Full), ("b".into(), Level::Read)]
        );
        let mut admin = member(Role::Admin);
        admin.grants.insert("a".into(), Level::Read);
        assert_eq!(admin.projects(), [("a".into(), Level::Full)]);
    }
}
