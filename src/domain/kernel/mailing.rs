//! An email queued in the caller's transaction (sent if and only if it
//! commits), rendered from its templates (API.md §13) in the first of the
//! languages the caller names that collabd has, else the default.

use minijinja::value::Value;

use super::context::Ctx;
use super::error::{DomainError, DomainResult};
use crate::mail;
use crate::store::rows::{OrganizationRow, UserRow};
use crate::store::{DbConn, Lookups};
use crate::texts::one_line;

/// Queues the email `kind` to `to` in the first of `languages` collabd has
/// (else the default), with `values` (strings lose their line breaks) and
/// the link it is about.
pub fn queue(
    conn: &mut DbConn,
    ctx: &Ctx,
    kind: &str,
    (to, languages): (&str, &[Option<&str>]),
    values: &[(&str, Value)],
    link: Option<&str>,
) -> DomainResult<()> {
    let language = ctx.texts.pick(languages);
    let values: Vec<(&str, Value)> = values
        .iter()
        .map(|(name, value)| match value.as_str() {
            Some(text) => (*name, Value::from(one_line(text))),
            None => (*name, value.clone()),
        })
        .collect();
    let mail = ctx
        .texts
        .mail(kind, &language, to, &values, link)
        .map_err(DomainError::Internal)?;
    Ok(mail::enqueue(conn, &ctx.outbox_sealer, mail)?)
}

/// A language to set (`user/edit`, `customer/settings`): one collabd has
/// (422 on `language` otherwise); `None` clears it.
pub fn language(ctx: &Ctx, given: Option<&str>) -> DomainResult<Option<String>> {
    match given.map(str::trim) {
        None | Some("") => Ok(None),
        Some(code) if ctx.texts.has(code) => Ok(Some(code.to_string())),
        Some(code) => Err(DomainError::invalid(
            "language",
            format!(
                "collabd has no language {code:?}; it has {}",
                ctx.texts.languages().join(", ")
            ),
        )),
    }
}

/// A change of language as a call gives it: `None` when the call names
/// none, `Some(None)` to clear it (null or empty), else one collabd has,
/// or the one `stored` already: a client that sends an object back as it
/// read it is not refused because a provider removed that language since
/// (emails and pages fall back to the default meanwhile).
pub fn language_change(
    ctx: &Ctx,
    given: Option<Option<&str>>,
    stored: Option<&str>,
) -> DomainResult<Option<Option<String>>> {
    given
        .map(|l| match l.map(str::trim) {
            Some(code) if stored == Some(code) => Ok(Some(code.to_string())),
            other => language(ctx, other),
        })
        .transpose()
}

/// The language of mail to `address` about `organization`: its account's,
/// else (no account) the organization's (API.md §13).
pub fn language_of(
    conn: &mut DbConn,
    address: &str,
    organization: &OrganizationRow,
) -> DomainResult<Option<String>> {
    Ok(match conn.user_by_email(address)? {
        Some(account) => account.language,
        None => organization.language.clone(),
    })
}

/// How an email names a person who acted: their name, and their address
/// unless they never confirmed it ([`crate::texts::Person`]).
pub fn person(account: &UserRow) -> Value {
    crate::texts::person(&account.name, &account.email, account.email_verified)
}

/// A value for a template.
pub fn text(value: impl Into<String>) -> Value {
    Value::from(value.into())
}
