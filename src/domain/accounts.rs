//! Accounts: sign-up, login, logout, details, edit, and password hashing.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::sessions::Caller;
use super::tokens::{hash_secret, new_secret};
use super::{
    new_id, normalize_email, now_ms, rfc3339, ConflictReason, Ctx, DomainError, DomainResult,
    MS_PER_DAY, MS_PER_HOUR,
};
use crate::mail::{self, templates};
use crate::store::lock_user;
use crate::store::rows::{EmailConfirmationRow, SessionRow, UserRow};
use crate::store::schema::{api_keys, email_confirmations, sessions, users};
use crate::store::DbConn;

/// A person with an account.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub userid: String,
    /// Lower case; emails are compared case-insensitively.
    pub email: String,
    pub name: String,
    /// True once the address is confirmed (`user/confirm`), or when the account
    /// was made by accepting an emailed invite.
    pub emailverified: bool,
    #[schema(format = DateTime)]
    pub createdat: String,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> User {
        User {
            userid: row.id,
            email: row.email,
            name: row.name,
            emailverified: row.email_verified,
            createdat: rfc3339(row.created_at),
        }
    }
}

/// A new session.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The bearer token for `Authorization: Bearer …`.
    pub token: String,
    #[schema(format = DateTime)]
    pub expiresat: String,
    pub user: User,
}

pub(crate) fn find_user_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub(crate) fn load_user(conn: &mut DbConn, user_id: &str) -> DomainResult<UserRow> {
    users::table
        .find(user_id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| DomainError::Unauthenticated("the account no longer exists".into()))
}

/// The account made by `user/signup`, before it is written.
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub name: &'a str,
}

/// Makes an account with an unverified email. An address that is already
/// taken, in any case, answers 409 `email_taken`.
pub fn signup(ctx: &Ctx, client: std::net::IpAddr, new: NewAccount<'_>) -> DomainResult<User> {
    ctx.limits
        .signups
        .hit(&super::limits::address_key(client))?;
    let email = normalize_email(new.email);
    let password_hash = ctx.passwords.hash(new.password)?;
    let row = UserRow {
        id: new_id(),
        email,
        name: new.name.trim().to_string(),
        password_hash: Some(password_hash),
        email_verified: false,
        created_at: now_ms(),
    };
    let token = new_secret();
    let result = ctx.store.write(|conn| {
        if find_user_by_email(conn, &row.email)?.is_some() {
            return Err(email_taken());
        }
        diesel::insert_into(users::table)
            .values(&row)
            .execute(conn)?;
        let confirmation = EmailConfirmationRow {
            id: new_id(),
            user_id: row.id.clone(),
            token_hash: hash_secret(&token),
            created_at: row.created_at,
            expires_at: row.created_at + CONFIRMATION_TTL_DAYS * MS_PER_DAY,
            used_at: None,
        };
        diesel::insert_into(email_confirmations::table)
            .values(&confirmation)
            .execute(conn)?;
        let link = format!("{}/confirm/{token}", ctx.policy.public_url);
        mail::enqueue(
            conn,
            &ctx.outbox_sealer,
            templates::verify_email(&row.email, &row.name, &link),
        )?;
        Ok(())
    });
    match result {
        Err(DomainError::Store(e)) if e.is_unique_violation() => Err(email_taken()),
        other => other.map(|()| {
            ctx.mail_queued();
            User::from(row)
        }),
    }
}

/// Days a confirmation link works.
const CONFIRMATION_TTL_DAYS: i64 = 7;

/// Confirms an address with the token from the sign-up email. Confirming
/// twice is harmless; an expired link answers 410.
pub fn confirm(ctx: &Ctx, token: &str) -> DomainResult<User> {
    let hash = hash_secret(token);
    let now = now_ms();
    ctx.store.write(|conn| {
        let confirmation: EmailConfirmationRow = email_confirmations::table
            .filter(email_confirmations::token_hash.eq(&hash))
            .select(EmailConfirmationRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| DomainError::not_found("confirmation link not found"))?;
        if confirmation.used_at.is_none() {
            if confirmation.expires_at <= now {
                return Err(DomainError::Gone {
                    reason: super::GoneReason::Expired,
                    message: "this confirmation link has expired".into(),
                });
            }
            diesel::update(email_confirmations::table.find(&confirmation.id))
                .set(email_confirmations::used_at.eq(now))
                .execute(conn)?;
            diesel::update(users::table.find(&confirmation.user_id))
                .set(users::email_verified.eq(true))
                .execute(conn)?;
        }
        load_user(conn, &confirmation.user_id).map(User::from)
    })
}

fn email_taken() -> DomainError {
    DomainError::conflict(
        ConflictReason::EmailTaken,
        "an account with this email already exists",
    )
}

/// Checks email and password and opens a session.
pub fn login(ctx: &Ctx, email: &str, password: &str) -> DomainResult<Login> {
    let email = normalize_email(email);
    // Failed logins per account (API.md §8); a success counts nothing.
    ctx.limits.logins.check(&email)?;
    let user = ctx
        .store
        .read(|conn| find_user_by_email(conn, &email).map_err(DomainError::from))?;
    if !ctx.passwords.verify(
        password,
        user.as_ref().and_then(|u| u.password_hash.as_deref()),
    )? {
        let _ = ctx.limits.logins.hit(&email);
        return Err(DomainError::Unauthenticated(
            "wrong email or password".into(),
        ));
    }
    let user =
        user.ok_or_else(|| DomainError::Unauthenticated("wrong email or password".into()))?;
    let session = new_session_row(ctx, &user.id);
    let verified = user.password_hash.clone();
    let user = ctx.store.write(|conn| {
        // The password was checked outside the transaction (argon2 is slow);
        // a change that committed since then wins.
        lock_user(conn, &user.id)?;
        let current = load_user(conn, &user.id)?;
        if current.password_hash != verified {
            return Err(DomainError::Unauthenticated(
                "wrong email or password".into(),
            ));
        }
        insert_session(conn, &session)?;
        Ok(current)
    })?;
    login_for(ctx, &session, user)
}

pub(crate) fn new_session_row(ctx: &Ctx, user_id: &str) -> SessionRow {
    let now = now_ms();
    SessionRow {
        id: new_id(),
        user_id: user_id.to_string(),
        created_at: now,
        expires_at: now + i64::from(ctx.policy.session_ttl_hours) * MS_PER_HOUR,
        revoked_at: None,
    }
}

pub(crate) fn insert_session(conn: &mut DbConn, session: &SessionRow) -> DomainResult<()> {
    diesel::insert_into(sessions::table)
        .values(session)
        .execute(conn)?;
    Ok(())
}

pub(crate) fn login_for(ctx: &Ctx, session: &SessionRow, user: UserRow) -> DomainResult<Login> {
    Ok(Login {
        token: ctx.keys.issue(session)?,
        expiresat: rfc3339(session.expires_at),
        user: User::from(user),
    })
}

/// Revokes the caller's session at once.
pub fn logout(ctx: &Ctx, caller: &Caller) -> DomainResult<()> {
    let Some(session_id) = &caller.session_id else {
        return Err(DomainError::forbidden(
            "an API key is not a session: delete it with user/deleteapikey",
        ));
    };
    ctx.store.write(|conn| {
        diesel::update(sessions::table.find(session_id))
            .set(sessions::revoked_at.eq(now_ms()))
            .execute(conn)?;
        Ok(())
    })
}

/// The caller's own account.
pub fn details(ctx: &Ctx, caller: &Caller) -> DomainResult<User> {
    ctx.store
        .read(|conn| load_user(conn, &caller.user_id))
        .map(User::from)
}

/// What `user/edit` may change.
pub struct AccountChanges<'a> {
    pub name: Option<&'a str>,
    pub password: Option<&'a str>,
    pub current_password: Option<&'a str>,
}

/// Changes the caller's name and/or password. A password change needs the
/// current password (unless the account has none yet, as one made by
/// accepting an invite) and ends every other session of the user.
pub fn edit(ctx: &Ctx, caller: &Caller, changes: AccountChanges<'_>) -> DomainResult<User> {
    if changes.password.is_some() && caller.api_key.is_some() {
        return Err(DomainError::forbidden(
            "a password change needs a session, not an API key",
        ));
    }
    let user = ctx.store.read(|conn| load_user(conn, &caller.user_id))?;
    let new_hash = match changes.password {
        None => None,
        Some(password) => {
            if let Some(stored) = user.password_hash.as_deref() {
                let current = changes.current_password.ok_or_else(|| {
                    DomainError::invalid("currentpassword", "required to change the password")
                })?;
                if !ctx.passwords.verify(current, Some(stored))? {
                    return Err(DomainError::forbidden(
                        "currentpassword is not the account's password",
                    ));
                }
            }
            Some(ctx.passwords.hash(password)?)
        }
    };
    ctx.store.write(|conn| {
        lock_user(conn, &caller.user_id)?;
        if new_hash.is_some()
            && load_user(conn, &caller.user_id)?.password_hash != user.password_hash
        {
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
        load_user(conn, &caller.user_id).map(User::from)
    })
}

/// For an account made on the spot by accepting an invite.
pub struct NewcomerDetails<'a> {
    pub name: Option<&'a str>,
    pub password: Option<&'a str>,
}

/// An account whose address was never confirmed may have been made by
/// someone else with this address. The emailed token proves the mailbox, so
/// its holder takes the account over clean: the unproven password, sessions
/// and API keys are dropped, and the newcomer's password (if any) replaces it.
/// Memberships stay: a genuine owner who had not confirmed yet keeps them.
pub fn take_over_unverified(
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
    end_sessions(conn, &user.id, None, now)?;
    diesel::delete(api_keys::table.filter(api_keys::user_id.eq(&user.id))).execute(conn)?;
    Ok(UserRow {
        password_hash,
        name,
        email_verified: true,
        ..user
    })
}

/// Makes the verified account of someone who proved their mailbox with an
/// invitation to `organization_name`, and queues the email telling them so.
pub fn provision_invited(
    ctx: &Ctx,
    conn: &mut DbConn,
    email: &str,
    organization_name: &str,
    newcomer: &NewcomerDetails<'_>,
    password_hash: Option<String>,
    now: i64,
) -> DomainResult<UserRow> {
    let name = newcomer
        .name
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| email.split('@').next().unwrap_or("").to_string());
    let user = UserRow {
        id: new_id(),
        email: email.to_string(),
        name,
        password_hash,
        email_verified: true,
        created_at: now,
    };
    diesel::insert_into(users::table)
        .values(&user)
        .execute(conn)?;
    let hint = if user.password_hash.is_some() {
        "Sign in with this address and the password you chose."
    } else {
        "Your account has no password yet: set one with user/edit while signed in, so you can sign in again later."
    };
    mail::enqueue(
        conn,
        &ctx.outbox_sealer,
        templates::account_created(&user.email, organization_name, hint),
    )?;
    Ok(user)
}

/// Ends every live session of `user_id` but `except`, at once.
pub fn end_sessions(
    conn: &mut DbConn,
    user_id: &str,
    except: Option<&str>,
    now: i64,
) -> DomainResult<()> {
    let live = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null());
    match except {
        Some(keep) => diesel::update(live.filter(sessions::id.ne(keep)))
            .set(sessions::revoked_at.eq(now))
            .execute(conn)?,
        None => diesel::update(live)
            .set(sessions::revoked_at.eq(now))
            .execute(conn)?,
    };
    Ok(())
}
