//! Provider tokens (API.md §9): a trusted issuer's JWT stands for the
//! account linked to its (`iss`, `sub`), found or made on first sight
//! ([`crate::domain::kernel::linked`]), as a session collabd did not make.

use super::kernel::events::{after_commit, AfterCommit};
use super::kernel::linked::{account_for, linked, Vouches};
use super::sessions::Caller;
use super::{Ctx, DomainResult};
use crate::issuers::IdClaims;

fn caller(user_id: String) -> Caller {
    Caller {
        user_id,
        session_id: None,
        api_key: None,
        named_organization: None,
        provider_token: true,
        sso_organization: None,
    }
}

/// The caller a provider token of `issuer` about `subject` stands for (API.md
/// §9), when it is linked: a session of its account that collabd did not
/// make. One read, for every use of a token after its first.
pub fn linked_caller(ctx: &Ctx, issuer: &str, subject: &str) -> DomainResult<Option<Caller>> {
    Ok(ctx
        .store
        .read(|conn| linked(conn, issuer, subject))?
        .map(caller))
}

/// A sign-in with a verified provider token of `issuer` (its first use in
/// this process): the account linked, or found or made on first sight, then
/// what a login runs after it (verified-domain joining).
pub fn sign_in(ctx: &Ctx, issuer: &str, claims: &IdClaims) -> DomainResult<Caller> {
    let user = account_for(ctx, (issuer, Vouches::All), claims)?;
    after_commit(ctx, AfterCommit::SignedIn(&user));
    Ok(caller(user.id))
}
