//! Authentication, driven by the endpoint table: [`authenticate_first`] runs
//! before any extractor of a route, as its table entry's [`Access`] says, so a
//! bad or missing token answers 401 before parameters are even read. The
//! extractors [`SignedIn`] and [`MaybeSignedIn`] only take what it found.
//!
//! `Authorization: Bearer <session JWT or API key>`, or `Basic` with an API
//! key as the password, as GleSYS clients send it (API.md §2). A service key
//! (`Bearer cds_…`, API.md §10) is taken only by the permission checks
//! ([`Access::Service`], extractor [`Checking`]); every other endpoint that
//! takes a token answers it 403 once it checked out (401 when it did not),
//! and public endpoints read no credentials at all.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload as BodyStream, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{ready, Ready};

use super::error::ApiError;
use super::{route::Access, route::Methods, work::read, work::run};
use crate::domain::access::Credential;
use crate::domain::checks::Checker;
use crate::domain::identities;
use crate::domain::service_keys::{self, ServiceCaller, ServiceClaim};
use crate::domain::sessions::{
    authenticate, authenticate_basic, note_key_use, Caller, SessionClaim, API_KEY_PREFIX,
};
use crate::domain::Ctx;
use crate::issuers::Refusal;

/// A signed-in caller; no or a bad token answered 401 already.
pub struct SignedIn(pub Caller);

/// A caller who may be anonymous; a token that was present was good.
pub struct MaybeSignedIn(pub Option<Caller>);

/// The credential of a hot read registered with `Api::add_looking_up`: a
/// session claim its handler looks up itself, or a caller found here.
pub struct Credentials(pub Credential);

/// Where a session token's session is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Here, before the route's extractors: the default.
    First,
    /// By the handler, in the statement that reads the membership (see
    /// [`SessionClaim`]). Only a well-signed, unexpired session token
    /// without an `Idempotency-Key` goes this way; API keys, bad tokens and
    /// keyed requests are looked up first as usual. If the handler's answer
    /// comes back without the session having been looked up (a parameter
    /// was refused before the handler's statement ran), it is looked up then,
    /// and a dead session turns the answer into 401: a revoked token never
    /// learns more than it would have.
    InHandler,
}

/// A claim kept in the request's extensions for [`Credentials`].
#[derive(Clone)]
struct Claimed(SessionClaim);

/// What [`authenticate_first`] found, kept in the request's extensions.
#[derive(Clone)]
struct Authenticated(Option<Caller>);

/// A service key presented on an [`Access::Service`] route, kept in the
/// request's extensions for [`Checking`]: the check looks it up itself.
#[derive(Clone)]
struct Service(ServiceClaim);

/// Who asks a permission check: a service key, or a signed-in caller
/// (whom the check itself judges).
pub struct Checking(pub Checker);

/// The credentials of a request: `Bearer <session JWT or API key>`, or
/// `Basic base64(<user>:<API key>)` as GleSYS clients send them.
enum Presented {
    Bearer(String),
    Basic { user: String, key: String },
}

fn presented(req: &ServiceRequest) -> Result<Option<Presented>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthenticated("malformed Authorization header".into()))?;
    let mut parts = value.splitn(2, ' ');
    match (parts.next(), parts.next().map(str::trim)) {
        (Some(scheme), Some(token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() =>
        {
            Ok(Some(Presented::Bearer(token.to_string())))
        }
        (Some(scheme), Some(encoded)) if scheme.eq_ignore_ascii_case("basic") => {
            use base64::Engine;
            let malformed = || ApiError::Unauthenticated("malformed Basic credentials".into());
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| malformed())?;
            let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
            let (user, key) = decoded.split_once(':').ok_or_else(malformed)?;
            if key.is_empty() {
                return Err(ApiError::Unauthenticated(
                    "the Basic password must be an API key".into(),
                ));
            }
            Ok(Some(Presented::Basic {
                user: user.to_string(),
                key: key.to_string(),
            }))
        }
        _ => Err(ApiError::Unauthenticated(
            "the Authorization header must be 'Bearer <token>' or 'Basic <user:apikey>'".into(),
        )),
    }
}

async fn caller_of(req: &ServiceRequest, access: Access) -> Result<Option<Caller>, ApiError> {
    if access == Access::Public {
        return Ok(None);
    }
    let credentials = match presented(req)? {
        Some(credentials) => credentials,
        None if access == Access::Optional => return Ok(None),
        None => {
            return Err(ApiError::Unauthenticated(
                "this endpoint needs 'Authorization: Bearer <token>'".into(),
            ))
        }
    };
    let ctx = req
        .app_data::<web::Data<Ctx>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("no context".into()))?;
    if let Presented::Bearer(token) = &credentials {
        if let Some(issuer) = ctx.issuers.trusted_issuer_of(token) {
            return provider_caller(ctx.clone(), issuer.to_string(), token)
                .await
                .map(Some);
        }
    }
    let identified = read(ctx.clone(), move |ctx| match &credentials {
        Presented::Bearer(token) => authenticate(&ctx.store, &ctx.keys, token),
        Presented::Basic { user, key } => authenticate_basic(&ctx.store, user, key),
    })
    .await?;
    let caller = identified.caller;
    if identified.key_use_due {
        if let Some(key) = &caller.api_key {
            let id = key.id.clone();
            run(ctx, move |ctx| note_key_use(&ctx.store, &id)).await?;
        }
    }
    Ok(Some(caller))
}

/// The caller a trusted issuer's token stands for (API.md §9): verified
/// against the issuer's keys (401 when it fails a check, 503 when the keys
/// cannot be fetched and none kept matches), then its account, linked or
/// found or made on first sight.
async fn provider_caller(
    ctx: web::Data<Ctx>,
    issuer: String,
    token: &str,
) -> Result<Caller, ApiError> {
    let claims = match ctx.issuers.verify_provider_token(token, &issuer).await {
        Ok(claims) => claims,
        Err(Refusal::Invalid(why)) => return Err(ApiError::Unauthenticated(why)),
        Err(Refusal::Unavailable(why)) => {
            return Err(ApiError::Busy(format!(
                "{why}; nothing was done, try again"
            )))
        }
    };
    // A token's first use here is a sign-in (a write, on first sight); any
    // later use of a linked subject is one read.
    if !ctx.issuers.first_use(token) {
        let (iss, sub) = (issuer.clone(), claims.sub.clone());
        let linked = read(ctx.clone(), move |ctx| {
            identities::linked_caller(ctx, &iss, &sub)
        });
        if let Some(caller) = linked.await? {
            return Ok(caller);
        }
    }
    run(ctx, move |ctx| identities::sign_in(ctx, &issuer, &claims)).await
}

/// A service key presented as `Bearer`, if any.
fn service_key_presented(req: &ServiceRequest) -> Option<String> {
    match presented(req) {
        Ok(Some(Presented::Bearer(token))) if service_keys::is_service_key(&token) => Some(token),
        _ => None,
    }
}

/// A service key presented as `Bearer` on a route that takes a token and
/// is no [`Access::Service`] route: checked (401 when unknown or revoked),
/// then refused with 403. `None` when the credentials are no service key,
/// or the route is public (which reads no credentials).
async fn service_key_of(
    req: &ServiceRequest,
    access: Access,
) -> Result<Option<ServiceCaller>, ApiError> {
    if access == Access::Public {
        return Ok(None);
    }
    let Some(token) = service_key_presented(req) else {
        return Ok(None);
    };
    let ctx = req
        .app_data::<web::Data<Ctx>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("no context".into()))?;
    let key = read(ctx.clone(), move |ctx| {
        service_keys::authenticate(&ctx.store, &token)
    })
    .await?;
    if access != Access::Service {
        return Err(ApiError::Forbidden(
            "a service key may call only access/check and access/checkbatch".into(),
        ));
    }
    note_service_key_use(ctx, &key).await?;
    Ok(Some(key))
}

async fn note_service_key_use(ctx: web::Data<Ctx>, key: &ServiceCaller) -> Result<(), ApiError> {
    if key.use_due {
        let id = key.key_id.clone();
        run(ctx, move |ctx| service_keys::note_use(&ctx.store, &id)).await?;
    }
    Ok(())
}

/// Runs a check presented with a service key, which the check looks up in
/// its own first statement. A request refused before that (a malformed
/// check) has its key judged on its own after, and a 401 replaces its
/// answer; a key found and due gets its `lastusedat` written.
async fn with_service_claim(
    ctx: web::Data<Ctx>,
    token: String,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let claim = ServiceClaim::new(&token);
    req.extensions_mut().insert(Authenticated(None));
    req.extensions_mut().insert(Service(claim.clone()));
    let response = next.call(req).await?.map_into_boxed_body();
    let outcome = match claim.was_looked_up() {
        true => match claim.use_due() {
            Some(key_id) => run(ctx, move |ctx| service_keys::note_use(&ctx.store, &key_id)).await,
            None => Ok(()),
        },
        false => {
            let found = read(ctx.clone(), move |ctx| {
                service_keys::authenticate(&ctx.store, &token)
            })
            .await;
            match found {
                Ok(key) => note_service_key_use(ctx, &key).await,
                Err(e) => Err(e),
            }
        }
    };
    match outcome {
        Ok(()) => Ok(response),
        Err(e) => {
            let (request, _) = response.into_parts();
            let response = actix_web::HttpResponse::from_error(e);
            Ok(ServiceResponse::new(request, response))
        }
    }
}

/// The caller a request presents, as `access` asks (none for a service
/// key, which [`with_service_claim`] hands to the checks).
async fn identify(req: &ServiceRequest, access: Access) -> Result<Option<Caller>, ApiError> {
    match service_key_of(req, access).await? {
        Some(_) => Ok(None),
        None => caller_of(req, access).await,
    }
}

/// A session claim for [`Lookup::InHandler`]: a well-signed session token
/// on a request without an `Idempotency-Key`.
fn claim_of(req: &ServiceRequest, ctx: &Ctx) -> Option<(SessionClaim, String)> {
    if req.headers().contains_key(super::idempotency::HEADER) {
        return None;
    }
    let Ok(Some(Presented::Bearer(token))) = presented(req) else {
        return None;
    };
    if token.starts_with(API_KEY_PREFIX) {
        return None;
    }
    let claim = ctx.keys.claim(&token)?;
    Some((claim, token))
}

/// Runs a request whose handler looks its session up (see
/// [`Lookup::InHandler`]).
async fn with_claim(
    ctx: web::Data<Ctx>,
    claim: SessionClaim,
    token: String,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    req.extensions_mut().insert(Claimed(claim.clone()));
    let response = next.call(req).await?.map_into_boxed_body();
    if claim.was_looked_up() {
        return Ok(response);
    }
    match read(ctx, move |ctx| authenticate(&ctx.store, &ctx.keys, &token)).await {
        Ok(_) => Ok(response),
        Err(e) => {
            let (request, _) = response.into_parts();
            // The error goes with the answer, for a resource outside the
            // envelope to answer it in its own shape.
            let response = actix_web::HttpResponse::from_error(e);
            Ok(ServiceResponse::new(request, response))
        }
    }
}

/// Authenticates a request as `access` asks, before its route's extractors
/// (or, for [`Lookup::InHandler`], in its handler's first statement).
/// A method the endpoint does not take goes straight on to its 405.
pub async fn authenticate_first(
    access: Access,
    methods: Methods,
    lookup: Lookup,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !methods.takes(req.method()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    if lookup == Lookup::InHandler {
        if let Some(ctx) = req.app_data::<web::Data<Ctx>>().cloned() {
            if let Some((claim, token)) = claim_of(&req, &ctx) {
                return with_claim(ctx, claim, token, req, next).await;
            }
        }
    }
    if access == Access::Service {
        if let (Some(ctx), Some(token)) = (
            req.app_data::<web::Data<Ctx>>().cloned(),
            service_key_presented(&req),
        ) {
            return with_service_claim(ctx, token, req, next).await;
        }
    }
    match identify(&req, access).await {
        Ok(caller) => {
            req.extensions_mut().insert(Authenticated(caller.clone()));
            // A check answers the present, always: a kept answer could
            // still allow a member removed since.
            let keyed = req.method() == actix_web::http::Method::POST && access != Access::Service;
            let key = match keyed {
                true => super::idempotency::key_of(&req),
                false => Ok(None),
            };
            match key {
                Ok(Some(key)) => {
                    super::idempotency::run_once(req, next, caller.as_ref(), key).await
                }
                Ok(None) => Ok(next.call(req).await?.map_into_boxed_body()),
                Err(e) => Ok(req.error_response(e)),
            }
        }
        Err(e) => Ok(req.error_response(e)),
    }
}

fn authenticated(req: &HttpRequest) -> Result<Option<Caller>, ApiError> {
    req.extensions()
        .get::<Authenticated>()
        .map(|a| a.0.clone())
        .ok_or_else(|| {
            ApiError::Internal("the endpoint table does not authenticate this route".into())
        })
}

/// The caller [`authenticate_first`] found on a route that needs one.
fn signed_in(req: &HttpRequest) -> Result<Caller, ApiError> {
    authenticated(req)?.ok_or_else(|| {
        ApiError::Internal("a route that needs a session is public in the table".into())
    })
}

impl FromRequest for SignedIn {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut BodyStream) -> Self::Future {
        ready(signed_in(req).map(SignedIn))
    }
}

impl FromRequest for Credentials {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut BodyStream) -> Self::Future {
        if let Some(Claimed(claim)) = req.extensions().get::<Claimed>() {
            return ready(Ok(Credentials(Credential::Claim(claim.clone()))));
        }
        ready(signed_in(req).map(|caller| Credentials(Credential::Caller(caller))))
    }
}

impl FromRequest for Checking {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut BodyStream) -> Self::Future {
        if let Some(Service(claim)) = req.extensions().get::<Service>() {
            return ready(Ok(Checking(Checker::Service(claim.clone()))));
        }
        ready(signed_in(req).map(|caller| Checking(Checker::Caller(caller))))
    }
}

impl FromRequest for MaybeSignedIn {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut BodyStream) -> Self::Future {
        ready(authenticated(req).map(MaybeSignedIn))
    }
}
