//! One check asked with a service key, in one statement: the key, the
//! person's membership in force, the custom role it holds, its grant on the
//! project asked about, and each of its teams with what the team's role
//! gives and the team's grant on that project. This is the provider's hot
//! path (API.md §10: a check costs about what a list of 50 collaborators
//! costs, or less), so it is written out as SQL, once for both databases,
//! and prepared once per connection.
//!
//! A project question whose answer would come from a permission on every
//! project, about a project no grant names, still needs to learn whether
//! the project is the organization's: the parent module asks that.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};

use super::decision::{own_permissions, Asked, Effective, Person, Question};
use crate::domain::kernel::error::DomainResult;
use crate::domain::permissions::PermissionSet;
use crate::domain::teamwork;
use crate::store::kinds::{Permission as Level, Role};
use crate::store::DbConn;

/// One row: the key, and the membership with one of its teams (or none).
#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    key_id: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    key_used_at: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    role: Option<Role>,
    #[diesel(sql_type = Nullable<Bool>)]
    can_create_projects: Option<bool>,
    #[diesel(sql_type = Nullable<Text>)]
    role_permissions: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    own_grant: Option<Level>,
    #[diesel(sql_type = Nullable<Text>)]
    team_role: Option<Role>,
    #[diesel(sql_type = Nullable<Text>)]
    team_role_permissions: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    team_grant: Option<Level>,
}

/// The statement, with `{person}` the condition that finds the account
/// and `?` for each bound value in order: the person, the organization,
/// the time, the project twice, the key's hash. The project of an
/// organization question is the empty id, which no project has.
const STATEMENT: &str = "\
SELECT k.id AS key_id, k.last_used_at AS key_used_at, \
       m.role AS role, m.can_create_projects AS can_create_projects, \
       r.permissions AS role_permissions, g.permission AS own_grant, \
       t.role AS team_role, tr.permissions AS team_role_permissions, \
       tg.permission AS team_grant \
FROM service_keys k \
LEFT JOIN users u ON {person} \
LEFT JOIN memberships m ON m.user_id = u.id AND m.organization_id = ? \
     AND (m.expires_at IS NULL OR m.expires_at > ?) \
LEFT JOIN roles r ON r.organization_id = m.organization_id AND r.id = m.role_id \
LEFT JOIN project_permissions g ON g.organization_id = m.organization_id \
     AND g.membership_id = m.id AND g.project_id = ? \
LEFT JOIN team_members tm ON tm.organization_id = m.organization_id AND tm.membership_id = m.id \
LEFT JOIN teams t ON t.organization_id = tm.organization_id AND t.id = tm.team_id \
LEFT JOIN roles tr ON tr.organization_id = t.organization_id AND tr.id = t.role_id \
LEFT JOIN team_project_permissions tg ON tg.organization_id = tm.organization_id \
     AND tg.team_id = tm.team_id AND tg.project_id = ? \
WHERE k.secret_hash = ?";

/// The statement for `person` in `backend`'s placeholders: `?` for SQLite,
/// `$1`, `$2`, … for PostgreSQL.
fn statement(by_email: bool, numbered: bool) -> String {
    let person = match by_email {
        true => "u.email = ?",
        false => "u.id = ?",
    };
    let text = STATEMENT.replace("{person}", person);
    if !numbered {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
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
/// everything they hold that bears on it: one statement.
pub fn load(conn: &mut DbConn, key_hash: &str, asked: &Asked, now: i64) -> DomainResult<Loaded> {
    let (person, by_email) = match &asked.person {
        Person::UserId(id) => (id.as_str(), false),
        Person::Email(email) => (email.as_str(), true),
    };
    let project = match &asked.question {
        Question::Project { project_id, .. } => project_id.as_str(),
        Question::Organization(_) => "",
    };
    let numbered = matches!(conn, DbConn::Pg(_));
    let query = diesel::sql_query(statement(by_email, numbered))
        .bind::<Text, _>(person)
        .bind::<Text, _>(asked.organization_id.as_str())
        .bind::<BigInt, _>(now)
        .bind::<Text, _>(project)
        .bind::<Text, _>(project)
        .bind::<Text, _>(key_hash);
    let rows: Vec<Row> = match conn {
        DbConn::Pg(c) => query.load(c)?,
        DbConn::Sqlite(c) => query.load(c)?,
    };
    Ok(held(rows, project))
}

/// The rows of one statement as what they say; grants are on `project`.
fn held(rows: Vec<Row>, project: &str) -> Loaded {
    let first = rows.first()?;
    let key = KeyFound {
        key_id: first.key_id.clone(),
        last_used_at: first.key_used_at,
    };
    let Some(role) = first.role else {
        return Some((key, None));
    };
    let can_create = first.can_create_projects.unwrap_or(false);
    let mut effective = Effective {
        role: own_permissions(role, can_create, first.role_permissions.as_deref()),
        ..Effective::default()
    };
    for row in rows {
        if let Some(level) = row.own_grant {
            effective.grants.insert(project.to_string(), level);
        }
        let teams = &mut effective.teams;
        teams.permissions = teamwork::given_by(row.team_role, row.team_role_permissions.as_deref())
            .iter()
            .fold(teams.permissions, PermissionSet::with);
        if let Some(level) = row.team_grant {
            teamwork::raise(&mut teams.grants, project.to_string(), level);
        }
    }
    Some((key, Some(effective)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        let lite = statement(false, false);
        assert_eq!(lite.matches('?').count(), 6);
        assert!(lite.contains("u.id = ?"));
        let pg = statement(true, true);
        assert!(!pg.contains('?'));
        assert!(pg.contains("u.email = $1") && pg.contains("k.secret_hash = $6"));
    }
}
