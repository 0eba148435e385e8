//! Making, changing and deleting teams (`teams:manage`), each with its audit
//! event, under the rule of giving of the module's doc.

use diesel::prelude::*;

use super::{
    ensure_may_change, ensure_may_give, ensure_name_free, grants_of_teams, role_taken_from,
    team_and_actor, team_name, view, Team,
};
use crate::domain::access::{self, Hold, Member};
use crate::domain::kernel::events::{self, By, TeamCreated, TeamDeleted, TeamEdited};
use crate::domain::kernel::grants::{check_grants, GrantRequest, ProjectGrant};
use crate::domain::members::{reassess_inviters, Touched};
use crate::domain::permissions::Permission;
use crate::domain::roles::AssignedRole;
use crate::domain::sessions::Caller;
use crate::domain::teamwork::{columns, members_of_team, resolve_role, role_of};
use crate::domain::{new_id, now_ms, Ctx, DomainResult};
use crate::store::rows::{TeamGrantRow, TeamRow};
use crate::store::schema::{team_project_permissions, teams};
use crate::store::DbConn;

/// What `customer/createteam` asks for.
pub struct NewTeam {
    pub name: String,
    /// `None` for none (an empty one is none).
    pub description: Option<String>,
    /// The role as the call names it; `None` for none.
    pub role: Option<String>,
    pub grants: Vec<GrantRequest>,
}

/// What `customer/editteam` may change; `None` leaves a field as it is.
pub struct TeamChanges {
    pub name: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// `Some(None)` takes the team's role away.
    pub role: Option<Option<String>>,
    /// Replaces the whole set; an empty list clears it.
    pub grants: Option<Vec<GrantRequest>>,
}

/// Replaces the grants of `team` with `grants`, one statement per row as
/// members' grants are written.
fn replace_team_grants(
    conn: &mut DbConn,
    team: &TeamRow,
    grants: &[GrantRequest],
) -> DomainResult<()> {
    diesel::delete(
        team_project_permissions::table
            .filter(team_project_permissions::organization_id.eq(&team.organization_id))
            .filter(team_project_permissions::team_id.eq(&team.id)),
    )
    .execute(conn)?;
    for grant in grants {
        diesel::insert_into(team_project_permissions::table)
            .values(TeamGrantRow {
                organization_id: team.organization_id.clone(),
                team_id: team.id.clone(),
                project_id: grant.project_id.clone(),
                permission: grant.permission,
            })
            .execute(conn)?;
    }
    Ok(())
}

/// Every grant of `team`, whoever looks (for its audit event).
pub(super) fn all_grants(conn: &mut DbConn, team: &TeamRow) -> DomainResult<Vec<ProjectGrant>> {
    let ids = [team.id.clone()];
    Ok(grants_of_teams(conn, &team.organization_id, &ids)?
        .remove(&team.id)
        .unwrap_or_default())
}

/// Makes a team, with its role and grants, which its members will hold.
pub fn create(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    new: NewTeam,
) -> DomainResult<Team> {
    ctx.store.write(|conn| {
        let actor = access::organization(
            conn,
            caller,
            organization_id,
            Permission::TeamsManage,
            Hold::Exclusive,
        )?;
        let organization_id = actor.organization_id().to_string();
        let role = match new.role.as_deref() {
            Some(given) => Some(resolve_role(conn, &organization_id, given)?),
            None => None,
        };
        let (system, role_id) = columns(role.as_ref());
        let row = TeamRow {
            organization_id: organization_id.clone(),
            id: new_id(),
            name: team_name(&new.name),
            description: new.description,
            role: system,
            created_at: now_ms(),
            role_id,
            external_id: None,
            updated_at: None,
        };
        ensure_name_free(conn, &organization_id, &row.name, None)?;
        check_grants(conn, &organization_id, &new.grants)?;
        ensure_may_give(conn, &actor, role.as_ref(), &new.grants)?;
        diesel::insert_into(teams::table)
            .values(&row)
            .execute(conn)?;
        replace_team_grants(conn, &row, &new.grants)?;
        let grants = all_grants(conn, &row)?;
        let created = TeamCreated {
            name: &row.name,
            description: row.description.as_deref(),
            role: role.as_ref().map(AssignedRole::name),
            projectpermissions: &grants,
        };
        events::record(conn, &organization_id, By::Caller(caller), &row.id, created)?;
        view(conn, &actor, &organization_id, &row.id)
    })
}

/// Changes a team's name, description, role or grants. The caller must hold
/// what the team carries now and what it will carry.
pub fn edit(ctx: &Ctx, caller: &Caller, team_id: &str, changes: TeamChanges) -> DomainResult<Team> {
    ctx.store.write(|conn| {
        let (before, actor) = team_and_actor(
            conn,
            caller,
            team_id,
            Permission::TeamsManage,
            Hold::Exclusive,
        )?;
        ensure_may_change(conn, &actor, &before)?;
        let organization_id = before.organization_id.clone();
        let previous = role_of(conn, &before)?;
        let role = match &changes.role {
            None => previous.clone(),
            Some(None) => None,
            Some(Some(given)) => Some(resolve_role(conn, &organization_id, given)?),
        };
        let mut after = before.clone();
        (after.role, after.role_id) = columns(role.as_ref());
        if let Some(name) = &changes.name {
            after.name = team_name(name);
            ensure_name_free(conn, &organization_id, &after.name, Some(&before.id))?;
        }
        if let Some(description) = changes.description {
            after.description = description;
        }
        if let Some(grants) = &changes.grants {
            check_grants(conn, &organization_id, grants)?;
        }
        let new_grants = changes.grants.as_deref().unwrap_or_default();
        ensure_may_give(conn, &actor, role.as_ref(), new_grants)?;
        diesel::update(teams::table.find((&organization_id, &before.id)))
            .set((
                teams::name.eq(&after.name),
                teams::description.eq(&after.description),
                teams::role.eq(after.role),
                teams::role_id.eq(&after.role_id),
            ))
            .execute(conn)?;
        if let Some(grants) = &changes.grants {
            replace_team_grants(conn, &after, grants)?;
        }
        if role != previous {
            // Its members may now lack what their pending invites give.
            let ids = members_of_team(conn, &organization_id, &after.id)?;
            reassess_inviters(conn, &organization_id, Touched::Memberships(&ids), caller)?;
        }
        let grants = all_grants(conn, &after)?;
        let edited = TeamEdited {
            name: &after.name,
            previousname: &before.name,
            description: after.description.as_deref(),
            role: role.as_ref().map(AssignedRole::name),
            previousrole: previous.as_ref().map(AssignedRole::name),
            projectpermissions: &grants,
        };
        events::record(
            conn,
            &organization_id,
            By::Caller(caller),
            &after.id,
            edited,
        )?;
        view(conn, &actor, &organization_id, &after.id)
    })
}

/// Deletes a team: its members lose what it gave them from the next
/// request on; their memberships stay.
pub fn delete(ctx: &Ctx, caller: &Caller, team_id: &str) -> DomainResult<()> {
    ctx.store.write(|conn| {
        let (team, actor) = team_and_actor(
            conn,
            caller,
            team_id,
            Permission::TeamsManage,
            Hold::Exclusive,
        )?;
        delete_team(conn, &actor, caller, &team)
    })
}

/// Deletes `team` for `actor`, who must hold what it carries (403).
pub(super) fn delete_team(
    conn: &mut DbConn,
    actor: &Member,
    caller: &Caller,
    team: &TeamRow,
) -> DomainResult<()> {
    ensure_may_change(conn, actor, team)?;
    let ids = members_of_team(conn, &team.organization_id, &team.id)?;
    diesel::delete(teams::table.find((&team.organization_id, &team.id))).execute(conn)?;
    role_taken_from(conn, team, &ids, caller)?;
    events::record(
        conn,
        &team.organization_id,
        By::Caller(caller),
        &team.id,
        TeamDeleted { name: &team.name },
    )
}
