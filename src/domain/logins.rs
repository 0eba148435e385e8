//! Sessions opened and ended: `user/login` (password, then the second
//! factor when the account has one) and `user/logout`. The session every
//! sign-in opens is [`super::kernel::signin`]'s.

use diesel::prelude::*;

use super::kernel::events::{after_commit, AfterCommit};
use super::kernel::second_factor;
use super::kernel::signin::{insert_session, login_for, new_session_row, Made};
use super::sessions::Caller;
use super::{normalize_email, now_ms, Ctx, DomainError, DomainResult};
use crate::store::rows::UserRow;
use crate::store::schema::sessions;
use crate::store::Lookups;

pub use super::kernel::signin::Login;

/// Checks email, password and, when the account has two-factor on, `otp`,
/// and opens a session.
pub fn login(ctx: &Ctx, email: &str, password: &str, otp: Option<&str>) -> DomainResult<Login> {
    let email = normalize_email(email);
    // Failed logins per account (API.md §8): each guess is counted before it
    // is judged, so a burst across processes gets no more than the limit
    // judged; one that is right, or could not be judged, gives it back.
    let guess = ctx.limits.logins.take(&email)?;
    let user = match password_holder(ctx, &email, password) {
        Ok(Some(user)) => user,
        Ok(None) => return Err(wrong_email_or_password()),
        Err(e) => {
            ctx.limits.logins.give_back(guess);
            return Err(e);
        }
    };
    ctx.limits.logins.give_back(guess);
    let session = new_session_row(ctx, &user.id, Made::Password);
    let verified = user.password_hash.clone();
    let user = ctx.store.write(|conn| {
        // The password was checked outside the transaction (argon2 is slow);
        // a change that committed since then wins.
        conn.lock_user(&user.id)?;
        let current = conn.user(&user.id)?;
        if current.password_hash != verified {
            return Err(wrong_email_or_password());
        }
        second_factor::verify(ctx, conn, &current, otp)?.map_err(second_factor::unauthenticated)?;
        insert_session(conn, &session)?;
        Ok(current)
    })?;
    after_commit(ctx, AfterCommit::SignedIn(&user));
    login_for(ctx, &session, user)
}

/// The account of `email` when `password` is its password.
fn password_holder(ctx: &Ctx, email: &str, password: &str) -> DomainResult<Option<UserRow>> {
    let user = ctx
        .store
        .read(|conn| conn.user_by_email(email).map_err(DomainError::from))?;
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    Ok(match ctx.passwords.verify(password, stored)? {
        true => user,
        false => None,
    })
}

fn wrong_email_or_password() -> DomainError {
    DomainError::Unauthenticated("wrong email or password".into())
}

/// Revokes the caller's session at once.
pub fn logout(ctx: &Ctx, caller: &Caller) -> DomainResult<()> {
    if caller.provider_token {
        // Its issuer decides its life (API.md §9): nothing to end here.
        return Ok(());
    }
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
