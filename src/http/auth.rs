//! Bearer authentication: `Authorization: Bearer <session JWT or API key>`.

use actix_web::dev::Payload as BodyStream;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::error::ApiError;
use super::run;
use crate::domain::sessions::{authenticate, Caller};
use crate::domain::Ctx;

/// A signed-in caller; no or a bad token answers 401.
pub struct SignedIn(pub Caller);

/// A caller who may be anonymous; a token that is present must be good.
pub struct MaybeSignedIn(pub Option<Caller>);

fn bearer(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthenticated("malformed Authorization header".into()))?;
    let mut parts = value.splitn(2, ' ');
    match (parts.next(), parts.next()) {
        (Some(scheme), Some(token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_string()))
        }
        _ => Err(ApiError::Unauthenticated(
            "the Authorization header must be 'Bearer <token>'".into(),
        )),
    }
}

fn resolve(req: &HttpRequest) -> LocalBoxFuture<'static, Result<Option<Caller>, ApiError>> {
    let token = bearer(req);
    let ctx = req.app_data::<web::Data<Ctx>>().cloned();
    Box::pin(async move {
        let Some(token) = token? else {
            return Ok(None);
        };
        let ctx = ctx.ok_or_else(|| ApiError::Internal("no context".into()))?;
        let caller = run(move || authenticate(&ctx.store, &ctx.keys, &token)).await?;
        Ok(Some(caller))
    })
}

impl FromRequest for SignedIn {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut BodyStream) -> Self::Future {
        let caller = resolve(req);
        Box::pin(async move {
            caller.await?.map(SignedIn).ok_or_else(|| {
                ApiError::Unauthenticated(
                    "this endpoint needs 'Authorization: Bearer <token>'".into(),
                )
            })
        })
    }
}

impl FromRequest for MaybeSignedIn {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut BodyStream) -> Self::Future {
        let caller = resolve(req);
        Box::pin(async move { Ok(MaybeSignedIn(caller.await?)) })
    }
}
