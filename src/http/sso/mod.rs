//! Organization sign-in (API.md §9): the `customer` endpoints that connect
//! an organization to its company's OpenID provider; the two browser pages
//! of a sign-in, `GET /sso/{organizationid}` (to the provider) and
//! `GET /sso/callback` (back, with the session), are in `browser.rs`.

use actix_web::web::Data;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use validator::Validate;

use super::answers::Nothing;
use super::auth::SignedIn;
use super::customer::OrganizationParams;
use super::error::ApiError;
use super::params::{text, Params};
use super::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read, work::run, work::run_hashing,
};
use crate::domain::permissions::{Need, Permission};
use crate::domain::roles::Role;
use crate::domain::sso::{self, NewSso, Sso, MAX_CLIENT_TEXT};
use crate::domain::{Ctx, DomainError};

mod browser;

pub fn register(api: &mut Api<'_>) {
    api.add(&SET, set);
    api.add(&DETAILS, details);
    api.add(&REMOVE, remove);
    browser::register(api);
}

/// The role a newcomer joins as by SSO.
pub struct SsoRole;

impl PartialSchema for SsoRole {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(64))
            .description(Some(
                "What someone who signs in through the organization's provider and is no \
                 member yet joins as: `admin`, `technical`, `collaborator` (never owner), or \
                 the name or roleid of one of the organization's custom roles (422 for \
                 another); default `collaborator`. A role holding a permission the caller \
                 lacks answers 403.",
            ))
            .into()
    }
}

impl ToSchema for SsoRole {}

/// An issuer's URL.
pub struct IssuerUrl;

impl PartialSchema for IssuerUrl {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom("uri".into())))
            .max_length(Some(2048))
            .pattern(Some(super::webhooks::http_url_pattern(false)))
            .description(Some(
                "The company's OpenID Connect issuer, exactly as its ID tokens' `iss` says \
                 it (such as `https://login.acme.com/realms/staff`): an https URL (http too \
                 with `COLLABD_WEBHOOK_ALLOW_PRIVATE`) with no credentials, query or fragment \
                 (a literal IP address is taken too, though the pattern leaves addresses \
                 out). Its discovery document \
                 (`{issuer}/.well-known/openid-configuration`) is fetched when it is set and \
                 must name this issuer, an authorization endpoint, a token endpoint and a key \
                 set (https URLs, as above), and take PKCE S256 if it lists methods (422 naming \
                 `issuer` otherwise, or when it cannot be fetched). As for webhooks, loopback, \
                 private and link-local addresses are refused unless \
                 `COLLABD_WEBHOOK_ALLOW_PRIVATE` is true.",
            ))
            .into()
    }
}

impl ToSchema for IssuerUrl {}

/// A client's id or secret at the provider.
pub struct ClientText;

impl PartialSchema for ClientText {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX_CLIENT_TEXT))
            .pattern(Some("^[^\\u0000-\\u001f\\u007f-\\u009f]+$"))
            .description(Some(
                "As the provider issued it: 1 to 1024 characters, no control characters.",
            ))
            .into()
    }
}

impl ToSchema for ClientText {}

fn valid_client_text(text: &str) -> Result<(), validator::ValidationError> {
    let why = if text.is_empty() {
        Some("required")
    } else if text.chars().count() > MAX_CLIENT_TEXT {
        Some("must be at most 1024 characters")
    } else if text.chars().any(char::is_control) {
        Some("must not hold control characters")
    } else {
        None
    };
    match why {
        Some(why) => Err(validator::ValidationError::new("client").with_message(why.into())),
        None => Ok(()),
    }
}

/// Parameters of `customer/setsso`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSsoParams {
    /// Optional with an API key bound to the organization.
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    #[schema(value_type = IssuerUrl, inline)]
    pub issuer: String,
    #[validate(custom(function = "valid_client_text"))]
    #[schema(value_type = ClientText, inline)]
    pub clientid: String,
    /// Stored sealed; never shown again.
    #[validate(custom(function = "valid_client_text"))]
    #[schema(value_type = ClientText, inline)]
    pub clientsecret: String,
    #[validate(custom(function = "super::verified_domains::valid_domain_role"))]
    #[schema(value_type = Option<SsoRole>, inline)]
    pub role: Option<String>,
    /// When true, members whose verified address is at one of the
    /// organization's verified domains may act in it only with a session its
    /// SSO made (403 `sso_required` otherwise); owners and API keys are
    /// exempt. Default false.
    pub enforce: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoAnswer {
    pub sso: Sso,
}

const SET: Endpoint<SsoAnswer> = Endpoint::new(Operation {
    path: "/customer/setsso",
    operation_id: "customerSetsso",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::SsoManage)),
    summary: "Connect the organization to its company's OpenID provider",
    description: "Sets (or replaces) the organization's sign-in through its company's OpenID \
        Connect provider (API.md §9). Register `redirecturi` of the answer \
        (`{public_url}/sso/callback`) at the provider for the client `clientid`; people then \
        sign in at `{public_url}/sso/{organizationid}` in a browser: the code flow with \
        PKCE S256, `state` and `nonce`, scope `openid email profile`. The account is the one \
        linked to the provider's (`iss`, `sub`), else the one of its verified `email` (made, \
        without a password, when none exists). The provider vouches only for addresses at \
        the organization's verified domains: for another address it never signs in to an \
        existing account, and an account it makes stays unconfirmed until the mailbox's \
        holder proves it (and takes it over). Someone who is no member joins with `role` \
        (audit event `collaborator.joined` with `via` `sso`), except someone removed from \
        the organization or who left it. The page shows a session token made by this \
        organization's SSO, which is what `enforce` asks for (API keys made before \
        enforcement began, bound to the organization, or made by such a session keep \
        working; a key made later by a refused session is refused too). \
        collabd's own second factor is not asked at an SSO sign-in (the provider \
        authenticated the person). The secret is stored sealed and never shown again. \
        Replacing keeps `createdat` and ends sign-ins under way. Owners (`sso:manage`) \
        only; audit event `sso.configured`.",
    params: Some(schema_ref::<SetSsoParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn set(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<SetSsoParams>,
) -> Result<SsoAnswer, ApiError> {
    // The gate first: nobody else makes the server fetch anything.
    let (gate_caller, organization) = (caller.clone(), p.organizationid.clone());
    read(ctx.clone(), move |ctx| {
        sso::authorize_set(ctx, &gate_caller, organization.as_deref())
    })
    .await?;
    let allow_private = ctx.policy.webhook_allow_private;
    let raw = p.issuer.clone();
    // Resolving the host may take seconds: done without a database turn.
    let issuer = run_hashing(ctx.clone(), move |_| sso::check_issuer(&raw, allow_private)).await?;
    let discovery = ctx.issuers.discovery(&issuer, true).await.map_err(|why| {
        ApiError::from(DomainError::invalid(
            "issuer",
            format!("its discovery document cannot be used: {why}"),
        ))
    })?;
    discovery.check_for_sign_in(allow_private).map_err(|why| {
        ApiError::from(DomainError::invalid(
            "issuer",
            format!("its discovery document cannot be used: {why}"),
        ))
    })?;
    let sso = run(ctx, move |ctx| {
        sso::set(
            ctx,
            &caller,
            p.organizationid.as_deref(),
            NewSso {
                issuer: &issuer,
                client_id: &p.clientid,
                client_secret: &p.clientsecret,
                role: p.role.as_deref().unwrap_or(Role::Collaborator.as_str()),
                enforce: p.enforce.unwrap_or(false),
            },
        )
    })
    .await?;
    Ok(SsoAnswer { sso })
}

const DETAILS: Endpoint<SsoAnswer> = Endpoint::new(Operation {
    path: "/customer/ssodetails",
    operation_id: "customerSsodetails",
    tag: "customer",
    methods: Methods::GetPost,
    access: Access::Member(Need::Permission(Permission::DomainsRead)),
    summary: "The organization's SSO connection",
    description: "The connection `customer/setsso` set, never its secret. Owners and admins \
        (`domains:read`, as for the verified domains enforcement depends on) may read it; \
        404 when the organization has none.",
    params: Some(schema_ref::<OrganizationParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn details(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<OrganizationParams>,
) -> Result<SsoAnswer, ApiError> {
    let sso = read(ctx, move |ctx| {
        sso::details(ctx, &caller, p.organizationid.as_deref())
    })
    .await?;
    Ok(SsoAnswer { sso })
}

const REMOVE: Endpoint<Nothing> = Endpoint::new(Operation {
    path: "/customer/removesso",
    operation_id: "customerRemovesso",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::SsoManage)),
    summary: "Disconnect the organization from its OpenID provider",
    description: "Removes the connection: sign-ins under way end, enforcement ends, and \
        sessions its SSO made stay as ordinary sessions. Nobody who joined by it is removed. \
        404 when the organization has none. Owners (`sso:manage`) only; audit event \
        `sso.removed`.",
    params: Some(schema_ref::<OrganizationParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn remove(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<OrganizationParams>,
) -> Result<Nothing, ApiError> {
    run(ctx, move |ctx| {
        sso::remove(ctx, &caller, p.organizationid.as_deref())
    })
    .await?;
    Ok(Nothing {})
}
