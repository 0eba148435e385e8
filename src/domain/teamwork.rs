//! What a member's teams give them (API.md §10): the permissions of their
//! teams' roles, which the gate ([`super::access`]) adds to the member's
//! own, and their teams' grants on projects, of which the highest counts
//! beside the member's own ([`crate::domain::kernel::grants`]). Also the
//! teams a collaborator shows (`teams` [{teamid, name}]).
//!
//! A team's role is resolved from what a call names ([`resolve_role`]) and
//! turned into permissions ([`role_permissions`]) here and nowhere else, so
//! pointing teams at custom roles is a change to these two functions.
//!
//! Read on every request, in its own transaction: a change to a team takes
//! effect on the next request, in every process.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::permissions::{system_role, PermissionSet};
use super::roles::{Permission, Role};
use super::{DomainError, DomainResult};
use crate::store::rows::MembershipRow;
use crate::store::schema::{team_members, team_project_permissions, teams};
use crate::store::DbConn;

/// The roles a team may carry, as a call names them: a system role below
/// owner (the owner role's rules, such as the last owner, are about
/// memberships alone). 422 on `role` for anything else.
pub fn resolve_role(given: &str) -> DomainResult<Role> {
    match Role::parse(given.trim()) {
        Some(Role::Owner) => Err(DomainError::invalid(
            "role",
            "a team cannot carry the owner role",
        )),
        Some(role) => Ok(role),
        None => Err(DomainError::invalid(
            "role",
            "must be admin, technical or collaborator",
        )),
    }
}

/// What a team's role lets its members do (never `projects:create` from
/// `cancreateprojects`, which is a member's own).
pub fn role_permissions(role: Role) -> PermissionSet {
    system_role(role, false)
}

/// A permission of `role` that `holder` lacks, if any: the rule of giving a
/// role (API.md §10) is that there is none.
pub fn beyond(holder: PermissionSet, role: Role) -> Option<super::permissions::Permission> {
    role_permissions(role).iter().find(|p| !holder.contains(*p))
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

/// What the roles of the teams `membership_id` is in give, together.
pub fn team_permissions(
    conn: &mut DbConn,
    organization_id: &str,
    membership_id: &str,
) -> DomainResult<PermissionSet> {
    let roles: Vec<Option<Role>> = team_members::table
        .inner_join(
            teams::table.on(teams::organization_id
                .eq(team_members::organization_id)
                .and(teams::id.eq(team_members::team_id))),
        )
        .filter(team_members::organization_id.eq(organization_id))
        .filter(team_members::membership_id.eq(membership_id))
        .filter(teams::role.is_not_null())
        .select(teams::role)
        .load(conn)?;
    Ok(roles
        .into_iter()
        .flatten()
        .flat_map(|role| role_permissions(role).iter())
        .fold(PermissionSet::default(), PermissionSet::with))
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
    use crate::domain::permissions::Permission as P;

    #[test]
    fn a_team_role_is_a_system_role_below_owner() {
        assert_eq!(resolve_role(" technical ").ok(), Some(Role::Technical));
        assert!(resolve_role("owner").is_err());
        assert!(resolve_role("boss").is_err());
    }

    #[test]
    fn nobody_gives_a_role_holding_a_permission_they_lack() {
        let admin = system_role(Role::Admin, false);
        assert_eq!(beyond(admin, Role::Admin), None);
        assert_eq!(beyond(admin, Role::Technical), None);
        let technical = system_role(Role::Technical, false);
        assert_eq!(beyond(technical, Role::Technical), None);
        assert!(beyond(technical, Role::Admin).is_some());
        // A set like a custom role's: managing teams without inviting.
        let team_keeper = PermissionSet::of(&[P::OrganizationRead, P::MembersRead, P::TeamsManage]);
        assert_eq!(beyond(team_keeper, Role::Technical), Some(P::MembersInvite));
        assert_eq!(beyond(team_keeper, Role::Collaborator), None);
    }
}
