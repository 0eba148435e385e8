//! Reading invites: by id, by the emailed token, an organization's list and
//! the invites waiting for a user.

use std::collections::HashMap;

use diesel::prelude::*;

use super::states::{effective_state, ensure_open, load_in};
use super::values::{Invite, Inviter};
use crate::domain::access::{self, Hold};
use crate::domain::kernel::grants::{group_grants, hide_invisible, visible_projects, ProjectGrant};
use crate::domain::paging::PageRequest;
use crate::domain::permissions;
use crate::domain::roles::Permission;
use crate::domain::sessions::Caller;
use crate::domain::tokens::hash_secret;
use crate::domain::{now_ms, rfc3339, Ctx, DomainError, DomainResult, GoneReason};
use crate::store::kinds::{InviteState, LinkPurpose};
use crate::store::link_tokens;
use crate::store::rows::{InviteRow, UserRow};
use crate::store::schema::{invite_projects, invites, organizations, projects, roles, users};
use crate::store::{DbConn, Lookups};

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
    let inviter_ids = distinct(rows.iter().filter_map(|r| r.invited_by.as_ref()).collect());
    let mut orgs = organizations::table
        .select((organizations::id, organizations::name))
        .into_boxed();
    orgs = match org_ids.as_slice() {
        [one] => orgs.filter(organizations::id.eq(one.clone())),
        many => orgs.filter(organizations::id.eq_any(many.to_vec())),
    };
    let org_names: HashMap<String, String> = orgs.load(conn)?.into_iter().collect();
    let inviters = inviters_by_id(conn, &inviter_ids)?;
    let mut grants = grants_of_invites(conn, &org_ids, &ids)?;
    let role_ids = distinct(rows.iter().filter_map(|r| r.role_id.as_ref()).collect());
    let role_names = custom_role_names(conn, &org_ids, &role_ids)?;
    rows.into_iter()
        .map(|row| {
            let inviter = inviter_of(&row, &inviters)?;
            let organization_name = org_names
                .get(&row.organization_id)
                .cloned()
                .unwrap_or_default();
            let granted = grants.remove(&row.id).unwrap_or_default();
            let custom = row.role_id.as_ref().and_then(|id| {
                role_names
                    .get(&(row.organization_id.clone(), id.clone()))
                    .cloned()
            });
            Ok(assemble(
                row,
                organization_name,
                inviter,
                custom,
                granted,
                now,
            ))
        })
        .collect()
}

/// The names of the custom roles `ids` of the organizations `org_ids`
/// (deleted ones too: an ended invite names the role it offered), by
/// organization and id.
fn custom_role_names(
    conn: &mut DbConn,
    org_ids: &[String],
    ids: &[String],
) -> DomainResult<HashMap<(String, String), String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String, String)> = roles::table
        .filter(roles::organization_id.eq_any(org_ids))
        .filter(roles::id.eq_any(ids))
        .select((roles::organization_id, roles::id, roles::name))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(org, id, name)| ((org, id), name))
        .collect())
}

/// The accounts `ids` (the senders of invites still open), by id.
fn inviters_by_id(conn: &mut DbConn, ids: &[String]) -> DomainResult<HashMap<String, UserRow>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut people = users::table.select(UserRow::as_select()).into_boxed();
    people = match ids {
        [one] => people.filter(users::id.eq(one.clone())),
        many => people.filter(users::id.eq_any(many.to_vec())),
    };
    Ok(people
        .load(conn)?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect())
}

/// The grants of the invites `ids` of the organizations `org_ids`, by invite.
fn grants_of_invites(
    conn: &mut DbConn,
    org_ids: &[String],
    ids: &[String],
) -> DomainResult<HashMap<String, Vec<ProjectGrant>>> {
    let mut granted = invite_projects::table
        .inner_join(
            projects::table.on(projects::organization_id
                .eq(invite_projects::organization_id)
                .and(projects::id.eq(invite_projects::project_id))),
        )
        .select((
            invite_projects::invite_id,
            projects::id,
            projects::name,
            invite_projects::permission,
        ))
        .into_boxed();
    granted = match org_ids {
        [one] => granted.filter(invite_projects::organization_id.eq(one.clone())),
        many => granted.filter(invite_projects::organization_id.eq_any(many.to_vec())),
    };
    granted = match ids {
        [one] => granted.filter(invite_projects::invite_id.eq(one.clone())),
        many => granted.filter(invite_projects::invite_id.eq_any(many.to_vec())),
    };
    let grant_rows: Vec<(String, String, String, Permission)> = granted.load(conn)?;
    Ok(group_grants(grant_rows))
}

/// Who sent `row`: their account as it is now, or, once it has closed, who
/// they were then (kept on the invite by the closing).
pub(super) fn inviter_of(
    row: &InviteRow,
    accounts: &HashMap<String, UserRow>,
) -> DomainResult<Inviter> {
    if let Some(account) = row.invited_by.as_ref().and_then(|id| accounts.get(id)) {
        return Ok(Inviter::from(account));
    }
    match (&row.inviter_name, &row.inviter_email) {
        (Some(name), Some(email)) => Ok(Inviter {
            userid: None,
            name: name.clone(),
            email: email.clone(),
            confirmed: row.inviter_confirmed.unwrap_or(false),
        }),
        _ => Err(DomainError::Internal("invite without inviter".into())),
    }
}

/// The sender of `row` alone ([`inviter_of`]).
pub(super) fn load_inviter(conn: &mut DbConn, row: &InviteRow) -> DomainResult<Inviter> {
    let ids: Vec<String> = row.invited_by.iter().cloned().collect();
    let accounts = inviters_by_id(conn, &ids)?;
    inviter_of(row, &accounts)
}

impl From<&UserRow> for Inviter {
    fn from(account: &UserRow) -> Inviter {
        Inviter {
            userid: Some(account.id.clone()),
            name: account.name.clone(),
            email: account.email.clone(),
            confirmed: account.email_verified,
        }
    }
}

/// An invite as the API shows it, from its row and what the row names.
pub(super) fn assemble(
    row: InviteRow,
    organizationname: String,
    invitedby: Inviter,
    custom_role: Option<String>,
    projectpermissions: Vec<ProjectGrant>,
    now: i64,
) -> Invite {
    let (role, roleid) = match custom_role {
        Some(name) => (name, row.role_id.clone()),
        None => (row.role.as_str().to_string(), None),
    };
    Invite {
        role,
        roleid,
        state: effective_state(&row, now),
        organizationname,
        projectpermissions,
        inviteid: row.id,
        organizationid: row.organization_id,
        email: row.email,
        cancreateprojects: row.can_create_projects,
        invitedby,
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

/// The invite a token names, found through the link tokens of every
/// organization and then read in its own. A token replaced by
/// `invite/resend` answers 410; an unknown one, or one whose invite is gone,
/// 404.
pub(super) fn load_by_token(conn: &mut DbConn, token: &str) -> DomainResult<InviteRow> {
    let link = link_tokens::find(conn, LinkPurpose::Invite, &hash_secret(token))?
        .ok_or_else(|| DomainError::not_found("invite not found"))?;
    if link.retired_at.is_some() {
        return Err(DomainError::Gone {
            reason: GoneReason::Revoked,
            message:
                "this invitation link was replaced by a newer one: use the link in the latest email"
                    .into(),
        });
    }
    load_in(conn, &link.organization_id, &link.target_id)?
        .ok_or_else(|| DomainError::not_found("invite not found"))
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

/// [`details`] for the invitation's page, with the language the page
/// speaks if one is set: the invitee account's, else the organization's
/// (API.md §13). An account without a language reads the organization's
/// too, as a newcomer does: which language the page speaks does not tell
/// whoever holds the link whether the address has an account.
pub fn page_details(ctx: &Ctx, token: &str) -> DomainResult<(Invite, Option<String>)> {
    let now = now_ms();
    ctx.store.read(|conn| {
        let row = load_by_token(conn, token)?;
        ensure_open(&row, now)?;
        let organization = conn.organization(&row.organization_id)?;
        let account = conn.user_by_email(&row.email)?;
        let language = account.and_then(|a| a.language).or(organization.language);
        Ok((view(conn, row, now)?, language))
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
        let user = caller.account(conn)?;
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
