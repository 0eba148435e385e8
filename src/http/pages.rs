//! The pages email links open: `GET /invite/{token}`, `/confirm/{token}`,
//! `/reset/{token}` and `/signin/{token}` (and `/domain/{token}`, in
//! `verified_domains.rs`). A GET never acts by itself, because mail scanners
//! follow links: the page says what the link is for, asks, and its button
//! posts to the API; then it says what happened and what to do next.
//!
//! Every page is a template (`page/<name>.html`, [`crate::texts`]) rendered
//! in its reader's language ([`language`], API.md §13), every value escaped.

use actix_web::http::header::{AcceptLanguage, Header, Preference, Quality};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::value::Value;

use super::error::ApiError;
use super::work::run;
use crate::domain::{accounts, invites, links, Ctx, LinkKind};
use crate::store::kinds::TokenPurpose;
use crate::texts::{one_line, person, LINK_REFUSALS};

/// The headers every page answers with: the token may be in the URL, so
/// keep it out of Referer headers and caches; and nothing but the page's
/// own script and style runs.
pub(super) const PAGE_HEADERS: [(&str, &str); 5] = [
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    // The language follows Accept-Language when nothing else decides.
    ("Vary", "Accept-Language"),
];

/// The language of a page: `stored` (the reader's account's, or for someone
/// without an account the organization's) when collabd has it, else the
/// first of the browser's `Accept-Language` collabd has (a tag's primary
/// language will do: `sv-SE` is `sv`; `q=0` refuses), else the default.
pub(super) fn language(ctx: &Ctx, request: &HttpRequest, stored: Option<&str>) -> String {
    if let Some(stored) = stored.filter(|l| ctx.texts.has(l)) {
        return stored.to_string();
    }
    let mut asked = AcceptLanguage::parse(request).map_or_else(|_| Vec::new(), |h| h.0);
    // Stable: equal weights keep the browser's order.
    asked.sort_by_key(|item| std::cmp::Reverse(item.quality));
    asked
        .iter()
        .filter(|item| item.quality > Quality::ZERO)
        .filter_map(|item| match &item.item {
            Preference::Specific(tag) => Some(tag),
            Preference::Any => None,
        })
        .find_map(|tag| {
            [tag.as_str(), tag.primary_language()]
                .into_iter()
                .find_map(|code| ctx.texts.named(code))
        })
        .map(str::to_string)
        .unwrap_or_else(|| ctx.texts.default_language.clone())
}

/// A value for a page: on one line, as in emails (no forged lines, no
/// reordering marks); escaped when rendered.
pub(super) fn page_text(value: impl AsRef<str>) -> Value {
    Value::from(one_line(value.as_ref()))
}

/// The page `name` in `language` with `values`, as HTML; `None` (logged)
/// only when even the built-in template fails, which the check at start
/// rules out for every value it tries.
pub(super) fn render(
    ctx: &Ctx,
    name: &str,
    language: &str,
    values: &[(&str, Value)],
) -> Option<String> {
    ctx.texts
        .page(name, language, values)
        .map_err(|why| tracing::error!(error = %why, "a page could not be rendered"))
        .ok()
}

/// [`render`], answered with `status` and [`PAGE_HEADERS`].
pub(super) fn page(
    ctx: &Ctx,
    status: StatusCode,
    name: &str,
    language: &str,
    values: &[(&str, Value)],
) -> HttpResponse {
    let (status, html) = match render(ctx, name, language, values) {
        Some(html) => (status, html),
        None => (StatusCode::INTERNAL_SERVER_ERROR, String::new()),
    };
    let mut response = HttpResponse::build(status);
    response.content_type("text/html; charset=utf-8");
    for header in PAGE_HEADERS {
        response.insert_header(header);
    }
    response.body(html)
}

/// The page of a link of `kind` that cannot be used, from the API's
/// refusal, in the browser's language; with `Retry-After` when waiting
/// helps (too many unknown links; the store busy or out of reach, 1 s).
fn refusal_page(
    ctx: &Ctx,
    request: &HttpRequest,
    kind: LinkKind,
    (status, reason, seconds): (StatusCode, &str, u64),
) -> HttpResponse {
    let language = language(ctx, request, None);
    let values = [
        ("kind", Value::from(kind.as_str())),
        ("reason", Value::from(reason)),
        ("seconds", Value::from(seconds)),
    ];
    let mut response = page(ctx, status, "link_refused", &language, &values);
    if seconds > 0 {
        if let Ok(value) = seconds.to_string().try_into() {
            response
                .headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, value);
        }
    }
    response
}

/// The status, `reason` and wait of the page for the API's refusal of a
/// link.
fn refusal_of(error: &ApiError) -> (StatusCode, &'static str, u64) {
    match error {
        ApiError::Gone { reason, .. } => (
            StatusCode::GONE,
            LINK_REFUSALS
                .iter()
                .find(|r| *r == reason)
                .copied()
                .unwrap_or("expired"),
            0,
        ),
        ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "unknown", 0),
        ApiError::RateLimited(seconds) => (StatusCode::TOO_MANY_REQUESTS, "too_many", *seconds),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", 1),
    }
}

/// What the emailed `token` of a link of `kind` stands for, found by `find`
/// (an unknown token counts toward the client address's limit, as on the
/// API), or the page that says why there is none.
pub(super) async fn look_up<T: Send + 'static>(
    ctx: &web::Data<Ctx>,
    request: &HttpRequest,
    client: std::net::IpAddr,
    (kind, token): (LinkKind, &str),
    find: impl Fn(&Ctx, &str) -> crate::domain::DomainResult<T> + Send + 'static,
) -> Result<T, HttpResponse> {
    if super::params::valid_token(token).is_err() {
        let malformed = (StatusCode::NOT_FOUND, "malformed", 0);
        return Err(refusal_page(ctx, request, kind, malformed));
    }
    let lookup = token.to_string();
    run(ctx.clone(), move |ctx| {
        ctx.limits.token_call(client, || find(ctx, &lookup))
    })
    .await
    .map_err(|e| refusal_page(ctx, request, kind, refusal_of(&e)))
}

/// The account an account link (reset, sign-in) of `kind` belongs to, and
/// the language of its page; or the page that says why there is none.
async fn holder(
    ctx: &web::Data<Ctx>,
    request: &HttpRequest,
    client: std::net::IpAddr,
    (kind, token): (LinkKind, &str),
) -> Result<(accounts::User, String), HttpResponse> {
    let purpose = match kind {
        LinkKind::Signin => TokenPurpose::Signin,
        _ => TokenPurpose::Reset,
    };
    let found = look_up(ctx, request, client, (kind, token), move |ctx, t| {
        links::holder(ctx, purpose, t)
    });
    let user = found.await?;
    let language = language(ctx, request, user.language.as_deref());
    Ok((user, language))
}

/// `GET /reset/{token}`: asks for the new password, then says to sign in.
pub async fn reset_page(
    ctx: web::Data<Ctx>,
    request: HttpRequest,
    client: super::client_address::ClientAddress,
    token: web::Path<String>,
) -> HttpResponse {
    let token = token.into_inner();
    match holder(&ctx, &request, client.0, (LinkKind::Reset, &token)).await {
        Ok((user, language)) => {
            let values = [
                ("email", page_text(&user.email)),
                ("token", page_text(&token)),
            ];
            page(&ctx, StatusCode::OK, "reset", &language, &values)
        }
        Err(page) => page,
    }
}

/// `GET /signin/{token}`: asks (and for the code, with two-factor on), then
/// shows the session.
pub async fn signin_page(
    ctx: web::Data<Ctx>,
    request: HttpRequest,
    client: super::client_address::ClientAddress,
    token: web::Path<String>,
) -> HttpResponse {
    let token = token.into_inner();
    match holder(&ctx, &request, client.0, (LinkKind::Signin, &token)).await {
        Ok((user, language)) => {
            let values = [
                ("email", page_text(&user.email)),
                ("twofactor", Value::from(user.twofactorenabled)),
                ("token", page_text(&token)),
            ];
            page(&ctx, StatusCode::OK, "signin", &language, &values)
        }
        Err(page) => page,
    }
}

/// `GET /invite/{token}`: shows the invite and asks; in the invitee
/// account's language, else (no account) the organization's.
pub async fn invite_page(
    ctx: web::Data<Ctx>,
    request: HttpRequest,
    client: super::client_address::ClientAddress,
    token: web::Path<String>,
) -> HttpResponse {
    let token = token.into_inner();
    let found = look_up(
        &ctx,
        &request,
        client.0,
        (LinkKind::Invite, &token),
        invites::page_details,
    );
    let (invite, stored) = match found.await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let language = language(&ctx, &request, stored.as_deref());
    let by = &invite.invitedby;
    let values = [
        ("inviter", person(&by.name, &by.email, by.confirmed)),
        ("email", page_text(&invite.email)),
        ("organization", page_text(&invite.organizationname)),
        ("role", page_text(invite.role.as_str())),
        ("expires", page_text(&invite.expiresat)),
        ("token", page_text(&token)),
    ];
    page(&ctx, StatusCode::OK, "invite", &language, &values)
}

/// `GET /confirm/{token}`: says which address the link confirms, asks,
/// then says what to do next.
pub async fn confirm_page(
    ctx: web::Data<Ctx>,
    request: HttpRequest,
    client: super::client_address::ClientAddress,
    token: web::Path<String>,
) -> HttpResponse {
    let token = token.into_inner();
    let found = look_up(
        &ctx,
        &request,
        client.0,
        (LinkKind::Confirm, &token),
        accounts::confirmation_details,
    );
    let confirmation = match found.await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let language = language(&ctx, &request, confirmation.language.as_deref());
    let values = [
        ("email", page_text(&confirmation.address)),
        (
            "current",
            page_text(confirmation.current.unwrap_or_default()),
        ),
        ("token", page_text(&token)),
    ];
    page(&ctx, StatusCode::OK, "confirm", &language, &values)
}
