//! Verified domains (API.md §6): an owner claims an email domain, an address
//! there proves it by an emailed link, and from then on every account whose
//! verified address is at that domain joins the organization with the
//! domain's role as it signs in (`kernel::events::after_commit`), unless it
//! was removed from the organization or left it
//! (`kernel::membership::record_departure`). Claims (adding, verifying,
//! listing, removing) are here; the names a claim may take in `names.rs`.

mod names;

use crate::domain::kernel::mailing::{self, text};
use crate::domain::LinkKind;
use diesel::prelude::*;
use minijinja::value::Value;
use serde::Serialize;
use utoipa::ToSchema;

use super::access::{self, Hold};
use super::emails::domain_of;
use super::kernel::events::{self, By, DomainAdded, DomainRemoved, DomainVerified};
use super::permissions::Permission;
use super::roles;
use super::sessions::Caller;
use super::tokens::{hash_secret, new_secret};
use super::{
    new_id, normalize_email, now_ms, rfc3339, ConflictReason, Ctx, DomainError, DomainResult,
    GoneReason, MS_PER_HOUR,
};
use crate::store::kinds::{DomainState, LinkPurpose};
use crate::store::link_tokens;
use crate::store::rows::{DomainRow, OrganizationRow, UserRow};
use crate::store::schema::{domains, verified_domains};
use crate::store::{DbConn, Lookups};

pub use names::normalize_domain;

/// Domains one organization may claim.
pub const MAX_PER_ORGANIZATION: i64 = 50;

/// A claimed email domain.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    pub domainid: String,
    pub organizationid: String,
    /// Lower-case, such as `acme.com`.
    pub domain: String,
    /// The role an account at the domain joins with: a system role's name,
    /// or a custom role's.
    pub role: String,
    /// The custom role's id; absent for a system role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roleid: Option<String>,
    /// `pending` until the emailed link is used, then `verified`.
    pub state: DomainState,
    #[schema(format = DateTime)]
    pub createdat: String,
    #[schema(format = DateTime, required = true)]
    pub verifiedat: Option<String>,
}

impl Domain {
    /// `row` as the API shows it, its custom role (if any) named
    /// `custom_role`.
    fn new(row: DomainRow, custom_role: Option<String>) -> Domain {
        let (role, roleid) = match custom_role {
            Some(name) => (name, row.role_id),
            None => (row.role.as_str().to_string(), None),
        };
        Domain {
            domainid: row.id,
            organizationid: row.organization_id,
            domain: row.domain,
            role,
            roleid,
            state: row.state,
            createdat: rfc3339(row.created_at),
            verifiedat: row.verified_at.map(rfc3339),
        }
    }
}

/// `row` as the API shows it, with its custom role's name read.
fn shown(conn: &mut DbConn, row: DomainRow) -> DomainResult<Domain> {
    let custom = match &row.role_id {
        Some(id) => Some(roles::held(conn, &row.organization_id, row.role, Some(id))?),
        None => None,
    };
    Ok(Domain::new(row, custom.map(|c| c.name().to_string())))
}

/// What `customer/adddomain` asks for.
pub struct NewDomain<'a> {
    pub domain: &'a str,
    pub verification_email: &'a str,
    /// A system role's name (never owner), or a custom role's name or roleid.
    pub role: &'a str,
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
    let token = new_secret();
    let now = now_ms();
    let expires_at = now + i64::from(ctx.policy.confirm_ttl_hours) * MS_PER_HOUR;
    ctx.store.write(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Permission::DomainsManage,
            Hold::Exclusive,
        )?;
        let organization_id = member.organization_id().to_string();
        let role = member.joining_role(conn, new.role)?;
        ensure_unverified(conn, &domain, &organization_id)?;
        let row = write_claim(
            conn,
            DomainRow {
                id: new_id(),
                organization_id: organization_id.clone(),
                domain: domain.clone(),
                role: role.system(),
                state: DomainState::Pending,
                verification_email: email.clone(),
                token_hash: hash_secret(&token),
                token_expires_at: expires_at,
                created_at: now,
                verified_at: None,
                role_id: role.role_id().map(str::to_string),
            },
        )?;
        let actor = caller.account(conn)?;
        let organization = conn.organization(&organization_id)?;
        events::record(
            conn,
            &organization_id,
            By::Account(&actor),
            &row.id,
            DomainAdded {
                domain: &row.domain,
                role: role.name(),
                verificationemail: &row.verification_email,
            },
        )?;
        // A claim mails an address anyone may name: counted with the other
        // mails to it (COLLABD_MAILS_PER_ADDRESS_PER_HOUR), once the claim
        // is known to be mailed.
        ctx.limits.mails.hit_on(conn, &email)?;
        queue_claim_mail(
            ctx,
            conn,
            (&row, role.name()),
            &token,
            &actor,
            &organization,
        )?;
        shown(conn, row)
    })
}

/// Queues the mail with the link of claim `row` (its fresh `token`) to its
/// verification address, naming `actor`, who claimed it for `organization`.
fn queue_claim_mail(
    ctx: &Ctx,
    conn: &mut DbConn,
    (row, role): (&DomainRow, &str),
    token: &str,
    actor: &UserRow,
    organization: &OrganizationRow,
) -> DomainResult<()> {
    let link = ctx.policy.link(LinkKind::Domain, token);
    let language = mailing::language_of(conn, &row.verification_email, organization)?;
    mailing::queue(
        conn,
        ctx,
        "verify_domain",
        (&row.verification_email, &[language.as_deref()]),
        &[
            ("domain", text(&row.domain)),
            ("organization", text(&organization.name)),
            ("by", mailing::person(actor)),
            ("role", text(role)),
            ("hours", Value::from(ctx.policy.confirm_ttl_hours)),
        ],
        Some(&link),
    )
}

/// Refuses a claim of `domain` when an organization verified it: this one
/// (409 `already_verified`) or another (409 `domain_taken`).
fn ensure_unverified(conn: &mut DbConn, domain: &str, organization_id: &str) -> DomainResult<()> {
    let verified_elsewhere: Option<String> = verified_domains::table
        .find(domain)
        .select(verified_domains::organization_id)
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
        // The old link ends: it answers as an unknown one.
        link_tokens::forget(conn, &row.token_hash)?;
        link_tokens::issue(
            conn,
            LinkPurpose::Domain,
            &row.organization_id,
            &row.id,
            &claim.token_hash,
        )?;
        diesel::update(domains::table.find((&row.organization_id, &row.id)))
            .set((
                domains::token_hash.eq(&claim.token_hash),
                domains::token_expires_at.eq(claim.token_expires_at),
                domains::verification_email.eq(&claim.verification_email),
                domains::role.eq(claim.role),
                domains::role_id.eq(&claim.role_id),
            ))
            .execute(conn)?;
        return Ok(DomainRow {
            token_hash: claim.token_hash,
            token_expires_at: claim.token_expires_at,
            verification_email: claim.verification_email,
            role: claim.role,
            role_id: claim.role_id,
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
    link_tokens::issue(
        conn,
        LinkPurpose::Domain,
        &claim.organization_id,
        &claim.id,
        &claim.token_hash,
    )?;
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
/// The token is found among every organization's links, and the claim in
/// its own.
fn claim(conn: &mut DbConn, token: &str) -> DomainResult<DomainRow> {
    let unknown = || DomainError::not_found("domain verification link not found");
    let hash = hash_secret(token);
    let link = link_tokens::find(conn, LinkPurpose::Domain, &hash)?.ok_or_else(unknown)?;
    let row: DomainRow = domains::table
        .find((&link.organization_id, &link.target_id))
        .filter(domains::token_hash.eq(&hash))
        .select(DomainRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(unknown)?;
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
pub fn claim_details(ctx: &Ctx, token: &str) -> DomainResult<Claim> {
    ctx.store.read(|conn| {
        let row = claim(conn, token)?;
        let organization = conn.organization(&row.organization_id)?;
        Ok(Claim {
            domain: shown(conn, row)?,
            organization: organization.name,
            language: organization.language,
        })
    })
}

/// A claim as its verification page shows it.
pub struct Claim {
    pub domain: Domain,
    /// The claiming organization's name.
    pub organization: String,
    /// The organization's language, when set: the page's (API.md §13).
    pub language: Option<String>,
}

/// `customer/verifydomain`: the emailed link used.
pub fn verify(ctx: &Ctx, token: &str) -> DomainResult<Domain> {
    let result = ctx.store.write(|conn| {
        let row = claim(conn, token)?;
        conn.share_organization(&row.organization_id)?;
        let row = claim(conn, token)?;
        let taken = verified_domains::table
            .find(&row.domain)
            .count()
            .get_result::<i64>(conn)?;
        if taken > 0 {
            return Err(domain_taken(&row.domain));
        }
        let now = now_ms();
        // One organization per verified domain: the key of this table says
        // so across all of them (a concurrent twin meets it, 409 below).
        diesel::insert_into(verified_domains::table)
            .values((
                verified_domains::domain.eq(&row.domain),
                verified_domains::organization_id.eq(&row.organization_id),
                verified_domains::domain_id.eq(&row.id),
            ))
            .execute(conn)?;
        diesel::update(domains::table.find((&row.organization_id, &row.id)))
            .set((
                domains::state.eq(DomainState::Verified),
                domains::verified_at.eq(now),
            ))
            .execute(conn)?;
        events::record(
            conn,
            &row.organization_id,
            By::Nobody,
            &row.id,
            DomainVerified {
                domain: &row.domain,
                verificationemail: &row.verification_email,
            },
        )?;
        let verified = DomainRow {
            state: DomainState::Verified,
            verified_at: Some(now),
            ..row
        };
        shown(conn, verified)
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
            Permission::DomainsRead,
            Hold::Nothing,
        )?;
        let rows: Vec<DomainRow> = domains::table
            .filter(domains::organization_id.eq(member.organization_id()))
            .order(domains::id.asc())
            .select(DomainRow::as_select())
            .load(conn)?;
        rows.into_iter().map(|row| shown(conn, row)).collect()
    })
}

/// Removes a claim (owners); nobody who joined by it is removed.
pub fn remove(ctx: &Ctx, caller: &Caller, domain_id: &str) -> DomainResult<()> {
    ctx.store.write(|conn| {
        // A domainid alone does not say its organization: this one read
        // looks in every organization's claims (docs/scaling.md).
        let row: DomainRow = domains::table
            .filter(domains::id.eq(domain_id))
            .select(DomainRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| DomainError::not_found("domain not found"))?;
        access::object(
            conn,
            caller,
            &row.organization_id,
            Permission::DomainsManage,
            Hold::Exclusive,
            "domain",
        )?;
        if diesel::delete(domains::table.find((&row.organization_id, &row.id))).execute(conn)? == 0
        {
            // Removed by a concurrent call while this one waited for the lock.
            return Err(DomainError::not_found("domain not found"));
        }
        link_tokens::forget_targets(conn, &row.organization_id, std::slice::from_ref(&row.id))?;
        diesel::delete(
            verified_domains::table
                .find(&row.domain)
                .filter(verified_domains::organization_id.eq(&row.organization_id)),
        )
        .execute(conn)?;
        events::record(
            conn,
            &row.organization_id,
            By::Caller(caller),
            &row.id,
            DomainRemoved {
                domain: &row.domain,
            },
        )
    })
}
