//! What a member's teams give them (API.md §10): the permissions of their
//! teams' roles, which the gate ([`super::access`]) adds to the member's
//! own, and their teams' grants on projects, of which the highest counts
//! beside the member's own ([`crate::domain::kernel::grants`]). Also the
//! teams a collaborator shows (`teams` [{teamid, name}]).
//!
//! A team's role is resolved from what a call names ([`resolve_role`]) and
//! turned into permissions ([`given_by`]) here and nowhere else.
//!
//! Read on every request, in its own transaction: a change to a team takes
//! effect on the next request, in every process.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::permissions::PermissionSet;
use super::roles::{self, AssignedRole, Permission, Role};
use super::{DomainError, DomainResult};
use crate::store::rows::{MembershipRow, TeamRow};
use crate::store::schema::{roles as roles_table, team_members, team_project_permissions, teams};
use crate::store::DbConn;

/// The role a team may carry, as a call names it: a system role below
/// owner (the owner role's rules, such as the last owner, are about
/// memberships alone), or one of the organization's custom roles by name or
/// roleid. 422 on `role` for anything else.
pub fn resolve_role(
    conn: &mut DbConn,
    organization_id: &str,
    given: &str,
) -> DomainResult<AssignedRole> {
    let refused = |message: &str| DomainError::invalid("role", message.to_string());
    match roles::resolve(conn, organization_id, given.trim(), "role") {
        Ok(AssignedRole::System(Role::Owner)) => Err(refused("a team cannot carry the owner role")),
        Ok(role) => Ok(role),
        Err(DomainError::Invalid(_)) => Err(refused(
            "must be admin, technical, collaborator, or the name or roleid of one of the \
             organization's roles",
        )),
        Err(e) => Err(e),
    }
}

/// The role a team row carries, if any: its system role, or its custom role
/// as it is now.
pub fn role_of(conn: &mut DbConn, team: &TeamRow) -> DomainResult<Option<AssignedRole>> {
    match (&team.role_id, team.role) {
        (Some(role_id), _) => roles::held(
            conn,
            &team.organization_id,
            Role::Collaborator,
            Some(role_id),
        )
        .map(Some),
        (None, role) => Ok(role.map(AssignedRole::System)),
    }
}

/// The columns (`role`, `role_id`) a team carrying `role` stores.
pub fn columns(role: Option<&AssignedRole>) -> (Option<Role>, Option<String>) {
    match role {
        None => (None, None),
        Some(AssignedRole::System(role)) => (Some(*role), None),
        Some(AssignedRole::Custom(custom)) => (None, Some(custom.id.clone())),
    }
}

/// `permissions` widened by the roles of the teams `membership` is in.
pub fn widen(
    conn: &mut DbConn,
    membership: &MembershipRow,
    permissions: PermissionSet,
) -> DomainResult<PermissionSet> {
    if permissions == PermissionSet::all() {
        return Ok(permissions);
    }
    let teams = team_permissions(conn, &membership.organization_id, &membership.id)?;
    Ok(teams.iter().fold(permissions, PermissionSet::with))
}

/// A team's system role and its custom role's permissions, as the columns
/// hold them: what the team's role gives.
pub fn given_by(role: Option<Role>, custom: Option<&str>) -> PermissionSet {
    match (custom, role) {
        (None, None) => PermissionSet::default(),
        (custom, role) => roles::holder_permissions(
            role.unwrap_or(Role::Collaborator),
            custom.map(PermissionSet::parse),
            false,
        ),
    }
}

/// What the roles of the teams `membership_id` is in give, together: one
/// statement, custom roles read as they are now.
pub fn team_permissions(
    conn: &mut DbConn,
    organization_id: &str,
    membership_id: &str,
) -> DomainResult<PermissionSet> {
    let rows: Vec<(Option<Role>, Option<String>)> = team_members::table
        .inner_join(team_of_member())
        .left_join(
            roles_table::table.on(roles_table::organization_id
                .eq(teams::organization_id)
                .and(teams::role_id.eq(roles_table::id.nullable()))),
        )
        .filter(team_members::organization_id.eq(organization_id))
        .filter(team_members::membership_id.eq(membership_id))
        .filter(teams::role.is_not_null().or(teams::role_id.is_not_null()))
        .select((teams::role, roles_table::permissions.nullable()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .flat_map(|(role, custom)| given_by(role, custom.as_deref()).iter())
        .fold(PermissionSet::default(), PermissionSet::with))
}

/// True when `membership` is in a team of its organization carrying the
/// custom role `role_id`.
pub fn in_team_with_role(
    conn: &mut DbConn,
    membership: &MembershipRow,
    role_id: &str,
) -> DomainResult<bool> {
    let found: i64 = team_members::table
        .inner_join(team_of_member())
        .filter(team_members::organization_id.eq(&membership.organization_id))
        .filter(team_members::membership_id.eq(&membership.id))
        .filter(teams::role_id.eq(role_id))
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}

/// The members of team `team_id` of `organization_id`, by membership id.
pub fn members_of_team(
    conn: &mut DbConn,
    organization_id: &str,
    team_id: &str,
) -> DomainResult<Vec<String>> {
    Ok(team_members::table
        .filter(team_members::organization_id.eq(organization_id))
        .filter(team_members::team_id.eq(team_id))
        .select(team_members::membership_id)
        .load(conn)?)
}

/// The grants a member holds through their teams, by project id: the
/// highest of their teams' on each project.
pub fn team_grants_of_member(
    conn: &mut DbConn,
    organization_id: &str,
    membership_id: &str,
) -> DomainResult<HashMap<String, Permission>> {
    let teams_of_member = team_members::table
        .filter(team_members::organization_id.eq(organization_id.to_string()))
        .filter(team_members::membership_id.eq(membership_id.to_string()))
        .select(team_members::team_id);
    let rows: Vec<(String, Permission)> = team_project_permissions::table
        .filter(team_project_permissions::organization_id.eq(organization_id))
        .filter(team_project_permissions::team_id.eq_any(teams_of_member))
        .select((
            team_project_permissions::project_id,
            team_project_permissions::permission,
        ))
        .load(conn)?;
    let mut highest = HashMap::new();
    for (project_id, permission) in rows {
        raise(&mut highest, project_id, permission);
    }
    Ok(highest)
}

/// Records `permission` on `project_id` in `held` unless a higher one is.
pub fn raise(held: &mut HashMap<String, Permission>, project_id: String, permission: Permission) {
    let entry = held.entry(project_id).or_insert(permission);
    if permission == Permission::Full {
        *entry = Permission::Full;
    }
}

/// A team a collaborator is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamRef {
    pub teamid: String,
    pub name: String,
}

/// Rows `(membership id, team id, team name)` grouped by membership, each
/// member's teams by name.
fn group_teams(rows: Vec<(String, String, String)>) -> HashMap<String, Vec<TeamRef>> {
    let mut out: HashMap<String, Vec<TeamRef>> = HashMap::new();
    for (membership_id, teamid, name) in rows {
        out.entry(membership_id)
            .or_default()
            .push(TeamRef { teamid, name });
    }
    for list in out.values_mut() {
        list.sort_unstable_by(|a, b| (&a.name, &a.teamid).cmp(&(&b.name, &b.teamid)));
    }
    out
}

/// The team a membership row names, in its organization.
#[allow(clippy::type_complexity)] // Diesel's join type, named once here.
fn team_of_member() -> diesel::dsl::On<
    teams::table,
    diesel::dsl::And<
        diesel::dsl::Eq<teams::organization_id, team_members::organization_id>,
        diesel::dsl::Eq<teams::id, team_members::team_id>,
    >,
> {
    teams::table.on(teams::organization_id
        .eq(team_members::organization_id)
        .and(teams::id.eq(team_members::team_id)))
}

/// The teams of the members on one page of an organization's collaborators,
/// those with ids in `(after, last]` (one statement shape whatever the
/// page, as `grants_of_page`): membership id → teams.
pub fn teams_of_page(
    conn: &mut DbConn,
    organization_id: &str,
    after: &str,
    last: &str,
) -> DomainResult<HashMap<String, Vec<TeamRef>>> {
    let rows = team_members::table
        .inner_join(team_of_member())
        .filter(team_members::organization_id.eq(organization_id))
        .filter(team_members::membership_id.gt(after))
        .filter(team_members::membership_id.le(last))
        .select((team_members::membership_id, teams::id, teams::name))
        .load(conn)?;
    Ok(group_teams(rows))
}

/// The teams of the given members of `organization_id`: membership id →
/// teams.
pub fn teams_of_members(
    conn: &mut DbConn,
    organization_id: &str,
    membership_ids: &[String],
) -> DomainResult<HashMap<String, Vec<TeamRef>>> {
    if membership_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = team_members::table
        .inner_join(team_of_member())
        .filter(team_members::organization_id.eq(organization_id))
        .filter(team_members::membership_id.eq_any(membership_ids))
        .select((team_members::membership_id, teams::id, teams::name))
        .load(conn)?;
    Ok(group_teams(rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::permissions::{system_role, Permission as P};

    fn sys(role: Role) -> AssignedRole {
        AssignedRole::System(role)
    }

    /// The first permission of `role` that `holder` lacks, if any.
    fn beyond(holder: PermissionSet, role: &AssignedRole) -> Option<P> {
        roles::not_held(holder, role).iter().next()
    }

    #[test]
    fn nobody_gives_a_role_holding_a_permission_they_lack() {
        let admin = system_role(Role::Admin, false);
        assert_eq!(beyond(admin, &sys(Role::Admin)), None);
        assert_eq!(beyond(admin, &sys(Role::Technical)), None);
        let technical = system_role(Role::Technical, false);
        assert_eq!(beyond(technical, &sys(Role::Technical)), None);
        assert!(beyond(technical, &sys(Role::Admin)).is_some());
        // A set like a custom role's: managing teams without inviting.
        let team_keeper = PermissionSet::of(&[P::OrganizationRead, P::MembersRead, P::TeamsManage]);
        assert_eq!(
            beyond(team_keeper, &sys(Role::Technical)),
            Some(P::MembersInvite)
        );
        assert_eq!(beyond(team_keeper, &sys(Role::Collaborator)), None);
        // What a custom role on a team gives is its set, read from its row.
        let stored = PermissionSet::of(&[P::OrganizationRead, P::AuditRead]).stored();
        assert_eq!(
            given_by(None, Some(&stored)),
            PermissionSet::of(&[P::OrganizationRead, P::AuditRead])
        );
        assert_eq!(given_by(Some(Role::Technical), None), technical);
        assert_eq!(given_by(None, None), PermissionSet::default());
    }
}
