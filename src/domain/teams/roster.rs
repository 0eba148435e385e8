//! Who is in a team: adding and removing members (`teams:manage`, under the
//! rule of giving of the module's doc) and listing them (`members:read`).
//! Leaving the organization leaves its teams: the rows go with the
//! membership (a foreign key), and a membership past its end counts
//! nowhere from that instant.

use diesel::prelude::*;

use super::{ensure_may_change, role_taken_from, team_and_actor, view, Team};
use crate::domain::access::{self, Hold, Member};
use crate::domain::kernel::events::{self, By, TeamMemberAdded, TeamMemberRemoved};
use crate::domain::kernel::grants::{group_grants, hide_invisible, visible_projects};
use crate::domain::kernel::membership::{view as collaborator_view, Collaborator};
use crate::domain::paging::PageRequest;
use crate::domain::permissions::Permission;
use crate::domain::sessions::Caller;
use crate::domain::teamwork::teams_of_members;
use crate::domain::{now_ms, ConflictReason, Ctx, DomainError, DomainResult};
use crate::store::rows::{MembershipRow, TeamMemberRow, TeamRow, UserRow};
use crate::store::schema::roles as role_rows;
use crate::store::schema::{memberships, project_permissions, projects, team_members, users};
use crate::store::{DbConn, Lookups};

/// The membership in force `collaborator_id` names in the team's
/// organization, and its account; 404 otherwise (another organization's
/// member is no collaborator here).
fn collaborator_of(
    conn: &mut DbConn,
    team: &TeamRow,
    collaborator_id: &str,
) -> DomainResult<(MembershipRow, UserRow)> {
    let membership = memberships::table
        .filter(memberships::organization_id.eq(&team.organization_id))
        .filter(memberships::id.eq(collaborator_id))
        .filter(access::live(now_ms()))
        .select(MembershipRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| DomainError::not_found("collaborator not found"))?;
    let user = conn.user(&membership.user_id)?;
    Ok((membership, user))
}

fn in_team(conn: &mut DbConn, team: &TeamRow, membership_id: &str) -> DomainResult<bool> {
    let found: i64 = team_members::table
        .filter(team_members::organization_id.eq(&team.organization_id))
        .filter(team_members::team_id.eq(&team.id))
        .filter(team_members::membership_id.eq(membership_id))
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}

/// The team, the caller past the gate for `teams:manage` (holding what
/// the team carries), and the collaborator, for adding or removing them.
fn roster_change(
    conn: &mut DbConn,
    caller: &Caller,
    team_id: &str,
    collaborator_id: &str,
) -> DomainResult<(TeamRow, Member, MembershipRow, UserRow)> {
    let (team, actor) = team_and_actor(
        conn,
        caller,
        team_id,
        Permission::TeamsManage,
        Hold::Exclusive,
    )?;
    let (membership, user) = collaborator_of(conn, &team, collaborator_id)?;
    ensure_may_change(conn, &actor, &team)?;
    Ok((team, actor, membership, user))
}

/// Adds a collaborator to a team: from the next request on they hold its
/// role and grants beside their own. 409 `already_member` when they are in
/// it.
pub fn add_member(
    ctx: &Ctx,
    caller: &Caller,
    team_id: &str,
    collaborator_id: &str,
) -> DomainResult<Team> {
    ctx.store.write(|conn| {
        let (team, actor, membership, user) =
            roster_change(conn, caller, team_id, collaborator_id)?;
        if in_team(conn, &team, &membership.id)? {
            return Err(DomainError::conflict(
                ConflictReason::AlreadyMember,
                "the collaborator is in this team already",
            ));
        }
        diesel::insert_into(team_members::table)
            .values(TeamMemberRow {
                organization_id: team.organization_id.clone(),
                team_id: team.id.clone(),
                membership_id: membership.id.clone(),
                created_at: now_ms(),
            })
            .execute(conn)?;
        let added = TeamMemberAdded {
            name: &team.name,
            collaboratorid: &membership.id,
            userid: &user.id,
            email: &user.email,
        };
        events::record(
            conn,
            &team.organization_id,
            By::Caller(caller),
            &team.id,
            added,
        )?;
        view(conn, &actor, &team.organization_id, &team.id)
    })
}

/// Takes a collaborator out of a team: from the next request on they hold
/// only what their own role, their grants and their other teams give. 404
/// when they are not in it.
pub fn remove_member(
    ctx: &Ctx,
    caller: &Caller,
    team_id: &str,
    collaborator_id: &str,
) -> DomainResult<Team> {
    ctx.store.write(|conn| {
        let (team, actor, membership, user) =
            roster_change(conn, caller, team_id, collaborator_id)?;
        let removed = diesel::delete(
            team_members::table
                .filter(team_members::organization_id.eq(&team.organization_id))
                .filter(team_members::team_id.eq(&team.id))
                .filter(team_members::membership_id.eq(&membership.id)),
        )
        .execute(conn)?;
        if removed == 0 {
            return Err(DomainError::not_found(
                "the collaborator is not in this team",
            ));
        }
        // They may now lack what their pending invites give.
        role_taken_from(conn, &team, std::slice::from_ref(&membership.id), caller)?;
        let event = TeamMemberRemoved {
            name: &team.name,
            collaboratorid: &membership.id,
            userid: &user.id,
            email: &user.email,
        };
        events::record(
            conn,
            &team.organization_id,
            By::Caller(caller),
            &team.id,
            event,
        )?;
        view(conn, &actor, &team.organization_id, &team.id)
    })
}

/// A page of a team's members in force, in the order they joined the
/// organization, as collaborators (`members:read`).
pub fn list_members(
    ctx: &Ctx,
    caller: &Caller,
    team_id: &str,
    page: &PageRequest,
) -> DomainResult<(Vec<Collaborator>, Option<String>)> {
    ctx.store.read(|conn| {
        let (team, viewer) = team_and_actor(
            conn,
            caller,
            team_id,
            Permission::MembersRead,
            Hold::Nothing,
        )?;
        let organization_id = team.organization_id.as_str();
        let mut query = team_members::table
            .inner_join(
                memberships::table.on(memberships::organization_id
                    .eq(team_members::organization_id)
                    .and(memberships::id.eq(team_members::membership_id))),
            )
            .inner_join(users::table.on(users::id.eq(memberships::user_id)))
            .left_join(
                role_rows::table.on(role_rows::organization_id
                    .eq(memberships::organization_id)
                    .and(memberships::role_id.eq(role_rows::id.nullable()))),
            )
            .filter(team_members::organization_id.eq(organization_id))
            .filter(team_members::team_id.eq(&team.id))
            .filter(access::live(now_ms()))
            .into_boxed();
        if let Some(after) = &page.after {
            query = query.filter(team_members::membership_id.gt(after.clone()));
        }
        let mut rows: Vec<(MembershipRow, UserRow, Option<String>)> = query
            .order(team_members::membership_id.asc())
            .limit(page.fetch())
            .select((
                MembershipRow::as_select(),
                UserRow::as_select(),
                role_rows::name.nullable(),
            ))
            .load(conn)?;
        let next = page.finish(&mut rows, |(m, _, _)| m.id.clone());
        let ids: Vec<String> = rows.iter().map(|(m, _, _)| m.id.clone()).collect();
        let mut grants = grants_of_members(conn, organization_id, &ids)?;
        let mut teams = teams_of_members(conn, organization_id, &ids)?;
        let visible = visible_projects(conn, &viewer)?;
        let list = rows
            .into_iter()
            .map(|(m, u, custom)| {
                let mut g = grants.remove(&m.id).unwrap_or_default();
                hide_invisible(&mut g, &visible);
                let t = teams.remove(&m.id).unwrap_or_default();
                collaborator_view(m, u, custom, g, t)
            })
            .collect();
        Ok((list, next))
    })
}

/// The own grants of the given members: membership id → grants.
fn grants_of_members(
    conn: &mut DbConn,
    organization_id: &str,
    membership_ids: &[String],
) -> DomainResult<std::collections::HashMap<String, Vec<crate::domain::kernel::grants::ProjectGrant>>>
{
    if membership_ids.is_empty() {
        return Ok(Default::default());
    }
    let rows = project_permissions::table
        .inner_join(
            projects::table.on(projects::organization_id
                .eq(project_permissions::organization_id)
                .and(projects::id.eq(project_permissions::project_id))),
        )
        .filter(project_permissions::organization_id.eq(organization_id))
        .filter(project_permissions::membership_id.eq_any(membership_ids))
        .select((
            project_permissions::membership_id,
            projects::id,
            projects::name,
            project_permissions::permission,
        ))
        .load(conn)?;
    Ok(group_grants(rows))
}
