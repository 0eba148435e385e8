//! The invitee's side: accepting (joining, with an account made on the spot
//! when needed) or declining.

use diesel::prelude::*;

use super::lifecycle::already_member;
use super::reads::load_by_token;
use super::states::{close, ensure_open, load_by_id, not_found};
use super::values::{Accepted, InviteRef};
use crate::domain::access;
use crate::domain::kernel::events::{
    self, after_commit, AfterCommit, By, InviteAccepted, InviteDeclined,
};
use crate::domain::kernel::expiry::expire_in;
use crate::domain::kernel::membership::{self, collaborator, NewMember};
use crate::domain::kernel::newcomers::{provision_invited, take_over_unverified, NewcomerDetails};
use crate::domain::kernel::organization::organization_view;
use crate::domain::kernel::second_factor;
use crate::domain::kernel::signin::{insert_session, login_for, new_session_row, Made};
use crate::domain::roles::{self, Permission};
use crate::domain::sessions::Caller;
use crate::domain::{now_ms, ConflictReason, Ctx, DomainError, DomainResult, GoneReason};
use crate::store::kinds::InviteState;
use crate::store::rows::{InviteRow, MembershipRow, UserRow};
use crate::store::schema::{invite_projects, memberships, users};
use crate::store::{DbConn, Lookups};

/// The invite named by `by`, checked against the caller: by id, one not
/// addressed to the caller's verified address is not found (404); by token,
/// which proves the mailbox, a session of someone else answers 403.
pub(super) fn resolve(
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
            let user = caller.account(conn)?;
            let row = load_by_id(conn, id)?;
            // An invite is the caller's to see only when addressed to their
            // verified address; any other answers exactly as an unknown id,
            // so ids tell nobody which invites exist (API.md §4).
            if !user.email_verified || user.email != row.email {
                return Err(not_found());
            }
            access::within_scope(caller, &row.organization_id)?;
            Ok((row, Some(user)))
        }
        InviteRef::Token(token) => {
            let row = load_by_token(conn, token)?;
            let user = match caller {
                Some(caller) => {
                    let user = caller.account(conn)?;
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

/// Accepts an invite: the membership with the invite's role, grants and
/// `cancreateprojects`, in one transaction. By token without an account, the
/// account is made on the spot (verified) and its owner told by email.
pub fn accept(
    ctx: &Ctx,
    caller: Option<&Caller>,
    by: InviteRef<'_>,
    newcomer: NewcomerDetails<'_>,
    otp: Option<&str>,
) -> DomainResult<Accepted> {
    if newcomer.password.is_some() {
        // Refused before argon2 runs: an unknown, ended or accepted invite,
        // or an address already a member, costs no hash (the transaction
        // below checks it all again).
        ctx.store.read(|conn| still_acceptable(conn, caller, &by))?;
    }
    let password_hash = newcomer
        .password
        .map(|password| ctx.passwords.hash(password))
        .transpose()?;
    let now = now_ms();
    let result = ctx.store.write(|conn| {
        let (row, signed_in) = resolve(conn, caller, &by)?;
        // The organization before the invite's row, as `customer/delete`
        // locks them: no lock cycle between the two.
        conn.share_organization(&row.organization_id)?;
        close(conn, &row, InviteState::Accepted, now)?;
        let user = match signed_in {
            Some(user) => user,
            None => account_by_token(ctx, conn, &row, &newcomer, password_hash.clone(), otp, now)?,
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
        let membership = join(ctx, conn, &row, &user, now)?;
        let role = roles::held(conn, &row.organization_id, row.role, row.role_id.as_deref())?;
        events::record(
            conn,
            &row.organization_id,
            By::Account(&user),
            &row.id,
            InviteAccepted {
                email: &row.email,
                role: role.name(),
                collaboratorid: &membership.id,
            },
        )?;
        accepted(ctx, conn, caller, membership, &user.id)
    });
    let accepted = match result {
        // A sign-up for the same address committed while this made the
        // account; nothing was changed here.
        Err(DomainError::Store(e)) if e.is_unique_violation() => return Err(created_meanwhile()),
        other => other?,
    };
    // The address is verified now: a domain it is at may add it elsewhere.
    let userid = &accepted.collaborator.userid;
    if let Ok(user) = ctx
        .store
        .read(|conn| conn.user(userid).map_err(DomainError::from))
    {
        after_commit(ctx, AfterCommit::SignedIn(&user));
    }
    Ok(accepted)
}

/// What the transaction of [`accept`] would refuse before anything else,
/// read without a lock: 404, 403, 410, or 409 `already_member`.
fn still_acceptable(
    conn: &mut DbConn,
    caller: Option<&Caller>,
    by: &InviteRef<'_>,
) -> DomainResult<()> {
    let (row, signed_in) = resolve(conn, caller, by)?;
    ensure_open(&row, now_ms())?;
    let user = match signed_in {
        Some(user) => Some(user),
        None => conn.user_by_email(&row.email)?,
    };
    if let Some(user) = user {
        if access::membership(conn, &row.organization_id, &user.id)?.is_some() {
            return Err(already_member());
        }
    }
    Ok(())
}

/// A concurrent change (a sign-up for the address, another way in to the
/// organization) committed while this accept made the account or the
/// membership; nothing was changed here.
fn created_meanwhile() -> DomainError {
    DomainError::conflict(
        ConflictReason::EmailTaken,
        "an account with this email was created at the same moment; accept again",
    )
}

/// What accepting answers: the new collaborator, the organization, and a
/// new session for `user_id` when the call came without one.
fn accepted(
    ctx: &Ctx,
    conn: &mut DbConn,
    caller: Option<&Caller>,
    membership: MembershipRow,
    user_id: &str,
) -> DomainResult<Accepted> {
    let collaborator = collaborator(conn, &membership.organization_id, &membership.id)?;
    let member = access::membership(conn, &membership.organization_id, user_id)?
        .ok_or_else(|| DomainError::Internal("a membership just made".into()))?;
    let organization = organization_view(ctx, conn, &member)?;
    let login = match caller {
        Some(_) => None,
        None => {
            let session = new_session_row(ctx, user_id, Made::Invite);
            insert_session(conn, &session)?;
            let fresh = conn.user(user_id)?;
            Some(login_for(ctx, &session, fresh)?)
        }
    };
    Ok(Accepted {
        collaborator,
        organization,
        login,
    })
}

/// The account an invite accepted by token without a session goes to: the
/// invited address's account, taken over when unconfirmed
/// ([`take_over_unverified`]) or past its second factor; else a new one
/// ([`provision_invited`]).
fn account_by_token(
    ctx: &Ctx,
    conn: &mut DbConn,
    row: &InviteRow,
    newcomer: &NewcomerDetails<'_>,
    password_hash: Option<String>,
    otp: Option<&str>,
    now: i64,
) -> DomainResult<UserRow> {
    match conn.user_by_email(&row.email)? {
        Some(user) if !user.email_verified => {
            conn.lock_user(&user.id)?;
            take_over_unverified(conn, user, newcomer, password_hash)
        }
        Some(user) => {
            // A session is about to be handed out: the account's
            // second factor, when it has one, comes first.
            conn.lock_user(&user.id)?;
            // The row as it is under the lock: a code used meanwhile
            // is refused.
            let user = conn.user(&user.id)?;
            second_factor::verify(ctx, conn, &user, otp)?
                .map_err(second_factor::unauthenticated)?;
            Ok(user)
        }
        None => {
            let organization = conn.organization(&row.organization_id)?;
            provision_invited(
                ctx,
                conn,
                &row.email,
                &organization,
                newcomer,
                password_hash,
                now,
            )
        }
    }
}

/// Makes `user` a member as `row` offers, with the invite's grants.
fn join(
    ctx: &Ctx,
    conn: &mut DbConn,
    row: &InviteRow,
    user: &UserRow,
    now: i64,
) -> DomainResult<MembershipRow> {
    if row.membership_expires_at.is_some_and(|end| end <= now) {
        return Err(DomainError::Gone {
            reason: GoneReason::Expired,
            message: "the membership this invite offers has already ended".into(),
        });
    }
    // An ended membership the sweep has not removed yet makes way, recorded
    // and mailed as the sweep would.
    let ended: Option<String> = memberships::table
        .filter(memberships::organization_id.eq(&row.organization_id))
        .filter(memberships::user_id.eq(&user.id))
        .filter(memberships::expires_at.le(now))
        .select(memberships::id)
        .first(conn)
        .optional()?;
    if let Some(ended) = ended {
        expire_in(ctx, conn, &row.organization_id, &ended, now)?;
    }
    let grants: Vec<(String, Permission)> = invite_projects::table
        .filter(invite_projects::organization_id.eq(&row.organization_id))
        .filter(invite_projects::invite_id.eq(&row.id))
        .select((invite_projects::project_id, invite_projects::permission))
        .load(conn)?;
    let new = NewMember {
        organization_id: &row.organization_id,
        user_id: &user.id,
        role: row.role,
        role_id: row.role_id.as_deref(),
        can_create_projects: row.can_create_projects,
        expires_at: row.membership_expires_at,
        grants,
    };
    membership::add(conn, new, now)?.ok_or_else(created_meanwhile)
}

/// Declines an invite (by id with a session, or by token).
pub fn decline(ctx: &Ctx, caller: Option<&Caller>, by: InviteRef<'_>) -> DomainResult<()> {
    let now = now_ms();
    ctx.store.write(|conn| {
        let (row, user) = resolve(conn, caller, &by)?;
        conn.share_organization(&row.organization_id)?;
        close(conn, &row, InviteState::Declined, now)?;
        events::record(
            conn,
            &row.organization_id,
            By::from(user.as_ref()),
            &row.id,
            InviteDeclined { email: &row.email },
        )
    })
}
