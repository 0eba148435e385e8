//! SCIM 2.0 (API.md §11, RFC 7643/7644) at `/scim/v2`, served and
//! documented from the endpoint table outside the envelope: the [`Scim`]
//! wire answers `application/scim+json` and SCIM's error body; every path
//! under `/scim/v2` that no endpoint takes is a SCIM 404. This file holds
//! the wire, the caller rule and the discovery documents
//! (`ServiceProviderConfig`, `ResourceTypes`, `Schemas`).

mod discovery;
mod groups;
mod users;

use actix_web::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use super::table::Api;
use super::wire::Wire;

pub fn register(api: &mut Api<'_>) {
    discovery::register(api);
    users::register(api);
    groups::register(api);
    api.fallback::<Scim>(PREFIX);
}

/// Where SCIM is served.
pub const PREFIX: &str = "/scim/v2";
/// SCIM's media type.
pub const MEDIA_TYPE: &str = "application/scim+json";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// SCIM's wire: its media type, its error body, 400 where collabd says 422.
pub struct Scim;

/// A SCIM error (RFC 7644 §3.12).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScimError {
    /// `["urn:ietf:params:scim:api:messages:2.0:Error"]`.
    schemas: Vec<String>,
    /// The HTTP status, as a string.
    status: String,
    /// With 400 and 409: what kind of refusal (`invalidValue`,
    /// `invalidSyntax`, `invalidFilter`, `invalidPath`, `noTarget`,
    /// `mutability`, `uniqueness`, `tooMany`).
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none")]
    scim_type: Option<String>,
    detail: String,
}

/// The `scimType` a refusal's text names, in brackets (`[invalidFilter] …`,
/// also after a field's name: `filter: [invalidFilter] …`), as the SCIM
/// rules write theirs; and the text without it.
fn named_type(text: &str) -> Option<(&'static str, String)> {
    const KINDS: [&str; 8] = [
        "invalidValue",
        "invalidSyntax",
        "invalidFilter",
        "invalidPath",
        "noTarget",
        "mutability",
        "uniqueness",
        "tooMany",
    ];
    KINDS.iter().find_map(|kind| {
        let marker = format!("[{kind}] ");
        text.contains(&marker)
            .then(|| (*kind, text.replacen(&marker, "", 1)))
    })
}

impl Wire for Scim {
    const MEDIA_TYPE: &'static str = MEDIA_TYPE;
    type Error = ScimError;

    /// A value SCIM cannot take is its 400 (`invalidValue`), not 422.
    fn status(collabd: StatusCode) -> StatusCode {
        match collabd {
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            other => other,
        }
    }

    /// `POST /.search` (RFC 7644 §3.4.3) is not implemented: 501, as the
    /// RFC has a service answer what it does not do; lists take `filter`
    /// on GET.
    fn unrouted(method: &actix_web::http::Method, path: &str) -> ApiError {
        if method == actix_web::http::Method::POST && path.ends_with("/.search") {
            return ApiError::NotImplemented(
                "collabd does not search by POST (/.search); list Users or Groups by GET with \
                 filter, startIndex, count, attributes and excludedAttributes"
                    .into(),
            );
        }
        ApiError::NotFound("no such endpoint".into())
    }

    fn error(error: &ApiError, status: StatusCode, _: &actix_web::HttpRequest) -> ScimError {
        let text = match error {
            ApiError::Internal(_) => "internal error".to_string(),
            other => other.to_string(),
        };
        let (scim_type, detail) = match named_type(&text) {
            Some((kind, detail)) => (Some(kind.to_string()), detail),
            None => {
                let kind = match error {
                    ApiError::Validation(_) => Some("invalidValue"),
                    ApiError::InvalidRequest(_) => Some("invalidSyntax"),
                    ApiError::Conflict { reason, .. } if *reason != "last_owner" => {
                        Some("uniqueness")
                    }
                    _ => None,
                };
                (kind.map(str::to_string), text)
            }
        };
        ScimError {
            schemas: vec![ERROR_SCHEMA.into()],
            status: status.as_u16().to_string(),
            scim_type,
            detail,
        }
    }
}

/// Text of a SCIM refusal of kind `kind` (see [`named_type`]).
pub fn typed(kind: &str, detail: impl std::fmt::Display) -> String {
    format!("[{kind}] {detail}")
}

/// A SCIM resource answered with its version as `ETag` (RFC 7644 §3.14),
/// or 304 when `If-None-Match` names that version.
pub enum Resource {
    Found(serde_json::Value),
    NotModified(String),
}

/// A SCIM resource just made: 201, `ETag` and `Location`.
pub struct NewResource(pub serde_json::Value);

fn resource_response(
    status: StatusCode,
    body: &serde_json::Value,
    media_type: &'static str,
) -> actix_web::HttpResponse {
    let mut response = actix_web::HttpResponse::build(status);
    response.content_type(media_type);
    if let Some(version) = body["meta"]["version"].as_str() {
        response.insert_header((actix_web::http::header::ETAG, version.to_string()));
    }
    if let (StatusCode::CREATED, Some(location)) = (status, body["meta"]["location"].as_str()) {
        response.insert_header((actix_web::http::header::LOCATION, location.to_string()));
    }
    response.body(body.to_string())
}

fn resource_document(
    status: StatusCode,
    media_type: &'static str,
    schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)>,
) -> (StatusCode, utoipa::openapi::Response) {
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::response::ResponseBuilder;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let header = |description: &str| {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String).build())
            .description(Some(description))
            .build()
    };
    let mut response = ResponseBuilder::new()
        .description("The resource.")
        .content(
            media_type,
            ContentBuilder::new()
                .schema(Some(super::route::schema_ref::<discovery::Document>(
                    schemas,
                )))
                .build(),
        )
        .header("ETag", header("The resource's version, as `meta.version`."));
    if status == StatusCode::CREATED {
        response = response.header("Location", header("The new resource's URL."));
    }
    (status, response.build())
}

impl super::wire::Reply for Resource {
    fn respond(self, media_type: &'static str) -> actix_web::HttpResponse {
        match self {
            Resource::Found(body) => resource_response(StatusCode::OK, &body, media_type),
            Resource::NotModified(version) => actix_web::HttpResponse::NotModified()
                .insert_header((actix_web::http::header::ETAG, version))
                .finish(),
        }
    }

    fn more() -> Vec<(StatusCode, utoipa::openapi::Response)> {
        let response = utoipa::openapi::response::ResponseBuilder::new()
            .description("Not Modified: `If-None-Match` names the resource's current version.")
            .build();
        vec![(StatusCode::NOT_MODIFIED, response)]
    }

    fn document(
        media_type: &'static str,
        schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)>,
    ) -> (StatusCode, utoipa::openapi::Response) {
        resource_document(StatusCode::OK, media_type, schemas)
    }
}

impl super::wire::Reply for NewResource {
    fn respond(self, media_type: &'static str) -> actix_web::HttpResponse {
        resource_response(StatusCode::CREATED, &self.0, media_type)
    }

    fn document(
        media_type: &'static str,
        schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)>,
    ) -> (StatusCode, utoipa::openapi::Response) {
        resource_document(StatusCode::CREATED, media_type, schemas)
    }
}

/// The `If-Match` header, if the request has one (checked by the write,
/// in its transaction: [`crate::domain::scim::if_match`]).
pub fn if_match_header(request: &actix_web::HttpRequest) -> Option<String> {
    request
        .headers()
        .get(actix_web::http::header::IF_MATCH)
        .map(|v| v.to_str().unwrap_or("").to_string())
}

impl Resource {
    /// `body`, or 304 when `If-None-Match` names its version.
    pub fn answer(request: &actix_web::HttpRequest, body: serde_json::Value) -> Resource {
        if unchanged(request, &body) {
            let version = body["meta"]["version"].as_str().unwrap_or("").to_string();
            return Resource::NotModified(version);
        }
        Resource::Found(body)
    }
}

/// True when `If-None-Match` names `current`'s version (or `*`).
fn unchanged(request: &actix_web::HttpRequest, current: &serde_json::Value) -> bool {
    let version = current["meta"]["version"].as_str().unwrap_or("");
    request
        .headers()
        .get(actix_web::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|v| v == "*" || v == version)
        })
}

/// A request body as JSON (SCIM's media type or plain JSON): 400
/// `invalidSyntax` otherwise.
pub fn json_body(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::InvalidRequest(typed("invalidSyntax", format!("the body is no JSON: {e}")))
    })
}

/// Where a resource's `location` is: the public URL and the prefix.
pub fn base(ctx: &crate::domain::Ctx) -> String {
    format!("{}{PREFIX}", ctx.policy.public_url.trim_end_matches('/'))
}

/// What a list of Users or Groups takes (RFC 7644 §3.4.2).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ListParams {
    /// `eq` comparisons joined by `and`: for Users on `id`, `userName`
    /// (regardless of case), `externalId`, `active`, `displayName`,
    /// `emails.value` and `emails[type eq "…"].value`; for Groups on `id`,
    /// `displayName` (regardless of case), `externalId` and
    /// `members.value`. Anything else answers 400 `invalidFilter`.
    #[schema(max_length = 1024)]
    filter: Option<String>,
    /// The first result's place, from 1 (less is taken as 1).
    #[serde(rename = "startIndex")]
    start_index: Option<i64>,
    /// How many results a page holds: at most 200 (default 100).
    count: Option<i64>,
    /// Only these attributes (comma-separated; `schemas`, `id` and `meta`
    /// always come).
    attributes: Option<String>,
    /// All but these attributes (comma-separated), e.g. `members`.
    #[serde(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
}

/// The default page size.
const DEFAULT_COUNT: usize = 100;

impl ListParams {
    /// The page asked for.
    fn page(&self) -> crate::domain::scim::Page {
        crate::domain::scim::Page {
            start_index: usize::try_from(self.start_index.unwrap_or(1).max(1)).unwrap_or(1),
            count: self
                .count
                .map_or(DEFAULT_COUNT, |c| usize::try_from(c.max(0)).unwrap_or(0))
                .min(crate::domain::scim::MAX_RESULTS),
        }
    }

    /// `listed` with each resource shaped by `attributes` and
    /// `excludedAttributes`.
    fn shape(&self, mut listed: serde_json::Value) -> serde_json::Value {
        if let Some(resources) = listed["Resources"].as_array_mut() {
            for resource in resources {
                crate::domain::scim::project(
                    resource,
                    self.attributes.as_deref(),
                    self.excluded_attributes.as_deref(),
                );
            }
        }
        listed
    }
}

/// What a read of one resource takes (RFC 7644 §3.9).
#[derive(Debug, Deserialize, ToSchema)]
pub struct Shape {
    /// Only these attributes (comma-separated; `schemas`, `id` and `meta`
    /// always come).
    attributes: Option<String>,
    /// All but these attributes (comma-separated), e.g. `members`.
    #[serde(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
}

impl Shape {
    /// `resource` as asked for.
    pub fn apply(&self, mut resource: serde_json::Value) -> serde_json::Value {
        crate::domain::scim::project(
            &mut resource,
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        );
        resource
    }
}

/// The domain's PUT or PATCH of one kind of resource: in one transaction it
/// reads the resource `id`, checks `If-Match` against it, makes the input
/// from it with the change given, writes, and answers the resource written.
pub type Write<I> = fn(
    &crate::domain::Ctx,
    &crate::domain::sessions::Caller,
    &str,
    &dyn Fn(&serde_json::Value) -> crate::domain::DomainResult<I>,
    Option<&str>,
    &str,
) -> crate::domain::DomainResult<serde_json::Value>;

/// A PUT or PATCH of resource `id` as `write` does it, `change` making its
/// input from the resource as it is.
pub async fn written<I: 'static>(
    ctx: actix_web::web::Data<crate::domain::Ctx>,
    caller: crate::domain::sessions::Caller,
    (id, request): (String, &actix_web::HttpRequest),
    write: Write<I>,
    change: impl Fn(&serde_json::Value) -> crate::domain::DomainResult<I> + Send + 'static,
) -> Result<Resource, ApiError> {
    let (base, wanted) = (base(&ctx), if_match_header(request));
    let written = super::work::run(ctx, move |ctx| {
        write(ctx, &caller, &id, &change, wanted.as_deref(), &base)
    })
    .await?;
    Ok(Resource::Found(written))
}

/// The domain's DELETE of one kind of resource, `If-Match` checked in its
/// transaction.
pub type Delete = fn(
    &crate::domain::Ctx,
    &crate::domain::sessions::Caller,
    &str,
    Option<&str>,
) -> crate::domain::DomainResult<()>;

/// A DELETE of resource `id` as `delete` does it.
pub async fn deleted(
    ctx: actix_web::web::Data<crate::domain::Ctx>,
    caller: crate::domain::sessions::Caller,
    (id, request): (String, &actix_web::HttpRequest),
    delete: Delete,
) -> Result<super::wire::NoContent, ApiError> {
    let wanted = if_match_header(request);
    super::work::run(ctx, move |ctx| delete(ctx, &caller, &id, wanted.as_deref())).await?;
    Ok(super::wire::NoContent)
}
