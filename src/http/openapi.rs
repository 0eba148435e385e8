//! The OpenAPI document, built from the endpoint table so that what is routed
//! and what is documented cannot drift apart.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    tag::TagBuilder, ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required, Schema,
};
use utoipa::ToSchema;

use super::{
    endpoint::Answers, endpoint::Documented, register_served, route::Access, table::Api,
    table::Extra,
};

mod answers;
mod rules;

/// `status`, present in every answer.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only: the envelope is rendered from JSON values
pub struct Status {
    /// Equals the HTTP status.
    code: u16,
    /// `OK`, or what went wrong, for people.
    text: String,
    /// When the answer was made, RFC 3339 UTC.
    #[schema(format = DateTime)]
    timestamp: String,
    /// Unique per request; also the `X-Transaction-Id` header and in the server log.
    transactionid: String,
}

/// `error`, present in every error answer.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only
pub struct Error {
    /// `invalid_request`, `unauthenticated`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `gone`, `payload_too_large`,
    /// `validation_failed`, `rate_limited`, `unavailable` or `internal`.
    #[schema(rename = "type")]
    kind: String,
    /// With 401 from a call that hands out a session: `otp_required`,
    /// `otp_invalid`. With 409: `already_member`, `invite_pending`,
    /// `last_owner`, `organization_limit`, `email_taken`,
    /// `request_in_progress`, `already_verified`, `twofactor_enabled`,
    /// `twofactor_not_started`, `domain_taken`, `role_in_use`, `name_taken`; with 403:
    /// `sso_required` (the organization accepts only sessions its SSO made,
    /// API.md §9); with 410: `expired`, `revoked`, `declined`, `accepted`,
    /// `used`.
    reason: Option<String>,
    /// With 422: the messages for each parameter that was not acceptable.
    #[schema(value_type = Option<Object>, additional_properties = true)]
    fields: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

const BEARER: &str = "bearer";
const BASIC: &str = "basic";

/// The error responses, by status: component name and description.
const ERRORS: &[(u16, &str, &str)] = &[
    (400, "InvalidRequest", "`invalid_request`: malformed JSON or form, wrong content type, unknown parameter or wrong parameter type."),
    (401, "Unauthenticated", "`unauthenticated`: the token is missing, malformed, expired or revoked; on a call that hands out a session, wrong credentials, or a second factor needed (`error.reason` `otp_required`) or wrong (`otp_invalid`)."),
    (403, "Forbidden", "`forbidden`: signed in, but the role does not allow this; or a service key, which only the permission checks (`access/check`, `access/checkbatch`) take; or, on a call naming an organization that enforces its SSO, a session its SSO did not make (`error.reason` `sso_required`)."),
    (404, "NotFound", "`not_found`: no such object, or one the caller may not see."),
    (405, "MethodNotAllowed", "`method_not_allowed`: GET on an endpoint that writes."),
    (409, "Conflict", "`conflict`, with `error.reason`."),
    (410, "Gone", "`gone`: the invite or link has ended; `error.reason` says how."),
    (408, "RequestTimeout", "`invalid_request`: the body did not all arrive within `COLLABD_BODY_TIMEOUT_SECS` (10) of the headers. The connection is closed after this answer. (Headers that take over 5 s get a bare 408, or the connection closed, before any endpoint is reached.)"),
    (413, "PayloadTooLarge", "`payload_too_large`: the body is over the limit (64 KiB by default)."),
    (422, "ValidationFailed", "`validation_failed`: `error.fields` names each unacceptable parameter."),
    (429, "RateLimited", "`rate_limited`: too many attempts; see `Retry-After`."),
    (500, "Internal", "`internal`: a bug; the body carries no internal details."),
    (503, "Unavailable", "`unavailable`: the database cannot be reached, a database lock was not granted within `COLLABD_LOCK_TIMEOUT_MS` (with `Retry-After`), or the password checks queued are at their bound (with `Retry-After`); the request did nothing."),
];

/// The whole document.
pub fn document() -> OpenApi {
    document_with(None)
}

/// The document of collabd's endpoints and those `extra` adds.
pub fn document_with(extra: Option<Extra>) -> OpenApi {
    let mut api = Api::document();
    register_served(&mut api, extra);
    let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
    let status = super::route::schema_ref::<Status>(&mut schemas);
    let error = super::route::schema_ref::<Error>(&mut schemas);
    schemas.push((
        "ErrorEnvelope".into(),
        envelope(status.clone(), &[("error", error)]).into(),
    ));

    let mut paths = PathsBuilder::new();
    for endpoint in &api.endpoints {
        paths = paths.path(endpoint.path, path_item(endpoint, &status, &mut schemas));
    }

    let components = components(schemas);
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("collabd")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Organizations, their collaborators, projects and invitations, over JSON. \
                     Every endpoint takes POST with a JSON body, or the same parameters as an \
                     `application/x-www-form-urlencoded` form (lists and objects need JSON; \
                     `x-also-accepts` on each request body says so); endpoints that only \
                     read also take GET with a query string. Every answer is the envelope \
                     `{\"response\": {\"status\": …, <payload>}}`; errors add `response.error`.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .tags(Some(tags()))
        .build()
}

/// The tags operations are grouped by.
fn tags() -> Vec<utoipa::openapi::tag::Tag> {
    [
                ("api", "About the service."),
                (
                    "user",
                    "The caller: account, sessions, API keys, organizations, invites.",
                ),
                (
                    "customer",
                    "One organization: details, settings, collaborators, projects.",
                ),
                (
                    "invite",
                    "Invitations: create, list, the emailed link's details, accept, decline, revoke, resend.",
                ),
                (
                    "access",
                    "Permission checks for the provider's own services: may this person do this here?",
                ),
                (
                    "scim",
                    "SCIM 2.0 (RFC 7643, RFC 7644) at /scim/v2: a company's directory keeps the organization's members and teams in step, authenticated by an API key bound to the organization.",
                ),
                ("operations", "Probes for orchestrators."),
            ]
            .map(|(name, description)| {
                TagBuilder::new()
                    .name(name)
                    .description(Some(description))
                    .build()
            })
            .into()
}

/// The security schemes, the shared error responses and every schema the
/// operations registered.
fn components(mut schemas: Vec<(String, RefOr<Schema>)>) -> utoipa::openapi::Components {
    let mut components = ComponentsBuilder::new().security_scheme(
        BEARER,
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("session JWT, API key, provider token or service key")
                .description(Some(
                    "A session token from `user/login` or an API key from `user/createapikey`; \
                     or a provider token: a JWT of an issuer the operator trusts \
                     (`COLLABD_TRUSTED_ISSUERS`), verified against the keys its discovery \
                     document names (RS256, PS256, ES256 or EdDSA, `aud` containing \
                     `COLLABD_TRUSTED_AUDIENCE`, 60 s of leeway on `exp` and `nbf`), which acts \
                     as a session of the account linked to its (`iss`, `sub`), found or made \
                     by its verified `email` on first sight (401 without one); it answers 503 \
                     `unavailable` when the issuer's keys cannot be fetched and none kept \
                     matches, and `user/logout` with it answers 200 and ends nothing. For the \
                     permission checks, also a service key (`cds_…`, made with \
                     `collabd servicekey create NAME`), which every other endpoint refuses \
                     with 403.",
                ))
                .build(),
        ),
    );
    components = components.security_scheme(
        BASIC,
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Basic)
                .description(Some(
                    "As GleSYS API clients send credentials: the password is an API key (a \
                     session token is refused); the user part may be anything, and when it has the \
                     form of an organization id (a UUID) it stands for `organizationid` where a \
                     request names none, answering exactly as that parameter would (404 for an \
                     organization the caller may not see, or 403 for a key bound to another one, \
                     whether or not it exists).",
                ))
                .build(),
        ),
    );
    for (code, name, description) in ERRORS {
        let envelope = RefOr::Ref(Ref::from_schema_name("ErrorEnvelope"));
        components = components.response(
            *name,
            error_response(*code, description, "application/json", envelope),
        );
    }
    schemas.sort_by(|a, b| a.0.cmp(&b.0));
    schemas.dedup_by(|a, b| a.0 == b.0);
    for (name, schema) in schemas {
        components = components.schema(name, schema);
    }
    components.build()
}

/// The document as the server serves it and `collabd openapi` prints it.
pub fn document_json() -> String {
    document_json_with(None)
}

/// [`document_json`], with the endpoints `extra` adds.
pub fn document_json_with(extra: Option<Extra>) -> String {
    let mut doc = match serde_json::to_value(document_with(extra)) {
        Ok(doc) => doc,
        Err(_) => return "{}".into(),
    };
    rules::refine(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
}

/// `{"response": {"status": …, <members>}}`.
fn envelope(status: RefOr<Schema>, members: &[(&str, RefOr<Schema>)]) -> Schema {
    let mut inner = ObjectBuilder::new()
        .property("status", status)
        .required("status");
    for (key, schema) in members {
        inner = inner.property(*key, schema.clone()).required(*key);
    }
    Schema::Object(
        ObjectBuilder::new()
            .property("response", inner)
            .required("response")
            .build(),
    )
}

/// The document one server serves at `/openapi.json`: made at its first
/// request, then kept.
pub struct Served {
    extra: Option<Extra>,
    json: std::sync::OnceLock<actix_web::web::Bytes>,
}

impl Served {
    pub fn new(extra: Option<Extra>) -> Served {
        Served {
            extra,
            json: std::sync::OnceLock::new(),
        }
    }

    pub fn json(&self) -> actix_web::web::Bytes {
        self.json
            .get_or_init(|| document_json_with(self.extra).into())
            .clone()
    }
}

/// An error response: its body `schema` in `media_type`, and the headers
/// its status carries.
fn error_response(
    code: u16,
    description: &str,
    media_type: &str,
    schema: RefOr<Schema>,
) -> utoipa::openapi::Response {
    let mut response = ResponseBuilder::new().description(description).content(
        media_type,
        ContentBuilder::new().schema(Some(schema)).build(),
    );
    let string = || ObjectBuilder::new().schema_type(Type::String).build();
    match code {
        401 => {
            response = response.header(
                "WWW-Authenticate",
                HeaderBuilder::new()
                    .schema(string())
                    .description(Some(
                        "`Bearer, Basic realm=\"collabd\"`: the two schemes accepted",
                    ))
                    .build(),
            )
        }
        429 | 503 => {
            response = response.header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(string())
                    .description(Some("Seconds to wait."))
                    .build(),
            )
        }
        _ => {}
    }
    response.build()
}

/// How a POST is retried safely; described rather than listed as a header
/// parameter, so that fuzzers do not reuse one key for different requests.
const RETRIES: &str = "Retries: send `Idempotency-Key: <1–255 printable ASCII characters>`. The \
    first answer to a key is kept for 24 hours per caller; the same key with the same \
    parameters answers it again with `Idempotent-Replayed: true` and changes nothing, other \
    parameters answer 422, and a repeat while the first still runs answers 409 \
    `request_in_progress` (for at most a minute if the first never answers). Answers of 401, \
    429, 500 and 503 are not kept: a retry runs again. A key belongs to the credential that \
    sent it (a session's user, one API key, or the client address when there is none).";

fn access_text(access: Access) -> String {
    match access {
        Access::Public => "Public: no token needed.".into(),
        Access::User => "Needs a bearer token (or an API key over HTTP Basic).".into(),
        Access::Member(need) => format!(
            "Needs a bearer token (or an API key over HTTP Basic) of a member of the \
             organization; non-members get 404. {}",
            need.describe()
        ),
        Access::Optional => "Public with a token from an email, or signed in.".into(),
        Access::Service => "Needs a service key (`Authorization: Bearer cds_…`, made on the \
            server with `collabd servicekey create NAME`), for any organization; or an API key \
            bound to the organization whose holder has `members:read` there (as `Bearer`, or \
            over HTTP Basic), for that organization only: another organization answers 403. \
            A session token, or an API key bound to no organization, answers 403: a check \
            tells who belongs to an organization, which only credentials made for that (a \
            service key, a key bound to the organization) may ask; a user interface asks \
            `customer/mypermissions` for its own user instead."
            .into(),
    }
}

/// The statuses an operation can answer besides 200: 400, 408, 413 and 422
/// when it takes parameters or is a POST (which takes an `Idempotency-Key`, whose
/// repeat while the first request runs answers 409), 401 unless it is
/// public, its rules' refusals, and 500 and 503 always.
fn error_statuses(endpoint: &Documented, method: &HttpMethod) -> Vec<u16> {
    let mut codes: Vec<u16> = endpoint.refusals.iter().map(|r| r.status()).collect();
    if endpoint.params.is_some() || *method == HttpMethod::Post {
        codes.extend([400, 408, 413, 422]);
    }
    if *method == HttpMethod::Post {
        codes.push(409);
    }
    if endpoint.access != Access::Public {
        // 403 too: a service key is refused everywhere but the checks.
        codes.extend([401, 403]);
    }
    codes.extend([500, 503]);
    codes.sort_unstable();
    codes.dedup();
    codes
}

fn path_item(
    endpoint: &Documented,
    status: &RefOr<Schema>,
    schemas: &mut Vec<(String, RefOr<Schema>)>,
) -> PathItem {
    let (code, success) = answers::success(endpoint, status, schemas);
    let params = endpoint.params.map(|f| f(schemas));
    let description = format!(
        "{}\n\n{}",
        endpoint.description,
        access_text(endpoint.access)
    );
    let mut operation = |method: HttpMethod| {
        let description = match method {
            HttpMethod::Post if endpoint.access != Access::Service => {
                format!("{description}\n\n{RETRIES}")
            }
            _ => description.clone(),
        };
        let mut op = OperationBuilder::new()
            .tag(endpoint.tag)
            .summary(Some(endpoint.summary))
            .description(Some(description))
            .response(code.clone(), success.clone());
        for (code, response) in
            answers::errors(endpoint, error_statuses(endpoint, &method), schemas)
        {
            op = op.response(code, response);
        }
        if let Answers::Own(own) = &endpoint.answer {
            for (code, response) in (own.more)() {
                op = op.response(code.as_u16().to_string(), response);
            }
        }
        op = match endpoint.access {
            Access::Public => op,
            Access::User | Access::Member(_) | Access::Service => op
                .security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
                .security(SecurityRequirement::new(BASIC, Vec::<String>::new())),
            Access::Optional => op
                .security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
                .security(SecurityRequirement::new(BASIC, Vec::<String>::new()))
                .security(SecurityRequirement::default()),
        };
        for parameter in answers::path_parameters(endpoint.path) {
            op = op.parameter(parameter);
        }
        match (&method, &params) {
            (HttpMethod::Get, Some(schema)) => {
                op = op.operation_id(Some(format!("{}Get", endpoint.operation_id)));
                for parameter in query_parameters(schema, schemas) {
                    op = op.parameter(parameter);
                }
            }
            (HttpMethod::Get, None) => op = op.operation_id(Some(endpoint.operation_id)),
            (_, Some(schema)) => {
                op = op
                    .operation_id(Some(endpoint.operation_id))
                    .request_body(Some(request_body(endpoint, schema, schemas)));
            }
            (_, None) => op = op.operation_id(Some(endpoint.operation_id)),
        }
        op.build()
    };

    let mut item = PathItem::default();
    for method in endpoint.methods.list() {
        let method = answers::http_method(method);
        item.merge_operations(PathItem::new(method.clone(), operation(method)));
    }
    item
}

/// The body of a POST, documented as JSON only: generators given two media
/// types with one schema send the form (and openapi-python-client 0.29 cannot
/// import a required multi-type body). The form body the server also accepts
/// is stated in `x-also-accepts` and in the document's description. Outside
/// the envelope, the body is documented in the endpoint's own media type,
/// and JSON is among what it also accepts.
fn request_body(
    endpoint: &Documented,
    schema: &RefOr<Schema>,
    schemas: &[(String, RefOr<Schema>)],
) -> utoipa::openapi::request_body::RequestBody {
    let (media_type, also): (&str, &[&str]) = match &endpoint.answer {
        Answers::Envelope(_) => ("application/json", &["application/x-www-form-urlencoded"]),
        Answers::Own(own) => (
            own.media_type,
            &["application/json", "application/x-www-form-urlencoded"],
        ),
    };
    RequestBodyBuilder::new()
        .required(Some(if has_required(schema, schemas) {
            Required::True
        } else {
            Required::False
        }))
        .content(
            media_type,
            ContentBuilder::new().schema(Some(schema.clone())).build(),
        )
        .extensions(Some(
            ExtensionsBuilder::new().add("x-also-accepts", also).build(),
        ))
        .build()
}

/// The object schema a reference points to, from the collected components.
fn resolve<'a>(
    schema: &'a RefOr<Schema>,
    schemas: &'a [(String, RefOr<Schema>)],
) -> Option<&'a utoipa::openapi::schema::Object> {
    match schema {
        RefOr::T(Schema::Object(object)) => Some(object),
        RefOr::Ref(reference) => {
            let name = reference.ref_location.rsplit('/').next()?;
            schemas
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, s)| match s {
                    RefOr::T(Schema::Object(object)) => Some(object),
                    _ => None,
                })
        }
        _ => None,
    }
}

fn has_required(schema: &RefOr<Schema>, schemas: &[(String, RefOr<Schema>)]) -> bool {
    resolve(schema, schemas).is_some_and(|o| !o.required.is_empty())
}

/// The parameters object as query parameters, for the GET form of reads.
fn query_parameters(
    schema: &RefOr<Schema>,
    schemas: &[(String, RefOr<Schema>)],
) -> Vec<utoipa::openapi::path::Parameter> {
    let Some(object) = resolve(schema, schemas) else {
        return Vec::new();
    };
    object
        .properties
        .iter()
        .map(|(name, property)| {
            let required = object.required.contains(name);
            let description = match property {
                RefOr::T(Schema::Object(o)) => o.description.clone(),
                _ => None,
            };
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(if required {
                    Required::True
                } else {
                    Required::False
                })
                .description(description)
                .schema(Some(property.clone()))
                .build()
        })
        .collect()
}
