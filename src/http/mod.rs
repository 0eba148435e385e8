//! The HTTP edge: thin handlers, the envelope, errors, parameters, auth, and
//! the endpoint table that drives both routing and the OpenAPI document.

pub mod api;
pub mod auth;
pub mod customer;
pub mod envelope;
pub mod error;
pub mod grants;
pub mod invite;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod params;
pub mod user;

use actix_web::dev::Handler;
use actix_web::{web, FromRequest, Responder};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

use crate::domain::DomainResult;
use error::ApiError;

/// The answer of a handler.
pub type ApiResult = Result<envelope::Payload, ApiError>;

/// Runs blocking domain work (Diesel, argon2) off the async workers.
pub async fn run<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> DomainResult<T> + Send + 'static,
{
    match web::block(work).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => Err(ApiError::Internal(format!("blocking task failed: {e}"))),
    }
}

/// Which methods an endpoint answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Methods {
    /// Writes: POST only; GET answers 405.
    Post,
    /// Reads: GET with a query string, or POST.
    GetPost,
    /// Probes and documents: GET only.
    Get,
}

impl Methods {
    /// The `Allow` header of a 405.
    pub fn allow(self) -> &'static str {
        match self {
            Methods::Post => "POST",
            Methods::GetPost => "GET, POST",
            Methods::Get => "GET",
        }
    }
}

/// Who may call an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Any signed-in user.
    User,
    /// A member of the organization, with the role API.md §3 asks for.
    Member,
    /// Signed in, or public with a token from an email.
    Optional,
}

/// Registers a schema (and those it refers to) and returns a reference to it.
pub type SchemaFn = fn(&mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema>;

/// A reference to `T`'s schema, registering it.
pub fn schema_ref<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    T::schemas(out);
    out.push((T::name().into_owned(), T::schema()));
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name()))
}

/// An array of `T`.
pub fn array_of<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    let item = schema_ref::<T>(out);
    RefOr::T(Schema::Array(utoipa::openapi::schema::Array::new(item)))
}

/// The `nextcursor` of a page: an opaque string, or null at the end.
pub fn cursor_schema(_: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .description(Some(
                "Pass as `cursor` for the next page; null on the last page.",
            ))
            .build(),
    ))
}

/// One endpoint: its route and its reference entry.
pub struct Endpoint {
    pub path: &'static str,
    pub operation_id: &'static str,
    pub tag: &'static str,
    pub methods: Methods,
    pub access: Access,
    pub summary: &'static str,
    pub description: &'static str,
    /// The parameters' schema (an object); `None` for endpoints without any.
    pub params: Option<SchemaFn>,
    /// The payload members beside `status`, by key.
    pub payload: &'static [(&'static str, SchemaFn)],
    /// The error statuses it can answer, besides 500 and 503.
    pub errors: &'static [u16],
}

/// Collects endpoints, and registers their routes when building the app.
pub struct Api<'a> {
    config: Option<&'a mut web::ServiceConfig>,
    pub endpoints: Vec<&'static Endpoint>,
}

impl<'a> Api<'a> {
    /// Collects only the reference entries (for the OpenAPI document).
    pub fn document() -> Api<'static> {
        Api {
            config: None,
            endpoints: Vec::new(),
        }
    }

    /// Registers routes into `config` as well.
    pub fn routes(config: &'a mut web::ServiceConfig) -> Api<'a> {
        Api {
            config: Some(config),
            endpoints: Vec::new(),
        }
    }

    pub fn add<F, Args>(&mut self, endpoint: &'static Endpoint, handler: F)
    where
        F: Handler<Args> + Clone + 'static,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.endpoints.push(endpoint);
        let Some(config) = self.config.as_deref_mut() else {
            return;
        };
        let mut resource = web::resource(endpoint.path);
        if endpoint.methods != Methods::Get {
            resource = resource.route(web::post().to(handler.clone()));
        }
        if endpoint.methods != Methods::Post {
            resource = resource.route(web::get().to(handler));
        }
        config.service(resource.default_service(method_not_allowed(endpoint.methods.allow())));
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
    invite::register(api);
}

/// Answers 405 naming the methods the resource takes.
fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    web::to(move |req: actix_web::HttpRequest| async move {
        Err::<actix_web::HttpResponse, ApiError>(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allow,
        })
    })
}

/// The answer for paths that name no endpoint.
pub async fn unknown_path() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such endpoint".into()))
}
