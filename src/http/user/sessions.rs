//! Signing up (with the address's confirmation, and its link sent again),
//! logging in and out.

use actix_web::web::Data;
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use crate::domain::accounts::{self, NewAccount};
use crate::domain::{logins, Ctx};
use crate::http::answers::*;
use crate::http::api::NoParams;
use crate::http::auth::SignedIn;
use crate::http::client_address::ClientAddress;
use crate::http::error::ApiError;
use crate::http::invite::TokenParams;
use crate::http::params::{text, valid_email, valid_login_email, valid_name, valid_otp, Params};
use crate::http::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::run, work::run_hashing,
};

pub fn register(api: &mut Api<'_>) {
    api.add(&SIGNUP, signup);
    api.add(&CONFIRM, confirm);
    api.add(&RESEND_CONFIRMATION, resend_confirmation);
    api.add(&LOGIN, login);
    api.add(&LOGOUT, logout);
}

/// Parameters of `user/signup`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupParams {
    /// Trimmed and compared case-insensitively.
    #[validate(custom(function = "valid_email"))]
    #[schema(value_type = text::Email, inline)]
    pub email: String,
    /// 8 to 128 characters.
    #[validate(length(min = 8, max = 128, message = "must be 8 to 128 characters"))]
    #[schema(min_length = 8, max_length = 128)]
    #[schema(value_type = text::NewPassword, inline)]
    pub password: String,
    /// 1 to 200 characters.
    #[validate(custom(function = "valid_name"))]
    #[schema(value_type = text::Name, inline)]
    pub name: String,
}

const SIGNUP: Endpoint<UserAnswer> = Endpoint::new(Operation {
    path: "/user/signup",
    operation_id: "userSignup",
    tag: "user",
    methods: Methods::Post,
    access: Access::Public,
    summary: "Create an account",
    description: "Makes an account whose email is not yet verified. An address already in use, \
        in any letter case, answers 409 with reason `email_taken`. Past \
        `COLLABD_SIGNUPS_PER_HOUR` sign-ups from one client address it answers 429.",
    params: Some(schema_ref::<SignupParams>),
    refusals: &[Refusal::Conflict, Refusal::RateLimited],
});

async fn signup(
    ctx: Data<Ctx>,
    ClientAddress(client): ClientAddress,
    Params(p): Params<SignupParams>,
) -> Result<UserAnswer, ApiError> {
    let user = run_hashing(ctx, move |ctx| {
        accounts::signup(
            ctx,
            client,
            NewAccount {
                email: &p.email,
                password: &p.password,
                name: &p.name,
            },
        )
    })
    .await?;
    Ok(UserAnswer { user })
}

/// Parameters of `user/login`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginParams {
    #[validate(custom(function = "valid_login_email"))]
    #[schema(value_type = text::LoginEmail, inline)]
    pub email: String,
    #[validate(length(min = 1, max = 128, message = "must be 1 to 128 characters"))]
    #[schema(value_type = text::Password, inline)]
    pub password: String,
    /// Needed when the account has two-factor on.
    #[validate(custom(function = "valid_otp"))]
    #[schema(value_type = Option<text::Otp>, inline)]
    pub otp: Option<String>,
}

const LOGIN: Endpoint<LoginAnswer> = Endpoint::new(Operation {
    path: "/user/login",
    operation_id: "userLogin",
    tag: "user",
    methods: Methods::Post,
    access: Access::Public,
    summary: "Sign in",
    description: "Checks email (any letter case) and password and opens a session. The token \
        is a JWT to send as `Authorization: Bearer <token>` until `expiresat` or `user/logout`. \
        Wrong credentials answer 401. When the account has two-factor on, `otp` is needed too: \
        without it 401 `otp_required`, wrong 401 `otp_invalid`, and no session is opened. \
        Failed passwords and codes count toward `COLLABD_LOGIN_ATTEMPTS_PER_MINUTE` per address; \
        past it the answer is 429 with `Retry-After`.",
    params: Some(schema_ref::<LoginParams>),
    refusals: &[Refusal::Unauthenticated, Refusal::RateLimited],
});

async fn login(ctx: Data<Ctx>, Params(p): Params<LoginParams>) -> Result<LoginAnswer, ApiError> {
    let login = run_hashing(ctx, move |ctx| {
        logins::login(ctx, &p.email, &p.password, p.otp.as_deref())
    })
    .await?;
    Ok(LoginAnswer { login })
}

const LOGOUT: Endpoint<Nothing> = Endpoint::new(Operation {
    path: "/user/logout",
    operation_id: "userLogout",
    tag: "user",
    methods: Methods::Post,
    access: Access::User,
    summary: "End the session",
    description: "Revokes the session of the token used; that token answers 401 from the next \
        request on. An API key is not a session (403): delete it with `user/deleteapikey`.",
    params: Some(schema_ref::<NoParams>),
    refusals: &[Refusal::Forbidden],
});

async fn logout(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    _: Params<NoParams>,
) -> Result<Nothing, ApiError> {
    run(ctx, move |ctx| logins::logout(ctx, &caller)).await?;
    Ok(Nothing {})
}

const CONFIRM: Endpoint<UserAnswer> = Endpoint::new(Operation {
    path: "/user/confirm",
    operation_id: "userConfirm",
    tag: "user",
    methods: Methods::Post,
    access: Access::Public,
    summary: "Confirm an email address",
    description: "Confirms an address with the token from its email (link \
        `{public_url}/confirm/{token}`): the account's own, from `user/signup` or \
        `user/resendconfirmation`, which marks it verified; or a new one asked for with \
        `user/edit`, which becomes the account's address, verified (409 `email_taken` when \
        another account has taken it since; 410 `expired` when the account no longer waits for \
        that change, as after a password reset). Confirming twice is harmless; an unknown token \
        answers 404, an expired one or one a newer link replaced 410 `expired`. Past `COLLABD_TOKEN_ATTEMPTS_PER_MINUTE` \
        unknown tokens from one client address it answers 429 until the minute is over.",
    params: Some(schema_ref::<TokenParams>),
    refusals: &[Refusal::NotFound, Refusal::Conflict, Refusal::Gone, Refusal::RateLimited],
});

async fn confirm(
    ctx: Data<Ctx>,
    ClientAddress(client): ClientAddress,
    Params(p): Params<TokenParams>,
) -> Result<UserAnswer, ApiError> {
    let user = run(ctx, move |ctx| {
        ctx.limits
            .token_call(client, || accounts::confirm(ctx, &p.token))
    })
    .await?;
    Ok(UserAnswer { user })
}

const RESEND_CONFIRMATION: Endpoint<Nothing> = Endpoint::new(Operation {
    path: "/user/resendconfirmation",
    operation_id: "userResendconfirmation",
    tag: "user",
    methods: Methods::Post,
    access: Access::User,
    summary: "Send a fresh confirmation link",
    description: "Mails a new link `{public_url}/confirm/{token}` to the account's address, \
        valid `COLLABD_CONFIRM_TTL_HOURS` (48); earlier links stop working (410 `expired`). An \
        account already verified answers 409 `already_verified`. Past \
        `COLLABD_MAILS_PER_ADDRESS_PER_HOUR` mails to the address it answers 429.",
    params: Some(schema_ref::<NoParams>),
    refusals: &[Refusal::Conflict, Refusal::RateLimited],
});

async fn resend_confirmation(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    _: Params<NoParams>,
) -> Result<Nothing, ApiError> {
    run(ctx, move |ctx| accounts::resend_confirmation(ctx, &caller)).await?;
    Ok(Nothing {})
}
