//! Verified domains (API.md §6): an owner claims an email domain, an address
//! there proves it by an emailed link, and from then on every account whose
//! verified address is at that domain joins the organization with the
//! domain's role as it signs in, unless it was removed from the organization
//! or left it ([`record_departure`]).

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::access::{self, Hold};
use super::accounts::load_user;
use super::audit::{self, AuditAction};
use super::roles::{Action, Role};
use super::sessions::Caller;
use super::tokens::{hash_secret, new_secret};
use super::{
    emails, new_id, normalize_email, now_ms, rfc3339, ConflictReason, Ctx, DomainError,
    DomainResult, GoneReason, MS_PER_HOUR,
};
use crate::mail::{self, templates};
use crate::store::kinds::DomainState;
use crate::store::rows::{DepartureRow, DomainRow, MembershipRow, UserRow};
use crate::store::schema::{departures, domains, memberships, organizations};
use crate::store::{share_organization, DbConn};

/// Domains one organization may claim.
pub const MAX_PER_ORGANIZATION: i64 = 50;

/// Domains of public mailbox providers: an address there proves a mailbox,
/// not control of the domain, so none of them can be claimed. A list of the
/// large providers, not of every one: a provider missing here could be
/// claimed by one of its users (a DNS record as proof would close that).
const PUBLIC_PROVIDERS: &[&str] = &[
    "126.com",
    "163.com",
    "aim.com",
    "alice.it",
    "aol.com",
    "arcor.de",
    "att.net",
    "bellsouth.net",
    "bigpond.com",
    "bk.ru",
    "bluewin.ch",
    "blueyonder.co.uk",
    "bol.com.br",
    "btinternet.com",
    "charter.net",
    "comcast.net",
    "cox.net",
    "daum.net",
    "duck.com",
    "earthlink.net",
    "fastmail.com",
    "foxmail.com",
    "free.fr",
    "freenet.de",
    "gmail.com",
    "gmx.at",
    "gmx.ch",
    "gmx.com",
    "gmx.de",
    "gmx.fr",
    "gmx.net",
    "gmx.us",
    "googlemail.com",
    "hanmail.net",
    "hey.com",
    "hispeed.ch",
    "home.nl",
    "hotmail.co.uk",
    "hotmail.com",
    "hotmail.de",
    "hotmail.es",
    "hotmail.fr",
    "hotmail.it",
    "hushmail.com",
    "icloud.com",
    "ig.com.br",
    "inbox.com",
    "inbox.ru",
    "interia.pl",
    "kpnmail.nl",
    "laposte.net",
    "libero.it",
    "list.ru",
    "live.co.uk",
    "live.com",
    "live.com.mx",
    "live.de",
    "live.fr",
    "live.nl",
    "mac.com",
    "mail.com",
    "mail.ee",
    "mail.ru",
    "mailbox.org",
    "me.com",
    "msn.com",
    "naver.com",
    "ntlworld.com",
    "o2.pl",
    "onet.pl",
    "optusnet.com.au",
    "orange.fr",
    "outlook.com",
    "outlook.com.br",
    "outlook.de",
    "outlook.es",
    "outlook.fr",
    "outlook.it",
    "passport.com",
    "planet.nl",
    "pm.me",
    "posteo.de",
    "prodigy.net.mx",
    "proton.me",
    "protonmail.ch",
    "protonmail.com",
    "qq.com",
    "rambler.ru",
    "rediffmail.com",
    "rocketmail.com",
    "rogers.com",
    "sbcglobal.net",
    "seznam.cz",
    "sfr.fr",
    "shaw.ca",
    "sina.com",
    "sky.com",
    "skynet.be",
    "sohu.com",
    "sympatico.ca",
    "t-online.de",
    "talktalk.net",
    "telenet.be",
    "terra.com.br",
    "tiscali.it",
    "tuta.io",
    "tutanota.com",
    "tutanota.de",
    "ukr.net",
    "uol.com.br",
    "verizon.net",
    "virgilio.it",
    "virginmedia.com",
    "wanadoo.fr",
    "web.de",
    "windowslive.com",
    "wp.pl",
    "ya.ru",
    "yahoo.ca",
    "yahoo.co.in",
    "yahoo.co.jp",
    "yahoo.co.uk",
    "yahoo.com",
    "yahoo.com.au",
    "yahoo.com.br",
    "yahoo.de",
    "yahoo.es",
    "yahoo.fr",
    "yahoo.it",
    "yandex.com",
    "yandex.ru",
    "yandex.ua",
    "yeah.net",
    "ymail.com",
    "ziggo.nl",
    "zoho.com",
    "zohomail.com",
];

/// A claimed email domain.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    pub domainid: String,
    pub organizationid: String,
    /// Lower-case, such as `acme.com`.
    pub domain: String,
    /// The role an account at the domain joins with.
    pub role: Role,
    /// `pending` until the emailed link is used, then `verified`.
    pub state: DomainState,
    #[schema(format = DateTime)]
    pub createdat: String,
    #[schema(format = DateTime, required = true)]
    pub verifiedat: Option<String>,
}

impl From<DomainRow> for Domain {
    fn from(row: DomainRow) -> Domain {
        Domain {
            domainid: row.id,
            organizationid: row.organization_id,
            domain: row.domain,
            role: row.role,
            state: row.state,
            createdat: rfc3339(row.created_at),
            verifiedat: row.verified_at.map(rfc3339),
        }
    }
}

/// `domain` as stored: trimmed, without a final dot, in IDNA ASCII form
/// (lower-case, punycode for an international name), as the domains of
/// addresses are kept; or why it cannot be claimed.
pub fn normalize_domain(domain: &str) -> Result<String, String> {
    let domain = domain.trim().trim_end_matches('.');
    if domain.chars().any(emails::is_invisible) {
        return Err(emails::INVISIBLE.into());
    }
    let Ok(domain) = idna::domain_to_ascii(domain) else {
        return Err("must be a domain name such as acme.com".into());
    };
    if domain.len() > 253 {
        return Err("must be at most 253 characters".into());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("must be a domain name such as acme.com".into());
    }
    for label in &labels {
        let well_formed = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !well_formed {
            return Err(
                "must be a domain name: labels of letters, digits and inner hyphens".into(),
            );
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("must be a domain name, not an address".into());
    }
    if PUBLIC_PROVIDERS.contains(&domain.as_str()) {
        return Err(
            "belongs to a public email provider: an address there proves a mailbox, not the \
             domain"
                .into(),
        );
    }
    Ok(domain)
}

/// The part of an address after its last `@`, lower-case.
fn domain_of(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(_, domain)| domain)
}

/// What `customer/adddomain` asks for.
pub struct NewDomain<'a> {
    pub domain: &'a str,
    pub verification_email: &'a str,
    pub role: Role,
}

/// Claims a domain for the organization (owners) and mails the link to the
/// verification address. Claiming again a domain still pending sends a new
/// link, and the old one ends.
pub fn add(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    new: NewDomain<'_>,
) -> DomainResult<Domain> {
    let domain = normalize_domain(new.domain).map_err(|why| DomainError::invalid("domain", why))?;
    let email = normalize_email(new.verification_email);
    let at_domain =
        domain_of(&email).is_some_and(|d| d == domain || d.ends_with(&format!(".{domain}")));
    if !at_domain {
        return Err(DomainError::invalid(
            "verificationemail",
            format!("must be an address at {domain} or one of its subdomains"),
        ));
    }
    super::ownership::domain_may_give(new.role).map_err(|why| DomainError::invalid("role", why))?;
    let token = new_secret();
    let now = now_ms();
    let expires_at = now + i64::from(ctx.policy.confirm_ttl_hours) * MS_PER_HOUR;
    let result: DomainResult<Domain> = ctx.store.write(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Action::ManageDomains,
            Hold::Exclusive,
        )?;
        let organization_id = member.organization_id().to_string();
        ensure_unverified(conn, &domain, &organization_id)?;
        let row = write_claim(
            conn,
            DomainRow {
                id: new_id(),
                organization_id: organization_id.clone(),
                domain: domain.clone(),
                role: new.role,
                state: DomainState::Pending,
                verification_email: email.clone(),
                token_hash: hash_secret(&token),
                token_expires_at: expires_at,
                created_at: now,
                verified_at: None,
            },
        )?;
        let actor = load_user(conn, &caller.user_id)?;
        let organization: String = organizations::table
            .find(&organization_id)
            .select(organizations::name)
            .first(conn)?;
        audit::record(
            conn,
            &organization_id,
            Some(&actor),
            AuditAction::DomainAdded,
            &row.id,
            serde_json::json!({
                "domain": row.domain,
                "role": row.role,
                "verificationemail": row.verification_email,
            }),
        )?;
        // A claim mails an address anyone may name: counted with the other
        // mails to it (COLLABD_MAILS_PER_ADDRESS_PER_HOUR), once the claim
        // is known to be mailed.
        ctx.limits.mails.hit(&email)?;
        queue_claim_mail(ctx, conn, &row, &token, &actor, &organization)?;
        Ok(Domain::from(row))
    });
    let domain_row = result?;
    ctx.mail_queued();
    Ok(domain_row)
}

/// Queues the mail with the link of claim `row` (its fresh `token`) to its
/// verification address, naming `actor`, who claimed it for `organization`.
fn queue_claim_mail(
    ctx: &Ctx,
    conn: &mut DbConn,
    row: &DomainRow,
    token: &str,
    actor: &UserRow,
    organization: &str,
) -> DomainResult<()> {
    let link = format!("{}/domain/{token}", ctx.policy.public_url);
    mail::enqueue(
        conn,
        &ctx.outbox_sealer,
        templates::verify_domain(&templates::DomainClaim {
            to: &row.verification_email,
            domain: &row.domain,
            organization,
            by_name: &actor.name,
            by_email: &actor.email,
            role: row.role.as_str(),
            link: &link,
            hours: ctx.policy.confirm_ttl_hours,
        }),
    )?;
    Ok(())
}

/// Refuses a claim of `domain` when an organization verified it: this one
/// (409 `already_verified`) or another (409 `domain_taken`).
fn ensure_unverified(conn: &mut DbConn, domain: &str, organization_id: &str) -> DomainResult<()> {
    let verified_elsewhere: Option<String> = domains::table
        .filter(domains::domain.eq(domain))
        .filter(domains::state.eq(DomainState::Verified))
        .select(domains::organization_id)
        .first(conn)
        .optional()?;
    match verified_elsewhere {
        Some(holder) if holder == organization_id => Err(DomainError::conflict(
            ConflictReason::AlreadyVerified,
            format!("{domain} is verified for this organization already"),
        )),
        Some(_) => Err(domain_taken(domain)),
        None => Ok(()),
    }
}

/// Writes the claim `claim` stands for: over the organization's pending
/// claim of the same domain (its new token, address and role; the old link
/// ends), or as a new claim within [`MAX_PER_ORGANIZATION`] (422 past it).
/// The row as written.
fn write_claim(conn: &mut DbConn, claim: DomainRow) -> DomainResult<DomainRow> {
    let existing: Option<DomainRow> = domains::table
        .filter(domains::organization_id.eq(&claim.organization_id))
        .filter(domains::domain.eq(&claim.domain))
        .select(DomainRow::as_select())
        .first(conn)
        .optional()?;
    if let Some(row) = existing {
        diesel::update(domains::table.find(&row.id))
            .set((
                domains::token_hash.eq(&claim.token_hash),
                domains::token_expires_at.eq(claim.token_expires_at),
                domains::verification_email.eq(&claim.verification_email),
                domains::role.eq(claim.role),
            ))
            .execute(conn)?;
        return Ok(DomainRow {
            verification_email: claim.verification_email,
            role: claim.role,
            ..row
        });
    }
    let count: i64 = domains::table
        .filter(domains::organization_id.eq(&claim.organization_id))
        .count()
        .get_result(conn)?;
    if count >= MAX_PER_ORGANIZATION {
        return Err(DomainError::invalid(
            "organizationid",
            format!(
                "an organization claims at most {MAX_PER_ORGANIZATION} domains; remove one first"
            ),
        ));
    }
    diesel::insert_into(domains::table)
        .values(&claim)
        .execute(conn)?;
    Ok(claim)
}

fn domain_taken(domain: &str) -> DomainError {
    DomainError::conflict(
        ConflictReason::DomainTaken,
        format!("{domain} is verified for another organization"),
    )
}

/// The claim an emailed token stands for: unknown 404, used 410 `used`,
/// expired (or replaced) 410 `expired`.
fn claim(conn: &mut DbConn, token: &str) -> DomainResult<DomainRow> {
    let row: DomainRow = domains::table
        .filter(domains::token_hash.eq(hash_secret(token)))
        .select(DomainRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| DomainError::not_found("domain verification link not found"))?;
    if row.state == DomainState::Verified {
        return Err(DomainError::Gone {
            reason: GoneReason::Used,
            message: format!("{} is verified already; this link was used", row.domain),
        });
    }
    if row.token_expires_at <= now_ms() {
        return Err(DomainError::Gone {
            reason: GoneReason::Expired,
            message: "this verification link has expired; claim the domain again for a new one"
                .into(),
        });
    }
    Ok(row)
}

/// What a verification link is about, without using it (the page shows
/// it): the domain, the organization's name and the role.
pub fn claim_details(ctx: &Ctx, token: &str) -> DomainResult<(Domain, String)> {
    ctx.store.read(|conn| {
        let row = claim(conn, token)?;
        let organization: String = organizations::table
            .find(&row.organization_id)
            .select(organizations::name)
            .first(conn)?;
        Ok((Domain::from(row), organization))
    })
}

/// `customer/verifydomain`: the emailed link used.
pub fn verify(ctx: &Ctx, token: &str) -> DomainResult<Domain> {
    let result = ctx.store.write(|conn| {
        let row = claim(conn, token)?;
        share_organization(conn, &row.organization_id)?;
        let row = claim(conn, token)?;
        let taken = domains::table
            .filter(domains::domain.eq(&row.domain))
            .filter(domains::state.eq(DomainState::Verified))
            .count()
            .get_result::<i64>(conn)?;
        if taken > 0 {
            return Err(domain_taken(&row.domain));
        }
        let now = now_ms();
        diesel::update(domains::table.find(&row.id))
            .set((
                domains::state.eq(DomainState::Verified),
                domains::verified_at.eq(now),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &row.organization_id,
            None,
            AuditAction::DomainVerified,
            &row.id,
            serde_json::json!({
                "domain": row.domain,
                "verificationemail": row.verification_email,
            }),
        )?;
        Ok(Domain::from(DomainRow {
            state: DomainState::Verified,
            verified_at: Some(now),
            ..row
        }))
    });
    match result {
        // Verified for another organization at the same moment.
        Err(DomainError::Store(e)) if e.is_unique_violation() => Err(DomainError::conflict(
            ConflictReason::DomainTaken,
            "this domain was verified for another organization at the same moment",
        )),
        other => other,
    }
}

/// The organization's domains, oldest first (owners and admins).
pub fn list(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
) -> DomainResult<Vec<Domain>> {
    ctx.store.read(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Action::ListDomains,
            Hold::Nothing,
        )?;
        let rows: Vec<DomainRow> = domains::table
            .filter(domains::organization_id.eq(member.organization_id()))
            .order(domains::id.asc())
            .select(DomainRow::as_select())
            .load(conn)?;
        Ok(rows.into_iter().map(Domain::from).collect())
    })
}

/// Removes a claim (owners); nobody who joined by it is removed.
pub fn remove(ctx: &Ctx, caller: &Caller, domain_id: &str) -> DomainResult<()> {
    ctx.store.write(|conn| {
        let row: DomainRow = domains::table
            .find(domain_id)
            .select(DomainRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| DomainError::not_found("domain not found"))?;
        access::object(
            conn,
            caller,
            &row.organization_id,
            Action::ManageDomains,
            Hold::Exclusive,
            "domain",
        )?;
        if diesel::delete(domains::table.find(&row.id)).execute(conn)? == 0 {
            // Removed by a concurrent call while this one waited for the lock.
            return Err(DomainError::not_found("domain not found"));
        }
        let actor = load_user(conn, &caller.user_id)?;
        audit::record(
            conn,
            &row.organization_id,
            Some(&actor),
            AuditAction::DomainRemoved,
            &row.id,
            serde_json::json!({"domain": row.domain}),
        )
    })
}

/// Notes that the account `user_id` at `email` is no longer a member of
/// `organization_id` (removed, left, outlived the membership or closed the
/// account): a verified domain never adds it again, by account or by address.
pub fn record_departure(
    conn: &mut DbConn,
    organization_id: &str,
    user_id: &str,
    email: &str,
    now: i64,
) -> DomainResult<()> {
    crate::store::execute(
        conn,
        diesel::insert_into(departures::table)
            .values(DepartureRow {
                organization_id: organization_id.to_string(),
                email: email.to_string(),
                user_id: user_id.to_string(),
                departed_at: now,
            })
            .on_conflict_do_nothing(),
    )?;
    Ok(())
}

/// The verified domain that would add `user` to its organization now: the
/// address is verified and at that domain, the account is no member (any
/// membership row counts, even one past its end the sweep has not reached:
/// that is a departure about to be recorded), and it never departed.
fn joinable(conn: &mut DbConn, user: &UserRow) -> DomainResult<Option<DomainRow>> {
    if !user.email_verified {
        return Ok(None);
    }
    let Some(domain) = domain_of(&user.email) else {
        return Ok(None);
    };
    let Some(row) = domains::table
        .filter(domains::domain.eq(domain))
        .filter(domains::state.eq(DomainState::Verified))
        .select(DomainRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let member: i64 = memberships::table
        .filter(memberships::organization_id.eq(&row.organization_id))
        .filter(memberships::user_id.eq(&user.id))
        .count()
        .get_result(conn)?;
    if member > 0 {
        return Ok(None);
    }
    let departed: i64 = departures::table
        .filter(departures::organization_id.eq(&row.organization_id))
        .filter(
            departures::user_id
                .eq(&user.id)
                .or(departures::email.eq(&user.email)),
        )
        .count()
        .get_result(conn)?;
    Ok((departed == 0).then_some(row))
}

/// Adds the account to the organization that verified the domain of its
/// address, with the domain's role, when [`joinable`] says so; returns the
/// organization joined. Called once a sign-in, an address confirmation or
/// an invite acceptance has committed, in a transaction of its own (so it
/// holds no lock of theirs and cannot fail them): a failure is logged, and
/// the next sign-in tries again.
pub fn join_by_domain(ctx: &Ctx, user: &UserRow) -> Option<String> {
    match try_join(ctx, user) {
        Ok(joined) => joined,
        Err(e) => {
            tracing::warn!(error = %e, user = %user.id, "joining by verified domain failed; the next sign-in tries again");
            None
        }
    }
}

fn try_join(ctx: &Ctx, user: &UserRow) -> DomainResult<Option<String>> {
    if !user.email_verified {
        return Ok(None);
    }
    // Without locks first: most accounts are at no verified domain.
    let found = ctx.store.read(|conn| joinable(conn, user))?;
    let Some(found) = found else {
        return Ok(None);
    };
    ctx.store.write(|conn| {
        // Under the organization's lock, as every membership change takes
        // it; then everything again (a removal or a claim's end may have
        // committed meanwhile).
        share_organization(conn, &found.organization_id)?;
        let user = load_user(conn, &user.id)?;
        let Some(row) = joinable(conn, &user)? else {
            return Ok(None);
        };
        if row.organization_id != found.organization_id {
            // The domain moved to another organization meanwhile, whose
            // lock this does not hold: the next sign-in joins that one.
            return Ok(None);
        }
        let now = now_ms();
        let membership = MembershipRow {
            id: new_id(),
            organization_id: row.organization_id.clone(),
            user_id: user.id.clone(),
            role: row.role,
            can_create_projects: false,
            created_at: now,
            expires_at: None,
        };
        // A concurrent sign-in of the same account may have added it.
        let added = crate::store::execute(
            conn,
            diesel::insert_into(memberships::table)
                .values(&membership)
                .on_conflict_do_nothing(),
        )?;
        if added == 0 {
            return Ok(None);
        }
        audit::record(
            conn,
            &row.organization_id,
            Some(&user),
            AuditAction::CollaboratorJoined,
            &membership.id,
            serde_json::json!({
                "userid": user.id,
                "email": user.email,
                "role": row.role,
                "domain": row.domain,
                "domainid": row.id,
            }),
        )?;
        Ok(Some(row.organization_id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalized_or_refused() {
        assert_eq!(normalize_domain(" Acme.COM. ").as_deref(), Ok("acme.com"));
        for spelling in [
            "bücher.de",
            "BÜCHER.de",
            "xn--bcher-kva.de",
            "bu\u{308}cher.de",
        ] {
            assert_eq!(
                normalize_domain(spelling).as_deref(),
                Ok("xn--bcher-kva.de")
            );
        }
        assert_eq!(
            normalize_domain("eu.acme-corp.io").as_deref(),
            Ok("eu.acme-corp.io")
        );
        for refused in [
            "acme",
            "",
            "-acme.com",
            "acme-.com",
            "ac me.com",
            "acme..com",
            "10.0.0.1",
            "gmail.com",
            "GMAIL.com",
            "exa\u{200B}mple.org",
            "exa\u{202E}mple.org",
            "xn--abc.org",
            "user@acme.com",
        ] {
            assert!(normalize_domain(refused).is_err(), "{refused}");
        }
    }
}
