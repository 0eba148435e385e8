//! Roles: the system roles' order of power, the role a member, invite or
//! domain holds ([`AssignedRole`]: a system role or one of the
//! organization's custom roles, found by [`resolve`]), and the rules that
//! depend on the target (an admin touching an owner, granting a role
//! holding what one lacks): [`may_assign`] and [`may_manage`]. What each
//! role may do is data, in `permissions`.

use std::collections::HashMap;

use diesel::prelude::*;

use super::kernel::error::{DomainError, DomainResult};
use super::permissions::{self, system_role, PermissionSet};
use crate::store::rows::RoleRow;
use crate::store::schema::roles;
use crate::store::DbConn;

pub use crate::store::kinds::{Permission, Role};

impl Role {
    /// Higher is more powerful.
    fn rank(self) -> u8 {
        match self {
            Role::Owner => 3,
            Role::Admin => 2,
            Role::Technical => 1,
            Role::Collaborator => 0,
        }
    }

    pub fn at_least(self, other: Role) -> bool {
        self >= other
    }
}

/// Roles compare by power: `Role::Owner > Role::Admin > Role::Technical >
/// Role::Collaborator`.
impl Ord for Role {
    fn cmp(&self, other: &Role) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for Role {
    fn partial_cmp(&self, other: &Role) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// True when `actor` may edit or remove a member whose role is `target`:
/// only owners touch owners.
pub fn may_manage(actor: Role, target: Role) -> bool {
    target != Role::Owner || actor == Role::Owner
}

/// A custom role of an organization, as its holders hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRole {
    pub id: String,
    pub name: String,
    pub permissions: PermissionSet,
}

impl From<&RoleRow> for CustomRole {
    fn from(row: &RoleRow) -> CustomRole {
        CustomRole {
            id: row.id.clone(),
            name: row.name.clone(),
            permissions: PermissionSet::parse(&row.permissions),
        }
    }
}

/// The role a member, an invite or a domain holds: one of the four system
/// roles, or one of the organization's own (API.md §10). Teams and SSO
/// connections take theirs through [`resolve`] too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignedRole {
    System(Role),
    Custom(CustomRole),
}

impl AssignedRole {
    /// The name answers show in `role`.
    pub fn name(&self) -> &str {
        match self {
            AssignedRole::System(role) => role.as_str(),
            AssignedRole::Custom(custom) => &custom.name,
        }
    }

    /// The custom role's id, which answers show as `roleid`; `None` for a
    /// system role.
    pub fn role_id(&self) -> Option<&str> {
        match self {
            AssignedRole::System(_) => None,
            AssignedRole::Custom(custom) => Some(&custom.id),
        }
    }

    /// What the `role` column holds: the system role, or `collaborator`
    /// beside a custom role's id (migration 000014), so that every rule
    /// about the owner role reads the column alone.
    pub fn system(&self) -> Role {
        match self {
            AssignedRole::System(role) => *role,
            AssignedRole::Custom(_) => Role::Collaborator,
        }
    }

    /// What a holder may do. `cancreateprojects` adds `projects:create`, to
    /// a custom role as to the technical and collaborator roles.
    pub fn permissions(&self, can_create_projects: bool) -> PermissionSet {
        match self {
            AssignedRole::System(role) => holder_permissions(*role, None, can_create_projects),
            AssignedRole::Custom(custom) => {
                holder_permissions(self.system(), Some(custom.permissions), can_create_projects)
            }
        }
    }

    /// The role held by a row with `role` and, for a custom role, its row.
    pub fn held(role: Role, custom: Option<&RoleRow>) -> AssignedRole {
        match custom {
            Some(row) => AssignedRole::Custom(CustomRole::from(row)),
            None => AssignedRole::System(role),
        }
    }
}

/// What the holder of `role` may do, or of a custom role's `custom` set
/// beside it (then `role` is `collaborator`, migration 000014), with
/// `cancreateprojects`: it adds `projects:create`, to a custom role as to
/// the technical and collaborator roles. Statements that read the columns
/// themselves (the checks) come here as [`AssignedRole::permissions`] does.
pub fn holder_permissions(
    role: Role,
    custom: Option<PermissionSet>,
    can_create_projects: bool,
) -> PermissionSet {
    match custom {
        Some(set) if can_create_projects => set.with(permissions::Permission::ProjectsCreate),
        Some(set) => set,
        None => system_role(role, can_create_projects),
    }
}

/// True when someone whose role is `actor_role`, holding `actor`, may give
/// someone `granted` (invite, edit, a domain's or team's role): the
/// generalised rule 4 of §3 — the role holds no permission the actor lacks
/// (`cancreateprojects` aside, as §3 has it) — and rule 2, only owners grant
/// the owner role. For the system roles this is exactly §3's matrix.
pub fn may_assign(actor_role: Role, actor: PermissionSet, granted: &AssignedRole) -> bool {
    if granted.system() == Role::Owner {
        return actor_role == Role::Owner;
    }
    not_held(actor, granted) == PermissionSet::default()
}

/// The permissions of `granted` that someone holding `actor` lacks: none
/// for a role they may give (rule 4 of §3 as §10 generalises it). Its
/// refusals name them.
pub fn not_held(actor: PermissionSet, granted: &AssignedRole) -> PermissionSet {
    granted.permissions(false).beyond(actor)
}

/// The role `name_or_id` names in `organization_id`: a system role by its
/// name, or a custom role not deleted by its name or roleid (422 on `field`
/// otherwise).
pub fn resolve(
    conn: &mut DbConn,
    organization_id: &str,
    name_or_id: &str,
    field: &str,
) -> DomainResult<AssignedRole> {
    if let Some(role) = Role::parse(name_or_id) {
        return Ok(AssignedRole::System(role));
    }
    let found: Option<RoleRow> = roles::table
        .filter(roles::organization_id.eq(organization_id))
        .filter(roles::deleted_at.is_null())
        .filter(roles::name.eq(name_or_id).or(roles::id.eq(name_or_id)))
        .select(RoleRow::as_select())
        .first(conn)
        .optional()?;
    found
        .map(|row| AssignedRole::Custom(CustomRole::from(&row)))
        .ok_or_else(|| {
            DomainError::invalid(
                field,
                "must be owner, admin, technical, collaborator, or the name or roleid of one of \
                 the organization's roles",
            )
        })
}

/// The role a row of `organization_id` holds (`role`, `role_id`), deleted
/// or not: what it shows and what it gives.
pub fn held(
    conn: &mut DbConn,
    organization_id: &str,
    role: Role,
    role_id: Option<&str>,
) -> DomainResult<AssignedRole> {
    let Some(role_id) = role_id else {
        return Ok(AssignedRole::System(role));
    };
    let row: RoleRow = roles::table
        .find((organization_id, role_id))
        .select(RoleRow::as_select())
        .first(conn)?;
    Ok(AssignedRole::Custom(CustomRole::from(&row)))
}

/// The custom role `role_id` of `organization_id`, if it is not deleted.
pub fn live_custom(
    conn: &mut DbConn,
    organization_id: &str,
    role_id: &str,
) -> DomainResult<Option<CustomRole>> {
    let row: Option<RoleRow> = roles::table
        .find((organization_id, role_id))
        .filter(roles::deleted_at.is_null())
        .select(RoleRow::as_select())
        .first(conn)
        .optional()?;
    Ok(row.as_ref().map(CustomRole::from))
}

/// What a holder of (`role`, `role_id`) with `cancreateprojects` may do in
/// `organization_id`, read now: a changed role counts from the next request.
pub fn permissions_of(
    conn: &mut DbConn,
    organization_id: &str,
    role: Role,
    role_id: Option<&str>,
    can_create_projects: bool,
) -> DomainResult<PermissionSet> {
    Ok(held(conn, organization_id, role, role_id)?.permissions(can_create_projects))
}

/// The names of the custom roles `ids` of `organization_id` (deleted ones
/// too), by id: what a list shows in `role`.
pub fn names(
    conn: &mut DbConn,
    organization_id: &str,
    ids: &[&str],
) -> DomainResult<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String)> = roles::table
        .filter(roles::organization_id.eq(organization_id))
        .filter(roles::id.eq_any(ids))
        .select((roles::id, roles::name))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_by_power() {
        assert!(Role::Owner > Role::Admin);
        assert!(Role::Admin > Role::Technical);
        assert!(Role::Technical > Role::Collaborator);
        assert_eq!(Role::ALL.iter().max(), Some(&Role::Owner));
    }

    /// The subset rule gives exactly §3's matrix for the system roles:
    /// nobody grants above their own role, and only owners grant owner.
    #[test]
    fn assigning_system_roles_is_the_matrix_of_section_3() {
        for actor in Role::ALL {
            for granted in Role::ALL {
                for can_create in [false, true] {
                    let held = system_role(*actor, can_create);
                    let before = actor.at_least(*granted)
                        && (*granted != Role::Owner || *actor == Role::Owner);
                    let system = AssignedRole::System(*granted);
                    assert_eq!(
                        may_assign(*actor, held, &system),
                        before,
                        "{actor} {granted}"
                    );
                }
            }
        }
        assert!(!may_manage(Role::Admin, Role::Owner));
        assert!(may_manage(Role::Admin, Role::Admin));
    }

    #[test]
    fn a_custom_role_is_assigned_by_who_holds_all_it_holds() {
        let billing = AssignedRole::Custom(CustomRole {
            id: "r1".into(),
            name: "billing".into(),
            permissions: PermissionSet::of(&[
                permissions::Permission::OrganizationRead,
                permissions::Permission::AuditRead,
            ]),
        });
        assert!(may_assign(
            Role::Owner,
            system_role(Role::Owner, false),
            &billing
        ));
        assert!(may_assign(
            Role::Admin,
            system_role(Role::Admin, false),
            &billing
        ));
        assert!(!may_assign(
            Role::Technical,
            system_role(Role::Technical, true),
            &billing
        ));
        assert_eq!(billing.system(), Role::Collaborator);
        assert!(billing
            .permissions(true)
            .contains(permissions::Permission::ProjectsCreate));
    }
}
