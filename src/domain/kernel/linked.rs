//! Accounts behind identities from elsewhere (API.md §9): a trusted
//! issuer's provider token, an organization's SSO sign-in. An account is
//! linked to each (`iss`, `sub`) it was seen with; on first sight the
//! issuer's verified address finds it (an account never confirmed is taken
//! over, as proving the mailbox does anywhere, §8) or makes it, verified
//! and without a password. The link does not follow later changes of the
//! address claim.
//!
//! An issuer speaks only for the addresses it may vouch for ([`Vouches`]):
//! the operator's for every address; an organization's (chosen by its
//! owner, who may run it) for the addresses at the organization's verified
//! domains. For another address it neither finds an existing account (that
//! would hand anyone's account to whoever runs an issuer) nor makes a
//! verified one: it makes the account unconfirmed, so that the mailbox's
//! real holder takes it over, links and all, when they prove it.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::context::{Ctx, MAX_NAME_CHARS};
use super::error::ConflictReason;
use super::error::{DomainError, DomainResult};
use super::newcomers::{take_over_unverified, NewcomerDetails};
use crate::clock::{new_id, now_ms};
use crate::domain::emails::{check_email, domain_of, normalize_email};
use crate::issuers::IdClaims;
use crate::store::rows::UserRow;
use crate::store::schema::{identities, users};
use crate::store::{DbConn, Lookups, StoreError};

/// The account linked to (`issuer`, `subject`), if any.
pub fn linked(conn: &mut DbConn, issuer: &str, subject: &str) -> DomainResult<Option<String>> {
    Ok(identities::table
        .find((issuer, subject))
        .select(identities::user_id)
        .first(conn)
        .optional()?)
}

/// The addresses an issuer may vouch for.
#[derive(Clone, Copy)]
pub enum Vouches<'a> {
    /// Every address: the operator's trusted issuers.
    All,
    /// The addresses at these domains: an organization's own issuer, for
    /// the organization's verified domains.
    Domains(&'a [String]),
}

impl Vouches<'_> {
    fn covers(self, email: &str) -> bool {
        match self {
            Vouches::All => true,
            Vouches::Domains(domains) => {
                domain_of(email).is_some_and(|d| domains.iter().any(|v| v == d))
            }
        }
    }
}

fn not_vouched() -> DomainError {
    DomainError::conflict(
        ConflictReason::EmailTaken,
        "an account with this address exists, and this organization's identity provider \
         cannot sign in to it: only addresses at the organization's verified domains are \
         its to vouch for. Sign in to the account as usual",
    )
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

/// The account of verified `claims` from `issuer`: the one linked to
/// (`iss`, `sub`) in one statement, else found or made by the verified
/// address and linked (401, and nothing made, without one).
pub fn account_for(
    ctx: &Ctx,
    (issuer, vouches): (&str, Vouches<'_>),
    claims: &IdClaims,
) -> DomainResult<UserRow> {
    let linked_user = ctx.store.read(|conn| {
        Ok::<_, DomainError>(
            identities::table
                .inner_join(users::table.on(users::id.eq(identities::user_id)))
                .filter(identities::issuer.eq(issuer))
                .filter(identities::subject.eq(&claims.sub))
                .select(UserRow::as_select())
                .first(conn)
                .optional()?,
        )
    })?;
    match linked_user {
        Some(user) => Ok(user),
        None => first_sight(ctx, (issuer, vouches), claims),
    }
}

/// The verified address of `claims`, normalized: 401 without one.
pub fn verified_email(claims: &IdClaims) -> DomainResult<String> {
    let email = match (&claims.email, claims.email_verified) {
        (Some(email), Some(true)) => normalize_email(email),
        _ => return Err(no_verified_email()),
    };
    check_email(&email).map_err(|_| no_verified_email())?;
    Ok(email)
}

/// Links (`issuer`, `sub`) to the account of the claims' verified address,
/// found (one never confirmed is taken over) or made.
fn first_sight(
    ctx: &Ctx,
    (issuer, vouches): (&str, Vouches<'_>),
    claims: &IdClaims,
) -> DomainResult<UserRow> {
    let email = verified_email(claims)?;
    let vouched = vouches.covers(&email);
    let link = |conn: &mut DbConn| -> DomainResult<UserRow> {
        // Another request may have linked it meanwhile.
        if let Some(user_id) = linked(conn, issuer, &claims.sub)? {
            return Ok(conn.user(&user_id)?);
        }
        let now = now_ms();
        let user = match conn.user_by_email(&email)? {
            Some(_) if !vouched => return Err(not_vouched()),
            Some(user) if user.email_verified => user,
            Some(user) => take_over_unverified(conn, user, &NewcomerDetails::default(), None)?,
            None => {
                let user = UserRow::new(
                    new_id(),
                    email.clone(),
                    name_of(claims, &email),
                    None,
                    vouched,
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
    // Two first sights at once: the loser of the race (a unique key taken
    // by the winner) finds the winner's link.
    match ctx.store.write(link) {
        Err(DomainError::Store(StoreError::Query(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            _,
        )))) => ctx.store.write(link),
        other => other,
    }
}
