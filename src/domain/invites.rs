//! The invitation lifecycle of API.md §4:
//! `pending` → `accepted` | `declined` | `revoked` | `expired`.
//!
//! Tokens are 256-bit secrets sent only by email; collabd stores their
//! SHA-256. Every transition is one conditional UPDATE on a pending,
//! unexpired row, so of many concurrent accepts exactly one succeeds.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::accounts::{
    find_user_by_email, hash_password, insert_session, load_user, login_for, new_session_row, Login,
};
use super::audit;
use super::access::{self, Hold, Member};
use super::audit::AuditAction;
use super::organizations::{invite_ttl_days, organization_view, Organization};
use super::projects::{
    check_granter_holds, check_grants, group_grants, hide_invisible, insert_grants,
    visible_projects, GrantRequest, ProjectGrant,
};
use super::roles::{allows, may_assign, Action, Permission, Role};
use super::sessions::Caller;
use super::tokens::{hash_secret, new_secret};
use super::{
    members, new_id, normalize_email, now_ms, rfc3339, ConflictReason, Ctx, DomainError,
    DomainResult, GoneReason, MS_PER_DAY,
};
use crate::mail::{self, templates};
use crate::store::rows::{
    InviteProjectRow, InviteRow, MembershipRow, OrganizationRow, ProjectPermissionRow, UserRow,
};
use crate::store::schema::{
    api_keys, invite_projects, invites, memberships, organizations, projects,
    retired_invite_tokens, sessions, users,
};
use crate::store::{lock_user, DbConn};

pub use crate::store::kinds::InviteState;

/// Who sent an invite.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Inviter {
    pub userid: String,
    pub name: String,
    pub email: String,
}

/// An invitation to join an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    pub inviteid: String,
    pub organizationid: String,
    pub organizationname: String,
    /// The invited address, lower case.
    pub email: String,
    /// The role the invitee gets on accepting.
    pub role: Role,
    pub cancreateprojects: bool,
    /// The grants the invitee gets on accepting.
    pub projectpermissions: Vec<ProjectGrant>,
    /// `expired` once `expiresat` has passed, even before anything touched it.
    pub state: InviteState,
    pub invitedby: Inviter,
    #[schema(format = DateTime)]
    pub createdat: String,
    #[schema(format = DateTime)]
    pub expiresat: String,
}

/// The state an invite is in now: a pending one past its time has expired.
fn effective_state(row: &InviteRow, now: i64) -> InviteState {
    match row.state {
        InviteState::Pending if row.expires_at <= now => InviteState::Expired,
        other => other,
    }
}

/// 410 unless the invite can still be accepted or declined.
fn ensure_open(row: &InviteRow, now: i64) -> DomainResult<()> {
    let gone = |reason, message: &str| {
        Err(DomainError::Gone {
            reason,
            message: message.to_string(),
        })
    };
    match effective_state(row, now) {
        InviteState::Pending => Ok(()),
        InviteState::Accepted => gone(GoneReason::Accepted, "this invite was already accepted"),
        InviteState::Declined => gone(GoneReason::Declined, "this invite was declined"),
        InviteState::Revoked => gone(
            GoneReason::Revoked,
            "this invite was revoked by the organization",
        ),
        InviteState::Expired => Err(DomainError::Gone {
            reason: GoneReason::Expired,
            message: format!("this invite expired at {}", rfc3339(row.expires_at)),
        }),
    }
}

fn views(conn: &mut DbConn, rows: Vec<InviteRow>, now: i64) -> DomainResult<Vec<Invite>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let org_ids: Vec<String> = rows.iter().map(|r| r.organization_id.clone()).collect();
    let inviter_ids: Vec<String> = rows.iter().map(|r| r.invited_by.clone()).collect();
    let org_names: HashMap<String, String> = organizations::table
        .filter(organizations::id.eq_any(&org_ids))
        .select((organizations::id, organizations::name))
        .load(conn)?
        .into_iter()
        .collect();
    let inviters: HashMap<String, UserRow> = users::table
        .filter(users::id.eq_any(&inviter_ids))
        .select(UserRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    let grant_rows: Vec<(String, String, String, Permission)> = invite_projects::table
        .inner_join(projects::table)
        .filter(invite_projects::invite_id.eq_any(&ids))
        .order((projects::name.asc(), projects::id.asc()))
        .select((
            invite_projects::invite_id,
            projects::id,
            projects::name,
            invite_projects::permission,
        ))
        .load(conn)?;
    let mut grants = group_grants(grant_rows);
    rows.into_iter()
        .map(|row| {
            let state = effective_state(&row, now);
            let role = row.role;
            let inviter = inviters
                .get(&row.invited_by)
                .ok_or_else(|| DomainError::Internal("invite without inviter".into()))?;
            Ok(Invite {
                organizationname: org_names
                    .get(&row.organization_id)
                    .cloned()
                    .unwrap_or_default(),
                projectpermissions: grants.remove(&row.id).unwrap_or_default(),
                inviteid: row.id,
                organizationid: row.organization_id,
                email: row.email,
                role,
                cancreateprojects: row.can_create_projects,
                state,
                invitedby: Inviter {
                    userid: inviter.id.clone(),
                    name: inviter.name.clone(),
                    email: inviter.email.clone(),
                },
                createdat: rfc3339(row.created_at),
                expiresat: rfc3339(row.expires_at),
            })
        })
        .collect()
}

fn view(conn: &mut DbConn, row: InviteRow, now: i64) -> DomainResult<Invite> {
    views(conn, vec![row], now)?
        .pop()
        .ok_or_else(|| DomainError::Internal("invite view".into()))
}

fn load_by_id(conn: &mut DbConn, invite_id: &str) -> DomainResult<Option<InviteRow>> {
    Ok(invites::table
        .find(invite_id)
        .select(InviteRow::as_select())
        .first(conn)
        .optional()?)
}

/// The invite a token names. A token replaced by `invite/resend` answers 410.
fn load_by_token(conn: &mut DbConn, token: &str) -> DomainResult<InviteRow> {
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

fn is_member_by_email(conn: &mut DbConn, organization_id: &str, email: &str) -> DomainResult<bool> {
    let count: i64 = memberships::table
        .inner_join(users::table)
        .filter(memberships::organization_id.eq(organization_id))
        .filter(users::email.eq(email))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

fn already_member() -> DomainError {
    DomainError::conflict(
        ConflictReason::AlreadyMember,
        "this address already belongs to a member of the organization",
    )
}

fn invite_pending() -> DomainError {
    DomainError::conflict(
        ConflictReason::InvitePending,
        "this address already has a pending invite to the organization",
    )
}

/// Queues the invitation email for `row` with its fresh `token`.
fn queue_invitation(
    ctx: &Ctx,
    conn: &mut DbConn,
    row: &InviteRow,
    token: &str,
    inviter: &UserRow,
) -> DomainResult<()> {
    let organization: OrganizationRow = organizations::table
        .find(&row.organization_id)
        .select(OrganizationRow::as_select())
        .first(conn)?;
    let link = format!("{}/invite/{token}", ctx.policy.public_url);
    let expires = rfc3339(row.expires_at);
    let mail = templates::invitation(&templates::Invitation {
        to: &row.email,
        organization: &organization.name,
        inviter_name: &inviter.name,
        inviter_email: &inviter.email,
        role: row.role.as_str(),
        link: &link,
        expires_at: &expires,
    });
    Ok(mail::enqueue(conn, mail)?)
}

/// What `invite/create` asks for.
pub struct NewInvite {
    pub email: String,
    pub role: Role,
    pub can_create_projects: bool,
    pub grants: Vec<GrantRequest>,
}

/// Invites an address with a role and grants, and queues the email.
pub fn create(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    new: NewInvite,
) -> DomainResult<Invite> {
    let email = normalize_email(&new.email);
    let token = new_secret();
    let now = now_ms();
    let result = ctx.store.write(|conn| {
        // Checked against the role as it is when the invite is written.
        let member =
            access::organization(conn, caller, organization_id, Action::Invite, Hold::Shared)?;
        let organization_id = member.organization_id();
        if !may_assign(member.role, new.role) {
            return Err(DomainError::forbidden(format!(
                "the role {} may not invite as {}",
                member.role.as_str(),
                new.role.as_str()
            )));
        }
        if is_member_by_email(conn, organization_id, &email)? {
            return Err(already_member());
        }
        // A pending invite past its time no longer blocks a new one.
        diesel::update(
            invites::table
                .filter(invites::organization_id.eq(organization_id))
                .filter(invites::email.eq(&email))
                .filter(invites::state.eq(InviteState::Pending))
                .filter(invites::expires_at.le(now)),
        )
        .set((
            invites::state.eq(InviteState::Expired),
            invites::ended_at.eq(now),
        ))
        .execute(conn)?;
        let pending: i64 = invites::table
            .filter(invites::organization_id.eq(organization_id))
            .filter(invites::email.eq(&email))
            .filter(invites::state.eq(InviteState::Pending))
            .count()
            .get_result(conn)?;
        if pending > 0 {
            return Err(invite_pending());
        }
        check_grants(conn, organization_id, &new.grants)?;
        check_granter_holds(conn, &member, &new.grants, new.can_create_projects)?;
        let ttl_days = invite_ttl_days(ctx, conn, organization_id)?;
        let row = InviteRow {
            id: new_id(),
            organization_id: organization_id.to_string(),
            email: email.clone(),
            role: new.role,
            can_create_projects: new.can_create_projects,
            token_hash: hash_secret(&token),
            state: InviteState::Pending,
            invited_by: caller.user_id.clone(),
            created_at: now,
            expires_at: now + i64::from(ttl_days) * MS_PER_DAY,
            ended_at: None,
        };
        diesel::insert_into(invites::table).values(&row).execute(conn)?;
        let grant_rows: Vec<InviteProjectRow> = new
            .grants
            .iter()
            .map(|g| InviteProjectRow {
                invite_id: row.id.clone(),
                project_id: g.project_id.clone(),
                permission: g.permission,
            })
            .collect();
        // One statement per row: batch inserts are not portable over both backends.
        for grant in &grant_rows {
            diesel::insert_into(invite_projects::table).values(grant).execute(conn)?;
        }
        let inviter = load_user(conn, &caller.user_id)?;
        queue_invitation(ctx, conn, &row, &token, &inviter)?;
        audit::record(
            conn,
            organization_id,
            Some(&inviter),
            AuditAction::InviteCreated,
            &row.id,
            json!({"email": row.email, "role": row.role, "cancreateprojects": row.can_create_projects}),
        )?;
        view(conn, row, now)
    });
    let invite = match result {
        Err(DomainError::Store(e)) if e.is_unique_violation() => return Err(invite_pending()),
        other => other?,
    };
    ctx.mail_queued();
    Ok(invite)
}

/// The organization's invites, oldest first, optionally in one state.
pub fn list(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    state: Option<InviteState>,
) -> DomainResult<Vec<Invite>> {
    let now = now_ms();
    ctx.store.read(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Action::ListInvites,
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
        let rows = query
            .order(invites::id.asc())
            .select(InviteRow::as_select())
            .load(conn)?;
        let mut list = views(conn, rows, now)?;
        for invite in &mut list {
            hide_invisible(&mut invite.projectpermissions, &visible);
        }
        Ok(list)
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

/// Pending, unexpired invites to the caller's verified address, from every
/// organization, oldest first.
pub fn for_user(ctx: &Ctx, caller: &Caller) -> DomainResult<Vec<Invite>> {
    let now = now_ms();
    ctx.store.read(|conn| {
        let user = load_user(conn, &caller.user_id)?;
        if !user.email_verified {
            return Ok(Vec::new());
        }
        let mut query = invites::table
            .filter(invites::email.eq(&user.email))
            .filter(invites::state.eq(InviteState::Pending))
            .filter(invites::expires_at.gt(now))
            .into_boxed();
        if let Some(bound) = caller.bound_organization() {
            query = query.filter(invites::organization_id.eq(bound.to_string()));
        }
        let rows = query
            .order(invites::id.asc())
            .select(InviteRow::as_select())
            .load(conn)?;
        views(conn, rows, now)
    })
}

/// How a call names an invite.
pub enum InviteRef<'a> {
    /// By id, with a session whose verified email is the invite's.
    Id(&'a str),
    /// By the emailed token, with or without a session.
    Token(&'a str),
}

impl<'a> InviteRef<'a> {
    /// Exactly one of `inviteid` and `token` (422 otherwise).
    pub fn from_params(
        invite_id: Option<&'a str>,
        token: Option<&'a str>,
    ) -> DomainResult<InviteRef<'a>> {
        match (invite_id, token) {
            (Some(id), None) => Ok(InviteRef::Id(id)),
            (None, Some(token)) => Ok(InviteRef::Token(token)),
            _ => Err(DomainError::invalid(
                "inviteid",
                "give either inviteid or token",
            )),
        }
    }
}

/// What accepting gives back.
pub struct Accepted {
    pub collaborator: members::Collaborator,
    pub organization: Organization,
    /// A new session, when the call came without one.
    pub login: Option<Login>,
}

/// For a new account made on the spot.
pub struct NewcomerDetails<'a> {
    pub name: Option<&'a str>,
    pub password: Option<&'a str>,
}

/// The invite named by `by`, checked against the caller (403 when it is
/// addressed to someone else).
fn resolve(
    conn: &mut DbConn,
    caller: Option<&Caller>,
    by: &InviteRef<'_>,
) -> DomainResult<(InviteRow, Option<UserRow>)> {
    match by {
        InviteRef::Id(id) => {
            let caller = caller.ok_or_else(|| {
                DomainError::Unauthenticated(
                    "an inviteid needs a session; without one, use the token from the email".into(),
                )
            })?;
            let user = load_user(conn, &caller.user_id)?;
            let row =
                load_by_id(conn, id)?.ok_or_else(|| DomainError::not_found("invite not found"))?;
            if !user.email_verified {
                return Err(DomainError::forbidden(
                    "confirm your email address first (user/confirm), or use the link in the invitation email",
                ));
            }
            if user.email != row.email {
                return Err(DomainError::forbidden(
                    "this invite is addressed to another email",
                ));
            }
            access::within_scope(caller, &row.organization_id)?;
            Ok((row, Some(user)))
        }
        InviteRef::Token(token) => {
            let row = load_by_token(conn, token)?;
            let user = match caller {
                Some(caller) => {
                    let user = load_user(conn, &caller.user_id)?;
                    if user.email != row.email {
                        return Err(DomainError::forbidden(
                            "this invite is addressed to another email than the signed-in user's",
                        ));
                    }
                    access::within_scope(caller, &row.organization_id)?;
                    Some(user)
                }
                None => None,
            };
            Ok((row, user))
        }
    }
}

/// Ends a pending, unexpired invite in `state`, or answers 410 saying why not.
fn close(conn: &mut DbConn, row: &InviteRow, state: InviteState, now: i64) -> DomainResult<()> {
    let updated = diesel::update(
        invites::table
            .filter(invites::id.eq(&row.id))
            .filter(invites::state.eq(InviteState::Pending))
            .filter(invites::expires_at.gt(now)),
    )
    .set((invites::state.eq(state), invites::ended_at.eq(now)))
    .execute(conn)?;
    if updated == 1 {
        return Ok(());
    }
    let fresh =
        load_by_id(conn, &row.id)?.ok_or_else(|| DomainError::not_found("invite not found"))?;
    ensure_open(&fresh, now)?;
    Err(DomainError::Internal("invite could not be closed".into()))
}

/// Accepts an invite: the membership with the invite's role, grants and
/// `cancreateprojects`, in one transaction. By token without an account, the
/// account is made on the spot (verified) and its owner told by email.
pub fn accept(
    ctx: &Ctx,
    caller: Option<&Caller>,
    by: InviteRef<'_>,
    newcomer: NewcomerDetails<'_>,
) -> DomainResult<Accepted> {
    let password_hash = newcomer.password.map(hash_password).transpose()?;
    let now = now_ms();
    let mut mail_queued = false;
    let result = ctx.store.write(|conn| {
        let (row, signed_in) = resolve(conn, caller, &by)?;
        close(conn, &row, InviteState::Accepted, now)?;
        let user = match signed_in {
            Some(user) => user,
            None => match find_user_by_email(conn, &row.email)? {
                Some(user) if !user.email_verified => {
                    lock_user(conn, &user.id)?;
                    claim_unverified_account(conn, user, &newcomer, password_hash.clone())?
                }
                Some(user) => user,
                None => {
                    mail_queued = true;
                    create_newcomer(conn, &row, &newcomer, password_hash.clone(), now)?
                }
            },
        };
        if !user.email_verified {
            // The emailed token proves the mailbox.
            diesel::update(users::table.find(&user.id))
                .set(users::email_verified.eq(true))
                .execute(conn)?;
        }
        if access::membership(conn, &row.organization_id, &user.id)?.is_some() {
            return Err(already_member());
        }
        let membership = join(conn, &row, &user, now)?;
        audit::record(
            conn,
            &row.organization_id,
            Some(&user),
            AuditAction::InviteAccepted,
            &row.id,
            json!({"email": row.email, "role": row.role, "collaboratorid": membership.id}),
        )?;
        let collaborator = members::collaborator(conn, &membership.id)?;
        let role = collaborator.role;
        let organization = organization_view(ctx, conn, &Member { membership, role })?;
        let login = match caller {
            Some(_) => None,
            None => {
                let session = new_session_row(ctx, &user.id);
                insert_session(conn, &session)?;
                let fresh = load_user(conn, &user.id)?;
                Some(login_for(ctx, &session, fresh)?)
            }
        };
        Ok(Accepted {
            collaborator,
            organization,
            login,
        })
    });
    let accepted = match result {
        // A sign-up for the same address committed while this made the
        // account; nothing was changed here.
        Err(DomainError::Store(e)) if e.is_unique_violation() => {
            return Err(DomainError::conflict(
                ConflictReason::EmailTaken,
                "an account with this email was created at the same moment; accept again",
            ))
        }
        other => other?,
    };
    if mail_queued {
        ctx.mail_queued();
    }
    Ok(accepted)
}

/// An account whose address was never confirmed may have been made by
/// someone else with this address. The emailed token proves the mailbox, so
/// its holder takes the account over clean: the unproven password, sessions
/// and API keys are dropped, and the newcomer's password (if any) replaces it.
/// Memberships stay: a genuine owner who had not confirmed yet keeps them.
fn claim_unverified_account(
    conn: &mut DbConn,
    user: UserRow,
    newcomer: &NewcomerDetails<'_>,
    password_hash: Option<String>,
) -> DomainResult<UserRow> {
    let now = now_ms();
    let name = newcomer
        .name
        .map(|n| n.trim().to_string())
        .unwrap_or(user.name.clone());
    diesel::update(users::table.find(&user.id))
        .set((
            users::password_hash.eq(&password_hash),
            users::name.eq(&name),
            users::email_verified.eq(true),
        ))
        .execute(conn)?;
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(&user.id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(conn)?;
    diesel::delete(api_keys::table.filter(api_keys::user_id.eq(&user.id))).execute(conn)?;
    Ok(UserRow {
        password_hash,
        name,
        email_verified: true,
        ..user
    })
}

fn create_newcomer(
    conn: &mut DbConn,
    row: &InviteRow,
    newcomer: &NewcomerDetails<'_>,
    password_hash: Option<String>,
    now: i64,
) -> DomainResult<UserRow> {
    let name = newcomer
        .name
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| row.email.split('@').next().unwrap_or("").to_string());
    let user = UserRow {
        id: new_id(),
        email: row.email.clone(),
        name,
        password_hash,
        email_verified: true,
        created_at: now,
    };
    diesel::insert_into(users::table)
        .values(&user)
        .execute(conn)?;
    let organization: OrganizationRow = organizations::table
        .find(&row.organization_id)
        .select(OrganizationRow::as_select())
        .first(conn)?;
    let hint = if user.password_hash.is_some() {
        "Sign in with this address and the password you chose."
    } else {
        "Your account has no password yet: set one with user/edit while signed in, so you can sign in again later."
    };
    mail::enqueue(
        conn,
        templates::account_created(&user.email, &organization.name, hint),
    )?;
    Ok(user)
}

fn join(
    conn: &mut DbConn,
    row: &InviteRow,
    user: &UserRow,
    now: i64,
) -> DomainResult<MembershipRow> {
    let membership = MembershipRow {
        id: new_id(),
        organization_id: row.organization_id.clone(),
        user_id: user.id.clone(),
        role: row.role,
        can_create_projects: row.can_create_projects,
        created_at: now,
    };
    diesel::insert_into(memberships::table)
        .values(&membership)
        .execute(conn)?;
    let grants: Vec<ProjectPermissionRow> = invite_projects::table
        .filter(invite_projects::invite_id.eq(&row.id))
        .select((invite_projects::project_id, invite_projects::permission))
        .load::<(String, Permission)>(conn)?
        .into_iter()
        .map(|(project_id, permission)| ProjectPermissionRow {
            membership_id: membership.id.clone(),
            project_id,
            permission,
        })
        .collect();
    insert_grants(conn, &grants)?;
    Ok(membership)
}

/// Declines an invite (by id with a session, or by token).
pub fn decline(ctx: &Ctx, caller: Option<&Caller>, by: InviteRef<'_>) -> DomainResult<()> {
    let now = now_ms();
    ctx.store.write(|conn| {
        let (row, user) = resolve(conn, caller, &by)?;
        close(conn, &row, InviteState::Declined, now)?;
        audit::record(
            conn,
            &row.organization_id,
            user.as_ref(),
            AuditAction::InviteDeclined,
            &row.id,
            json!({"email": row.email}),
        )
    })
}

/// The invite `invite_id`, if the caller may revoke or resend it: any invite
/// for owners and admins, their own for technical users. Non-members get 404.
fn manageable(
    conn: &mut DbConn,
    caller: &Caller,
    invite_id: &str,
) -> DomainResult<(InviteRow, UserRow)> {
    let not_found = || DomainError::not_found("invite not found");
    let row = load_by_id(conn, invite_id)?.ok_or_else(not_found)?;
    let own = row.invited_by == caller.user_id;
    let action = if own {
        Action::ManageOwnInvite
    } else {
        Action::ManageAnyInvite
    };
    let member = access::object(
        conn,
        caller,
        &row.organization_id,
        action,
        Hold::Shared,
        "invite",
    )?;
    if !(allows(member.role, Action::ManageAnyInvite) || own) {
        return Err(DomainError::forbidden(format!(
            "the role {} may not manage this invite",
            member.role.as_str()
        )));
    }
    let user = load_user(conn, &caller.user_id)?;
    Ok((row, user))
}

/// Revokes a pending invite; its token answers 410 from now on.
pub fn revoke(ctx: &Ctx, caller: &Caller, invite_id: &str) -> DomainResult<Invite> {
    let now = now_ms();
    ctx.store.write(|conn| {
        let (row, user) = manageable(conn, caller, invite_id)?;
        close(conn, &row, InviteState::Revoked, now)?;
        audit::record(
            conn,
            &row.organization_id,
            Some(&user),
            AuditAction::InviteRevoked,
            &row.id,
            json!({"email": row.email}),
        )?;
        let fresh =
            load_by_id(conn, &row.id)?.ok_or_else(|| DomainError::not_found("invite not found"))?;
        view(conn, fresh, now)
    })
}

/// Issues a new token for a pending or expired invite (the old one answers
/// 410), restarts its lifetime and queues the email again.
pub fn resend(ctx: &Ctx, caller: &Caller, invite_id: &str) -> DomainResult<Invite> {
    let token = new_secret();
    let now = now_ms();
    let result = ctx.store.write(|conn| {
        let (row, user) = manageable(conn, caller, invite_id)?;
        match effective_state(&row, now) {
            InviteState::Pending | InviteState::Expired => {}
            _ => ensure_open(&row, now)?,
        }
        if is_member_by_email(conn, &row.organization_id, &row.email)? {
            return Err(already_member());
        }
        let ttl_days = invite_ttl_days(ctx, conn, &row.organization_id)?;
        let expires_at = now + i64::from(ttl_days) * MS_PER_DAY;
        let token_hash = hash_secret(&token);
        // Only the token we read, in a state we may reopen: an accept or
        // revoke that committed meanwhile wins, and answers 410 here.
        let updated = diesel::update(
            invites::table
                .filter(invites::id.eq(&row.id))
                .filter(invites::token_hash.eq(&row.token_hash))
                .filter(invites::state.eq_any([InviteState::Pending, InviteState::Expired])),
        )
        .set((
            invites::token_hash.eq(&token_hash),
            invites::state.eq(InviteState::Pending),
            invites::expires_at.eq(expires_at),
            invites::ended_at.eq(None::<i64>),
        ))
        .execute(conn)?;
        if updated != 1 {
            let fresh = load_by_id(conn, &row.id)?
                .ok_or_else(|| DomainError::not_found("invite not found"))?;
            ensure_open(&fresh, now)?;
            return Err(DomainError::conflict(
                ConflictReason::InvitePending,
                "the invite was resent at the same moment; use the latest email",
            ));
        }
        diesel::insert_into(retired_invite_tokens::table)
            .values((
                retired_invite_tokens::token_hash.eq(&row.token_hash),
                retired_invite_tokens::invite_id.eq(&row.id),
                retired_invite_tokens::retired_at.eq(now),
            ))
            .execute(conn)?;
        let fresh = InviteRow {
            token_hash,
            state: InviteState::Pending,
            expires_at,
            ended_at: None,
            ..row
        };
        let inviter = load_user(conn, &fresh.invited_by)?;
        queue_invitation(ctx, conn, &fresh, &token, &inviter)?;
        audit::record(
            conn,
            &fresh.organization_id,
            Some(&user),
            AuditAction::InviteResent,
            &fresh.id,
            json!({"email": fresh.email}),
        )?;
        view(conn, fresh, now)
    });
    let invite = match result {
        Err(DomainError::Store(e)) if e.is_unique_violation() => return Err(invite_pending()),
        other => other?,
    };
    ctx.mail_queued();
    Ok(invite)
}
