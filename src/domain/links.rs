//! Emailed links that let a person back in (API.md §5): a password reset
//! (`/reset/{token}`) and a sign-in link (`/signin/{token}`). Each token has
//! 256 random bits, is stored as its SHA-256 hash, works once, and expires;
//! a newer link of the same kind ends the older ones. Asking for one reveals
//! nothing about whether the address has an account: the answer is the
//! same, and the HTTP layer pads its time.

use crate::domain::kernel::mailing::{self, text};
use crate::domain::LinkKind;
use diesel::prelude::*;
use minijinja::value::Value;

use super::kernel::events::{after_commit, AfterCommit};
use super::kernel::newcomers::{take_over_unverified, NewcomerDetails};
use super::kernel::second_factor;
use super::kernel::signin::{
    end_links, end_sessions, insert_session, login_for, new_session_row, Login, Made, User,
};
use super::tokens::{hash_secret, new_secret};
use super::{
    new_id, normalize_email, now_ms, Ctx, DomainError, DomainResult, GoneReason, MS_PER_HOUR,
};
use crate::store::kinds::TokenPurpose;
use crate::store::rows::AccountTokenRow;
use crate::store::schema::{account_tokens, users};
use crate::store::{DbConn, Lookups};

const MS_PER_MINUTE: i64 = MS_PER_HOUR / 60;

fn minutes(ctx: &Ctx, purpose: TokenPurpose) -> u32 {
    match purpose {
        TokenPurpose::Reset => ctx.policy.reset_ttl_minutes,
        TokenPurpose::Signin => ctx.policy.login_link_ttl_minutes,
    }
}

/// `user/requestpasswordreset` and `user/requestloginlink`: when an account
/// has `email`, and the address is within its mails per hour, a new link of
/// `purpose` goes to it. Always `Ok` unless the database fails: whether an
/// account exists is not the caller's to know.
pub fn request(ctx: &Ctx, purpose: TokenPurpose, email: &str) -> DomainResult<()> {
    let email = normalize_email(email);
    // Past the limit the answer is the same; only the mail is not sent.
    match ctx.limits.mails.hit(&email) {
        Err(DomainError::RateLimited { .. }) => return Ok(()),
        counted => counted?,
    }
    let token = new_secret();
    let now = now_ms();
    ctx.store.write(|conn| -> DomainResult<()> {
        let Some(user) = conn.user_by_email(&email)? else {
            return Ok(());
        };
        conn.lock_user(&user.id)?;
        diesel::update(
            account_tokens::table
                .filter(account_tokens::user_id.eq(&user.id))
                .filter(account_tokens::purpose.eq(purpose))
                .filter(account_tokens::used_at.is_null())
                .filter(account_tokens::expires_at.gt(now)),
        )
        .set(account_tokens::expires_at.eq(now))
        .execute(conn)?;
        let ttl = minutes(ctx, purpose);
        let row = AccountTokenRow {
            id: new_id(),
            user_id: user.id.clone(),
            purpose,
            token_hash: hash_secret(&token),
            created_at: now,
            expires_at: now + i64::from(ttl) * MS_PER_MINUTE,
            used_at: None,
        };
        diesel::insert_into(account_tokens::table)
            .values(&row)
            .execute(conn)?;
        let (kind, link) = match purpose {
            TokenPurpose::Reset => ("password_reset", LinkKind::Reset),
            TokenPurpose::Signin => ("signin_link", LinkKind::Signin),
        };
        mailing::queue(
            conn,
            ctx,
            kind,
            (&user.email, &[user.language.as_deref()]),
            &[
                ("name", text(&user.name)),
                ("email", text(&user.email)),
                ("minutes", Value::from(ttl)),
            ],
            Some(&ctx.policy.link(link, &token)),
        )
    })
}

/// The token's row when it is of `purpose`, unused and unexpired: else 404
/// (unknown, or of another kind), 410 `used`, 410 `expired`.
fn usable(conn: &mut DbConn, purpose: TokenPurpose, token: &str) -> DomainResult<AccountTokenRow> {
    let row: AccountTokenRow = account_tokens::table
        .filter(account_tokens::token_hash.eq(hash_secret(token)))
        .filter(account_tokens::purpose.eq(purpose))
        .select(AccountTokenRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| DomainError::not_found("link not found"))?;
    if row.used_at.is_some() {
        return Err(DomainError::Gone {
            reason: GoneReason::Used,
            message: "this link was used already; ask for a new one".into(),
        });
    }
    if row.expires_at <= now_ms() {
        return Err(DomainError::Gone {
            reason: GoneReason::Expired,
            message: "this link has expired or a newer one replaced it; ask for a new one".into(),
        });
    }
    Ok(row)
}

fn use_up(conn: &mut DbConn, row: &AccountTokenRow, now: i64) -> DomainResult<()> {
    diesel::update(account_tokens::table.find(&row.id))
        .set(account_tokens::used_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Whose address a usable link of `purpose` is for (the pages show it).
pub fn holder(ctx: &Ctx, purpose: TokenPurpose, token: &str) -> DomainResult<User> {
    ctx.store.read(|conn| {
        let row = usable(conn, purpose, token)?;
        Ok(User::from(conn.user(&row.user_id)?))
    })
}

/// `user/resetpassword`: sets the password, marks the address verified and
/// ends every session. API keys stay, unless the address was never
/// confirmed: then the reset proves a mailbox whoever registered it may not
/// read, and their hold on the account ends ([`take_over_unverified`]).
pub fn reset_password(ctx: &Ctx, token: &str, password: &str) -> DomainResult<User> {
    // Known to be usable before argon2 runs: an unknown token costs no hash.
    ctx.store
        .read(|conn| usable(conn, TokenPurpose::Reset, token))?;
    let hash = ctx.passwords.hash(password)?;
    let now = now_ms();
    ctx.store.write(|conn| {
        let row = usable(conn, TokenPurpose::Reset, token)?;
        conn.lock_user(&row.user_id)?;
        // Checked again under the lock: two resets with one link, one wins.
        let row = usable(conn, TokenPurpose::Reset, token)?;
        use_up(conn, &row, now)?;
        let user = conn.user(&row.user_id)?;
        if !user.email_verified {
            return take_over_unverified(conn, user, &NewcomerDetails::default(), Some(hash))
                .map(User::from);
        }
        diesel::update(users::table.find(&row.user_id))
            .set(users::password_hash.eq(&hash))
            .execute(conn)?;
        end_sessions(conn, &row.user_id, None, now)?;
        // Links asked for before the reset (by whoever held the account
        // then, perhaps not its owner) end with it.
        end_links(conn, &row.user_id, now)?;
        Ok(User::from(conn.user(&row.user_id)?))
    })
}

/// `user/loginbylink`: a new session (with `otp` when two-factor is on),
/// and the address marked verified. A refused second factor leaves the link
/// unused. An account whose address was never confirmed is taken over by the
/// link's reader ([`take_over_unverified`]): whoever registered it loses its
/// password, sessions, keys and second factor, which is then not asked.
pub fn login_by_link(ctx: &Ctx, token: &str, otp: Option<&str>) -> DomainResult<Login> {
    let row = ctx
        .store
        .read(|conn| usable(conn, TokenPurpose::Signin, token))?;
    let session = new_session_row(ctx, &row.user_id, Made::Link);
    let now = now_ms();
    let user = ctx.store.write(|conn| -> DomainResult<_> {
        conn.lock_user(&row.user_id)?;
        let row = usable(conn, TokenPurpose::Signin, token)?;
        let user = conn.user(&row.user_id)?;
        let user = if user.email_verified {
            second_factor::verify(ctx, conn, &user, otp)?
                .map_err(second_factor::unauthenticated)?;
            user
        } else {
            take_over_unverified(conn, user, &NewcomerDetails::default(), None)?
        };
        use_up(conn, &row, now)?;
        insert_session(conn, &session)?;
        Ok(user)
    })?;
    after_commit(ctx, AfterCommit::SignedIn(&user));
    login_for(ctx, &session, user)
}
