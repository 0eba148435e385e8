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
//!
//! This file only declares the modules, re-exports and lists the endpoints:
//! what handlers need lives in leaves (`route`, `endpoint`, `work`,
//! `table`) that import no handler and not this file, so no module of the
//! edge imports one that imports it back.

pub mod access_checks;
pub mod answers;
pub mod api;
pub mod auth;
pub mod client_address;
pub mod customer;
pub mod endpoint;
pub mod envelope;
pub mod error;
pub mod grants;
pub mod idempotency;
pub mod invite;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod params;
pub mod reference;
pub mod roles;
pub mod route;
pub mod scim;
pub mod slow;
pub mod sso;
pub mod table;
pub mod teams;
pub mod user;
pub mod verified_domains;
pub mod webhooks;
pub mod wire;
pub mod work;

pub use endpoint::{Answers, Documented, Endpoint, InEnvelope, Operation};
use error::ApiError;
pub use route::{get_only, schema_ref, Access, Methods, Refusal, SchemaFn};
pub use table::{Api, Extra};
pub use work::{read, run, run_hashing};

/// Every endpoint of collabd, in reference order.
pub fn register_all(api: &mut Api<'_>) {
    api::register(api);
    user::register(api);
    customer::register(api);
    webhooks::register(api);
    verified_domains::register(api);
    sso::register(api);
    scim::register(api);
    roles::register(api);
    teams::register(api);
    invite::register(api);
    access_checks::register(api);
}

/// Every endpoint served: collabd's, then those `extra` adds.
pub fn register_served(api: &mut Api<'_>, extra: Option<Extra>) {
    register_all(api);
    if let Some(extra) = extra {
        extra(api);
    }
}

/// The answer for paths that name no endpoint.
pub async fn unknown_path() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such endpoint".into()))
}
