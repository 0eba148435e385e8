//! The verified-domain endpoints of the `customer` module (API.md §6), and
//! the page the verification link opens.

use crate::domain::permissions::{Need, Permission};
use actix_web::http::StatusCode;
use actix_web::web::{self, Data};
use actix_web::{HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use validator::Validate;

use super::answers::Nothing;
use super::auth::SignedIn;
use super::client_address::ClientAddress;
use super::customer::OrganizationParams;
use super::error::ApiError;
use super::invite::TokenParams;
use super::pages::{language, look_up, page, page_text};
use super::params::{text, valid_email, Params};
use super::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read, work::run,
};
use crate::domain::ownership;
use crate::domain::roles::Role;
use crate::domain::verified_domains::{self, Domain, NewDomain};
use crate::domain::{Ctx, LinkKind};

pub fn register(api: &mut Api<'_>) {
    api.add(&ADD, add);
    api.add(&VERIFY, verify);
    api.add(&LIST, list);
    api.add(&REMOVE, remove);
}

/// The roles a domain may give.
pub struct DomainRole;

impl PartialSchema for DomainRole {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(64))
            .description(Some(
                "The role accounts at the domain join with: `admin`, `technical`, \
                 `collaborator` (never owner), or the name or roleid of one of the \
                 organization's custom roles (422 for another); default `collaborator`. \
                 A role holding a permission the caller lacks answers 403.",
            ))
            .into()
    }
}

impl ToSchema for DomainRole {}

/// A domain name.
pub struct DomainName;

impl PartialSchema for DomainName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(253))
            .pattern(Some(
                "^[\\t-\\r ]*(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])\\.?[\\t-\\r ]*$",
            ))
            .description(Some(
                "An email domain, a host name such as `acme.com`: labels of letters, digits \
                 and inner hyphens, of at most 63 characters, ending in a top-level label \
                 that starts with a letter (stored lower-case; international names in their \
                 punycode form). The domains of public mail providers (gmail.com, \
                 outlook.com, …) cannot be claimed (422).",
            ))
            .into()
    }
}

impl ToSchema for DomainName {}

/// The owner role is refused at once (for domains and SSO connections);
/// another name may be a custom role's, which the organization's roles
/// decide.
pub(super) fn valid_domain_role(role: &str) -> Result<(), validator::ValidationError> {
    match Role::parse(role) {
        Some(system) => ownership::domain_may_give(system),
        None => Ok(()),
    }
    .map_err(|why| validator::ValidationError::new("role").with_message(why.into()))
}

fn valid_domain(domain: &str) -> Result<(), validator::ValidationError> {
    verified_domains::normalize_domain(domain)
        .map(|_| ())
        .map_err(|why| validator::ValidationError::new("domain").with_message(why.into()))
}

/// Parameters of `customer/adddomain`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDomainParams {
    /// Optional with an API key bound to the organization.
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    #[validate(custom(function = "valid_domain"))]
    #[schema(value_type = DomainName, inline)]
    pub domain: String,
    /// An address at the domain, or at one of its subdomains, that receives
    /// the verification link.
    #[validate(custom(function = "valid_email"))]
    #[schema(value_type = text::Email, inline)]
    pub verificationemail: String,
    #[validate(custom(function = "valid_domain_role"))]
    #[schema(value_type = Option<DomainRole>, inline)]
    pub role: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainAnswer {
    pub domain: Domain,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainsAnswer {
    pub domains: Vec<Domain>,
}

const ADD: Endpoint<DomainAnswer> = Endpoint::new(Operation {
    path: "/customer/adddomain",
    operation_id: "customerAdddomain",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::DomainsManage)),
    summary: "Claim an email domain",
    description: "Claims `domain` for the organization and mails the link \
        `{public_url}/domain/{token}` to `verificationemail`, which must be at the domain or one \
        of its subdomains (422 otherwise); the link works for `COLLABD_CONFIRM_TTL_HOURS`. \
        Once verified (`customer/verifydomain`), every account whose verified address is at \
        exactly that domain joins the organization with `role` when it signs in, confirms its \
        address or accepts an invite, unless it is a member already or was removed from the \
        organization, left it, or outlived a time-limited membership. Claiming a domain this \
        organization has pending again sends a new link (the old one ends) and takes the new \
        `role`. 409 `domain_taken` when another organization verified it, 409 \
        `already_verified` when this one did. An organization claims at most 50 domains \
        (422 naming `organizationid`). Each claim counts as a mail to `verificationemail` \
        under `COLLABD_MAILS_PER_ADDRESS_PER_HOUR` (429 past it).",
    params: Some(schema_ref::<AddDomainParams>),
    refusals: &[
        Refusal::Forbidden,
        Refusal::NotFound,
        Refusal::Conflict,
        Refusal::RateLimited,
    ],
});

async fn add(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<AddDomainParams>,
) -> Result<DomainAnswer, ApiError> {
    let domain = run(ctx, move |ctx| {
        let role = p.role.as_deref().unwrap_or(Role::Collaborator.as_str());
        verified_domains::add(
            ctx,
            &caller,
            p.organizationid.as_deref(),
            NewDomain {
                domain: &p.domain,
                verification_email: &p.verificationemail,
                role,
            },
        )
    })
    .await?;
    Ok(DomainAnswer { domain })
}

const VERIFY: Endpoint<DomainAnswer> = Endpoint::new(Operation {
    path: "/customer/verifydomain",
    operation_id: "customerVerifydomain",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Public,
    summary: "Verify a claimed domain",
    description: "Uses the token from the verification email: the domain becomes `verified` \
        for the organization that claimed it. Nobody joins at this moment; accounts at the \
        domain join as they next sign in. An unknown token answers 404, as does one a newer \
        claim replaced; a used one 410 `used`, an expired one 410 `expired`; 409 `domain_taken` when another organization \
        verified the domain first. Past `COLLABD_TOKEN_ATTEMPTS_PER_MINUTE` unknown tokens from \
        one client address it answers 429 until the minute is over.",
    params: Some(schema_ref::<TokenParams>),
    refusals: &[
        Refusal::NotFound,
        Refusal::Conflict,
        Refusal::Gone,
        Refusal::RateLimited,
    ],
});

async fn verify(
    ctx: Data<Ctx>,
    ClientAddress(client): ClientAddress,
    Params(p): Params<TokenParams>,
) -> Result<DomainAnswer, ApiError> {
    let domain = run(ctx, move |ctx| {
        ctx.limits
            .token_call(client, || verified_domains::verify(ctx, &p.token))
    })
    .await?;
    Ok(DomainAnswer { domain })
}

const LIST: Endpoint<DomainsAnswer> = Endpoint::new(Operation {
    path: "/customer/listdomains",
    operation_id: "customerListdomains",
    tag: "customer",
    methods: Methods::GetPost,
    access: Access::Member(Need::Permission(Permission::DomainsRead)),
    summary: "The organization's domains",
    description: "Pending and verified, oldest first, at most 50.",
    params: Some(schema_ref::<OrganizationParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn list(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<OrganizationParams>,
) -> Result<DomainsAnswer, ApiError> {
    let list = read(ctx, move |ctx| {
        verified_domains::list(ctx, &caller, p.organizationid.as_deref())
    })
    .await?;
    Ok(DomainsAnswer { domains: list })
}

/// Names a domain.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainParams {
    #[schema(value_type = text::Id, inline)]
    pub domainid: String,
}

const REMOVE: Endpoint<Nothing> = Endpoint::new(Operation {
    path: "/customer/removedomain",
    operation_id: "customerRemovedomain",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::DomainsManage)),
    summary: "Remove a domain",
    description: "Ends the claim, pending or verified: accounts at the domain no longer join. \
        Nobody who joined by it is removed. Anyone who is not a member of its organization \
        gets 404.",
    params: Some(schema_ref::<DomainParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn remove(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<DomainParams>,
) -> Result<Nothing, ApiError> {
    run(ctx, move |ctx| {
        verified_domains::remove(ctx, &caller, &p.domainid)
    })
    .await?;
    Ok(Nothing {})
}

/// `GET /domain/{token}`: says which organization claims which domain and
/// what verifying means, asks, then says what happens next; in the
/// organization's language, else the browser's.
pub async fn domain_page(
    ctx: web::Data<Ctx>,
    request: HttpRequest,
    client: ClientAddress,
    token: web::Path<String>,
) -> HttpResponse {
    let token = token.into_inner();
    let found = look_up(
        &ctx,
        &request,
        client.0,
        (LinkKind::Domain, &token),
        verified_domains::claim_details,
    );
    let claim = match found.await {
        Ok(claim) => claim,
        Err(page) => return page,
    };
    let language = language(&ctx, &request, claim.language.as_deref());
    let values = [
        ("domain", page_text(&claim.domain.domain)),
        ("organization", page_text(&claim.organization)),
        ("role", page_text(claim.domain.role.as_str())),
        ("token", page_text(&token)),
    ];
    page(&ctx, StatusCode::OK, "domain", &language, &values)
}
