//! Accounts behind identities from elsewhere (API.md §9): a trusted issuer's
//! provider token, an organization's SSO sign-in. An account is linked to
//! each (`iss`, `sub`) it was seen with; on first sight the issuer's
//! verified address finds it (an account never confirmed is taken over, as
//! proving the mailbox does anywhere, §8) or makes it, verified and without
//! a password. The link does not follow later changes of the address claim.

use diesel::prelude::*;

use super::emails::{check_email, normalize_email};
use super::kernel::events::{after_commit, AfterCommit};
use super::kernel::newcomers::{take_over_unverified, NewcomerDetails};
use super::sessions::Caller;
use super::{new_id, now_ms, Ctx, DomainError, DomainResult, MAX_NAME_CHARS};
use crate::issuers::IdClaims;
use crate::store::rows::UserRow;
use crate::store::schema::{identities, users};
use crate::store::{DbConn, Lookups};

/// The account linked to (`issuer`, `subject`), if any.
pub fn linked(conn: &mut DbConn, issuer: &str, subject: &str) -> DomainResult<Option<String>> {
    Ok(identities::table
        .find((issuer, subject))
        .select(identities::user_id)
        .first(conn)
        .optional()?)
}

fn no_verified_email() -> DomainError {
    DomainError::Unauthenticated(
        "the token carries no verified email address to find or make an account by".into(),
    )
}

/// The name a new account takes: the `name` claim, trimmed and cut to
/// [`MAX_NAME_CHARS`], else the address.
fn name_of(claims: &IdClaims, email: &str) -> String {
    let name: String = claims
        .name
        .as_deref()
        .map(str::trim)
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    match name.is_empty() {
        true => email.to_string(),
        false => name,
    }
}

/// The account of `claims` (already verified as `issuer`'s), linked, found
/// or made; whether it was made or linked now (first sight). A sign-in
/// (`signs_in`: a token new to this process; a first sight always is one)
/// runs what a login runs after it (verified-domain joining).
pub fn account_of(
    ctx: &Ctx,
    issuer: &str,
    claims: &IdClaims,
    signs_in: bool,
) -> DomainResult<(UserRow, bool)> {
    if let Some(user_id) = ctx.store.read(|conn| linked(conn, issuer, &claims.sub))? {
        let user = ctx
            .store
            .read(|conn| Ok::<_, DomainError>(conn.user(&user_id)?))?;
        if signs_in {
            after_commit(ctx, AfterCommit::SignedIn(&user));
        }
        return Ok((user, false));
    }
    let email = match (&claims.email, claims.email_verified) {
        (Some(email), Some(true)) => normalize_email(email),
        _ => return Err(no_verified_email()),
    };
    check_email(&email).map_err(|_| no_verified_email())?;
    let link = |conn: &mut DbConn| -> DomainResult<UserRow> {
        // Another request may have linked it meanwhile.
        if let Some(user_id) = linked(conn, issuer, &claims.sub)? {
            return Ok(conn.user(&user_id)?);
        }
        let now = now_ms();
        let user = match conn.user_by_email(&email)? {
            Some(user) if user.email_verified => user,
            Some(user) => take_over_unverified(conn, user, &NewcomerDetails::default(), None)?,
            None => {
                let user = UserRow::new(
                    new_id(),
                    email.clone(),
                    name_of(claims, &email),
                    None,
                    true,
                    now,
                );
                diesel::insert_into(users::table)
                    .values(&user)
                    .execute(conn)?;
                user
            }
        };
        diesel::insert_into(identities::table)
            .values((
                identities::issuer.eq(issuer),
                identities::subject.eq(&claims.sub),
                identities::user_id.eq(&user.id),
                identities::created_at.eq(now),
            ))
            .execute(conn)?;
        Ok(user)
    };
    // Two first sights at once: the loser of the race finds the winner's link.
    let user = match ctx.store.write(link) {
        Err(DomainError::Store(_)) => ctx.store.write(link)?,
        other => other?,
    };
    after_commit(ctx, AfterCommit::SignedIn(&user));
    Ok((user, true))
}

/// The caller a verified provider token of `issuer` stands for (API.md
/// §9): a session of its account that collabd did not make. `new_token`:
/// the first use of this token here, a sign-in.
pub fn provider_caller(
    ctx: &Ctx,
    issuer: &str,
    claims: &IdClaims,
    new_token: bool,
) -> DomainResult<Caller> {
    let (user, _) = account_of(ctx, issuer, claims, new_token)?;
    Ok(Caller {
        user_id: user.id,
        session_id: None,
        api_key: None,
        named_organization: None,
        provider_token: true,
    })
}
