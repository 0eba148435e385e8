//! Teams (API.md §10): groups of an organization's members that carry a
//! role and grants on projects. What they give their members is
//! [`crate::domain::teamwork`]'s (read by the gate on every request); this
//! feature makes, changes, lists and fills them: [`changes`] (create, edit,
//! delete), [`roster`] (add, remove and list members), and the reads and
//! rules they share here.
//!
//! The rule of who may change a team is the one for roles (API.md §3 rule 4,
//! §10): nobody gives a team a role holding a permission they do not hold,
//! or a grant above their own on that project (403). A team's current role
//! and grants count as given by whoever changes it: to edit or delete a
//! team, or to add or remove one of its members, the caller must hold what
//! the team carries. Adding someone to a team gives them the team's role
//! and grants, whatever their own role, so it is judged as giving them.

pub mod changes;
pub mod directory;
pub mod roster;

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::access::{self, Hold, Member};
use super::kernel::grants::{
    check_granter_holds, group_grants, hide_invisible, GrantRequest, ProjectGrant,
};
use super::members::{reassess_inviters, Touched};
use super::paging::{named_position, PageRequest};
use super::permissions::{Need, Permission, PermissionSet};
use super::roles::{self, AssignedRole};
use super::sessions::Caller;
use super::teamwork::role_of;
use super::{now_ms, rfc3339, Ctx, DomainError, DomainResult};
use crate::store::rows::{TeamGrantRow, TeamRow};
use crate::store::schema::{memberships, projects, team_members, team_project_permissions, teams};
use crate::store::DbConn;

/// A team of an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub teamid: String,
    pub organizationid: String,
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// The role the team gives its members beside their own (their
    /// permissions are the union of both): a system role's name or a custom
    /// role's; null for none.
    #[schema(required = true)]
    pub role: Option<String>,
    /// The custom role's id when `role` is one; null for a system role or
    /// none.
    #[schema(required = true)]
    pub roleid: Option<String>,
    /// What the team's members hold on projects through it; a member's
    /// permission on a project is the highest of their own and their
    /// teams'. A caller who sees only some projects sees only those.
    pub projectpermissions: Vec<ProjectGrant>,
    /// Members in force (a membership past its end no longer counts).
    pub membercount: i64,
    #[schema(format = DateTime)]
    pub createdat: String,
}

/// The team `team_id` names, re-read once its organization is held, and
/// the caller past the gate for `need`. Anyone who is not a member of its
/// organization gets 404, as for an unknown team.
fn team_and_actor(
    conn: &mut DbConn,
    caller: &Caller,
    team_id: &str,
    need: impl Into<Need>,
    how: Hold,
) -> DomainResult<(TeamRow, Member)> {
    // A teamid alone does not say its organization: the first read looks
    // in every organization's teams, the re-read in the one found.
    let read = |conn: &mut DbConn, organization_id: Option<&str>| -> DomainResult<TeamRow> {
        let mut query = teams::table.filter(teams::id.eq(team_id)).into_boxed();
        if let Some(organization_id) = organization_id {
            query = query.filter(teams::organization_id.eq(organization_id.to_string()));
        }
        query
            .select(TeamRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| DomainError::not_found("team not found"))
    };
    let first = read(conn, None)?;
    let actor = access::object(conn, caller, &first.organization_id, need, how, "team")?;
    let team = read(conn, Some(&first.organization_id))?;
    Ok((team, actor))
}

/// The rule of giving (see the module's doc): `actor` holds every
/// permission of `role` and, on each project, at least `grants` (403).
fn ensure_may_give(
    conn: &mut DbConn,
    actor: &Member,
    role: Option<&AssignedRole>,
    grants: &[GrantRequest],
) -> DomainResult<()> {
    if let Some(role) = role {
        let missing = roles::not_held(actor.permissions, role);
        if missing != PermissionSet::default() {
            return Err(DomainError::forbidden(format!(
                "you may not give the role {}: it holds {}, which you do not",
                role.name(),
                missing.names().join(", ")
            )));
        }
    }
    check_granter_holds(conn, actor, grants, false)
}

/// After `team` stopped giving its role to the members `ids` (they left
/// it, or it went), their pending invites beyond what they hold now are
/// revoked (API.md §4). Nothing to judge for a team without a role.
fn role_taken_from(
    conn: &mut DbConn,
    team: &TeamRow,
    ids: &[String],
    caller: &Caller,
) -> DomainResult<()> {
    if team.role.is_none() && team.role_id.is_none() {
        return Ok(());
    }
    reassess_inviters(
        conn,
        &team.organization_id,
        Touched::Memberships(ids),
        caller,
    )
}

/// The team's current grants, as requests (for [`ensure_may_give`]).
fn grants_of_team(conn: &mut DbConn, team: &TeamRow) -> DomainResult<Vec<GrantRequest>> {
    let rows: Vec<TeamGrantRow> = team_project_permissions::table
        .filter(team_project_permissions::organization_id.eq(&team.organization_id))
        .filter(team_project_permissions::team_id.eq(&team.id))
        .select(TeamGrantRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| GrantRequest {
            project_id: r.project_id,
            permission: r.permission,
        })
        .collect())
}

/// `actor` may change `team` as it is: they hold what it carries.
fn ensure_may_change(conn: &mut DbConn, actor: &Member, team: &TeamRow) -> DomainResult<()> {
    let grants = grants_of_team(conn, team)?;
    let role = role_of(conn, team)?;
    ensure_may_give(conn, actor, role.as_ref(), &grants).map_err(|e| match e {
        DomainError::Forbidden(_) => DomainError::forbidden(
            "this team carries a role or grants beyond what you hold; only someone who holds \
             them may change it",
        ),
        other => other,
    })
}

/// Grants of the given teams of `organization_id`, by project name: team id
/// → grants.
fn grants_of_teams(
    conn: &mut DbConn,
    organization_id: &str,
    team_ids: &[String],
) -> DomainResult<HashMap<String, Vec<ProjectGrant>>> {
    if team_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = team_project_permissions::table
        .inner_join(
            projects::table.on(projects::organization_id
                .eq(team_project_permissions::organization_id)
                .and(projects::id.eq(team_project_permissions::project_id))),
        )
        .filter(team_project_permissions::organization_id.eq(organization_id))
        .filter(team_project_permissions::team_id.eq_any(team_ids))
        .select((
            team_project_permissions::team_id,
            projects::id,
            projects::name,
            team_project_permissions::permission,
        ))
        .load(conn)?;
    Ok(group_grants(rows))
}

/// Members in force of the given teams: team id → count.
fn member_counts(
    conn: &mut DbConn,
    organization_id: &str,
    team_ids: &[String],
) -> DomainResult<HashMap<String, i64>> {
    if team_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, i64)> = team_members::table
        .inner_join(
            memberships::table.on(memberships::organization_id
                .eq(team_members::organization_id)
                .and(memberships::id.eq(team_members::membership_id))),
        )
        .filter(team_members::organization_id.eq(organization_id))
        .filter(team_members::team_id.eq_any(team_ids))
        .filter(access::live(now_ms()))
        .group_by(team_members::team_id)
        .select((team_members::team_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Teams as `viewer` sees them: with their grants (only on projects the
/// viewer sees) and member counts, in two statements for any number.
fn views(conn: &mut DbConn, viewer: &Member, rows: Vec<TeamRow>) -> DomainResult<Vec<Team>> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let organization_id = first.organization_id.clone();
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut grants = grants_of_teams(conn, &organization_id, &ids)?;
    let counts = member_counts(conn, &organization_id, &ids)?;
    let custom: Vec<&str> = rows.iter().filter_map(|r| r.role_id.as_deref()).collect();
    let role_names = roles::names(conn, &organization_id, &custom)?;
    let visible = super::kernel::grants::visible_projects(conn, viewer)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut projectpermissions = grants.remove(&row.id).unwrap_or_default();
            hide_invisible(&mut projectpermissions, &visible);
            Team {
                membercount: counts.get(&row.id).copied().unwrap_or(0),
                teamid: row.id,
                organizationid: row.organization_id,
                name: row.name,
                description: row.description,
                role: match &row.role_id {
                    Some(id) => role_names.get(id).cloned(),
                    None => row.role.map(|r| r.as_str().to_string()),
                },
                roleid: row.role_id,
                projectpermissions,
                createdat: rfc3339(row.created_at),
            }
        })
        .collect())
}

/// One team as `viewer` sees it, read afresh.
fn view(conn: &mut DbConn, viewer: &Member, organization_id: &str, id: &str) -> DomainResult<Team> {
    let row = teams::table
        .find((organization_id, id))
        .select(TeamRow::as_select())
        .first(conn)?;
    views(conn, viewer, vec![row])?
        .pop()
        .ok_or_else(|| DomainError::Internal("a team read back vanished".into()))
}

/// The team's name as stored: trimmed.
fn team_name(name: &str) -> String {
    name.trim().to_string()
}

/// 422 on `name` when another team of the organization has it. Callers
/// hold the organization's row (Hold::Exclusive), so two calls cannot
/// both find a name free.
fn ensure_name_free(
    conn: &mut DbConn,
    organization_id: &str,
    name: &str,
    except: Option<&str>,
) -> DomainResult<()> {
    let holder: Option<String> = teams::table
        .filter(teams::organization_id.eq(organization_id))
        .filter(teams::name.eq(name))
        .select(teams::id)
        .first(conn)
        .optional()?;
    match holder {
        Some(id) if Some(id.as_str()) != except => Err(DomainError::invalid(
            "name",
            "another team of this organization has this name",
        )),
        _ => Ok(()),
    }
}

/// A page of the organization's teams, by name, then id (`members:read`).
pub fn list(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    page: &PageRequest,
) -> DomainResult<(Vec<Team>, Option<String>)> {
    ctx.store.read(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Permission::MembersRead,
            Hold::Nothing,
        )?;
        let mut query = teams::table
            .filter(teams::organization_id.eq(member.organization_id().to_string()))
            .into_boxed();
        if let Some((name, id)) = page.after_named() {
            // `name >= ?` is the range the index seeks to; the rest skips
            // the rows of that name up to the id.
            query = query
                .filter(teams::name.ge(name.clone()))
                .filter(teams::name.gt(name).or(teams::id.gt(id)));
        }
        let mut rows: Vec<TeamRow> = query
            .order((teams::name.asc(), teams::id.asc()))
            .limit(page.fetch())
            .select(TeamRow::as_select())
            .load(conn)?;
        let next = page.finish(&mut rows, |r| named_position(&r.name, &r.id));
        Ok((views(conn, &member, rows)?, next))
    })
}

/// The longest description, in characters.
pub const MAX_DESCRIPTION: usize = 500;

/// A description as given: up to 500 characters, no control characters
/// (422 on `description`); an empty one is none.
pub fn description(given: Option<String>) -> DomainResult<Option<String>> {
    let Some(text) = given.filter(|d| !d.trim().is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(DomainError::invalid(
            "description",
            "must be at most 500 characters",
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "description",
            "must not contain control characters",
        ));
    }
    Ok(Some(text))
}
