//! `Idempotency-Key` on POST (API.md §1 "Retries"), around the handler and
//! after authentication, which names the caller the key belongs to: the
//! signed-in user, or the client address for public calls. The request's
//! fingerprint is its path and body; the answer kept is its status and body,
//! replayed with `Idempotent-Replayed: true`.

use actix_web::body::{to_bytes, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;

use super::error::ApiError;
use super::params::{read_body, BodyRules};
use super::work::run;
use crate::domain::idempotency::{self, Begin};
use crate::domain::sessions::Caller;
use crate::domain::Ctx;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";

/// The key of a POST, if it carries one; 400 when it is not 1–255
/// printable ASCII characters.
pub fn key_of(req: &ServiceRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or("");
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(ApiError::InvalidRequest(
            "Idempotency-Key must be 1 to 255 printable ASCII characters".into(),
        ));
    }
    Ok(Some(key.to_string()))
}

/// Runs the request under `key`: claims it, or answers as its first use did.
pub async fn run_once(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    caller: Option<&Caller>,
    key: String,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(ctx) = req.app_data::<web::Data<Ctx>>().cloned() else {
        return Ok(req.error_response(ApiError::Internal("no context".into())));
    };
    // A key belongs to one credential: a session's user, or one API key
    // (a bound key never receives what another key or a session was answered).
    let owner = match caller {
        Some(Caller {
            api_key: Some(key), ..
        }) => format!("apikey:{}", key.id),
        Some(caller) => format!("user:{}", caller.user_id),
        None => match super::client_address::client_address(req.request()) {
            Ok(address) => format!("address:{address}"),
            Err(e) => return Ok(req.error_response(e)),
        },
    };
    let rules = BodyRules::of(req.request());
    let mut stream = req.parts_mut().1.take();
    let body = match read_body(&mut stream, rules).await {
        Ok(body) => Bytes::from(body),
        Err(e) => return Ok(req.error_response(e)),
    };
    // Keyed: the body may hold a password.
    let request_hashes = ctx
        .answer_sealer
        .fingerprints(&[req.path().as_bytes(), &body]);
    req.set_payload(Payload::from(body));

    let begun = {
        let (ctx, owner, key) = (ctx.clone(), owner.clone(), key.clone());
        run(ctx, move |ctx| {
            idempotency::begin(
                &ctx.store,
                &ctx.answer_sealer,
                &owner,
                &key,
                &request_hashes,
                crate::domain::now_ms(),
            )
        })
        .await
    };
    match begun {
        Err(e) => Ok(req.error_response(e)),
        Ok(Begin::Replay(status, body)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let response = HttpResponse::build(status)
                .content_type("application/json")
                .insert_header((REPLAYED, HeaderValue::from_static("true")))
                .body(body);
            Ok(req.into_response(response))
        }
        Ok(Begin::Run) => {
            let response = next.call(req).await?;
            let (request, response) = response.into_parts();
            let status = response.status();
            let (head, body) = response.into_parts();
            let bytes = to_bytes(body)
                .await
                .map_err(|e| ApiError::Internal(format!("reading an answer: {}", e.into())))?;
            keep(ctx, owner, key, status, bytes.clone()).await;
            let mut response = head.set_body(BoxBody::new(bytes));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok(ServiceResponse::new(request, response))
        }
    }
}

/// Keeps the answer (`status`, `bytes`) to the request under `key` for its
/// replays, or lets the key go when a retry should run again. A failure is
/// logged; the answer goes out all the same.
async fn keep(ctx: web::Data<Ctx>, owner: String, key: String, status: StatusCode, bytes: Bytes) {
    let kept = run(ctx, move |ctx| match status {
        // The request did nothing (503), failed (500), or was
        // refused for now (401 on credentials, 429 until a window
        // ends, whose Retry-After a replay could not carry): a
        // retry runs again.
        StatusCode::INTERNAL_SERVER_ERROR
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::UNAUTHORIZED
        | StatusCode::TOO_MANY_REQUESTS => idempotency::abandon(&ctx.store, &owner, &key),
        _ => idempotency::finish(
            &ctx.store,
            &ctx.answer_sealer,
            &owner,
            &key,
            status.as_u16(),
            &String::from_utf8_lossy(&bytes),
        ),
    })
    .await;
    if let Err(e) = kept {
        tracing::warn!(error = %e, "idempotency: the answer could not be kept");
    }
}
