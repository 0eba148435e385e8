//! Signing in, as every path that hands out a session does it (a password,
//! an emailed link, an accepted invite): the session written and signed
//! ([`Login`]); and the ends of sessions and emailed links that follow a
//! change of who holds an account.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::context::Ctx;
use super::error::DomainResult;
use crate::clock::{new_id, now_ms, rfc3339, MS_PER_HOUR};
use crate::store::rows::{SessionRow, UserRow};
use crate::store::schema::{account_tokens, email_confirmations, sessions, users};
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
    /// A new address asked for with `user/edit`, in force once its emailed
    /// link is confirmed; null when none is waiting.
    #[schema(value_type = Option<String>, format = Email)]
    pub pendingemail: Option<String>,
    /// True when every sign-in also needs `otp` (`user/confirmtwofactor`).
    pub twofactorenabled: bool,
    /// The language of the account's emails and pages (`user/edit`); null
    /// until set.
    #[schema(required = true)]
    pub language: Option<String>,
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
            pendingemail: row.pending_email,
            twofactorenabled: row.totp_enabled,
            language: row.language,
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

/// How a session was made, as its row records it.
#[derive(Debug, Clone, Copy)]
pub enum Made<'a> {
    Password,
    /// An emailed sign-in link.
    Link,
    /// An invite accepted by token.
    Invite,
    /// An organization's SSO (API.md §9), by the organization's id.
    Sso(&'a str),
}

/// A new session of `user_id`, as long as the policy says, not yet written.
pub fn new_session_row(ctx: &Ctx, user_id: &str, made: Made<'_>) -> SessionRow {
    let now = now_ms();
    let (method, sso_organization_id) = match made {
        Made::Password => ("password", None),
        Made::Link => ("link", None),
        Made::Invite => ("invite", None),
        Made::Sso(organization_id) => ("sso", Some(organization_id.to_string())),
    };
    SessionRow {
        id: new_id(),
        user_id: user_id.to_string(),
        created_at: now,
        expires_at: now + i64::from(ctx.policy.session_ttl_hours) * MS_PER_HOUR,
        revoked_at: None,
        method: method.to_string(),
        sso_organization_id,
    }
}

/// Writes `session`.
pub fn insert_session(conn: &mut DbConn, session: &SessionRow) -> DomainResult<()> {
    diesel::insert_into(sessions::table)
        .values(session)
        .execute(conn)?;
    Ok(())
}

/// The answer of a sign-in: the signed token of `session` and its account.
pub fn login_for(ctx: &Ctx, session: &SessionRow, user: UserRow) -> DomainResult<Login> {
    Ok(Login {
        token: ctx.keys.issue(session)?,
        expiresat: rfc3339(session.expires_at),
        user: User::from(user),
    })
}

/// Ends every emailed link of `user_id` not yet used: confirmations (of its
/// address or of a change), resets and sign-in links. For when whoever asked
/// for them may not be the account's holder (a takeover, a reset).
pub fn end_links(conn: &mut DbConn, user_id: &str, now: i64) -> DomainResult<()> {
    diesel::update(
        email_confirmations::table
            .filter(email_confirmations::user_id.eq(user_id))
            .filter(email_confirmations::used_at.is_null())
            .filter(email_confirmations::expires_at.gt(now)),
    )
    .set(email_confirmations::expires_at.eq(now))
    .execute(conn)?;
    diesel::update(
        account_tokens::table
            .filter(account_tokens::user_id.eq(user_id))
            .filter(account_tokens::used_at.is_null())
            .filter(account_tokens::expires_at.gt(now)),
    )
    .set(account_tokens::expires_at.eq(now))
    .execute(conn)?;
    diesel::update(users::table.find(user_id))
        .set(users::pending_email.eq(None::<String>))
        .execute(conn)?;
    Ok(())
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
