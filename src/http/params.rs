//! One extractor for parameters, whether they come as JSON, as a form or as a
//! query string. It rejects unknown parameters and wrong types (400), bodies
//! over the limit (413), bodies that arrive too slowly (408) and unacceptable
//! values (422, naming each field).

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::dev::Payload as BodyStream;
use actix_web::http::{header, Method};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use super::error::ApiError;

/// The largest body accepted, in bytes (`COLLABD_MAX_BODY_BYTES`).
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

impl BodyLimit {
    /// The limit the app was built with.
    pub fn of(req: &HttpRequest) -> usize {
        req.app_data::<BodyLimit>()
            .copied()
            .unwrap_or(BodyLimit(64 * 1024))
            .0
    }
}

/// How long a body may take to arrive once the request has
/// (`COLLABD_BODY_TIMEOUT_SECS`).
#[derive(Clone, Copy, Debug)]
pub struct BodyTimeout(pub Duration);

/// When a request reached the app (its headers had all arrived); its body
/// is timed from then.
#[derive(Clone, Copy, Debug)]
pub struct Arrival(pub tokio::time::Instant);

/// What a request's body must keep to: at most `limit` bytes, all arrived
/// by `deadline`.
#[derive(Clone, Copy, Debug)]
pub struct BodyRules {
    pub limit: usize,
    timeout: Duration,
    deadline: tokio::time::Instant,
}

impl BodyRules {
    /// The rules of the app `req` came to, timed from its [`Arrival`].
    pub fn of(req: &HttpRequest) -> BodyRules {
        let timeout = req
            .app_data::<BodyTimeout>()
            .copied()
            .unwrap_or(BodyTimeout(Duration::from_secs(10)))
            .0;
        let arrival = req
            .extensions()
            .get::<Arrival>()
            .map_or_else(tokio::time::Instant::now, |a| a.0);
        BodyRules {
            limit: BodyLimit::of(req),
            timeout,
            deadline: arrival + timeout,
        }
    }
}

/// Validated parameters of type `T`.
pub struct Params<T>(pub T);

impl<T> FromRequest for Params<T>
where
    T: DeserializeOwned + Validate + 'static,
{
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut BodyStream) -> Self::Future {
        let rules = BodyRules::of(req);
        let limit = rules.limit;
        let is_get = req.method() == Method::GET;
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let query = req.query_string().to_string();
        // An endpoint outside the envelope takes its own media type as JSON.
        let own_media = req
            .extensions()
            .get::<super::wire::BodyMedia>()
            .map(|media| media.0);
        let mut stream = payload.take();
        Box::pin(async move {
            if declared_length.is_some_and(|len| len > limit) {
                return Err(ApiError::PayloadTooLarge(limit));
            }
            if !is_get && !query.is_empty() {
                // Secrets in URLs end up in logs and histories.
                return Err(ApiError::InvalidRequest(
                    "a POST takes its parameters in the body, not in the query string".into(),
                ));
            }
            let body = read_body(&mut stream, rules).await?;
            let params: T = if is_get || body.iter().all(u8::is_ascii_whitespace) {
                parse_form(query.as_bytes())?
            } else {
                match content_type.as_deref() {
                    Some("application/json") => parse_json(&body)?,
                    Some(media) if Some(media) == own_media => parse_json(&body)?,
                    Some("application/x-www-form-urlencoded") => parse_form(&body)?,
                    Some(other) => {
                        return Err(ApiError::InvalidRequest(format!(
                            "content type {other} is not accepted: send application/json or application/x-www-form-urlencoded"
                        )))
                    }
                    None => {
                        return Err(ApiError::InvalidRequest(
                            "a body needs a Content-Type: application/json or application/x-www-form-urlencoded".into(),
                        ))
                    }
                }
            };
            params.validate().map_err(validation_error)?;
            Ok(Params(params))
        })
    }
}

/// The whole body; 413 past the limit, 408 when it has not all arrived by
/// the deadline (a client trickling it would otherwise hold its connection
/// and this request for as long as it likes).
pub async fn read_body(stream: &mut BodyStream, rules: BodyRules) -> Result<Vec<u8>, ApiError> {
    let read = async {
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::InvalidRequest(format!("reading the body: {e}")))?;
            if body.len() + chunk.len() > rules.limit {
                return Err(ApiError::PayloadTooLarge(rules.limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout_at(rules.deadline, read)
        .await
        .unwrap_or(Err(ApiError::RequestTimeout(rules.timeout.as_secs())))
}

/// For a parameter where `null` means something (`expiresat: null`: make
/// it lasting): absent is `None`, null is `Some(None)`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// One JSON object judged as a request body of `T` would be: 400 for a
/// wrong shape or type, 422 for an unacceptable value (as the extractor).
pub fn judge_json<T: DeserializeOwned + Validate>(value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::InvalidRequest(
            "each row must be an object".into(),
        ));
    }
    if let Some(field) = nul_in_json(&value, "") {
        return Err(nul_error(field));
    }
    let parsed: T = serde_json::from_value(value).map_err(|e| parameter_error(&e.to_string()))?;
    parsed.validate().map_err(validation_error)?;
    Ok(parsed)
}

fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // The common case straight into `T`; anything else (an object `T`
    // refuses, a key named twice, a `\u0000`) the way below, which says why.
    let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    // JSON writes U+0000 in a string only as the escape `\u0000`.
    let nul_free = !body.windows(6).any(|w| w == b"\\u0000");
    if object && nul_free {
        if let Ok(parsed) = serde_json::from_slice::<T>(body) {
            return Ok(parsed);
        }
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::InvalidRequest(format!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::InvalidRequest(
            "the JSON body must be an object".into(),
        ));
    }
    let nul = (!nul_free).then(|| nul_in_json(&value, ""));
    if let Some(field) = nul.flatten() {
        return Err(nul_error(field));
    }
    serde_json::from_value(value).map_err(|e| parameter_error(&e.to_string()))
}

/// The first parameter (dotted path) whose text holds U+0000, which no
/// database stores as text: refused here, for every endpoint at once.
fn nul_in_json(value: &serde_json::Value, path: &str) -> Option<String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        serde_json::Value::String(text) if text.contains('\0') => Some(path.to_string()),
        serde_json::Value::Object(map) => map.iter().find_map(|(key, value)| {
            if key.contains('\0') {
                Some(join(key))
            } else {
                nul_in_json(value, &join(key))
            }
        }),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_in_json(item, &join(&i.to_string()))),
        _ => None,
    }
}

fn nul_error(field: String) -> ApiError {
    let mut fields = BTreeMap::new();
    fields.insert(
        field,
        vec!["must not contain the character U+0000".to_string()],
    );
    ApiError::Validation(fields)
}

fn parse_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| ApiError::InvalidRequest(format!("malformed form: {e}")))?;
    if let Some((key, _)) = pairs
        .iter()
        .find(|(key, value)| key.contains('\0') || value.contains('\0'))
    {
        return Err(nul_error(key.clone()));
    }
    serde_urlencoded::from_bytes(body).map_err(|e| {
        let text = e.to_string();
        if text.contains("invalid type: string")
            || text.contains("expected a sequence")
            || text.contains("expected struct")
        {
            ApiError::InvalidRequest(format!(
                "{text} (structured parameters such as lists need a JSON body)"
            ))
        } else {
            parameter_error(&text)
        }
    })
}

/// A missing parameter is an unacceptable value (422, naming the field);
/// anything else serde refuses is a malformed request (400).
fn parameter_error(text: &str) -> ApiError {
    if let Some(rest) = text.strip_prefix("missing field `") {
        if let Some(field) = rest.split('`').next() {
            let mut fields = BTreeMap::new();
            fields.insert(field.to_string(), vec!["required".to_string()]);
            return ApiError::Validation(fields);
        }
    }
    ApiError::InvalidRequest(format!("invalid parameters: {text}"))
}

/// Flattens validator's errors into `fields`: one list of messages per field,
/// nested fields named with dots (`projectpermissions.0.permission`).
pub fn validation_error(errors: ValidationErrors) -> ApiError {
    let mut fields = BTreeMap::new();
    collect(&errors, "", &mut fields);
    ApiError::Validation(fields)
}

fn collect(errors: &ValidationErrors, prefix: &str, out: &mut BTreeMap<String, Vec<String>>) {
    for (field, kind) in errors.errors() {
        let name = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                let messages = list.iter().map(|e| {
                    e.message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| e.code.to_string())
                });
                out.entry(name).or_default().extend(messages);
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &name, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{name}.{index}"), out);
                }
            }
        }
    }
}

/// Checks an email address as the domain keeps it ([`crate::domain::emails`]).
pub fn valid_email(email: &str) -> Result<(), validator::ValidationError> {
    crate::domain::emails::check_email(email)
        .map_err(|why| validator::ValidationError::new("email").with_message(why.into()))
}

/// The address `user/login` takes: 1–254 characters, none invisible or a
/// control character. Anything else is only looked up: an address that is no
/// account's answers 401 like a wrong password.
pub fn valid_login_email(email: &str) -> Result<(), validator::ValidationError> {
    use crate::domain::emails::{is_invisible, INVISIBLE};
    let length = email.chars().count();
    if length == 0 || length > 254 {
        return Err(validator::ValidationError::new("length")
            .with_message("must be 1 to 254 characters".into()));
    }
    if email.trim().chars().any(is_invisible) {
        return Err(validator::ValidationError::new("email").with_message(INVISIBLE.into()));
    }
    Ok(())
}

/// A name: 1–200 characters once trimmed, no control characters.
pub fn valid_name(name: &str) -> Result<(), validator::ValidationError> {
    let trimmed = name.trim();
    let length = trimmed.chars().count();
    if length == 0 || length > crate::domain::MAX_NAME_CHARS {
        return Err(validator::ValidationError::new("length")
            .with_message("must be 1 to 200 characters".into()));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(validator::ValidationError::new("control")
            .with_message("must not contain control characters".into()));
    }
    Ok(())
}

/// A role as a call names it: one of the four system roles, or a custom
/// role's name or roleid (which the organization's roles decide, 422).
pub fn valid_role(role: &str) -> Result<(), validator::ValidationError> {
    if (1..=64).contains(&role.chars().count()) {
        return Ok(());
    }
    Err(validator::ValidationError::new("role").with_message(
        "must be owner, admin, technical, collaborator, or a custom role's name or roleid".into(),
    ))
}

/// The schema of a role as a call names it ([`valid_role`]).
pub struct RoleRef;

impl utoipa::PartialSchema for RoleRef {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(64))
            .description(Some(
                "A system role (`owner`, `admin`, `technical`, `collaborator`), or the name or \
                 roleid of one of the organization's custom roles (422 for another). Nobody \
                 gives a role holding a permission they lack (403), and only owners give \
                 `owner`.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for RoleRef {}

/// `read` or `full`.
pub fn valid_permission(permission: &str) -> Result<(), validator::ValidationError> {
    crate::domain::roles::Permission::parse(permission)
        .map(|_| ())
        .ok_or_else(|| {
            validator::ValidationError::new("permission")
                .with_message("must be read or full".into())
        })
}

/// One of the invite states.
pub fn valid_invite_state(state: &str) -> Result<(), validator::ValidationError> {
    crate::domain::invites::InviteState::parse(state)
        .map(|_| ())
        .ok_or_else(|| {
            validator::ValidationError::new("state")
                .with_message("must be pending, accepted, declined, revoked or expired".into())
        })
}

/// A token from an email: base64url, at most 128 characters.
/// A TOTP code or a recovery code: 1–32 letters, digits, spaces or dashes.
pub fn valid_otp(otp: &str) -> Result<(), validator::ValidationError> {
    if !otp.is_empty()
        && otp.len() <= 32
        && otp
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b' ' || b == b'-')
    {
        Ok(())
    } else {
        Err(validator::ValidationError::new("otp")
            .with_message("a 6-digit code or a recovery code".into()))
    }
}

pub fn valid_token(token: &str) -> Result<(), validator::ValidationError> {
    if !token.is_empty()
        && token.len() <= 128
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(validator::ValidationError::new("token")
            .with_message("not a token this server issued".into()))
    }
}

/// An optional count (`limit`, `invitettldays`, `expiresindays`): JSON
/// Schema counts `27.0` as the integer 27, so a whole number written with a
/// fraction is accepted like the integer, from JSON, a form or a query.
pub fn whole_number<'de, D>(deserializer: D) -> Result<Option<u32>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error;
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Integer(u64),
        Real(f64),
        Text(String),
    }
    let whole = |real: f64| -> Result<u32, D::Error> {
        if real.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&real) {
            Ok(real as u32)
        } else {
            Err(D::Error::custom(format!("{real} is not a whole number")))
        }
    };
    match Option::<Number>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Number::Integer(n)) => u32::try_from(n)
            .map(Some)
            .map_err(|_| D::Error::custom(format!("{n} is too large"))),
        Some(Number::Real(real)) => whole(real).map(Some),
        Some(Number::Text(text)) => match text.trim().parse::<f64>() {
            Ok(real) => whole(real).map(Some),
            Err(_) => Err(D::Error::custom(format!("{text:?} is not a whole number"))),
        },
    }
}

/// The schemas of the text parameters, stating exactly what the checks above
/// accept, so clients and fuzzers can generate only acceptable values. Each is
/// used as `#[schema(value_type = …, inline)]` on a `String` field.
pub mod text {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    use utoipa::openapi::{RefOr, Schema};
    use utoipa::{PartialSchema, ToSchema};

    /// The characters [`crate::domain::emails::is_invisible`] refuses, as
    /// the inside of a regular expression's class: those of the Basic
    /// Multilingual Plane escaped (`\u200b`), the others written as they
    /// are, which ECMA-262 (with `u`), Python and Rust all read alike.
    fn invisible_class() -> &'static str {
        static CLASS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        CLASS.get_or_init(|| {
            let mut ranges: Vec<(char, char)> = Vec::new();
            for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
                if !crate::domain::emails::is_invisible(c) {
                    continue;
                }
                match ranges.last_mut() {
                    Some((_, last)) if u32::from(*last) + 1 == u32::from(c) => *last = c,
                    _ => ranges.push((c, c)),
                }
            }
            let one = |c: char| match u32::from(c) {
                n if n <= 0xFFFF => format!("\\u{n:04x}"),
                _ => c.to_string(),
            };
            ranges
                .iter()
                .map(|&(first, last)| match first == last {
                    true => one(first),
                    false => format!("{}-{}", one(first), one(last)),
                })
                .collect()
        })
    }

    /// Unicode White_Space, which `str::trim` removes.
    const SPACE: &str = r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

    macro_rules! text_schema {
        ($(#[$meta:meta])* $name:ident => |$builder:ident| $build:expr) => {
            $(#[$meta])*
            pub struct $name;

            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    let $builder = ObjectBuilder::new().schema_type(Type::String);
                    $build.into()
                }
            }

            impl ToSchema for $name {
                fn name() -> std::borrow::Cow<'static, str> {
                    std::borrow::Cow::Borrowed(stringify!($name))
                }
            }
        };
    }

    text_schema!(
        /// [`super::valid_name`]: 1–200 characters once trimmed, none a control character.
        Name => |b| b.pattern(Some(format!(
            "^[{SPACE}]*[^\\u0000-\\u0020\\u007f-\\u00a0{rest}]\
             (?:[^\\u0000-\\u001f\\u007f-\\u009f]{{0,198}}[^\\u0000-\\u0020\\u007f-\\u00a0{rest}])?[{SPACE}]*$",
            rest = r"\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000",
        )))
        .description(Some("1 to 200 characters once trimmed; no control characters."))
    );
    text_schema!(
        /// [`super::valid_email`].
        Email => |b| b.format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
            .max_length(Some(254))
            .description(Some("An email address; trimmed and compared case-insensitively, NFC-normalised, \
                its domain in IDNA ASCII form (`bob@exämple.org` is `bob@xn--exmple-cua.org`). One holding \
                an invisible or control character (U+200B, bidirectional marks, other format characters) \
                answers 422."))
    );
    text_schema!(
        /// A password being set: 8–128 characters.
        NewPassword => |b| b.min_length(Some(8)).max_length(Some(128)).pattern(Some("^[^\\u0000]*$"))
    );
    text_schema!(
        /// A password being checked: 1–128 characters.
        Password => |b| b.min_length(Some(1)).max_length(Some(128)).pattern(Some("^[^\\u0000]*$"))
    );
    text_schema!(
        /// [`super::valid_login_email`]: the address `user/login` takes, 1–254 characters.
        LoginEmail => |b| b.min_length(Some(1)).max_length(Some(254))
            .pattern(Some(format!("^[{SPACE}]*[^{}]*[{SPACE}]*$", invisible_class())))
            .description(Some("The account's address, compared as `email` elsewhere is. One holding an \
                invisible or control character answers 422."))
    );
    text_schema!(
        /// [`super::valid_token`]: a token from an email.
        Token => |b| b.pattern(Some("^[A-Za-z0-9_-]{1,128}$"))
            .description(Some("The token from the emailed link."))
    );
    text_schema!(
        /// [`super::valid_otp`]: a second factor.
        Otp => |b| b.min_length(Some(1)).max_length(Some(32)).pattern(Some("^[0-9A-Za-z -]{1,32}$"))
            .description(Some("A current 6-digit code from the authenticator app, or one of the account's unused recovery codes."))
    );
    text_schema!(
        /// An opaque id; unknown ids answer 404.
        Id => |b| b.min_length(Some(1)).pattern(Some("^[^\\u0000]+$"))
    );
    text_schema!(
        /// `nextcursor` of a previous page: base64url without padding.
        Cursor => |b| b.pattern(Some(format!(
            "^(?:[A-Za-z0-9_-]{{4}}){{0,{}}}(?:[A-Za-z0-9_-]{{2,3}})?$",
            crate::domain::paging::CURSOR_QUADS
        )))
            .description(Some("`nextcursor` of the previous page."))
    );
}
