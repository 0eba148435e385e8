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
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    tag::TagBuilder, ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required, Schema,
};
use utoipa::ToSchema;

use super::{register_all, Access, Api, Documented, Methods};

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
    /// `twofactor_not_started`; with
    /// 410: `expired`, `revoked`, `declined`, `accepted`, `used`.
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
    (403, "Forbidden", "`forbidden`: signed in, but the role does not allow this."),
    (404, "NotFound", "`not_found`: no such object, or one the caller may not see."),
    (405, "MethodNotAllowed", "`method_not_allowed`: GET on an endpoint that writes."),
    (409, "Conflict", "`conflict`, with `error.reason`."),
    (410, "Gone", "`gone`: the invite or link has ended; `error.reason` says how."),
    (408, "RequestTimeout", "`invalid_request`: the body did not all arrive within `COLLABD_BODY_TIMEOUT_SECS` (10) of the headers. The connection is closed after this answer. (Headers that take over 5 s get a bare 408, or the connection closed, before any endpoint is reached.)"),
    (413, "PayloadTooLarge", "`payload_too_large`: the body is over the limit (64 KiB by default)."),
    (422, "ValidationFailed", "`validation_failed`: `error.fields` names each unacceptable parameter."),
    (429, "RateLimited", "`rate_limited`: too many attempts; see `Retry-After`."),
    (500, "Internal", "`internal`: a bug; the body carries no internal details."),
    (503, "Unavailable", "`unavailable`: the database cannot be reached, or the server is at its bound for password checks (with `Retry-After`); the request did nothing."),
];

/// The whole document.
pub fn document() -> OpenApi {
    let mut api = Api::document();
    register_all(&mut api);
    let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
    let status = super::schema_ref::<Status>(&mut schemas);
    let error = super::schema_ref::<Error>(&mut schemas);
    schemas.push((
        "ErrorEnvelope".into(),
        envelope(status.clone(), &[("error", error)]).into(),
    ));

    let mut paths = PathsBuilder::new();
    for endpoint in &api.endpoints {
        paths = paths.path(endpoint.path, path_item(endpoint, &status, &mut schemas));
    }

    let mut components = ComponentsBuilder::new().security_scheme(
        BEARER,
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("session JWT or API key")
                .description(Some(
                    "A session token from `user/login` or an API key from `user/createapikey`.",
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
        components = components.response(*name, error_response(*code, description));
    }
    schemas.sort_by(|a, b| a.0.cmp(&b.0));
    schemas.dedup_by(|a, b| a.0 == b.0);
    for (name, schema) in schemas {
        components = components.schema(name, schema);
    }

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
        .components(Some(components.build()))
        .tags(Some(
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
                ("operations", "Probes for orchestrators."),
            ]
            .map(|(name, description)| {
                TagBuilder::new()
                    .name(name)
                    .description(Some(description))
                    .build()
            }),
        ))
        .build()
}

/// The document as the server serves it and `collabd openapi` prints it.
pub fn document_json() -> String {
    let mut doc = match serde_json::to_value(document()) {
        Ok(doc) => doc,
        Err(_) => return "{}".into(),
    };
    refine(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
}

/// Rules between parameters that the derived schemas cannot state, added to
/// the parameter objects by name (JSON Schema): the server refuses (422)
/// whatever breaks them, so the document says so too.
const PARAMETER_RULES: &[(&str, &str)] = &[
    // Exactly one of `inviteid` and `token`.
    ("AcceptParams", ONE_OF_INVITE_OR_TOKEN),
    ("DeclineParams", ONE_OF_INVITE_OR_TOKEN),
    // A new password needs the current one.
    (
        "EditParams",
        r#"{"if": {"required": ["password"], "properties": {"password": {"type": "string"}}},
            "then": {"required": ["currentpassword"],
                     "properties": {"currentpassword": {"type": "string"}}}}"#,
    ),
];

/// Stated with `if`/`then`/`else` rather than `oneOf`, which generators turn
/// into one class per branch and lose the other parameters.
const ONE_OF_INVITE_OR_TOKEN: &str = r#"{
    "if": {"required": ["inviteid"], "properties": {"inviteid": {"type": "string"}}},
    "then": {"properties": {"token": {"type": "null"}}},
    "else": {"required": ["token"], "properties": {"token": {"type": "string"}}}
}"#;

/// Adds [`PARAMETER_RULES`] and folds the one-member `oneOf` utoipa writes
/// around an inline schema with its own description into that schema.
fn refine(doc: &mut serde_json::Value) {
    for (name, rule) in PARAMETER_RULES {
        let (Some(target), Ok(serde_json::Value::Object(rule))) = (
            doc.pointer_mut(&format!("/components/schemas/{name}")),
            serde_json::from_str::<serde_json::Value>(rule),
        ) else {
            continue;
        };
        if let Some(target) = target.as_object_mut() {
            target.extend(rule);
        }
    }
    fold_single_one_of(doc);
}

fn fold_single_one_of(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let single = match map.get("oneOf") {
                Some(serde_json::Value::Array(items)) if items.len() == 1 => items[0]
                    .as_object()
                    .filter(|o| !o.contains_key("$ref"))
                    .cloned(),
                _ => None,
            };
            if let Some(inner) = single {
                map.remove("oneOf");
                for (key, value) in inner {
                    map.entry(key).or_insert(value);
                }
            }
            map.values_mut().for_each(fold_single_one_of);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(fold_single_one_of),
        _ => {}
    }
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

fn error_response(code: u16, description: &str) -> utoipa::openapi::Response {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
            .build(),
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
        codes.push(401);
    }
    codes.extend([500, 503]);
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// The success envelope: `status` and exactly the answer type's members.
fn success_schema(
    endpoint: &Documented,
    status: &RefOr<Schema>,
    schemas: &mut Vec<(String, RefOr<Schema>)>,
) -> Schema {
    let mut inner = ObjectBuilder::new()
        .property("status", status.clone())
        .required("status")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    if let RefOr::T(Schema::Object(answer)) = (endpoint.answer)(schemas) {
        for (key, schema) in answer.properties {
            inner = inner.property(key, schema);
        }
        for key in answer.required {
            inner = inner.required(key);
        }
    }
    Schema::Object(
        ObjectBuilder::new()
            .property("response", inner)
            .required("response")
            .build(),
    )
}

fn path_item(
    endpoint: &Documented,
    status: &RefOr<Schema>,
    schemas: &mut Vec<(String, RefOr<Schema>)>,
) -> PathItem {
    let success = ResponseBuilder::new()
        .description("OK")
        .header(
            "X-Transaction-Id",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String).build())
                .description(Some("The request's transaction id."))
                .build(),
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(success_schema(endpoint, status, schemas)))
                .build(),
        )
        .build();
    let params = endpoint.params.map(|f| f(schemas));
    let description = format!(
        "{}\n\n{}",
        endpoint.description,
        access_text(endpoint.access)
    );
    let operation = |method: HttpMethod| {
        let description = match method {
            HttpMethod::Post => format!("{description}\n\n{RETRIES}"),
            _ => description.clone(),
        };
        let mut op = OperationBuilder::new()
            .tag(endpoint.tag)
            .summary(Some(endpoint.summary))
            .description(Some(description))
            .response("200", success.clone());
        for code in &error_statuses(endpoint, &method) {
            if let Some((_, name, _)) = ERRORS.iter().find(|(c, _, _)| c == code) {
                op = op.response(code.to_string(), RefOr::Ref(Ref::from_response_name(*name)));
            }
        }
        op = match endpoint.access {
            Access::Public => op,
            Access::User | Access::Member(_) => op
                .security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
                .security(SecurityRequirement::new(BASIC, Vec::<String>::new())),
            Access::Optional => op
                .security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
                .security(SecurityRequirement::new(BASIC, Vec::<String>::new()))
                .security(SecurityRequirement::default()),
        };
        match (method, &params) {
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
                    .request_body(Some(request_body(schema, schemas)));
            }
            (_, None) => op = op.operation_id(Some(endpoint.operation_id)),
        }
        op.build()
    };

    let mut item = match endpoint.methods {
        Methods::Get => PathItem::new(HttpMethod::Get, operation(HttpMethod::Get)),
        Methods::Post => PathItem::new(HttpMethod::Post, operation(HttpMethod::Post)),
        Methods::GetPost => {
            let mut item = PathItem::new(HttpMethod::Post, operation(HttpMethod::Post));
            item.get = Some(operation(HttpMethod::Get));
            item
        }
    };
    item.summary = None;
    item
}

/// The body of a POST, documented as JSON only: generators given two media
/// types with one schema send the form (and openapi-python-client 0.29 cannot
/// import a required multi-type body). The form body the server also accepts
/// is stated in `x-also-accepts` and in the document's description.
fn request_body(
    schema: &RefOr<Schema>,
    schemas: &[(String, RefOr<Schema>)],
) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .required(Some(if has_required(schema, schemas) {
            Required::True
        } else {
            Required::False
        }))
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema.clone())).build(),
        )
        .extensions(Some(
            ExtensionsBuilder::new()
                .add("x-also-accepts", ["application/x-www-form-urlencoded"])
                .build(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_rule_lands_on_its_schema() {
        let doc: serde_json::Value = serde_json::from_str(&document_json()).expect("JSON");
        for (name, _) in PARAMETER_RULES {
            let schema = &doc["components"]["schemas"][name];
            assert!(schema.get("if").is_some(), "{name}: {schema}");
        }
    }

    #[test]
    fn no_one_member_one_of_is_left() {
        fn walk(value: &serde_json::Value, path: &str) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(list) = map.get("oneOf").and_then(|l| l.as_array()) {
                        assert!(list.len() > 1, "one-member oneOf at {path}");
                    }
                    for (key, value) in map {
                        walk(value, &format!("{path}/{key}"));
                    }
                }
                serde_json::Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        walk(item, &format!("{path}/{i}"));
                    }
                }
                _ => {}
            }
        }
        let doc: serde_json::Value = serde_json::from_str(&document_json()).expect("JSON");
        walk(&doc, "");
        // The walk sees what it looks for: the raw document has such oneOfs.
        let raw = serde_json::to_value(document()).expect("JSON");
        let folded = std::panic::catch_unwind(|| walk(&raw, ""));
        assert!(
            folded.is_err(),
            "the unfolded document has one-member oneOfs"
        );
    }
}
