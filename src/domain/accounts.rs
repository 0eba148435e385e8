//! Accounts: sign-up, confirming the address (or a new one), details, edit
//! and closing. Signing in is [`super::logins`]; the sessions and links that
//! end with a change are [`super::kernel::signin`]'s; accounts made or taken
//! over by a proven mailbox are [`super::kernel::newcomers`].

use crate::domain::kernel::mailing::{self, text};
use crate::domain::LinkKind;
use diesel::prelude::*;

use super::kernel::events::{self, after_commit, AfterCommit, By, CollaboratorLeft};
use super::kernel::membership::record_departure;
use super::kernel::second_factor;
use super::kernel::signin::{end_links, end_sessions};
use super::limits::address_key;
use super::ownership::{ensure_an_owner_remains, Leaving};
use super::sessions::Caller;
use super::tokens::{hash_secret, new_secret};
use super::{
    new_id, normalize_email, now_ms, ConflictReason, Ctx, DomainError, DomainResult, MS_PER_HOUR,
};
use crate::store::rows::{EmailConfirmationRow, MembershipRow, UserRow};
use crate::store::schema::{email_confirmations, invites, memberships, users};
use crate::store::{DbConn, Lookups};

pub use super::kernel::signin::{Login, User};

/// The account made by `user/signup`, before it is written.
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub name: &'a str,
}

/// Makes an account with an unverified email. An address that is already
/// taken, in any case, answers 409 `email_taken`.
pub fn signup(ctx: &Ctx, client: std::net::IpAddr, new: NewAccount<'_>) -> DomainResult<User> {
    ctx.limits.signups.hit(&address_key(client))?;
    let email = normalize_email(new.email);
    // A taken address (the answer says so anyway) costs no hash.
    if ctx
        .store
        .read(|conn| conn.user_by_email(&email).map_err(DomainError::from))?
        .is_some()
    {
        return Err(email_taken());
    }
    let password_hash = ctx.passwords.hash(new.password)?;
    let row = UserRow::new(
        new_id(),
        email,
        new.name.trim().to_string(),
        Some(password_hash),
        false,
        now_ms(),
    );
    let result = ctx.store.write(|conn| {
        if conn.user_by_email(&row.email)?.is_some() {
            return Err(email_taken());
        }
        diesel::insert_into(users::table)
            .values(&row)
            .execute(conn)?;
        // The confirmation is a mail to the address like the others
        // (API.md §8): counted with the sign-up, never refusing it.
        ctx.limits.mails.note_on(conn, &row.email)?;
        queue_confirmation(ctx, conn, &row, None)
    });
    match result {
        Err(DomainError::Store(e)) if e.is_unique_violation() => Err(email_taken()),
        other => other.map(|()| User::from(row)),
    }
}

/// Writes a confirmation link for `user`'s own address (`new_email` None) or
/// for a new one, ends the earlier links of the same kind, and queues the
/// email with it, in the caller's transaction.
fn queue_confirmation(
    ctx: &Ctx,
    conn: &mut DbConn,
    user: &UserRow,
    new_email: Option<&str>,
) -> DomainResult<()> {
    let now = now_ms();
    let token = new_secret();
    // The earlier links of the same kind (own address, or a change) end.
    diesel::update(
        email_confirmations::table
            .filter(email_confirmations::user_id.eq(&user.id))
            .filter(email_confirmations::used_at.is_null())
            .filter(email_confirmations::expires_at.gt(now))
            .filter(
                email_confirmations::new_email
                    .is_null()
                    .eq(new_email.is_none()),
            ),
    )
    .set(email_confirmations::expires_at.eq(now))
    .execute(conn)?;
    let confirmation = EmailConfirmationRow {
        id: new_id(),
        user_id: user.id.clone(),
        token_hash: hash_secret(&token),
        created_at: now,
        expires_at: now + i64::from(ctx.policy.confirm_ttl_hours) * MS_PER_HOUR,
        used_at: None,
        new_email: new_email.map(str::to_string),
    };
    diesel::insert_into(email_confirmations::table)
        .values(&confirmation)
        .execute(conn)?;
    let link = ctx.policy.link(LinkKind::Confirm, &token);
    let (kind, to) = match new_email {
        None => ("verify_email", user.email.as_str()),
        Some(address) => ("confirm_new_address", address),
    };
    mailing::queue(
        conn,
        ctx,
        kind,
        (to, &[user.language.as_deref()]),
        &[("name", text(&user.name)), ("email", text(to))],
        Some(&link),
    )
}

/// Confirms an address with the token from its email: the account's own
/// (sign-up, `user/resendconfirmation`) or a new one asked for with
/// `user/edit`, which then becomes the account's address. Confirming twice
/// is harmless; an expired link (or one a newer link replaced) answers 410
/// `expired`; a new address another account took meanwhile 409
/// `email_taken`.
pub fn confirm(ctx: &Ctx, token: &str) -> DomainResult<User> {
    let hash = hash_secret(token);
    let now = now_ms();
    let result = ctx.store.write(|conn| {
        let confirmation: EmailConfirmationRow = email_confirmations::table
            .filter(email_confirmations::token_hash.eq(&hash))
            .select(EmailConfirmationRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| DomainError::not_found("confirmation link not found"))?;
        if confirmation.used_at.is_some() {
            return Ok(conn.user(&confirmation.user_id)?);
        }
        if confirmation.expires_at <= now {
            return Err(DomainError::Gone {
                reason: super::GoneReason::Expired,
                message: "this confirmation link has expired or a newer one replaced it".into(),
            });
        }
        conn.lock_user(&confirmation.user_id)?;
        diesel::update(email_confirmations::table.find(&confirmation.id))
            .set(email_confirmations::used_at.eq(now))
            .execute(conn)?;
        match &confirmation.new_email {
            None => {
                diesel::update(users::table.find(&confirmation.user_id))
                    .set(users::email_verified.eq(true))
                    .execute(conn)?;
            }
            Some(address) => {
                // Only the change the account is still waiting for: a link
                // from before a reset or a takeover (which clear it), or one
                // a later change replaced, proves nothing now.
                let waiting = conn.user(&confirmation.user_id)?.pending_email;
                if waiting.as_deref() != Some(address.as_str()) {
                    return Err(DomainError::Gone {
                        reason: super::GoneReason::Expired,
                        message: "this address change is no longer asked for".into(),
                    });
                }
                let holder = conn.user_by_email(address)?;
                if holder.is_some_and(|h| h.id != confirmation.user_id) {
                    return Err(email_taken());
                }
                diesel::update(users::table.find(&confirmation.user_id))
                    .set((
                        users::email.eq(address),
                        users::email_verified.eq(true),
                        users::pending_email.eq(None::<String>),
                    ))
                    .execute(conn)?;
                // Links sent to the old address no longer prove anything.
                end_links(conn, &confirmation.user_id, now)?;
            }
        }
        Ok(conn.user(&confirmation.user_id)?)
    });
    match result {
        Err(DomainError::Store(e)) if e.is_unique_violation() => Err(email_taken()),
        Ok(user) => {
            after_commit(ctx, AfterCommit::SignedIn(&user));
            Ok(User::from(user))
        }
        Err(e) => Err(e),
    }
}

/// What a confirmation link is for, without using it (the page shows it):
/// the address it proves, and the account's address when it is a change.
/// Unknown 404, expired 410; a used link still says what it confirmed.
pub fn confirmation_details(ctx: &Ctx, token: &str) -> DomainResult<Confirmation> {
    let hash = hash_secret(token);
    ctx.store.read(|conn| {
        let confirmation: EmailConfirmationRow = email_confirmations::table
            .filter(email_confirmations::token_hash.eq(&hash))
            .select(EmailConfirmationRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| DomainError::not_found("confirmation link not found"))?;
        if confirmation.used_at.is_none() && confirmation.expires_at <= now_ms() {
            return Err(DomainError::Gone {
                reason: super::GoneReason::Expired,
                message: "this confirmation link has expired or a newer one replaced it".into(),
            });
        }
        let user = conn.user(&confirmation.user_id)?;
        let (address, current) = match confirmation.new_email {
            Some(new) if confirmation.used_at.is_none() => (new, Some(user.email)),
            Some(new) => (new, None),
            None => (user.email, None),
        };
        Ok(Confirmation {
            address,
            current,
            language: user.language,
        })
    })
}

/// What a confirmation link confirms, as its page shows it.
pub struct Confirmation {
    /// The address the link confirms.
    pub address: String,
    /// The account's address today, when the link changes it.
    pub current: Option<String>,
    /// The account's language, when set: the page's (API.md §13).
    pub language: Option<String>,
}

/// `user/resendconfirmation`: a fresh link to the account's own address;
/// the older ones stop working.
pub fn resend_confirmation(ctx: &Ctx, caller: &Caller) -> DomainResult<()> {
    let user = ctx.store.read(|conn| caller.account(conn))?;
    if user.email_verified {
        return Err(DomainError::conflict(
            ConflictReason::AlreadyVerified,
            "the address is already confirmed",
        ));
    }
    ctx.limits.mails.hit(&user.email)?;
    ctx.store.write(|conn| {
        conn.lock_user(&user.id)?;
        let user = conn.user(&user.id)?;
        if user.email_verified {
            return Err(DomainError::conflict(
                ConflictReason::AlreadyVerified,
                "the address is already confirmed",
            ));
        }
        queue_confirmation(ctx, conn, &user, None)
    })
}

fn email_taken() -> DomainError {
    DomainError::conflict(
        ConflictReason::EmailTaken,
        "an account with this email already exists",
    )
}

/// The caller's own account.
pub fn details(ctx: &Ctx, caller: &Caller) -> DomainResult<User> {
    ctx.store.read(|conn| caller.account(conn)).map(User::from)
}

/// What `user/edit` may change.
pub struct AccountChanges<'a> {
    pub name: Option<&'a str>,
    /// `Some(None)` clears it.
    pub language: Option<Option<&'a str>>,
    pub password: Option<&'a str>,
    pub email: Option<&'a str>,
    pub current_password: Option<&'a str>,
}

/// Sets the account's language when a change names one (`Some(None)`
/// clears it).
fn set_language(
    conn: &mut DbConn,
    user_id: &str,
    language: Option<&Option<String>>,
) -> DomainResult<()> {
    if let Some(language) = language {
        diesel::update(users::table.find(user_id))
            .set(users::language.eq(language))
            .execute(conn)?;
    }
    Ok(())
}

/// Changes the caller's name, password and/or address. A password or address
/// change needs a session and the current password (unless the account has
/// none yet, as one made by accepting an invite). A new password ends every
/// other session of the user; a new address waits, as `pendingemail`, for
/// its emailed link, and the old address is told.
pub fn edit(ctx: &Ctx, caller: &Caller, changes: AccountChanges<'_>) -> DomainResult<User> {
    let sensitive = changes.password.is_some() || changes.email.is_some();
    if sensitive && caller.api_key.is_some() {
        return Err(DomainError::forbidden(
            "a password or address change needs a session, not an API key",
        ));
    }
    let user = ctx.store.read(|conn| caller.account(conn))?;
    if sensitive {
        ctx.passwords
            .check_current(&ctx.limits.logins, &user, changes.current_password)?;
    }
    let new_email = match changes.email.map(normalize_email) {
        // Already the account's address: nothing to confirm.
        Some(address) if address == user.email => None,
        Some(address) => {
            ctx.store
                .read(|conn| ensure_free(conn, &address, &user.id))?;
            ctx.limits.mails.hit(&address)?;
            Some(address)
        }
        None => None,
    };
    let language = mailing::language_change(ctx, changes.language, user.language.as_deref())?;
    let new_hash = match changes.password {
        None => None,
        Some(password) => Some(ctx.passwords.hash(password)?),
    };
    ctx.store.write(|conn| {
        conn.lock_user(&caller.user_id)?;
        let current = caller.account(conn)?;
        if sensitive && current.password_hash != user.password_hash {
            return Err(DomainError::invalid(
                "currentpassword",
                "the password was changed at the same moment; try again",
            ));
        }
        if let Some(name) = changes.name {
            diesel::update(users::table.find(&caller.user_id))
                .set(users::name.eq(name.trim()))
                .execute(conn)?;
        }
        set_language(conn, &caller.user_id, language.as_ref())?;
        if let Some(hash) = &new_hash {
            diesel::update(users::table.find(&caller.user_id))
                .set(users::password_hash.eq(hash))
                .execute(conn)?;
            end_sessions(
                conn,
                &caller.user_id,
                caller.session_id.as_deref(),
                now_ms(),
            )?;
        }
        if let Some(address) = &new_email {
            ensure_free(conn, address, &caller.user_id)?;
            diesel::update(users::table.find(&caller.user_id))
                .set(users::pending_email.eq(address))
                .execute(conn)?;
            let current = caller.account(conn)?;
            queue_confirmation(ctx, conn, &current, Some(address))?;
            mailing::queue(
                conn,
                ctx,
                "address_change_notice",
                (&current.email, &[current.language.as_deref()]),
                &[
                    ("name", text(&current.name)),
                    ("email", text(&current.email)),
                    ("new_email", text(address)),
                ],
                None,
            )?;
        }
        caller.account(conn).map(User::from)
    })
}

/// 409 `email_taken` when an account other than `user_id` has `address`.
fn ensure_free(conn: &mut DbConn, address: &str, user_id: &str) -> DomainResult<()> {
    match conn.user_by_email(address)? {
        Some(holder) if holder.id != user_id => Err(email_taken()),
        _ => Ok(()),
    }
}

/// `user/delete`: closes the caller's account at once: its sessions, API
/// keys, memberships (each organization's audit log records
/// `collaborator.left`) and links. The invites it sent stay valid and keep
/// who sent them (API.md §12). Refused with 409
/// `last_owner`, naming the organizations, while it is the only owner of
/// one; then nothing is deleted.
pub fn delete(
    ctx: &Ctx,
    caller: &Caller,
    current_password: Option<&str>,
    otp: Option<&str>,
) -> DomainResult<()> {
    if caller.api_key.is_some() {
        return Err(DomainError::forbidden(
            "closing an account needs a session, not an API key",
        ));
    }
    let user = ctx.store.read(|conn| caller.account(conn))?;
    ctx.passwords
        .check_current(&ctx.limits.logins, &user, current_password)?;
    ctx.store.write(|conn| {
        // Every organization of the account, locked first and in id order, as
        // every path that changes a role or removes a member locks them: no
        // two such paths wait on each other, and no one becomes an owner of
        // one of them while this runs.
        let member_of_ids: Vec<String> = memberships::table
            .filter(memberships::user_id.eq(&user.id))
            .select(memberships::organization_id)
            .order(memberships::organization_id)
            .load(conn)?;
        for organization_id in &member_of_ids {
            conn.lock_organization(organization_id)?;
        }
        conn.lock_user(&user.id)?;
        let member_of: Vec<MembershipRow> = memberships::table
            .filter(memberships::user_id.eq(&user.id))
            .select(MembershipRow::as_select())
            .order(memberships::organization_id)
            .load(conn)?;
        let current = conn.user(&user.id)?;
        if current.password_hash != user.password_hash {
            return Err(DomainError::invalid(
                "currentpassword",
                "the password was changed at the same moment; try again",
            ));
        }
        second_factor::verify(ctx, conn, &current, otp)?.map_err(second_factor::refused)?;
        ensure_an_owner_remains(conn, Leaving::Account(&member_of))?;
        let now = now_ms();
        for membership in &member_of {
            // Every membership is a departure, one past its end the sweep
            // has not reached too; only those in force are left.
            record_departure(
                conn,
                &membership.organization_id,
                &current.id,
                &current.email,
                now,
            )?;
            if membership.expires_at.is_some_and(|end| end <= now) {
                continue;
            }
            // The roster versions move by trigger when the rows go.
            events::record(
                conn,
                &membership.organization_id,
                By::Account(&current),
                &membership.id,
                CollaboratorLeft {
                    userid: &current.id,
                    email: &current.email,
                    role: None,
                    accountclosed: true,
                },
            )?;
        }
        keep_sender_of_invites(conn, &current)?;
        // Memberships by a statement of their own, so that their delete
        // triggers move the roster versions on every backend; the rest by
        // cascade (the invites it sent lose only their invited_by).
        diesel::delete(memberships::table.filter(memberships::user_id.eq(&user.id)))
            .execute(conn)?;
        diesel::delete(users::table.find(&user.id)).execute(conn)?;
        Ok(())
    })
}

/// The invites `account` sent outlive it: each keeps the name and address
/// (and whether it was confirmed) the account has as it closes, which
/// `invitedby` shows from then on, with `userid` null.
fn keep_sender_of_invites(conn: &mut DbConn, account: &UserRow) -> DomainResult<()> {
    diesel::update(invites::table.filter(invites::invited_by.eq(&account.id)))
        .set((
            invites::inviter_name.eq(&account.name),
            invites::inviter_email.eq(&account.email),
            invites::inviter_confirmed.eq(account.email_verified),
        ))
        .execute(conn)?;
    Ok(())
}
