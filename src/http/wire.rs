//! Endpoints outside the envelope: a [`Wire`] says how one family of
//! endpoints puts its answers on the wire (its media type, its error body),
//! and a [`Reply`] what one successful answer is (a body, a created
//! resource, no content, a redirect). SCIM (API.md §11) is such a family,
//! with `application/scim+json` and its own error body; the browser side of
//! SSO (§9) another, answering redirects. They are served and documented from
//! the same table as the envelope endpoints: see [`super::table::Api::add_own`].

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{from_fn, Next};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

use super::error::ApiError;
use super::route::SchemaFn;

/// How a family of endpoints outside the envelope answers.
pub trait Wire: 'static {
    /// The media type of its bodies, asked and answered. A request body in
    /// it is read as JSON.
    const MEDIA_TYPE: &'static str;

    /// Its error body.
    type Error: Serialize + ToSchema;

    /// The status a refusal answers with, given the one collabd's own
    /// endpoints answer (API.md §1): the same unless the family's standard
    /// says otherwise (SCIM answers a value it cannot take with 400).
    fn status(collabd: StatusCode) -> StatusCode {
        collabd
    }

    /// The error body of `error`, answered with `status` to `request` (a
    /// page speaks the reader's language).
    fn error(error: &ApiError, status: StatusCode, request: &HttpRequest) -> Self::Error;

    /// The bytes of an error body: JSON, unless the family's media type is
    /// another (a browser page's HTML).
    fn body(error: &Self::Error) -> Result<Vec<u8>, String> {
        serde_json::to_vec(error).map_err(|e| e.to_string())
    }

    /// The refusal of a request under the family's prefix that no endpoint
    /// takes: 404, unless the family's standard says otherwise.
    fn unrouted(_method: &actix_web::http::Method, _path: &str) -> ApiError {
        ApiError::NotFound("no such endpoint".into())
    }

    /// Headers every refusal carries besides the refusal's own.
    const HEADERS: &'static [(&'static str, &'static str)] = &[];

    /// What a documented error status means, for the document.
    fn describe(status: StatusCode) -> &'static str {
        status.canonical_reason().unwrap_or("An error.")
    }
}

/// A refusal as `W` answers it: `W`'s status and error body, with the
/// refusal's headers (`Allow`, `WWW-Authenticate`, `Retry-After`).
pub fn refuse<W: Wire>(error: &ApiError, request: &HttpRequest) -> HttpResponse {
    let status = W::status(error.status_code());
    match W::body(&W::error(error, status, request)) {
        Ok(body) => {
            let mut builder = error.builder(status);
            for header in W::HEADERS {
                builder.insert_header(*header);
            }
            builder.content_type(W::MEDIA_TYPE).body(body)
        }
        Err(e) => {
            tracing::error!(cause = %e, "serializing an error body");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// Marks a request to an endpoint outside the envelope: its parameters may
/// come in this media type, read as JSON.
#[derive(Clone, Copy, Debug)]
pub struct BodyMedia(pub &'static str);

/// The middleware of every route of a `W` resource: a request body in
/// `W::MEDIA_TYPE` is taken as JSON, and every refusal on the way (a missing
/// token, a parameter, a method the resource does not take, the handler's
/// own) is answered in `W`'s shape rather than the envelope.
async fn answer_as<W: Wire, B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    req.extensions_mut().insert(BodyMedia(W::MEDIA_TYPE));
    let request = req.request().clone();
    let response = match next.call(req).await {
        Ok(response) => response.map_into_boxed_body(),
        Err(e) => {
            let refusal = refuse::<W>(&api_error(&e), &request);
            return Ok(ServiceResponse::new(request, refusal));
        }
    };
    let Some(error) = response.response().error().map(api_error) else {
        return Ok(response);
    };
    let (request, _) = response.into_parts();
    let refusal = refuse::<W>(&error, &request);
    Ok(ServiceResponse::new(request, refusal))
}

/// The refusal behind an actix error: collabd's own, or one an actix
/// extractor made, by its status.
fn api_error(error: &actix_web::Error) -> ApiError {
    if let Some(own) = error.as_error::<ApiError>() {
        return own.clone();
    }
    let text = error.to_string();
    match error.as_response_error().status_code() {
        StatusCode::NOT_FOUND => ApiError::NotFound(text),
        status if status.is_client_error() => ApiError::InvalidRequest(text),
        _ => {
            let id = super::envelope::transaction_id();
            tracing::error!(transactionid = %id, cause = %text, "internal error");
            ApiError::Internal(text)
        }
    }
}

/// `route` answering as `W` (see [`answer_as`]).
pub(super) fn wrap_route<W: Wire>(route: actix_web::Route) -> actix_web::Route {
    route.wrap(from_fn(answer_as::<W, _>))
}

/// A successful answer outside the envelope, and its entry in the document.
pub trait Reply: 'static {
    /// The answer, its body (if any) in `media_type`.
    fn respond(self, media_type: &'static str) -> HttpResponse;

    /// Its status and documented response.
    fn document(
        media_type: &'static str,
        schemas: &mut Vec<(String, RefOr<Schema>)>,
    ) -> (StatusCode, Response);

    /// Other answers that are no refusal (a 304), documented beside it.
    fn more() -> Vec<(StatusCode, Response)> {
        Vec::new()
    }
}

/// 200 with `A` as the body.
pub struct Body<A>(pub A);

/// 201 with `A` as the body, and `Location`: where the new resource is.
pub struct Created<A> {
    pub location: String,
    pub body: A,
}

/// 204, nothing in the body.
pub struct NoContent;

/// 302 to `Location`: for a browser on its way elsewhere (a sign-in with
/// the company's identity provider).
pub struct Redirect(pub String);

/// 302 to `Location` (the first), setting a cookie (the second, a whole
/// `Set-Cookie` value): a browser sent on to sign in elsewhere, which the
/// cookie lets back in.
pub struct RedirectSetting(pub String, pub String);

impl Reply for RedirectSetting {
    fn respond(self, media_type: &'static str) -> HttpResponse {
        let mut response = Redirect(self.0).respond(media_type);
        if let Ok(value) = header::HeaderValue::from_str(&self.1) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        response
    }

    fn document(_: &'static str, _: &mut Vec<(String, RefOr<Schema>)>) -> (StatusCode, Response) {
        let response = ResponseBuilder::new()
            .description(
                "Found: the browser goes on to `Location`, holding the cookie set; no body.",
            )
            .header("Location", location("Where to go next."))
            .header("Set-Cookie", location("The cookie the way back needs."))
            .build();
        (StatusCode::FOUND, response)
    }
}

/// 200 with a page for a person in a browser, made whole with its headers
/// (`super::pages::page`).
pub struct Page(pub HttpResponse);

fn json<A: Serialize>(status: StatusCode, media_type: &str, body: &A) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => HttpResponse::build(status)
            .content_type(media_type)
            .body(bytes),
        Err(e) => {
            tracing::error!(cause = %e, "serializing an answer");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn with_body<A: ToSchema>(
    description: &str,
    media_type: &str,
    schemas: &mut Vec<(String, RefOr<Schema>)>,
) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        media_type,
        ContentBuilder::new()
            .schema(Some(super::route::schema_ref::<A>(schemas)))
            .build(),
    )
}

/// A documented response whose body is a page in `media_type` (HTML).
pub fn html_response(description: &str, media_type: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            media_type,
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String).build()))
                .build(),
        )
        .build()
}

fn location(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String).build())
        .description(Some(description))
        .build()
}

impl<A: Serialize + ToSchema + 'static> Reply for Body<A> {
    fn respond(self, media_type: &'static str) -> HttpResponse {
        json(StatusCode::OK, media_type, &self.0)
    }

    fn document(
        media_type: &'static str,
        schemas: &mut Vec<(String, RefOr<Schema>)>,
    ) -> (StatusCode, Response) {
        let response = with_body::<A>("OK", media_type, schemas).build();
        (StatusCode::OK, response)
    }
}

impl<A: Serialize + ToSchema + 'static> Reply for Created<A> {
    fn respond(self, media_type: &'static str) -> HttpResponse {
        let mut response = json(StatusCode::CREATED, media_type, &self.body);
        if let Ok(value) = header::HeaderValue::from_str(&self.location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        response
    }

    fn document(
        media_type: &'static str,
        schemas: &mut Vec<(String, RefOr<Schema>)>,
    ) -> (StatusCode, Response) {
        let response = with_body::<A>("Created", media_type, schemas)
            .header("Location", location("The new resource's URL."))
            .build();
        (StatusCode::CREATED, response)
    }
}

impl Reply for NoContent {
    fn respond(self, _: &'static str) -> HttpResponse {
        HttpResponse::NoContent().finish()
    }

    fn document(_: &'static str, _: &mut Vec<(String, RefOr<Schema>)>) -> (StatusCode, Response) {
        let response = ResponseBuilder::new().description("Done; no body.").build();
        (StatusCode::NO_CONTENT, response)
    }
}

impl Reply for Redirect {
    fn respond(self, _: &'static str) -> HttpResponse {
        HttpResponse::Found()
            .insert_header((header::LOCATION, self.0))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()
    }

    fn document(_: &'static str, _: &mut Vec<(String, RefOr<Schema>)>) -> (StatusCode, Response) {
        let response = ResponseBuilder::new()
            .description("Found: the browser goes on to `Location`; no body.")
            .header("Location", location("Where to go next."))
            .build();
        (StatusCode::FOUND, response)
    }
}

impl Reply for Page {
    fn respond(self, _: &'static str) -> HttpResponse {
        self.0
    }

    fn document(
        media_type: &'static str,
        _: &mut Vec<(String, RefOr<Schema>)>,
    ) -> (StatusCode, Response) {
        (
            StatusCode::OK,
            html_response("A page for the person in the browser.", media_type),
        )
    }
}

/// Documents a [`Reply`] in a media type: its status and response.
pub type DocumentFn = fn(&'static str, &mut Vec<(String, RefOr<Schema>)>) -> (StatusCode, Response);

/// The documentation of an endpoint outside the envelope, its types erased.
pub struct Own {
    pub media_type: &'static str,
    /// Its success response and status.
    pub success: DocumentFn,
    /// Its other answers that are no refusal.
    pub more: fn() -> Vec<(StatusCode, Response)>,
    /// Its error body's schema.
    pub error: SchemaFn,
    /// The status a refusal answers with (see [`Wire::status`]).
    pub status: fn(StatusCode) -> StatusCode,
    /// What an error status means.
    pub describe: fn(StatusCode) -> &'static str,
}

impl Own {
    pub fn of<W: Wire, R: Reply>() -> Own {
        Own {
            media_type: W::MEDIA_TYPE,
            success: R::document,
            more: R::more,
            error: super::route::schema_ref::<W::Error>,
            status: W::status,
            describe: W::describe,
        }
    }
}

/// The handler of an endpoint outside the envelope: its `Reply` put on the
/// wire in `W`'s media type; its refusals go out as `W` says through
/// [`answer_as`].
pub(super) struct Replying<W, F> {
    pub(super) handler: F,
    pub(super) wire: std::marker::PhantomData<fn() -> W>,
}

impl<W, F: Clone> Clone for Replying<W, F> {
    fn clone(&self) -> Self {
        Replying {
            handler: self.handler.clone(),
            wire: std::marker::PhantomData,
        }
    }
}

/// A [`Reply`] ready to go out in `W`'s media type.
pub struct Replied<W, R>(R, std::marker::PhantomData<fn() -> W>);

impl<W: Wire, R: Reply> actix_web::Responder for Replied<W, R> {
    type Body = BoxBody;

    fn respond_to(self, _: &actix_web::HttpRequest) -> HttpResponse {
        self.0.respond(W::MEDIA_TYPE)
    }
}

type Wrap<W, R> = fn(Result<R, ApiError>) -> Result<Replied<W, R>, ApiError>;

impl<W, F, Args, R> actix_web::dev::Handler<Args> for Replying<W, F>
where
    W: Wire,
    F: actix_web::dev::Handler<Args, Output = Result<R, ApiError>>,
    R: Reply,
{
    type Output = Result<Replied<W, R>, ApiError>;
    type Future = futures_util::future::Map<F::Future, Wrap<W, R>>;

    fn call(&self, args: Args) -> Self::Future {
        use futures_util::FutureExt;
        let wrap: Wrap<W, R> = |result| result.map(|r| Replied(r, std::marker::PhantomData));
        self.handler.call(args).map(wrap)
    }
}

/// The 404 of a path under a family's prefix that no endpoint takes.
pub(super) fn not_found<W: Wire>() -> actix_web::Route {
    wrap_route::<W>(actix_web::web::to(
        |request: actix_web::HttpRequest| async move {
            Err::<HttpResponse, ApiError>(W::unrouted(request.method(), request.path()))
        },
    ))
}

/// The 405 of a resource outside the envelope.
pub(super) fn method_not_allowed<W: Wire>(allow: String) -> actix_web::Route {
    wrap_route::<W>(super::route::method_not_allowed(allow))
}
