//! The browser side of organization sign-in (API.md §9), served from the
//! endpoint table outside the envelope: `GET /sso/{organizationid}` sends the
//! browser to the organization's provider (302), `GET /sso/callback` takes
//! it back and answers a page with the session. Every refusal is a page too
//! ([`Browser`]): 400 for a state that is unknown, used or old, a provider's
//! error, or an ID token that fails a check; 403 for someone SSO does not
//! add again; 404 for an organization without SSO; 503 when the provider
//! cannot be reached.

use actix_web::http::StatusCode;
use actix_web::web::{self, Data, Path};
use actix_web::{HttpMessage, HttpRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::super::error::ApiError;
use super::super::metrics::Metrics;
use super::super::pages::{language, page, page_text, render, PAGE_HEADERS};
use super::super::wire::{Page, RedirectSetting, Wire};
use super::super::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read, work::run,
};
use crate::domain::sso;
use crate::domain::tokens::new_secret;
use crate::domain::Ctx;
use crate::issuers::{IdClaims, Refusal as TokenRefusal};
use minijinja::value::Value;

pub(super) fn register(api: &mut Api<'_>) {
    // The callback first: `/sso/{organizationid}` would take `callback` as
    // an organization's id.
    api.add_own(&CALLBACK, callback);
    api.add_own(&BEGIN, begin);
}

/// The pages of a sign-in: HTML for a person, a refusal a page as well.
pub struct Browser;

/// A page that says why a sign-in cannot go on (HTML).
#[derive(Serialize, ToSchema)]
pub struct ErrorPage(String);

impl Wire for Browser {
    const MEDIA_TYPE: &'static str = "text/html";
    type Error = ErrorPage;
    const HEADERS: &'static [(&'static str, &'static str)] = &PAGE_HEADERS;

    /// The page `page/sso_refused.html` in the browser's language: what
    /// the handler said of the refusal ([`Said`]), else what its kind says.
    fn error(error: &ApiError, _: StatusCode, request: &HttpRequest) -> ErrorPage {
        let said = request.extensions().get::<Said>().cloned();
        let said = said.unwrap_or_else(|| said_of(error));
        let Some(ctx) = request.app_data::<Data<Ctx>>() else {
            tracing::error!("a sign-in page without the server's context");
            return ErrorPage(String::new());
        };
        let language = language(ctx, request, None);
        let values = [
            ("reason", Value::from(said.reason)),
            ("detail", page_text(&said.detail)),
            ("email", page_text(&said.email)),
            ("organization", page_text(&said.organization)),
        ];
        ErrorPage(render(ctx, "sso_refused", &language, &values).unwrap_or_default())
    }

    fn body(error: &ErrorPage) -> Result<Vec<u8>, String> {
        Ok(error.0.clone().into_bytes())
    }

    fn describe(status: StatusCode) -> &'static str {
        match status.as_u16() {
            400 => {
                "A page: the sign-in's state is unknown, used or older than 10 minutes, \
                the provider refused the sign-in, or its ID token fails a check. Nothing is made."
            }
            403 => {
                "A page: the person was removed from the organization or left it, and \
                signing in does not add them again; or an account with the address exists and \
                the address is not at one of the organization's verified domains, which are \
                all its provider may vouch for. No session."
            }
            404 => "A page: the organization does not exist or has no SSO connection.",
            503 => "A page: the organization's identity provider cannot be reached now.",
            _ => status.canonical_reason().unwrap_or("A page."),
        }
    }
}

/// What a refused sign-in's page says: why (one of
/// [`crate::texts::SSO_REFUSALS`]) and the provider's or the check's own
/// words, kept in the request for [`Browser::error`].
#[derive(Clone, Debug, Default)]
struct Said {
    reason: &'static str,
    detail: String,
    /// The provider's address and the organization's name, for `not_added`.
    email: String,
    organization: String,
}

/// What the page of a refusal no handler described says, by its kind.
fn said_of(error: &ApiError) -> Said {
    let (reason, detail) = match error {
        ApiError::NotFound(_) => ("no_sso", String::new()),
        ApiError::Unavailable(_) | ApiError::Busy(_) => ("unavailable", String::new()),
        ApiError::Internal(_) => ("internal", String::new()),
        other => ("other", other.to_string()),
    };
    Said {
        reason,
        detail,
        ..Said::default()
    }
}

static BEGIN: Endpoint<RedirectSetting, Browser> = Endpoint::new(Operation {
    path: "/sso/{organizationid}",
    operation_id: "ssoBegin",
    tag: "customer",
    methods: Methods::Get,
    access: Access::Public,
    summary: "Begin signing in through the organization's identity provider",
    description: "For a browser: answers 302 to the authorization endpoint of the provider \
        `customer/setsso` connected (from its discovery document), with the authorization \
        code flow's parameters: `response_type=code`, `client_id`, `redirect_uri` \
        (`{public_url}/sso/callback`), `scope=openid email profile`, a `state` and a \
        `nonce` (each single use, for 10 minutes, kept in the database so that any process \
        can finish the sign-in), and a PKCE S256 `code_challenge`. It sets the cookie \
        `collabd_sso` (HttpOnly, SameSite=Lax, path `/sso`, 10 minutes; kept if the browser \
        has one): only the browser that began a sign-in can finish it. A 404 page when the \
        organization has no SSO connection (or does not exist), 503 when the provider's \
        discovery document cannot be read.",
    params: None,
    refusals: &[Refusal::NotFound],
});

async fn begin(
    ctx: Data<Ctx>,
    organization: Path<String>,
    request: HttpRequest,
) -> Result<RedirectSetting, ApiError> {
    let organization_id = organization.into_inner();
    let id = organization_id.clone();
    let connection = read(ctx.clone(), move |ctx| sso::connection(ctx, &id)).await?;
    let issuer = connection.issuer.as_str();
    let discovery = ctx
        .issuers
        .discovery(issuer, false)
        .await
        .and_then(|d| {
            d.check_for_sign_in(ctx.policy.webhook_allow_private)
                .map(|_| d)
        })
        .map_err(|why| unreachable(issuer, "discovery document", &why))?;
    let client_id = connection.client_id.clone();
    let browser = browser_of(&request).unwrap_or_else(new_secret);
    let cookie = cookie_for(&ctx, &browser);
    let location = run(ctx, move |ctx| {
        let begun = sso::begin(ctx, &organization_id, &browser)?;
        sso::authorization_url(ctx, &discovery, &client_id, &begun)
    })
    .await?;
    Ok(RedirectSetting(location, cookie))
}

/// The cookie that ties a sign-in to the browser that began it.
const COOKIE: &str = "collabd_sso";

/// The browser's `collabd_sso` cookie, when it holds a well-formed one.
fn browser_of(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|value| super::super::params::valid_token(value).is_ok() && value.len() >= 43)
}

/// `Set-Cookie` for `browser`: for the sign-in pages only, 10 minutes, out
/// of scripts' reach, sent back on the provider's redirect (Lax), and only
/// over https when the server is served so.
fn cookie_for(ctx: &Ctx, browser: &str) -> String {
    let secure = match ctx.policy.public_url.starts_with("https://") {
        true => "; Secure",
        false => "",
    };
    format!("{COOKIE}={browser}; Path=/sso; Max-Age=600; HttpOnly; SameSite=Lax{secure}")
}

/// What the provider sends back to `/sso/callback` (RFC 6749 §4.1.2, RFC
/// 9207's `iss`). Other parameters a provider adds are passed over.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CallbackParams {
    /// The state `GET /sso/{organizationid}` sent.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,128}$")]
    state: Option<String>,
    /// The authorization code, on success.
    code: Option<String>,
    /// The provider's error code (`access_denied`, …), on failure.
    error: Option<String>,
    error_description: Option<String>,
    /// The issuer that answers (RFC 9207).
    iss: Option<String>,
}

static CALLBACK: Endpoint<Page, Browser> = Endpoint::new(Operation {
    path: "/sso/callback",
    operation_id: "ssoCallback",
    tag: "customer",
    methods: Methods::Get,
    access: Access::Public,
    summary: "Finish signing in through the organization's identity provider",
    description: "Where the provider sends the browser back. Takes the sign-in its `state` \
        names (once, within 10 minutes), exchanges `code` at the provider's token endpoint \
        with the client secret and the PKCE verifier, and verifies the ID token (the \
        provider's keys, `iss` the connection's issuer, `aud` its client id, the `nonce` \
        sent, `exp`/`nbf` with 60 s of leeway). The account is the one linked to the \
        provider's (`iss`, `sub`), else the one of its verified `email`, else a new one \
        (without a password, named by `name`; verified when the address is at one of the \
        organization's verified domains, the only addresses its provider vouches for: for \
        another, an existing account is never signed in to, 403); without a verified email \
        nothing is made. Only the browser that began the sign-in (its `collabd_sso` cookie) \
        finishes it, and an `iss` naming another issuer (RFC 9207) is refused before the code \
        goes anywhere. Someone who is no member joins with the connection's role \
        (`collaborator.joined` with `via` `sso`), unless they were removed from the \
        organization or left it (403 page, no session). The page names the account and the \
        organization and shows a new session token made by this organization's SSO, which \
        is what enforcement asks for, and what to do next. `/metrics` counts each callback \
        in `collabd_sso_signins_total` by `outcome`.",
    params: Some(schema_ref::<CallbackParams>),
    refusals: &[Refusal::Forbidden],
});

/// What became of one callback, as `/metrics` counts it.
#[derive(Clone, Copy)]
enum Outcome {
    SignedIn,
    Joined,
    NotAdded,
    NotLinked,
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
            Outcome::NotLinked => "not_linked",
            Outcome::BadState => "bad_state",
            Outcome::ProviderError => "provider_error",
            Outcome::TokenInvalid => "token_invalid",
            Outcome::NoVerifiedEmail => "no_verified_email",
            Outcome::Unavailable => "unavailable",
        }
    }
}

async fn callback(
    ctx: Data<Ctx>,
    metrics: Data<Metrics>,
    query: web::Query<CallbackParams>,
    request: HttpRequest,
) -> Result<Page, ApiError> {
    let browser = browser_of(&request);
    match signed_in(ctx, query.into_inner(), browser, &request).await {
        Ok((outcome, page)) => {
            metrics.sso_signin(outcome.label());
            Ok(page)
        }
        Err((outcome, error, said)) => {
            metrics.sso_signin(outcome.label());
            request.extensions_mut().insert(said);
            Err(error)
        }
    }
}

/// A refusal: what it counts as, the error (its status), and what its page
/// says.
type Refused = (Outcome, ApiError, Said);

/// A 400: the sign-in cannot go on for `reason`, with `detail`.
fn bad(outcome: Outcome, reason: &'static str, detail: impl Into<String>) -> Refused {
    let detail = detail.into();
    let error = ApiError::InvalidRequest(format!("{reason} {detail}").trim_end().to_string());
    let said = Said {
        reason,
        detail,
        ..Said::default()
    };
    (outcome, error, said)
}

/// A 403: the account may not sign in to the organization, for `reason`.
fn refused(outcome: Outcome, reason: &'static str, message: String) -> Refused {
    let said = Said {
        reason,
        ..Said::default()
    };
    (outcome, ApiError::Forbidden(message), said)
}

/// [`refused`] for someone who is no member any more: the page names the
/// provider's address and the organization.
async fn not_added(
    ctx: Data<Ctx>,
    message: String,
    email: String,
    organization_id: String,
) -> Refused {
    let (outcome, error, mut said) = refused(Outcome::NotAdded, "not_added", message);
    said.email = email;
    said.organization = read(ctx, move |ctx| {
        sso::organization_name(ctx, &organization_id)
    })
    .await
    .unwrap_or_default();
    (outcome, error, said)
}

/// An error collabd did not foresee here (the store's): its page by kind.
fn passed_on(error: ApiError) -> Refused {
    let said = said_of(&error);
    (Outcome::Unavailable, error, said)
}

/// 503: the provider's `what` cannot be fetched (logged with `why`).
fn unreachable(issuer: &str, what: &str, why: &str) -> ApiError {
    tracing::warn!(issuer, error = %why, "an SSO provider's {what} cannot be used");
    ApiError::Busy(
        "Your organization's identity provider cannot be reached now; begin again in a moment."
            .into(),
    )
}

async fn signed_in(
    ctx: Data<Ctx>,
    query: CallbackParams,
    browser: Option<String>,
    request: &HttpRequest,
) -> Result<(Outcome, Page), Refused> {
    let taken = take(ctx.clone(), query.state, browser).await?;
    // RFC 9207: an answer naming another issuer is a mix-up.
    if query.iss.as_ref().is_some_and(|iss| *iss != taken.issuer) {
        return Err(bad(Outcome::ProviderError, "mix_up", ""));
    }
    if let Some(error) = query.error {
        // The provider's words, shown escaped, and not at any length.
        let about: String = query
            .error_description
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let error: String = error.chars().take(64).collect();
        let text = format!("{error} {about}");
        return Err(bad(
            Outcome::ProviderError,
            "provider_refused",
            text.trim_end(),
        ));
    }
    let code = query
        .code
        .filter(|c| !c.is_empty() && c.len() <= 4096)
        .ok_or_else(|| bad(Outcome::ProviderError, "no_code", ""))?;
    let claims = claims_of(&ctx, &taken, &code, query.iss.is_some()).await?;
    let (email, organization_id) = (
        claims.email.clone().unwrap_or_default(),
        taken.organization_id.clone(),
    );
    let finished = run(ctx.clone(), move |ctx| sso::finish(ctx, &taken, &claims)).await;
    match finished {
        Ok(done) if done.joined => Ok((Outcome::Joined, signed_in_page(&ctx, request, &done))),
        Ok(done) => Ok((Outcome::SignedIn, signed_in_page(&ctx, request, &done))),
        Err(ApiError::Unauthenticated(_)) => {
            Err(bad(Outcome::NoVerifiedEmail, "no_verified_email", ""))
        }
        Err(ApiError::Forbidden(message)) => {
            Err(not_added(ctx, message, email, organization_id).await)
        }
        Err(ApiError::Conflict { message, .. }) => {
            Err(refused(Outcome::NotLinked, "not_linked", message))
        }
        Err(ApiError::NotFound(_)) => Err(bad(Outcome::BadState, "changed", "")),
        Err(e) => Err(passed_on(e)),
    }
}

/// The flow `state` names, taken once whatever the provider says (a
/// state works once); 400 for an unknown, used or old one, or one begun in
/// another browser.
async fn take(
    ctx: Data<Ctx>,
    state: Option<String>,
    browser: Option<String>,
) -> Result<sso::Taken, Refused> {
    let state = state
        .filter(|s| super::super::params::valid_token(s).is_ok())
        .ok_or_else(|| bad(Outcome::BadState, "unknown", ""))?;
    match run(ctx, move |ctx| sso::take(ctx, &state, browser.as_deref())).await {
        Ok(taken) => Ok(taken),
        Err(ApiError::Forbidden(_)) => Err(bad(Outcome::BadState, "other_browser", "")),
        Err(ApiError::Gone { reason: "used", .. }) => Err(bad(Outcome::BadState, "used", "")),
        Err(ApiError::Gone { .. }) => Err(bad(Outcome::BadState, "expired", "")),
        Err(ApiError::NotFound(_)) => Err(bad(Outcome::BadState, "unknown", "")),
        Err(e) => Err(passed_on(e)),
    }
}

/// The code exchanged at the provider and its ID token verified: the
/// claims; 400 when the provider refuses or the token fails a check, 503
/// when the provider cannot be reached.
async fn claims_of(
    ctx: &Ctx,
    taken: &sso::Taken,
    code: &str,
    named_itself: bool,
) -> Result<IdClaims, Refused> {
    let issuer = taken.issuer.as_str();
    let discovery = ctx
        .issuers
        .discovery(issuer, false)
        .await
        .map_err(|why| passed_on(unreachable(issuer, "discovery document", &why)))?;
    // RFC 9207: a provider that says it names itself in every answer, in an
    // answer that does not, is not the one answering.
    if discovery.authorization_response_iss_parameter_supported == Some(true) && !named_itself {
        return Err(bad(Outcome::ProviderError, "unnamed", ""));
    }
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
            bad(Outcome::ProviderError, "exchange_failed", why)
        })?;
    ctx.issuers
        .verify_id_token(&id_token, issuer, &taken.client_id, &taken.nonce)
        .await
        .map_err(|refusal| match refusal {
            TokenRefusal::Invalid(why) => bad(Outcome::TokenInvalid, "token_invalid", why),
            TokenRefusal::Unavailable(why) => passed_on(unreachable(issuer, "keys", &why)),
        })
}

/// The page of a finished sign-in: who, where, the session, what next; in
/// the account's language, else the browser's.
fn signed_in_page(ctx: &Ctx, request: &HttpRequest, done: &sso::Finished) -> Page {
    let login = &done.login;
    let language = language(ctx, request, login.user.language.as_deref());
    let values = [
        ("name", page_text(&login.user.name)),
        ("email", page_text(&login.user.email)),
        ("organization", page_text(&done.organization_name)),
        ("role", page_text(&done.role)),
        ("joined", Value::from(done.joined)),
        ("expires", page_text(&login.expiresat)),
        ("session", page_text(&login.token)),
        ("organizationid", page_text(&done.organization_id)),
    ];
    Page(page(
        ctx,
        StatusCode::OK,
        "sso_signed_in",
        &language,
        &values,
    ))
}
