//! Organizations: creating them, seeing them, their settings, and the access
//! check every organization endpoint starts with.

use std::collections::HashMap;

use diesel::dsl::count_star;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::access::{self, Hold, Member};
use super::accounts::load_user;
use super::audit;
use super::permissions::{Need, Permission};
use super::roles::Role;
use super::sessions::Caller;
use super::{new_id, now_ms, rfc3339, ConflictReason, Ctx, DomainError, DomainResult};
use crate::mail::{self, templates};
use crate::store::kinds::AuditAction;
use crate::store::rows::{MembershipRow, OrganizationRow, UserRow};
use crate::store::schema::{memberships, organizations, roster_versions, users};
use crate::store::{lock_user, DbConn};

/// An organization as one of its members sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub organizationid: String,
    pub name: String,
    #[schema(format = DateTime)]
    pub createdat: String,
    /// The caller's role in this organization.
    pub role: Role,
    pub membercount: i64,
    /// Days an invite stays valid: the organization's own setting, or the
    /// server's default (`COLLABD_INVITE_TTL_DAYS`) when it has none.
    pub invitettldays: i32,
}

pub(crate) fn load_organization(
    conn: &mut DbConn,
    organization_id: &str,
) -> DomainResult<OrganizationRow> {
    organizations::table
        .find(organization_id)
        .select(OrganizationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| DomainError::not_found("organization not found"))
}

fn member_counts(
    conn: &mut DbConn,
    organization_ids: &[String],
) -> DomainResult<HashMap<String, i64>> {
    let counts: Vec<(String, i64)> = memberships::table
        .filter(memberships::organization_id.eq_any(organization_ids))
        .filter(access::live(now_ms()))
        .group_by(memberships::organization_id)
        .select((memberships::organization_id, count_star()))
        .load(conn)?;
    Ok(counts.into_iter().collect())
}

fn view(ctx: &Ctx, row: OrganizationRow, role: Role, membercount: i64) -> Organization {
    Organization {
        organizationid: row.id.clone(),
        createdat: rfc3339(row.created_at),
        role,
        membercount,
        invitettldays: invite_ttl_days(ctx, &row),
        name: row.name,
    }
}

/// One organization as `member` sees it.
pub fn organization_view(
    ctx: &Ctx,
    conn: &mut DbConn,
    member: &Member,
) -> DomainResult<Organization> {
    let org_id = &member.membership.organization_id;
    let row = load_organization(conn, org_id)?;
    let count = member_counts(conn, std::slice::from_ref(org_id))?
        .get(org_id)
        .copied()
        .unwrap_or(0);
    Ok(view(ctx, row, member.role, count))
}

/// The days an invite of this organization lives.
pub fn invite_ttl_days(ctx: &Ctx, organization: &OrganizationRow) -> i32 {
    organization
        .invite_ttl_days
        .unwrap_or(ctx.policy.invite_ttl_days as i32)
}

/// Makes an organization with the caller as its owner. Past
/// `COLLABD_MAX_ORGS_PER_USER` owned organizations it answers 409.
pub fn create(ctx: &Ctx, caller: &Caller, name: &str) -> DomainResult<Organization> {
    if caller.bound_organization().is_some() {
        return Err(DomainError::forbidden(
            "an API key bound to an organization cannot create organizations",
        ));
    }
    let now = now_ms();
    let org = OrganizationRow {
        id: new_id(),
        name: name.trim().to_string(),
        invite_ttl_days: None,
        created_at: now,
    };
    let membership = MembershipRow {
        id: new_id(),
        organization_id: org.id.clone(),
        user_id: caller.user_id.clone(),
        role: Role::Owner,
        can_create_projects: true,
        created_at: now,
        expires_at: None,
    };
    ctx.store.write(|conn| {
        lock_user(conn, &caller.user_id)?;
        let user = load_user(conn, &caller.user_id)?;
        if ctx.policy.max_orgs_per_user > 0 {
            let owned: i64 = memberships::table
                .filter(memberships::user_id.eq(&caller.user_id))
                .filter(memberships::role.eq(Role::Owner))
                .count()
                .get_result(conn)?;
            if owned >= i64::from(ctx.policy.max_orgs_per_user) {
                return Err(DomainError::conflict(
                    ConflictReason::OrganizationLimit,
                    format!(
                        "this server allows {} organization(s) per user",
                        ctx.policy.max_orgs_per_user
                    ),
                ));
            }
        }
        diesel::insert_into(organizations::table)
            .values(&org)
            .execute(conn)?;
        diesel::insert_into(memberships::table)
            .values(&membership)
            .execute(conn)?;
        audit::record(
            conn,
            &org.id,
            Some(&user),
            AuditAction::OrganizationCreated,
            &org.id,
            json!({"name": org.name}),
        )?;
        Ok(())
    })?;
    Ok(view(ctx, org, Role::Owner, 1))
}

/// Every organization the caller belongs to, with the caller's role, oldest
/// first. A key bound to one organization sees only that one.
pub fn list(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<Organization>> {
    let bound = caller.bound_organization().map(str::to_string);
    ctx.store.read(|conn| {
        let mut query = memberships::table
            .inner_join(organizations::table)
            .filter(memberships::user_id.eq(&caller.user_id))
            .filter(access::live(now_ms()))
            .into_boxed();
        if let Some(bound) = &bound {
            query = query.filter(organizations::id.eq(bound.clone()));
        }
        let rows: Vec<(OrganizationRow, Role)> = query
            .order(organizations::id.asc())
            .select((OrganizationRow::as_select(), memberships::role))
            .load(conn)?;
        let ids: Vec<String> = rows.iter().map(|(o, _)| o.id.clone()).collect();
        let counts = member_counts(conn, &ids)?;
        Ok(rows
            .into_iter()
            .map(|(org, role)| {
                let count = counts.get(&org.id).copied().unwrap_or(0);
                view(ctx, org, role, count)
            })
            .collect())
    })
}

/// One organization the caller belongs to.
pub fn details(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
) -> DomainResult<Organization> {
    ctx.store.read(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Permission::OrganizationRead,
            Hold::Nothing,
        )?;
        organization_view(ctx, conn, &member)
    })
}

/// What `customer/settings` may change.
pub struct SettingsChange<'a> {
    pub name: Option<&'a str>,
    pub invite_ttl_days: Option<u32>,
}

/// Changes an organization's name or invite lifetime (owners only).
pub fn settings(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    change: SettingsChange<'_>,
) -> DomainResult<Organization> {
    ctx.store.write(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Permission::OrganizationManage,
            Hold::Exclusive,
        )?;
        let organization_id = member.organization_id().to_string();
        let organization_id = organization_id.as_str();
        let user = load_user(conn, &caller.user_id)?;
        if let Some(name) = change.name {
            diesel::update(organizations::table.find(organization_id))
                .set(organizations::name.eq(name.trim()))
                .execute(conn)?;
        }
        if let Some(days) = change.invite_ttl_days {
            diesel::update(organizations::table.find(organization_id))
                .set(organizations::invite_ttl_days.eq(Some(days as i32)))
                .execute(conn)?;
        }
        audit::record(
            conn,
            organization_id,
            Some(&user),
            AuditAction::OrganizationSettingsChanged,
            organization_id,
            json!({"name": change.name, "invitettldays": change.invite_ttl_days}),
        )?;
        organization_view(ctx, conn, &member)
    })
}

/// `customer/delete`: deletes the organization and everything it holds
/// (projects, memberships and their grants, invites, its audit log, API keys
/// bound to it, its roster version) in one transaction, and tells every
/// member by email. `name` must be its current name (422 otherwise), a guard
/// against deleting the wrong one.
pub fn delete(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    name: &str,
) -> DomainResult<()> {
    ctx.store.write(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Need::OwnerRole,
            Hold::Exclusive,
        )?;
        let organization_id = member.organization_id().to_string();
        let organization = load_organization(conn, &organization_id)?;
        if name.trim() != organization.name {
            return Err(DomainError::invalid(
                "name",
                "is not the organization's current name",
            ));
        }
        let by = load_user(conn, &caller.user_id)?;
        let members: Vec<UserRow> = memberships::table
            .inner_join(users::table)
            .filter(memberships::organization_id.eq(&organization_id))
            .filter(access::live(now_ms()))
            .select(UserRow::as_select())
            .load(conn)?;
        for person in &members {
            mail::enqueue(
                conn,
                &ctx.outbox_sealer,
                templates::organization_deleted(
                    &person.email,
                    &organization.name,
                    &by.name,
                    &by.email,
                ),
            )?;
        }
        diesel::delete(organizations::table.find(&organization_id)).execute(conn)?;
        // The cascade's membership triggers leave a version row behind.
        diesel::delete(roster_versions::table.find(&organization_id)).execute(conn)?;
        Ok(())
    })?;
    ctx.mail_queued();
    Ok(())
}
