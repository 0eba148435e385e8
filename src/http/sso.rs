//! Organization sign-in (API.md §9): the `customer` endpoints that connect
//! an organization to its company's OpenID provider, and the two browser
//! pages of a sign-in, `GET /sso/{organizationid}` (to the provider) and
//! `GET /sso/callback` (back, with the session).

use actix_web::http::StatusCode;
use actix_web::web::{self, Data};
use actix_web::HttpResponse;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use validator::Validate;

use super::answers::Nothing;
use super::auth::SignedIn;
use super::customer::OrganizationParams;
use super::error::ApiError;
use super::metrics::Metrics;
use super::pages::page;
use super::params::{text, Params};
use super::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read, work::run, work::run_hashing,
};
use crate::domain::permissions::{Need, Permission};
use crate::domain::roles::Role;
use crate::domain::sso::{self, NewSso, Sso, MAX_CLIENT_TEXT};
use crate::domain::{Ctx, DomainError};
use crate::issuers::Refusal as TokenRefusal;
use crate::mail::templates::escape_html;

pub fn register(api: &mut Api<'_>) {
    api.add(&SET, set);
    api.add(&DETAILS, details);
    api.add(&REMOVE, remove);
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
                 it (such as `https://login.acme.com/realms/staff`): an http or https URL \
                 with no credentials, query or fragment (a literal IP address is taken too, \
                 though the pattern leaves addresses out). Its discovery document \
                 (`{issuer}/.well-known/openid-configuration`) is fetched when it is set and \
                 must name this issuer, an authorization endpoint, a token endpoint and a key \
                 set, and take PKCE S256 if it lists methods (422 naming `issuer` \
                 otherwise, or when it cannot be fetched). As for webhooks, loopback, private \
                 and link-local addresses are refused unless \
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
        sign in at `signinurl` (`{public_url}/sso/{organizationid}`) in a browser: the code \
        flow with PKCE S256, `state` and `nonce`, scope `openid email profile`. The account \
        is the one linked to the provider's (`iss`, `sub`), else the one of its verified \
        `email` (made, verified and without a password, when none exists); someone who is \
        no member joins with `role` (audit event `collaborator.joined` with `via` `sso`), \
        except someone removed from the organization or who left it. The page shows a \
        session token made by this organization's SSO, which is what `enforce` asks for. \
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
    discovery.check_for_sign_in().map_err(|why| {
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

const TITLE: &str = "Sign in with your organization";

/// An SSO page that says why it cannot go on, with `status`.
fn refused(status: StatusCode, text: &str) -> HttpResponse {
    page(status, TITLE, &format!("<p>{}</p>", escape_html(text)))
}

/// The page for an error of the API's kinds.
fn refusal(error: &ApiError) -> HttpResponse {
    match error {
        ApiError::NotFound(_) => refused(
            StatusCode::NOT_FOUND,
            "This organization does not sign in through an identity provider.",
        ),
        ApiError::Busy(_) | ApiError::Unavailable(_) => refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "The sign-in cannot begin now; please try again in a moment.",
        ),
        _ => refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong; please try again.",
        ),
    }
}

/// `GET /sso/{organizationid}`: begins a sign-in and sends the browser to
/// the organization's provider (302). 404 page when the organization has no
/// connection, 503 when the provider's discovery document cannot be read.
pub async fn begin_page(ctx: web::Data<Ctx>, organization: web::Path<String>) -> HttpResponse {
    let organization_id = organization.into_inner();
    let id = organization_id.clone();
    let connection = match read(ctx.clone(), move |ctx| sso::connection(ctx, &id)).await {
        Ok(connection) => connection,
        Err(e) => return refusal(&e),
    };
    let discovery = match ctx.issuers.discovery(&connection.issuer, false).await {
        Ok(discovery) => discovery,
        Err(why) => {
            tracing::warn!(issuer = %connection.issuer, error = %why, "an SSO provider's discovery document cannot be read");
            return refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "Your organization's identity provider cannot be reached now; please try again in a moment.",
            );
        }
    };
    if let Err(why) = discovery.check_for_sign_in() {
        tracing::warn!(issuer = %connection.issuer, error = %why, "an SSO provider's discovery document is unusable");
        return refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "Your organization's identity provider is not usable now; please tell its administrator.",
        );
    }
    let client_id = connection.client_id.clone();
    let began = run(ctx, move |ctx| {
        let begun = sso::begin(ctx, &organization_id)?;
        sso::authorization_url(ctx, &discovery, &client_id, &begun)
    })
    .await;
    match began {
        Ok(location) => HttpResponse::Found()
            .insert_header(("Location", location))
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Referrer-Policy", "no-referrer"))
            .finish(),
        Err(e) => refusal(&e),
    }
}

/// What the provider sends back to `/sso/callback`.
#[derive(Debug, Deserialize)]
pub struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// What became of one callback, as `/metrics` counts it.
#[derive(Clone, Copy)]
enum Outcome {
    SignedIn,
    Joined,
    NotAdded,
    BadState,
    ProviderError,
    TokenInvalid,
    NoVerifiedEmail,
    Unavailable,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::SignedIn => "signed_in",
            Outcome::Joined => "joined",
            Outcome::NotAdded => "not_added",
            Outcome::BadState => "bad_state",
            Outcome::ProviderError => "provider_error",
            Outcome::TokenInvalid => "token_invalid",
            Outcome::NoVerifiedEmail => "no_verified_email",
            Outcome::Unavailable => "unavailable",
        }
    }
}

/// `GET /sso/callback`: takes the flow its `state` names (once, within 10
/// minutes), exchanges the code, verifies the ID token, and answers the
/// page with the session; 400 pages for an unknown, used or old state, a
/// provider's error, or an ID token that fails a check.
pub async fn callback_page(
    ctx: web::Data<Ctx>,
    metrics: web::Data<Metrics>,
    query: web::Query<Callback>,
) -> HttpResponse {
    let (outcome, response) = callback(ctx, query.into_inner()).await;
    metrics.sso_signin(outcome.label());
    response
}

/// A callback's answer, and what it counts as.
type Answered = (Outcome, HttpResponse);

fn bad(outcome: Outcome, text: &str) -> Answered {
    (outcome, refused(StatusCode::BAD_REQUEST, text))
}

fn provider_unreachable(issuer: &str, what: &str, why: &str) -> Answered {
    tracing::warn!(issuer, error = %why, "an SSO provider's {what} cannot be fetched");
    (
        Outcome::Unavailable,
        refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "Your organization's identity provider cannot be reached now; begin again in a moment.",
        ),
    )
}

const BEGIN_AGAIN: &str = "Begin again from your organization's sign-in link.";

async fn callback(ctx: web::Data<Ctx>, query: Callback) -> Answered {
    let taken = match take(ctx.clone(), query.state).await {
        Ok(taken) => taken,
        Err(answered) => return answered,
    };
    if let Some(error) = query.error {
        let about = query.error_description.unwrap_or_default();
        return bad(
            Outcome::ProviderError,
            &format!("Your identity provider refused the sign-in: {error} {about}"),
        );
    }
    let Some(code) = query.code.filter(|c| !c.is_empty() && c.len() <= 4096) else {
        return bad(
            Outcome::ProviderError,
            "Your identity provider sent no authorization code.",
        );
    };
    let claims = match claims_of(&ctx, &taken, &code).await {
        Ok(claims) => claims,
        Err(answered) => return answered,
    };
    match run(ctx, move |ctx| sso::finish(ctx, &taken, &claims)).await {
        Ok(done) if done.joined => (Outcome::Joined, signed_in_page(&done)),
        Ok(done) => (Outcome::SignedIn, signed_in_page(&done)),
        Err(ApiError::Unauthenticated(_)) => bad(
            Outcome::NoVerifiedEmail,
            "Your identity provider gave no verified email address, which collabd needs to find \
             or make your account. Ask its administrator to release a verified email.",
        ),
        Err(ApiError::Forbidden(message)) => (
            Outcome::NotAdded,
            refused(StatusCode::FORBIDDEN, &format!("{message}.")),
        ),
        Err(ApiError::NotFound(message)) => {
            bad(Outcome::BadState, &format!("{message}. {BEGIN_AGAIN}"))
        }
        Err(e) => (Outcome::Unavailable, refusal(&e)),
    }
}

/// The flow `state` names, taken once whatever the provider says (a
/// state works once); a 400 page for an unknown, used or old one.
async fn take(ctx: web::Data<Ctx>, state: Option<String>) -> Result<sso::Taken, Answered> {
    let Some(state) = state.filter(|s| super::params::valid_token(s).is_ok()) else {
        return Err(bad(
            Outcome::BadState,
            &format!("This sign-in is unknown. {BEGIN_AGAIN}"),
        ));
    };
    match run(ctx, move |ctx| sso::take(ctx, &state)).await {
        Ok(taken) => Ok(taken),
        Err(ApiError::Gone { message, .. }) | Err(ApiError::NotFound(message)) => {
            Err(bad(Outcome::BadState, &format!("{message}. {BEGIN_AGAIN}")))
        }
        Err(e) => Err((Outcome::Unavailable, refusal(&e))),
    }
}

/// The code exchanged at the provider and its ID token verified: the
/// claims; a 400 page when the provider refuses or the token fails a check,
/// 503 when the provider cannot be reached.
async fn claims_of(
    ctx: &Ctx,
    taken: &sso::Taken,
    code: &str,
) -> Result<crate::issuers::IdClaims, Answered> {
    let issuer = taken.issuer.as_str();
    let discovery = ctx
        .issuers
        .discovery(issuer, false)
        .await
        .map_err(|why| provider_unreachable(issuer, "discovery document", &why))?;
    let id_token = ctx
        .issuers
        .exchange_code(
            &discovery,
            (&taken.client_id, &taken.client_secret),
            code,
            &sso::redirect_uri(ctx),
            &taken.verifier,
        )
        .await
        .map_err(|why| {
            tracing::info!(issuer, error = %why, "an SSO code exchange failed");
            bad(
                Outcome::ProviderError,
                &format!("The sign-in could not be finished: {why}"),
            )
        })?;
    ctx.issuers
        .verify_id_token(&id_token, issuer, &taken.client_id, &taken.nonce)
        .await
        .map_err(|refusal| match refusal {
            TokenRefusal::Invalid(why) => bad(
                Outcome::TokenInvalid,
                &format!("The identity provider's answer does not verify: {why}"),
            ),
            TokenRefusal::Unavailable(why) => provider_unreachable(issuer, "keys", &why),
        })
}

/// The page of a finished sign-in: who, where, the session, what next.
fn signed_in_page(done: &sso::Finished) -> HttpResponse {
    let login = &done.login;
    let organization = escape_html(&done.organization_name);
    let joined = match done.joined {
        true => format!(
            "<p>You joined <strong>{organization}</strong> as <strong>{}</strong>.</p>\n",
            escape_html(&done.role)
        ),
        false => format!(
            "<p>You are a member of <strong>{organization}</strong> as <strong>{}</strong>.</p>\n",
            escape_html(&done.role)
        ),
    };
    let body = format!(
        "<p>You are signed in to collabd as <strong>{name}</strong> \
         (<span id=\"email\">{email}</span>) through {organization}'s identity provider.</p>\n\
         {joined}\
         <p>Your session token, valid until <span id=\"expires\">{expires}</span>:</p>\n\
         <pre id=\"session\">{token}</pre>\n\
         <p>Next: call the API with <code>Authorization: Bearer &lt;token&gt;</code>, such as \
         <code>customer/details?organizationid=<span id=\"organization\">{organizationid}</span></code>. \
         Keep the token secret; <code>user/logout</code> ends it. To sign in again later, open \
         this organization's sign-in link again.</p>",
        name = escape_html(&login.user.name),
        email = escape_html(&login.user.email),
        expires = escape_html(&login.expiresat),
        token = escape_html(&login.token),
        organizationid = escape_html(&done.organization_id),
    );
    page(StatusCode::OK, TITLE, &body)
}
