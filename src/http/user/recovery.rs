//! Getting back into an account (API.md §5): a password reset, and a
//! sign-in link, each asked for by address and used by its emailed token.

use std::future::Future;
use std::time::Duration;

use actix_web::web::Data;
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use crate::domain::{links, Ctx};
use crate::http::answers::*;
use crate::http::client_address::ClientAddress;
use crate::http::error::ApiError;
use crate::http::params::{text, valid_email, valid_otp, valid_token, Params};
use crate::http::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::run, work::run_hashing,
};
use crate::store::kinds::TokenPurpose;

pub fn register(api: &mut Api<'_>) {
    api.add(&REQUEST_PASSWORD_RESET, request_password_reset);
    api.add(&RESET_PASSWORD, reset_password);
    api.add(&REQUEST_LOGIN_LINK, request_login_link);
    api.add(&LOGIN_BY_LINK, login_by_link);
}

/// How long a request for a link takes at least. The work behind a known
/// address (a token, a queued mail) and behind an unknown one (a lookup)
/// both finish well within it, so the time of the answer says nothing about
/// which it was.
const LINK_REQUEST_FLOOR: Duration = Duration::from_millis(150);

/// Runs `work`, then waits out the rest of [`LINK_REQUEST_FLOOR`].
async fn padded<T>(work: impl Future<Output = Result<T, ApiError>>) -> Result<T, ApiError> {
    let deadline = tokio::time::Instant::now() + LINK_REQUEST_FLOOR;
    let result = work.await;
    tokio::time::sleep_until(deadline).await;
    result
}

/// Parameters of `user/requestpasswordreset` and `user/requestloginlink`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailParams {
    /// The account's address, in any letter case.
    #[validate(custom(function = "valid_email"))]
    #[schema(value_type = text::Email, inline)]
    pub email: String,
}

const REQUEST_PASSWORD_RESET: Endpoint<Nothing> = Endpoint::new(Operation {
    path: "/user/requestpasswordreset",
    operation_id: "userRequestpasswordreset",
    tag: "user",
    methods: Methods::Post,
    access: Access::Public,
    summary: "Ask for a password-reset link",
    description: "Always answers 200 with nothing, in about the same time (at least 150 ms), \
        whether or not an account has `email`: it reveals nothing. When one does, it mails a link \
        `{public_url}/reset/{token}`, valid `COLLABD_RESET_TTL_MINUTES` (60), for \
        `user/resetpassword`; a newer request ends the older links (410 `expired`). Past \
        `COLLABD_MAILS_PER_ADDRESS_PER_HOUR` mails to one address it still answers 200 and sends \
        nothing.",
    params: Some(schema_ref::<EmailParams>),
    refusals: &[],
});

async fn request_password_reset(
    ctx: Data<Ctx>,
    Params(p): Params<EmailParams>,
) -> Result<Nothing, ApiError> {
    padded(run(ctx, move |ctx| {
        links::request(ctx, TokenPurpose::Reset, &p.email)
    }))
    .await?;
    Ok(Nothing {})
}

/// Parameters of `user/resetpassword`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordParams {
    #[validate(custom(function = "valid_token"))]
    #[schema(value_type = text::Token, inline)]
    pub token: String,
    /// The new password, 8 to 128 characters.
    #[validate(length(min = 8, max = 128, message = "must be 8 to 128 characters"))]
    #[schema(value_type = text::NewPassword, inline)]
    pub password: String,
}

const RESET_PASSWORD: Endpoint<UserAnswer> = Endpoint::new(Operation {
    path: "/user/resetpassword",
    operation_id: "userResetpassword",
    tag: "user",
    methods: Methods::Post,
    access: Access::Public,
    summary: "Set a new password with a reset link",
    description:
        "Sets the password of the account the emailed token (`{public_url}/reset/{token}`) \
        belongs to, marks its address verified, and ends every session of the account (their \
        tokens answer 401 from the next request on); API keys stay. When the address was never \
        confirmed, the link proves a mailbox its registrant may not read, and the registrant's \
        hold ends too: API keys, second factor, recovery codes and pending links go. Answers `user` and no \
        session: sign in with `user/login` (and `otp` when two-factor is on). The link works \
        once: used, it answers 410 `used`; expired or replaced by a newer one, 410 `expired`; \
        unknown, 404. Past `COLLABD_TOKEN_ATTEMPTS_PER_MINUTE` unknown tokens from one client \
        address it answers 429 until the minute is over.",
    params: Some(schema_ref::<ResetPasswordParams>),
    refusals: &[Refusal::NotFound, Refusal::Gone, Refusal::RateLimited],
});

async fn reset_password(
    ctx: Data<Ctx>,
    ClientAddress(client): ClientAddress,
    Params(p): Params<ResetPasswordParams>,
) -> Result<UserAnswer, ApiError> {
    let user = run_hashing(ctx, move |ctx| {
        ctx.limits
            .token_call(client, || links::reset_password(ctx, &p.token, &p.password))
    })
    .await?;
    Ok(UserAnswer { user })
}

const REQUEST_LOGIN_LINK: Endpoint<Nothing> = Endpoint::new(Operation {
    path: "/user/requestloginlink",
    operation_id: "userRequestloginlink",
    tag: "user",
    methods: Methods::Post,
    access: Access::Public,
    summary: "Ask for a sign-in link",
    description: "Answers like `user/requestpasswordreset`: always 200 with nothing, in about \
        the same time, whether or not an account has `email`. When one does, it mails a link \
        `{public_url}/signin/{token}`, valid `COLLABD_LOGIN_LINK_TTL_MINUTES` (15), for \
        `user/loginbylink`; a newer request ends the older links. This is how an account made by \
        accepting an invite without a password signs in again.",
    params: Some(schema_ref::<EmailParams>),
    refusals: &[],
});

async fn request_login_link(
    ctx: Data<Ctx>,
    Params(p): Params<EmailParams>,
) -> Result<Nothing, ApiError> {
    padded(run(ctx, move |ctx| {
        links::request(ctx, TokenPurpose::Signin, &p.email)
    }))
    .await?;
    Ok(Nothing {})
}

/// Parameters of `user/loginbylink`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginByLinkParams {
    #[validate(custom(function = "valid_token"))]
    #[schema(value_type = text::Token, inline)]
    pub token: String,
    /// Needed when the account has two-factor on.
    #[validate(custom(function = "valid_otp"))]
    #[schema(value_type = Option<text::Otp>, inline)]
    pub otp: Option<String>,
}

const LOGIN_BY_LINK: Endpoint<LoginAnswer> = Endpoint::new(Operation {
    path: "/user/loginbylink",
    operation_id: "userLoginbylink",
    tag: "user",
    methods: Methods::Post,
    access: Access::Public,
    summary: "Sign in with a sign-in link",
    description: "Opens a session for the account the emailed token \
        (`{public_url}/signin/{token}`) belongs to, and marks its address verified. When the address was \
        never confirmed, the link's reader takes the account over: the registrant's password, \
        sessions, API keys, second factor and pending links end, and no `otp` is asked. With \
        two-factor on (on a confirmed account) it also needs `otp`: without it 401 `otp_required`, wrong 401 \
        `otp_invalid` (counted toward `COLLABD_LOGIN_ATTEMPTS_PER_MINUTE`), and the link stays \
        unused. The link works once: used, 410 `used`; expired or replaced, 410 `expired`; \
        unknown, 404 (counted toward `COLLABD_TOKEN_ATTEMPTS_PER_MINUTE` per client address).",
    params: Some(schema_ref::<LoginByLinkParams>),
    refusals: &[
        Refusal::Unauthenticated,
        Refusal::NotFound,
        Refusal::Gone,
        Refusal::RateLimited,
    ],
});

async fn login_by_link(
    ctx: Data<Ctx>,
    ClientAddress(client): ClientAddress,
    Params(p): Params<LoginByLinkParams>,
) -> Result<LoginAnswer, ApiError> {
    let login = run(ctx, move |ctx| {
        ctx.limits.token_call(client, || {
            links::login_by_link(ctx, &p.token, p.otp.as_deref())
        })
    })
    .await?;
    Ok(LoginAnswer { login })
}
