//! The HTTP edge: thin handlers, the envelope, errors, parameters, auth, and
//! the endpoint table that drives both routing and the OpenAPI document.
//!
//! Each endpoint is an [`Endpoint<A>`] whose `A` is the type of its answer:
//! [`Api::add`] only accepts a handler that returns `Result<A, ApiError>`, and
//! the document takes the payload keys and their schemas from `A` itself, so
//! what is served and what is documented are one type. Most endpoints answer
//! in the envelope (API.md §1); [`Api::add_own`] serves one outside it, its
//! media type, error body, redirects and other methods given by a
//! [`wire::Wire`] and a [`wire::Reply`], from the same table: routed,
//! documented and contract-checked alike. Each path's routes are registered
//! together (`table.rs`), so a 405 lists every method the path takes.

pub mod answers;
pub mod api;
pub mod auth;
pub mod client_address;
pub mod customer;
pub mod envelope;
pub mod error;
pub mod grants;
pub mod idempotency;
pub mod invite;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod params;
pub mod slow;
mod table;
pub mod user;
pub mod verified_domains;
pub mod webhooks;
pub mod wire;

use std::marker::PhantomData;

use actix_web::dev::Handler;
use actix_web::http::Method;
use actix_web::{web, FromRequest, Responder};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

use crate::domain::DomainResult;
use crate::store::Unavailability;
use error::ApiError;
pub use table::{Api, Extra};

/// Runs blocking domain work (Diesel) off the async workers. Work waits its
/// turn for one of the pool's connections in a fair (first come, first
/// served) queue before it takes a blocking thread: when more requests than
/// connections are in flight, they queue here in order instead of racing
/// each other for the pool, where the unlucky ones waited longest.
pub async fn run<T, F>(ctx: web::Data<crate::domain::Ctx>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&crate::domain::Ctx) -> DomainResult<T> + Send + 'static,
{
    let turn = ctx.store.turn().await;
    blocking(ctx, work, turn).await
}

/// As [`run`], for work that spends most of its time hashing a password
/// (sign-up, login, a password change, an invite accepted with a password).
/// It takes no turn: it holds a connection only for its few statements,
/// and a turn held through a hash, or through the wait for one, would keep
/// every database call behind it waiting. `PasswordHashing` bounds these on
/// its own.
pub async fn run_hashing<T, F>(ctx: web::Data<crate::domain::Ctx>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&crate::domain::Ctx) -> DomainResult<T> + Send + 'static,
{
    blocking(ctx, work, None).await
}

async fn blocking<T, F>(
    ctx: web::Data<crate::domain::Ctx>,
    work: F,
    turn: Option<tokio::sync::OwnedSemaphorePermit>,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&crate::domain::Ctx) -> DomainResult<T> + Send + 'static,
{
    // A turn ends with the work, on the blocking thread: the next in line
    // may start while this task waits to be resumed.
    match web::block(move || {
        let done = work(&ctx);
        drop(turn);
        done
    })
    .await
    {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => Err(ApiError::Internal(format!("blocking task failed: {e}"))),
    }
}

/// Runs domain work that only reads. When the database answers from this
/// machine (SQLite, or PostgreSQL on a Unix socket or loopback) and a pooled
/// connection is idle, it runs right here on the HTTP worker: such a read
/// takes microseconds, and the two thread switches of a trip to the blocking
/// pool cost more than the read itself (they were most of a list request's
/// CPU). Otherwise, as with a database across a network, whose round trips
/// would stall the worker, it goes to the blocking pool like [`run`]. A panic
/// is the same 500 either way.
pub async fn read<T, F>(ctx: web::Data<crate::domain::Ctx>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: Fn(&crate::domain::Ctx) -> DomainResult<T> + Send + Sync + 'static,
{
    if !ctx.store.reads_inline() {
        return run(ctx, work).await;
    }
    let inline = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ctx.store.inline(|| work(&ctx))
    }));
    match inline {
        // No idle connection after all, or the database went away: the
        // blocking pool waits for a connection and retries as it does for
        // every other request. Reads change nothing, so running one twice
        // is safe.
        Ok(Err(e)) if e.is_unavailable() => run(ctx, work).await,
        Ok(result) => result.map_err(ApiError::from),
        Err(_) => Err(ApiError::Internal("a read panicked".into())),
    }
}

/// Which methods an endpoint answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Methods {
    /// Writes: POST only; GET answers 405.
    Post,
    /// Reads: GET with a query string, or POST.
    GetPost,
    /// Probes, and reads of a resource: GET only.
    Get,
    /// A resource replaced (outside the envelope, as SCIM's are).
    Put,
    /// A resource changed in part.
    Patch,
    /// A resource removed.
    Delete,
}

impl Methods {
    /// The HTTP methods, in `Allow`'s order.
    pub fn list(self) -> &'static [Method] {
        const GET: &[Method] = &[Method::GET];
        const POST: &[Method] = &[Method::POST];
        const GET_POST: &[Method] = &[Method::GET, Method::POST];
        const PUT: &[Method] = &[Method::PUT];
        const PATCH: &[Method] = &[Method::PATCH];
        const DELETE: &[Method] = &[Method::DELETE];
        match self {
            Methods::Post => POST,
            Methods::GetPost => GET_POST,
            Methods::Get => GET,
            Methods::Put => PUT,
            Methods::Patch => PATCH,
            Methods::Delete => DELETE,
        }
    }

    /// True when a request with `method` reaches a handler.
    pub fn takes(self, method: &Method) -> bool {
        self.list().contains(method)
    }

    /// The `Allow` header of a 405.
    pub fn allow(self) -> String {
        allow(self.list())
    }
}

/// `Allow`: the methods `taken`, in a fixed order.
fn allow(taken: &[Method]) -> String {
    const ORDER: [Method; 5] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    ORDER
        .iter()
        .filter(|m| taken.contains(m))
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who may call an endpoint. The document derives 401 from it, so a handler
/// whose extractor demands a session on a `Public` endpoint would answer an
/// undocumented 401, which the tests' contract checker refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Any signed-in user.
    User,
    /// A member of the organization who meets the [`Need`] (a permission of
    /// their role's set, API.md §10): the gate refuses others with 403. An
    /// endpoint cannot be declared without it.
    Member(crate::domain::permissions::Need),
    /// Signed in, or public with a token from an email.
    Optional,
}

/// The statuses an endpoint's rules can answer. Everything else is derived:
/// 400, 408, 413 and 422 from taking parameters, 401 from [`Access`], 500 and 503
/// everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 401 on a public endpoint (wrong credentials, a second factor).
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    Gone,
    RateLimited,
}

impl Refusal {
    pub fn status(self) -> u16 {
        match self {
            Refusal::Unauthenticated => 401,
            Refusal::Forbidden => 403,
            Refusal::NotFound => 404,
            Refusal::Conflict => 409,
            Refusal::Gone => 410,
            Refusal::RateLimited => 429,
        }
    }
}

/// Registers a schema (and those it refers to) and returns a reference to it.
pub type SchemaFn = fn(&mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema>;

/// A reference to `T`'s schema, registering it.
pub fn schema_ref<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    T::schemas(out);
    out.push((T::name().into_owned(), T::schema()));
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name()))
}

/// `T`'s own schema, inline; only what it refers to is registered.
fn inline_schema<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    T::schemas(out);
    T::schema()
}

/// An operation's route and reference entry, whatever it answers.
pub struct Operation {
    pub path: &'static str,
    pub operation_id: &'static str,
    pub tag: &'static str,
    pub methods: Methods,
    pub access: Access,
    pub summary: &'static str,
    pub description: &'static str,
    /// The parameters' schema (an object); `None` for endpoints without any.
    pub params: Option<SchemaFn>,
    /// What its rules can refuse with, beyond the derived statuses.
    pub refusals: &'static [Refusal],
}

/// One endpoint: an [`Operation`] that answers `A`. In the envelope (`W`
/// left out), `A` is the payload members beside `status`; outside it, `W`
/// is the [`wire::Wire`] its family answers in and `A` its
/// [`wire::Reply`].
pub struct Endpoint<A, W = InEnvelope> {
    pub operation: Operation,
    answer: PhantomData<fn() -> (A, W)>,
}

/// The wire of an endpoint inside the envelope (API.md §1).
pub struct InEnvelope;

impl<A, W> Endpoint<A, W> {
    pub const fn new(operation: Operation) -> Endpoint<A, W> {
        Endpoint {
            operation,
            answer: PhantomData,
        }
    }
}

/// An endpoint as the document sees it, its answer type erased.
pub struct Documented {
    pub operation: &'static Operation,
    pub answer: Answers,
}

/// What an endpoint answers, for the document.
pub enum Answers {
    /// The envelope, with this object schema's members beside `status`.
    Envelope(SchemaFn),
    /// Its own media type, success and error body.
    Own(wire::Own),
}

impl std::ops::Deref for Documented {
    type Target = Operation;

    fn deref(&self) -> &Operation {
        self.operation
    }
}

/// A GET-only resource that is not an API operation (documents, probes for
/// scrapers, the pages email links open).
pub fn get_only<F, Args>(config: &mut web::ServiceConfig, path: &str, handler: F)
where
    F: Handler<Args> + Clone + 'static,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    config.service(
        web::resource(path)
            .route(web::get().to(handler))
            .default_service(method_not_allowed(Methods::Get.allow())),
    );
}

/// Every endpoint of collabd, in reference order.
pub fn register_all(api: &mut Api<'_>) {
    api::register(api);
    user::register(api);
    customer::register(api);
    webhooks::register(api);
    verified_domains::register(api);
    invite::register(api);
}

/// Every endpoint served: collabd's, then those `extra` adds.
pub fn register_served(api: &mut Api<'_>, extra: Option<Extra>) {
    register_all(api);
    if let Some(extra) = extra {
        extra(api);
    }
}

/// Answers 405 naming the methods the resource takes.
fn method_not_allowed(allow: String) -> actix_web::Route {
    web::to(move |req: actix_web::HttpRequest| {
        let allow = allow.clone();
        async move {
            Err::<actix_web::HttpResponse, ApiError>(ApiError::MethodNotAllowed {
                method: req.method().to_string(),
                allow,
            })
        }
    })
}

/// The answer for paths that name no endpoint.
pub async fn unknown_path() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such endpoint".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_methods_in_one_order() {
        assert_eq!(Methods::GetPost.allow(), "GET, POST");
        assert_eq!(
            allow(&[Method::DELETE, Method::PATCH, Method::GET, Method::PUT]),
            "GET, PUT, PATCH, DELETE"
        );
    }
}
