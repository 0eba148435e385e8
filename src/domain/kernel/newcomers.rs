//! Accounts of people who proved their mailbox with an emailed token they
//! did not necessarily ask for: an unconfirmed account taken over, or a new
//! one made for an invitee.

use diesel::prelude::*;

use super::context::Ctx;
use super::error::DomainResult;
use super::signin::{end_links, end_sessions};
use crate::clock::{new_id, now_ms};
use crate::store::rows::{OrganizationRow, UserRow};
use crate::store::schema::{api_keys, identities, recovery_codes, users};
use crate::store::DbConn;

/// What the person who proved the mailbox chose for the account: by
/// accepting an invite, a name and password; by a reset or sign-in link,
/// nothing (the reset sets its password itself).
#[derive(Default)]
pub struct NewcomerDetails<'a> {
    pub name: Option<&'a str>,
    pub password: Option<&'a str>,
}

/// An account whose address was never confirmed may have been made by
/// someone else with this address (API.md §8 "Proving a mailbox takes an
/// account over"). An emailed token the registrant did not necessarily ask
/// for (a reset, a sign-in link, an invite by token) proves the mailbox, so
/// its holder takes the account over clean: the unproven password, sessions,
/// API keys, second factor, recovery codes, pending links, address change
/// and links to issuers (API.md §9) are dropped, and `password_hash` (if any) replaces the password. Every
/// path that proves a mailbox calls this one function. Memberships stay: a
/// genuine owner who had not confirmed yet keeps them.
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
            users::pending_email.eq(None::<String>),
            users::totp_secret.eq(None::<String>),
            users::totp_enabled.eq(false),
            users::totp_last_step.eq(None::<i64>),
        ))
        .execute(conn)?;
    end_sessions(conn, &user.id, None, now)?;
    diesel::delete(api_keys::table.filter(api_keys::user_id.eq(&user.id))).execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(&user.id)))
        .execute(conn)?;
    end_links(conn, &user.id, now)?;
    // Whoever made the account may have linked it to an issuer of theirs.
    diesel::delete(identities::table.filter(identities::user_id.eq(&user.id))).execute(conn)?;
    Ok(UserRow {
        password_hash,
        name,
        email_verified: true,
        pending_email: None,
        totp_secret: None,
        totp_enabled: false,
        totp_last_step: None,
        ..user
    })
}

/// Makes the verified account of someone who proved their mailbox with an
/// invitation to `organization_name`, and queues the email telling them so.
pub fn provision_invited(
    ctx: &Ctx,
    conn: &mut DbConn,
    email: &str,
    organization: &OrganizationRow,
    newcomer: &NewcomerDetails<'_>,
    password_hash: Option<String>,
    now: i64,
) -> DomainResult<UserRow> {
    let name = newcomer
        .name
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| email.split('@').next().unwrap_or("").to_string());
    let user = UserRow::new(new_id(), email.to_string(), name, password_hash, true, now);
    diesel::insert_into(users::table)
        .values(&user)
        .execute(conn)?;
    super::mailing::queue(
        conn,
        ctx,
        "account_created",
        // A new account says no language: the organization's.
        (&user.email, &[organization.language.as_deref()]),
        &[
            ("organization", super::mailing::text(&organization.name)),
            ("email", super::mailing::text(&user.email)),
            (
                "has_password",
                minijinja::value::Value::from(user.password_hash.is_some()),
            ),
        ],
        None,
    )?;
    Ok(user)
}
