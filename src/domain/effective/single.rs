//! One check asked with a service key, in one statement: the key, the
//! person's membership in force, the custom role it holds, its grant on the
//! project asked about, and each of its teams with its role and its grant
//! on that project. This is the provider's hot path (API.md §10: a check
//! costs about what a list of 50 collaborators costs, or less), so the
//! statement is a query fragment of its own ([`OneCheck`]): its SQL written
//! out once for both databases, prepared once per connection, and built
//! for nothing per call (Diesel's DSL spent more building eight nested
//! joins than SQLite spent running them).
//!
//! Two questions may need one more statement each, and only then: what the
//! custom roles some of the member's teams carry give, when nothing else
//! allows what is asked; and, for a project question that a permission on
//! every project would allow, whether the project is the organization's
//! (the parent module asks that).

use std::collections::HashMap;

use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::sqlite::Sqlite;

use super::decision::{Asked, Effective, Person, Question};
use crate::domain::kernel::error::DomainResult;
use crate::domain::permissions::PermissionSet;
use crate::domain::roles::holder_permissions;
use crate::domain::teamwork;
use crate::store::kinds::{Permission as Level, Role};
use crate::store::schema::roles;
use crate::store::DbConn;

/// The statement: the key by its hash, the account by id or address
/// (`BY_EMAIL`), its membership in force in the organization, and what that
/// holds about one project (the empty id, which no project has, for an
/// organization question).
struct OneCheck<'a, const BY_EMAIL: bool> {
    person: &'a str,
    organization: &'a str,
    now: i64,
    project: &'a str,
    hash: &'a str,
}

/// [`OneCheck`]'s identity for the statement cache: one per shape.
struct OneCheckShape<const BY_EMAIL: bool>;

impl<const BY_EMAIL: bool> QueryId for OneCheck<'_, BY_EMAIL> {
    type QueryId = OneCheckShape<BY_EMAIL>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

/// A row: the key (id, last use); the membership (role,
/// `cancreateprojects`, custom role's set, grant); one of its teams (role,
/// custom role's id, grant).
type RowSql = (
    Text,
    Nullable<BigInt>,
    Nullable<Text>,
    Nullable<Bool>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
);

type Row = (
    String,
    Option<i64>,
    Option<Role>,
    Option<bool>,
    Option<String>,
    Option<Level>,
    Option<Role>,
    Option<String>,
    Option<Level>,
);

impl<const BY_EMAIL: bool> Query for OneCheck<'_, BY_EMAIL> {
    type SqlType = RowSql;
}

impl<Conn, const BY_EMAIL: bool> RunQueryDsl<Conn> for OneCheck<'_, BY_EMAIL> {}

impl<const BY_EMAIL: bool> OneCheck<'_, BY_EMAIL> {
    fn write<'b, DB: Backend>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()>
    where
        str: diesel::serialize::ToSql<Text, DB>,
        i64: diesel::serialize::ToSql<BigInt, DB>,
    {
        out.push_sql(
            "SELECT k.id, k.last_used_at, m.role, m.can_create_projects, r.permissions, \
             g.permission, t.role, t.role_id, tg.permission \
             FROM service_keys k LEFT JOIN users u ON ",
        );
        out.push_sql(if BY_EMAIL { "u.email = " } else { "u.id = " });
        out.push_bind_param::<Text, str>(self.person)?;
        out.push_sql(" LEFT JOIN memberships m ON m.user_id = u.id AND m.organization_id = ");
        out.push_bind_param::<Text, str>(self.organization)?;
        out.push_sql(" AND m.suspended_at IS NULL AND (m.expires_at IS NULL OR m.expires_at > ");
        out.push_bind_param::<BigInt, i64>(&self.now)?;
        out.push_sql(
            ") LEFT JOIN roles r ON r.organization_id = m.organization_id AND r.id = m.role_id \
             LEFT JOIN project_permissions g ON g.organization_id = m.organization_id \
             AND g.membership_id = m.id AND g.project_id = ",
        );
        out.push_bind_param::<Text, str>(self.project)?;
        out.push_sql(
            " LEFT JOIN team_members tm ON tm.organization_id = m.organization_id \
             AND tm.membership_id = m.id \
             LEFT JOIN teams t ON t.organization_id = tm.organization_id AND t.id = tm.team_id \
             LEFT JOIN team_project_permissions tg ON tg.organization_id = tm.organization_id \
             AND tg.team_id = tm.team_id AND tg.project_id = ",
        );
        out.push_bind_param::<Text, str>(self.project)?;
        out.push_sql(" WHERE k.secret_hash = ");
        out.push_bind_param::<Text, str>(self.hash)?;
        Ok(())
    }
}

impl<const BY_EMAIL: bool> QueryFragment<Sqlite> for OneCheck<'_, BY_EMAIL> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.write(out)
    }
}

impl<const BY_EMAIL: bool> QueryFragment<Pg> for OneCheck<'_, BY_EMAIL> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.write(out)
    }
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
    macro_rules! run {
        ($by_email:literal, $person:expr, $c:expr) => {
            OneCheck::<$by_email> {
                person: $person,
                organization,
                now,
                project,
                hash: key_hash,
            }
            .load::<Row>($c)
        };
    }
    let rows: Vec<Row> = match (&mut *conn, &asked.person) {
        (DbConn::Pg(c), Person::UserId(id)) => run!(false, id, c),
        (DbConn::Pg(c), Person::Email(email)) => run!(true, email, c),
        (DbConn::Sqlite(c), Person::UserId(id)) => run!(false, id, c),
        (DbConn::Sqlite(c), Person::Email(email)) => run!(true, email, c),
    }?;
    let Some((key_id, last_used_at, role, can_create, custom, ..)) = rows.first().cloned() else {
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
        role: holder_permissions(
            role,
            custom.as_deref().map(PermissionSet::parse),
            can_create.unwrap_or(false),
        ),
        ..Effective::default()
    };
    let mut custom_roles: Vec<String> = Vec::new();
    for (.., own_grant, team_role, team_role_id, team_grant) in rows {
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
