//! Custom roles (API.md §10): an organization's own roles, each a set of
//! permissions from the catalogue, made, listed, edited and deleted here.
//! What a role gives its holders, and how a call names one, is
//! [`super::roles`]'s: every holder reads its role's permissions with its
//! membership on each request, so an edit counts from the next request in
//! every process, with nothing cached to forget.
//!
//! Managing roles needs `roles:manage`, and a manager never makes, edits or
//! deletes a role holding a permission they lack themselves (403): the
//! generalised rule 4 of §3, as for assigning one.

use std::collections::HashMap;

use diesel::dsl::count_star;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::access::{self, Hold, Member};
use super::kernel::events::{self, By, RoleCreated, RoleDeleted, RoleEdited};
use super::members::{self, Touched};
use super::permissions::{system_role, Permission, PermissionSet};
use super::roles::Role;
use super::sessions::Caller;
use super::{new_id, now_ms, rfc3339, ConflictReason, Ctx, DomainError, DomainResult};
use crate::store::lookups::live;
use crate::store::rows::RoleRow;
use crate::store::schema::{domains, invites, memberships, roles, sso_connections, teams};
use crate::store::{DbConn, Lookups};

/// Custom roles one organization may have.
pub const MAX_PER_ORGANIZATION: i64 = 50;

/// The longest description.
pub const MAX_DESCRIPTION: usize = 500;

/// A role as `customer/listroles` and the role calls answer it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleView {
    /// A custom role's id; a system role's name.
    pub roleid: String,
    pub organizationid: String,
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// Names from the catalogue, in its order.
    pub permissions: Vec<&'static str>,
    /// True for the four system roles, whose permissions are fixed.
    pub system: bool,
    /// Members in force holding it.
    pub membercount: i64,
    /// A custom role's creation; the organization's for a system role.
    #[schema(format = DateTime)]
    pub createdat: String,
}

/// What `customer/createrole` asks for.
pub struct NewRole {
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<String>,
}

/// What `customer/editrole` may change; `None` leaves a value as it is.
pub struct RoleChanges {
    pub name: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    pub permissions: Option<Vec<String>>,
}

/// What a system role is for, as `customer/listroles` describes it.
fn system_description(role: Role) -> &'static str {
    match role {
        Role::Owner => "Everything, including settings, deletion, domains, SSO and roles.",
        Role::Admin => "Everything but settings, deletion, domains, SSO and roles.",
        Role::Technical => "Sees the organization and its members, and invites.",
        Role::Collaborator => "Sees the organization and the projects granted.",
    }
}

/// A role's name: 2 to 40 of `a-z 0-9 _ -`, not a system role's (422).
fn check_name(name: &str) -> DomainResult<()> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    if !(2..=40).contains(&name.len()) || !name.chars().all(allowed) {
        return Err(DomainError::invalid(
            "name",
            "must be 2 to 40 characters of a-z, 0-9, _ and -",
        ));
    }
    if Role::parse(name).is_some() {
        return Err(DomainError::invalid("name", "is a system role's name"));
    }
    Ok(())
}

/// A description as stored: trimmed, empty is none, at most
/// [`MAX_DESCRIPTION`] characters without control characters (422).
fn check_description(description: Option<String>) -> DomainResult<Option<String>> {
    let Some(text) = description.map(|d| d.trim().to_string()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_DESCRIPTION || text.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "description",
            "must be at most 500 characters, without control characters",
        ));
    }
    Ok((!text.is_empty()).then_some(text))
}

/// The set `names` names, each from the catalogue (422 naming the others).
fn check_permissions(names: &[String]) -> DomainResult<PermissionSet> {
    let unknown: Vec<&str> = names
        .iter()
        .filter(|n| Permission::parse(n).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(DomainError::invalid(
            "permissions",
            format!("not in the catalogue: {}", unknown.join(", ")),
        ));
    }
    let known: Vec<Permission> = names.iter().filter_map(|n| Permission::parse(n)).collect();
    Ok(PermissionSet::of(&known))
}

/// 403 unless `manager` holds every permission of `set`.
fn within_authority(manager: &Member, set: PermissionSet) -> DomainResult<()> {
    let beyond = set.beyond(manager.permissions);
    if beyond == PermissionSet::default() {
        return Ok(());
    }
    Err(DomainError::forbidden(format!(
        "the role {} does not hold {}, so it may not give it",
        manager.assigned.name(),
        beyond.names().join(", ")
    )))
}

/// 422 when another role of the organization not deleted has `name`.
fn ensure_name_free(
    conn: &mut DbConn,
    organization_id: &str,
    name: &str,
    except: Option<&str>,
) -> DomainResult<()> {
    let mut query = roles::table
        .filter(roles::organization_id.eq(organization_id))
        .filter(roles::name.eq(name))
        .filter(roles::deleted_at.is_null())
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(roles::id.ne(id.to_string()));
    }
    let taken: i64 = query.count().get_result(conn)?;
    if taken > 0 {
        return Err(DomainError::invalid(
            "name",
            "another role of the organization has this name",
        ));
    }
    Ok(())
}

/// Members in force of `organization_id` holding each custom role, by id,
/// and each system role (without a custom role), by name.
fn member_counts(conn: &mut DbConn, organization_id: &str) -> DomainResult<HashMap<String, i64>> {
    let counts: Vec<(Role, Option<String>, i64)> = memberships::table
        .filter(memberships::organization_id.eq(organization_id))
        .filter(live(now_ms()))
        .group_by((memberships::role, memberships::role_id))
        .select((memberships::role, memberships::role_id, count_star()))
        .load(conn)?;
    Ok(counts
        .into_iter()
        .map(|(role, id, n)| (id.unwrap_or_else(|| role.as_str().to_string()), n))
        .collect())
}

fn view(row: RoleRow, membercount: i64) -> RoleView {
    RoleView {
        permissions: PermissionSet::parse(&row.permissions).names(),
        roleid: row.id,
        organizationid: row.organization_id,
        name: row.name,
        description: row.description,
        system: false,
        membercount,
        createdat: rfc3339(row.created_at),
    }
}

fn count_of(conn: &mut DbConn, row: &RoleRow) -> DomainResult<i64> {
    Ok(member_counts(conn, &row.organization_id)?
        .get(&row.id)
        .copied()
        .unwrap_or(0))
}

/// Makes a custom role (`roles:manage`; 403 for a permission the caller
/// lacks; 422 for a bad or taken name, an unknown permission, or past
/// [`MAX_PER_ORGANIZATION`]).
pub fn create(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    new: NewRole,
) -> DomainResult<RoleView> {
    check_name(&new.name)?;
    let description = check_description(new.description)?;
    let set = check_permissions(&new.permissions)?;
    ctx.store.write(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Permission::RolesManage,
            Hold::Exclusive,
        )?;
        within_authority(&member, set)?;
        let organization_id = member.organization_id().to_string();
        ensure_name_free(conn, &organization_id, &new.name, None)?;
        let count: i64 = roles::table
            .filter(roles::organization_id.eq(&organization_id))
            .filter(roles::deleted_at.is_null())
            .count()
            .get_result(conn)?;
        if count >= MAX_PER_ORGANIZATION {
            return Err(DomainError::invalid(
                "organizationid",
                format!("an organization has at most {MAX_PER_ORGANIZATION} custom roles"),
            ));
        }
        let row = RoleRow {
            organization_id,
            id: new_id(),
            name: new.name.clone(),
            description: description.clone(),
            permissions: set.stored(),
            created_at: now_ms(),
            deleted_at: None,
        };
        diesel::insert_into(roles::table)
            .values(&row)
            .execute(conn)?;
        let names = set.names();
        let created = RoleCreated {
            name: &row.name,
            description: row.description.as_deref(),
            permissions: &names,
        };
        events::record(
            conn,
            &row.organization_id,
            By::Caller(caller),
            &row.id,
            created,
        )?;
        Ok(view(row, 0))
    })
}

/// The system roles, then the custom ones oldest first (`members:read`).
pub fn list(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
) -> DomainResult<Vec<RoleView>> {
    ctx.store.read(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Permission::MembersRead,
            Hold::Nothing,
        )?;
        let organization_id = member.organization_id().to_string();
        let organization = conn.organization(&organization_id)?;
        let counts = member_counts(conn, &organization_id)?;
        let count = |key: &str| counts.get(key).copied().unwrap_or(0);
        let mut list: Vec<RoleView> = Role::ALL
            .iter()
            .map(|role| RoleView {
                roleid: role.as_str().to_string(),
                organizationid: organization_id.clone(),
                name: role.as_str().to_string(),
                description: Some(system_description(*role).to_string()),
                permissions: system_role(*role, false).names(),
                system: true,
                membercount: count(role.as_str()),
                createdat: rfc3339(organization.created_at),
            })
            .collect();
        let custom: Vec<RoleRow> = roles::table
            .filter(roles::organization_id.eq(&organization_id))
            .filter(roles::deleted_at.is_null())
            .order(roles::id.asc())
            .select(RoleRow::as_select())
            .load(conn)?;
        list.extend(custom.into_iter().map(|row| {
            let n = count(&row.id);
            view(row, n)
        }));
        Ok(list)
    })
}

/// The custom role `role_id` (not deleted) and the caller past the gate
/// for `roles:manage`, its organization locked. A system role's roleid is
/// not a custom role's (422); anyone not a member of the role's
/// organization gets 404.
fn target_and_manager(
    conn: &mut DbConn,
    caller: &Caller,
    role_id: &str,
) -> DomainResult<(RoleRow, Member)> {
    if Role::parse(role_id).is_some() {
        return Err(DomainError::invalid(
            "roleid",
            "a system role's permissions are fixed",
        ));
    }
    let not_found = || DomainError::not_found("role not found");
    // A roleid alone does not say its organization: the first read looks in
    // every organization's roles, the re-read under the lock in the one found.
    let first: RoleRow = roles::table
        .filter(roles::id.eq(role_id))
        .filter(roles::deleted_at.is_null())
        .select(RoleRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(not_found)?;
    let member = access::object(
        conn,
        caller,
        &first.organization_id,
        Permission::RolesManage,
        Hold::Exclusive,
        "role",
    )?;
    let row: RoleRow = roles::table
        .find((&first.organization_id, role_id))
        .filter(roles::deleted_at.is_null())
        .select(RoleRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(not_found)?;
    within_authority(&member, PermissionSet::parse(&row.permissions))?;
    Ok((row, member))
}

/// Edits a custom role; its holders have the new permissions from their
/// next request.
pub fn edit(
    ctx: &Ctx,
    caller: &Caller,
    role_id: &str,
    changes: RoleChanges,
) -> DomainResult<RoleView> {
    if let Some(name) = &changes.name {
        check_name(name)?;
    }
    let description = changes.description.map(check_description).transpose()?;
    let set = changes
        .permissions
        .as_deref()
        .map(check_permissions)
        .transpose()?;
    ctx.store.write(|conn| {
        let (before, member) = target_and_manager(conn, caller, role_id)?;
        let org = before.organization_id.clone();
        let set = set.unwrap_or_else(|| PermissionSet::parse(&before.permissions));
        within_authority(&member, set)?;
        let name = changes.name.clone().unwrap_or_else(|| before.name.clone());
        ensure_name_free(conn, &org, &name, Some(&before.id))?;
        let description = description.clone().unwrap_or(before.description.clone());
        diesel::update(roles::table.find((&org, &before.id)))
            .set((
                roles::name.eq(&name),
                roles::description.eq(&description),
                roles::permissions.eq(set.stored()),
            ))
            .execute(conn)?;
        let (names, previous) = (
            set.names(),
            PermissionSet::parse(&before.permissions).names(),
        );
        let edited = RoleEdited {
            name: &name,
            description: description.as_deref(),
            permissions: &names,
            previousname: &before.name,
            previouspermissions: &previous,
        };
        events::record(conn, &org, By::Caller(caller), &before.id, edited)?;
        if set != PermissionSet::parse(&before.permissions) {
            // Its holders may now lack what their pending invites give, and
            // invites offering it may now give more than their senders hold.
            members::reassess_inviters(conn, &org, Touched::RoleHolders(&before.id), caller)?;
        }
        let after = RoleRow {
            name,
            description,
            permissions: set.stored(),
            ..before
        };
        let n = count_of(conn, &after)?;
        Ok(view(after, n))
    })
}

/// What holds a role, by kind.
struct Holders {
    members: i64,
    pending: i64,
    claims: i64,
    teams: i64,
    /// The organization's SSO connection (0 or 1).
    sso: i64,
}

impl Holders {
    fn any(&self) -> bool {
        self.members + self.pending + self.claims + self.teams + self.sso > 0
    }
}

/// What holds `row` now: members in force, pending invites not past their
/// time, domains, teams, the SSO connection. Past its time an invite can no longer make a
/// member; a resend of it after the role is gone answers 410.
fn holders(conn: &mut DbConn, row: &RoleRow) -> DomainResult<Holders> {
    let now = now_ms();
    let members = count_of(conn, row)?;
    let pending: i64 = invites::table
        .filter(invites::organization_id.eq(&row.organization_id))
        .filter(invites::role_id.eq(&row.id))
        .filter(invites::state.eq(crate::store::kinds::InviteState::Pending))
        .filter(invites::expires_at.gt(now))
        .count()
        .get_result(conn)?;
    let claims: i64 = domains::table
        .filter(domains::organization_id.eq(&row.organization_id))
        .filter(domains::role_id.eq(&row.id))
        .count()
        .get_result(conn)?;
    let teams: i64 = teams::table
        .filter(teams::organization_id.eq(&row.organization_id))
        .filter(teams::role_id.eq(&row.id))
        .count()
        .get_result(conn)?;
    let sso: i64 = sso_connections::table
        .filter(sso_connections::organization_id.eq(&row.organization_id))
        .filter(sso_connections::role_id.eq(&row.id))
        .count()
        .get_result(conn)?;
    Ok(Holders {
        members,
        pending,
        claims,
        teams,
        sso,
    })
}

/// Deletes a custom role no member, pending invite, domain, team or SSO
/// connection holds (409 `role_in_use` otherwise).
pub fn delete(ctx: &Ctx, caller: &Caller, role_id: &str) -> DomainResult<()> {
    ctx.store.write(|conn| {
        let (row, _) = target_and_manager(conn, caller, role_id)?;
        let held = holders(conn, &row)?;
        if held.any() {
            let Holders {
                members,
                pending,
                claims,
                teams,
                sso,
            } = held;
            let sso = match sso {
                0 => "",
                _ => " and the SSO connection",
            };
            return Err(DomainError::conflict(
                ConflictReason::RoleInUse,
                format!(
                    "the role {} is held by {members} members, {pending} pending invites, \
                     {claims} domains, {teams} teams{sso}: give them another role first",
                    row.name
                ),
            ));
        }
        diesel::update(roles::table.find((&row.organization_id, &row.id)))
            .set(roles::deleted_at.eq(now_ms()))
            .execute(conn)?;
        let names = PermissionSet::parse(&row.permissions).names();
        let deleted = RoleDeleted {
            name: &row.name,
            permissions: &names,
        };
        events::record(
            conn,
            &row.organization_id,
            By::Caller(caller),
            &row.id,
            deleted,
        )
    })
}
