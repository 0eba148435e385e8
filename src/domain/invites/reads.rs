//! Reading invites: by id, by the emailed token, an organization's list and
//! the invites waiting for a user.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::domain::access::{self, Hold};
use crate::domain::accounts::load_user;
use crate::domain::paging::PageRequest;
use crate::domain::permissions;
use crate::domain::projects::{group_grants, hide_invisible, visible_projects, ProjectGrant};
use crate::domain::roles::Permission;
use crate::domain::sessions::Caller;
use crate::domain::tokens::hash_secret;
use crate::domain::{now_ms, rfc3339, Ctx, DomainError, DomainResult, GoneReason};
use crate::store::rows::{InviteRow, UserRow};
use crate::store::schema::{
    invite_projects, invites, organizations, projects, retired_invite_tokens, users,
};
use crate::store::DbConn;

use super::states::{effective_state, ensure_open};
use super::{Invite, InviteState, Inviter};

pub(super) fn views(
    conn: &mut DbConn,
    rows: Vec<InviteRow>,
    now: i64,
) -> DomainResult<Vec<Invite>> {
    // Each lookup by distinct ids; a lone id is compared with `=`, a
    // statement each connection prepares once (a list is parsed each time).
    let distinct = |ids: Vec<&String>| -> Vec<String> {
        let mut ids: Vec<String> = ids.into_iter().cloned().collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let ids = distinct(rows.iter().map(|r| &r.id).collect());
    let org_ids = distinct(rows.iter().map(|r| &r.organization_id).collect());
    let inviter_ids = distinct(rows.iter().map(|r| &r.invited_by).collect());
    let mut orgs = organizations::table
        .select((organizations::id, organizations::name))
        .into_boxed();
    orgs = match org_ids.as_slice() {
        [one] => orgs.filter(organizations::id.eq(one.clone())),
        many => orgs.filter(organizations::id.eq_any(many.to_vec())),
    };
    let org_names: HashMap<String, String> = orgs.load(conn)?.into_iter().collect();
    let mut people = users::table.select(UserRow::as_select()).into_boxed();
    people = match inviter_ids.as_slice() {
        [one] => people.filter(users::id.eq(one.clone())),
        many => people.filter(users::id.eq_any(many.to_vec())),
    };
    let inviters: HashMap<String, UserRow> = people
        .load(conn)?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    let mut granted = invite_projects::table
        .inner_join(projects::table)
        .select((
            invite_projects::invite_id,
            projects::id,
            projects::name,
            invite_projects::permission,
        ))
        .into_boxed();
    granted = match ids.as_slice() {
        [one] => granted.filter(invite_projects::invite_id.eq(one.clone())),
        many => granted.filter(invite_projects::invite_id.eq_any(many.to_vec())),
    };
    let grant_rows: Vec<(String, String, String, Permission)> = granted.load(conn)?;
    let mut grants = group_grants(grant_rows);
    rows.into_iter()
        .map(|row| {
            let inviter = inviters
                .get(&row.invited_by)
                .ok_or_else(|| DomainError::Internal("invite without inviter".into()))?;
            let organization_name = org_names
                .get(&row.organization_id)
                .cloned()
                .unwrap_or_default();
            let granted = grants.remove(&row.id).unwrap_or_default();
            Ok(assemble(row, organization_name, inviter, granted, now))
        })
        .collect()
}

/// An invite as the API shows it, from its row and what the row names.
pub(super) fn assemble(
    row: InviteRow,
    organizationname: String,
    inviter: &UserRow,
    projectpermissions: Vec<ProjectGrant>,
    now: i64,
) -> Invite {
    Invite {
        state: effective_state(&row, now),
        organizationname,
        projectpermissions,
        inviteid: row.id,
        organizationid: row.organization_id,
        email: row.email,
        role: row.role,
        cancreateprojects: row.can_create_projects,
        invitedby: Inviter {
            userid: inviter.id.clone(),
            name: inviter.name.clone(),
            email: inviter.email.clone(),
            confirmed: inviter.email_verified,
        },
        createdat: rfc3339(row.created_at),
        expiresat: rfc3339(row.expires_at),
        membershipexpiresat: row.membership_expires_at.map(rfc3339),
    }
}

pub(super) fn view(conn: &mut DbConn, row: InviteRow, now: i64) -> DomainResult<Invite> {
    views(conn, vec![row], now)?
        .pop()
        .ok_or_else(|| DomainError::Internal("invite view".into()))
}

/// The invite a token names. A token replaced by `invite/resend` answers 410.
pub(super) fn load_by_token(conn: &mut DbConn, token: &str) -> DomainResult<InviteRow> {
    let hash = hash_secret(token);
    if let Some(row) = invites::table
        .filter(invites::token_hash.eq(&hash))
        .select(InviteRow::as_select())
        .first(conn)
        .optional()?
    {
        return Ok(row);
    }
    let retired: i64 = retired_invite_tokens::table
        .filter(retired_invite_tokens::token_hash.eq(&hash))
        .count()
        .get_result(conn)?;
    if retired > 0 {
        return Err(DomainError::Gone {
            reason: GoneReason::Revoked,
            message:
                "this invitation link was replaced by a newer one: use the link in the latest email"
                    .into(),
        });
    }
    Err(DomainError::not_found("invite not found"))
}

/// A page of the organization's invites, oldest first, optionally in one state.
pub fn list(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    state: Option<InviteState>,
    page: &PageRequest,
) -> DomainResult<(Vec<Invite>, Option<String>)> {
    let now = now_ms();
    ctx.store.read(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            permissions::Permission::MembersRead,
            Hold::Nothing,
        )?;
        let organization_id = member.organization_id();
        let visible = visible_projects(conn, &member)?;
        let mut query = invites::table
            .filter(invites::organization_id.eq(organization_id))
            .into_boxed();
        query = match state {
            None => query,
            Some(InviteState::Pending) => query
                .filter(invites::state.eq(InviteState::Pending))
                .filter(invites::expires_at.gt(now)),
            Some(InviteState::Expired) => query.filter(
                invites::state.eq(InviteState::Expired).or(invites::state
                    .eq(InviteState::Pending)
                    .and(invites::expires_at.le(now))),
            ),
            Some(other) => query.filter(invites::state.eq(other)),
        };
        if let Some(after) = &page.after {
            query = query.filter(invites::id.gt(after.clone()));
        }
        let mut rows = query
            .order(invites::id.asc())
            .limit(page.fetch())
            .select(InviteRow::as_select())
            .load(conn)?;
        let next = page.finish(&mut rows, |r| r.id.clone());
        let mut list = views(conn, rows, now)?;
        for invite in &mut list {
            hide_invisible(&mut invite.projectpermissions, &visible);
        }
        Ok((list, next))
    })
}

/// The invite a token names, for the page the email link opens.
pub fn details(ctx: &Ctx, token: &str) -> DomainResult<Invite> {
    let now = now_ms();
    ctx.store.read(|conn| {
        let row = load_by_token(conn, token)?;
        ensure_open(&row, now)?;
        view(conn, row, now)
    })
}

/// A page of the pending, unexpired invites to the caller's verified
/// address, from every organization, oldest first.
pub fn for_user(
    ctx: &Ctx,
    caller: &Caller,
    page: &PageRequest,
) -> DomainResult<(Vec<Invite>, Option<String>)> {
    let now = now_ms();
    ctx.store.read(|conn| {
        let user = load_user(conn, &caller.user_id)?;
        if !user.email_verified {
            return Ok((Vec::new(), None));
        }
        let mut query = invites::table
            .filter(invites::email.eq(&user.email))
            .filter(invites::state.eq(InviteState::Pending))
            .filter(invites::expires_at.gt(now))
            .into_boxed();
        if let Some(bound) = caller.bound_organization() {
            query = query.filter(invites::organization_id.eq(bound.to_string()));
        }
        if let Some(after) = &page.after {
            query = query.filter(invites::id.gt(after.clone()));
        }
        let mut rows = query
            .order(invites::id.asc())
            .limit(page.fetch())
            .select(InviteRow::as_select())
            .load(conn)?;
        let next = page.finish(&mut rows, |r| r.id.clone());
        Ok((views(conn, rows, now)?, next))
    })
}
