//! Sessions opened and ended: `user/login` (password, then the second
//! factor when the account has one), `user/logout`, and the session every
//! other sign-in (a sign-in link, accepting an invite) opens the same way.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::accounts::{find_user_by_email, load_user, User};
use super::sessions::Caller;
use super::{
    new_id, normalize_email, now_ms, rfc3339, twofactor, Ctx, DomainError, DomainResult,
    MS_PER_HOUR,
};
use crate::store::rows::{SessionRow, UserRow};
use crate::store::schema::sessions;
use crate::store::{lock_user, DbConn};

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

/// Checks email, password and, when the account has two-factor on, `otp`,
/// and opens a session.
pub fn login(ctx: &Ctx, email: &str, password: &str, otp: Option<&str>) -> DomainResult<Login> {
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
        twofactor::verify(ctx, conn, &current, otp)?.map_err(twofactor::unauthenticated)?;
        insert_session(conn, &session)?;
        Ok(current)
    })?;
    super::verified_domains::join_by_domain(ctx, &user);
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
