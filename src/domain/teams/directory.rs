//! Teams as a company's directory keeps them (SCIM Groups, API.md §11):
//! made, renamed, filled and deleted by the directory in the caller's
//! transaction, under the rule of giving of the module's doc and with the
//! audit events the same changes record through `customer/*team*`. The
//! directory names the team and its members; its role, description and
//! grants stay the organization's to set.

use std::collections::HashSet;

use diesel::prelude::*;

use super::changes::{all_grants, delete_team};
use super::{ensure_may_change, ensure_name_free, role_taken_from, team_name};
use crate::domain::access::Member;
use crate::domain::kernel::events::{
    self, By, TeamCreated, TeamEdited, TeamMemberAdded, TeamMemberRemoved,
};
use crate::domain::roles::AssignedRole;
use crate::domain::sessions::Caller;
use crate::domain::teamwork::{members_of_team, role_of};
use crate::domain::{new_id, now_ms, ConflictReason, DomainError, DomainResult};
use crate::store::rows::{TeamMemberRow, TeamRow};
use crate::store::schema::{memberships, team_members, teams, users};
use crate::store::{execute, DbConn};

/// What the directory says of a team.
pub struct DirectoryTeam<'a> {
    pub name: &'a str,
    pub external_id: Option<&'a str>,
    /// Its members; `None` leaves them as they are.
    pub members: Option<&'a [MemberRef]>,
}

/// A member as the directory names it in a team.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRef {
    /// The collaboratorid.
    pub id: String,
    /// The name the directory gives them here; `None` keeps the one kept
    /// (none for a new member).
    pub display: Option<String>,
}

/// The team `id` of `organization_id`; 404 otherwise.
pub fn team_in(conn: &mut DbConn, organization_id: &str, id: &str) -> DomainResult<TeamRow> {
    teams::table
        .find((organization_id, id))
        .select(TeamRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| DomainError::not_found(format!("no Group {id:?} in this organization")))
}

/// 409 when another team than `except` has the name (the directory's
/// names are unique, as SCIM's `uniqueness` says).
fn name_free(
    conn: &mut DbConn,
    organization_id: &str,
    name: &str,
    except: Option<&str>,
) -> DomainResult<()> {
    ensure_name_free(conn, organization_id, name, except).map_err(|e| match e {
        DomainError::Invalid(_) => DomainError::conflict(
            ConflictReason::NameTaken,
            format!("[uniqueness] the organization has a Group named {name:?} already"),
        ),
        other => other,
    })
}

/// Makes a team without role or grants, as the directory names it, with
/// its members; `team.created` and `team.member_added` for each. The
/// caller holds the organization exclusively.
pub fn create_in(
    conn: &mut DbConn,
    actor: &Member,
    caller: &Caller,
    wanted: &DirectoryTeam<'_>,
) -> DomainResult<String> {
    let organization_id = actor.organization_id().to_string();
    let now = now_ms();
    let row = TeamRow {
        organization_id: organization_id.clone(),
        id: new_id(),
        name: team_name(wanted.name),
        description: None,
        role: None,
        created_at: now,
        role_id: None,
        external_id: wanted.external_id.map(str::to_string),
        updated_at: None,
    };
    name_free(conn, &organization_id, &row.name, None)?;
    execute(conn, diesel::insert_into(teams::table).values(&row))?;
    let created = TeamCreated {
        name: &row.name,
        description: None,
        role: None,
        projectpermissions: &[],
    };
    events::record(conn, &organization_id, By::Caller(caller), &row.id, created)?;
    set_members(conn, caller, &row, wanted.members.unwrap_or_default())?;
    Ok(row.id)
}

/// Writes what the directory says of the team `id`: its name
/// (`team.edited` when it changes), its external id, and, when given, its
/// members (`team.member_added` / `team.member_removed` for each change).
/// The caller must hold what the team carries (403), as for
/// `customer/editteam`.
pub fn write_in(
    conn: &mut DbConn,
    actor: &Member,
    caller: &Caller,
    id: &str,
    wanted: &DirectoryTeam<'_>,
) -> DomainResult<()> {
    let organization_id = actor.organization_id().to_string();
    let before = team_in(conn, &organization_id, id)?;
    ensure_may_change(conn, actor, &before)?;
    let mut after = before.clone();
    after.name = team_name(wanted.name);
    after.external_id = wanted.external_id.map(str::to_string);
    let renamed = after.name != before.name;
    if renamed {
        name_free(conn, &organization_id, &after.name, Some(id))?;
    }
    if renamed || after.external_id != before.external_id {
        execute(
            conn,
            diesel::update(teams::table.find((&organization_id, id))).set((
                teams::name.eq(&after.name),
                teams::external_id.eq(&after.external_id),
                teams::updated_at.eq(Some(now_ms())),
            )),
        )?;
    }
    if renamed {
        let role = role_of(conn, &after)?;
        let grants = all_grants(conn, &after)?;
        let edited = TeamEdited {
            name: &after.name,
            previousname: &before.name,
            description: after.description.as_deref(),
            role: role.as_ref().map(AssignedRole::name),
            previousrole: role.as_ref().map(AssignedRole::name),
            projectpermissions: &grants,
        };
        events::record(conn, &organization_id, By::Caller(caller), id, edited)?;
    }
    if let Some(members) = wanted.members {
        set_members(conn, caller, &after, members)?;
    }
    Ok(())
}

/// Deletes the team `id` as `customer/deleteteam` does (the caller holds
/// what it carries): its members lose what it gave them; `team.deleted`.
pub fn delete_in(conn: &mut DbConn, actor: &Member, caller: &Caller, id: &str) -> DomainResult<()> {
    let team = team_in(conn, actor.organization_id(), id)?;
    delete_team(conn, actor, caller, &team)
}

/// Makes the team's members exactly `wanted` (collaboratorids of its
/// organization, suspended or not: 400 `invalidValue` for another), with
/// the names the directory gives them, recording each addition and
/// removal.
fn set_members(
    conn: &mut DbConn,
    caller: &Caller,
    team: &TeamRow,
    wanted: &[MemberRef],
) -> DomainResult<()> {
    let organization_id = &team.organization_id;
    let wanted: Vec<&MemberRef> = {
        let mut seen = HashSet::new();
        wanted
            .iter()
            .filter(|m| seen.insert(m.id.as_str()))
            .collect()
    };
    let ids: Vec<&str> = wanted.iter().map(|m| m.id.as_str()).collect();
    let now = now_ms();
    let found = members_in_force(conn, organization_id, &ids, now)?;
    let current: HashSet<String> = members_of_team(conn, organization_id, &team.id)?
        .into_iter()
        .collect();
    let in_team = || {
        team_members::table
            .filter(team_members::organization_id.eq(organization_id))
            .filter(team_members::team_id.eq(&team.id))
    };
    for member in &wanted {
        let Some((_, userid, email)) = found.iter().find(|(m, _, _)| *m == member.id) else {
            continue;
        };
        if current.contains(&member.id) {
            if let Some(display) = &member.display {
                execute(
                    conn,
                    diesel::update(in_team().filter(team_members::membership_id.eq(&member.id)))
                        .set(team_members::display.eq(display)),
                )?;
            }
            continue;
        }
        execute(
            conn,
            diesel::insert_into(team_members::table).values((
                TeamMemberRow {
                    organization_id: organization_id.clone(),
                    team_id: team.id.clone(),
                    membership_id: member.id.clone(),
                    created_at: now,
                },
                team_members::display.eq(&member.display),
            )),
        )?;
        let added = TeamMemberAdded {
            name: &team.name,
            collaboratorid: &member.id,
            userid,
            email,
        };
        events::record(conn, organization_id, By::Caller(caller), &team.id, added)?;
    }
    let leaving: Vec<String> = current
        .into_iter()
        .filter(|id| !ids.contains(&id.as_str()))
        .collect();
    take_out(conn, caller, team, &leaving)
}

/// The memberships `ids` of `organization_id` not past their end (suspended
/// or not), with their account's id and address; 400 `invalidValue` naming
/// the first that is none.
fn members_in_force(
    conn: &mut DbConn,
    organization_id: &str,
    ids: &[&str],
    now: i64,
) -> DomainResult<Vec<(String, String, String)>> {
    let found: Vec<(String, String, String)> = memberships::table
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .filter(memberships::organization_id.eq(organization_id))
        .filter(memberships::id.eq_any(ids))
        .filter(
            memberships::expires_at
                .is_null()
                .or(memberships::expires_at.gt(now)),
        )
        .select((memberships::id, users::id, users::email))
        .load(conn)?;
    match ids
        .iter()
        .find(|id| !found.iter().any(|(m, _, _)| m == *id))
    {
        Some(stranger) => Err(DomainError::invalid(
            "members",
            format!("[invalidValue] no User {stranger:?} in this organization"),
        )),
        None => Ok(found),
    }
}

/// Takes the members `leaving` out of `team`, recording each.
fn take_out(
    conn: &mut DbConn,
    caller: &Caller,
    team: &TeamRow,
    leaving: &[String],
) -> DomainResult<()> {
    if leaving.is_empty() {
        return Ok(());
    }
    let organization_id = &team.organization_id;
    let gone: Vec<(String, String, String)> = memberships::table
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .filter(memberships::organization_id.eq(organization_id))
        .filter(memberships::id.eq_any(leaving))
        .select((memberships::id, users::id, users::email))
        .load(conn)?;
    execute(
        conn,
        diesel::delete(
            team_members::table
                .filter(team_members::organization_id.eq(organization_id))
                .filter(team_members::team_id.eq(&team.id))
                .filter(team_members::membership_id.eq_any(leaving)),
        ),
    )?;
    role_taken_from(conn, team, leaving, caller)?;
    for (membership_id, userid, email) in &gone {
        let removed = TeamMemberRemoved {
            name: &team.name,
            collaboratorid: membership_id,
            userid,
            email,
        };
        events::record(conn, organization_id, By::Caller(caller), &team.id, removed)?;
    }
    Ok(())
}
