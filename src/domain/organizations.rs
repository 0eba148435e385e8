//! Organizations: creating them, seeing them, their settings, and deleting
//! them.

use crate::domain::kernel::mailing::{self, text};
use diesel::prelude::*;

use super::access::{self, Hold};
use super::kernel::events::{self, By, OrganizationCreated, OrganizationSettingsChanged};
use super::kernel::membership::{self, NewMember};
use super::kernel::organization::{member_counts, organization_view, view};
use super::permissions::{Need, Permission};
use super::roles::Role;
use super::sessions::Caller;
use super::{new_id, now_ms, ConflictReason, Ctx, DomainError, DomainResult};
use crate::store::link_tokens;
use crate::store::rows::{OrganizationRow, UserRow};
use crate::store::schema::{
    api_keys, memberships, organizations, roles, roster_versions, sessions, users, verified_domains,
};
use crate::store::{DbConn, Lookups};

pub use super::kernel::organization::Organization;

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
        language: None,
    };
    ctx.store.write(|conn| {
        conn.lock_user(&caller.user_id)?;
        let user = caller.account(conn)?;
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
        let owner = NewMember {
            organization_id: &org.id,
            user_id: &user.id,
            role: Role::Owner,
            role_id: None,
            can_create_projects: true,
            expires_at: None,
            grants: Vec::new(),
        };
        membership::add(conn, owner, now)?.ok_or_else(|| {
            DomainError::Internal("a new organization already had a member".into())
        })?;
        events::record(
            conn,
            &org.id,
            By::Account(&user),
            &org.id,
            OrganizationCreated { name: &org.name },
        )
    })?;
    Ok(view(ctx, org, Role::Owner.as_str(), 1))
}

/// Every organization the caller belongs to, with the caller's role, oldest
/// first. A key bound to one organization sees only that one.
pub fn list(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<Organization>> {
    let bound = caller.bound_organization().map(str::to_string);
    ctx.store.read(|conn| {
        let mut query = memberships::table
            .inner_join(organizations::table)
            .left_join(
                roles::table.on(roles::organization_id
                    .eq(memberships::organization_id)
                    .and(memberships::role_id.eq(roles::id.nullable()))),
            )
            .filter(memberships::user_id.eq(&caller.user_id))
            .filter(access::live(now_ms()))
            .into_boxed();
        if let Some(bound) = &bound {
            query = query.filter(organizations::id.eq(bound.clone()));
        }
        let rows: Vec<(OrganizationRow, Role, Option<String>)> = query
            .order(organizations::id.asc())
            .select((
                OrganizationRow::as_select(),
                memberships::role,
                roles::name.nullable(),
            ))
            .load(conn)?;
        let ids: Vec<String> = rows.iter().map(|(o, _, _)| o.id.clone()).collect();
        let counts = member_counts(conn, &ids)?;
        Ok(rows
            .into_iter()
            .map(|(org, role, custom)| {
                let count = counts.get(&org.id).copied().unwrap_or(0);
                view(ctx, org, custom.as_deref().unwrap_or(role.as_str()), count)
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
    /// `Some(None)` clears it.
    pub language: Option<Option<&'a str>>,
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
        if let Some(name) = change.name {
            diesel::update(organizations::table.find(organization_id))
                .set(organizations::name.eq(name.trim()))
                .execute(conn)?;
        }
        let stored = conn.organization(organization_id)?.language;
        let language = mailing::language_change(ctx, change.language, stored.as_deref())?;
        if let Some(language) = &language {
            diesel::update(organizations::table.find(organization_id))
                .set(organizations::language.eq(language))
                .execute(conn)?;
        }
        if let Some(days) = change.invite_ttl_days {
            diesel::update(organizations::table.find(organization_id))
                .set(organizations::invite_ttl_days.eq(Some(days as i32)))
                .execute(conn)?;
        }
        events::record(
            conn,
            organization_id,
            By::Caller(caller),
            organization_id,
            OrganizationSettingsChanged {
                name: change.name,
                invitettldays: change.invite_ttl_days,
                language: language.as_ref().map(Option::as_deref),
            },
        )?;
        organization_view(ctx, conn, &member)
    })
}

/// What the reference tables hold for a deleted organization, which no
/// foreign key cascades to (docs/scaling.md): API keys bound to it, the
/// tokens of its links, its verified domains; and the sessions its SSO
/// made, which stay as ordinary sessions.
fn forget_in_reference_tables(conn: &mut DbConn, organization_id: &str) -> DomainResult<()> {
    diesel::delete(api_keys::table.filter(api_keys::organization_id.eq(organization_id)))
        .execute(conn)?;
    diesel::update(sessions::table.filter(sessions::sso_organization_id.eq(organization_id)))
        .set(sessions::sso_organization_id.eq(None::<String>))
        .execute(conn)?;
    link_tokens::forget_organization(conn, organization_id)?;
    diesel::delete(
        verified_domains::table.filter(verified_domains::organization_id.eq(organization_id)),
    )
    .execute(conn)?;
    Ok(())
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
        let organization = conn.organization(&organization_id)?;
        if name.trim() != organization.name {
            return Err(DomainError::invalid(
                "name",
                "is not the organization's current name",
            ));
        }
        let by = caller.account(conn)?;
        let members: Vec<UserRow> = memberships::table
            .inner_join(users::table)
            .filter(memberships::organization_id.eq(&organization_id))
            .filter(access::live(now_ms()))
            .select(UserRow::as_select())
            .load(conn)?;
        for person in &members {
            mailing::queue(
                conn,
                ctx,
                "organization_deleted",
                (&person.email, &[person.language.as_deref()]),
                &[
                    ("organization", text(&organization.name)),
                    ("by", mailing::person(&by)),
                ],
                None,
            )?;
        }
        diesel::delete(organizations::table.find(&organization_id)).execute(conn)?;
        // The cascade's membership triggers leave a version row behind.
        diesel::delete(roster_versions::table.find(&organization_id)).execute(conn)?;
        forget_in_reference_tables(conn, &organization_id)?;
        Ok(())
    })
}
