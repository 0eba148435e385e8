//! The `user/*` endpoints that get a person back into an account and keep it
//! theirs (API.md §5): confirmation resent, password reset, sign-in links,
//! two-factor, and closing the account.

use std::future::Future;
use std::time::Duration;

use actix_web::web::Data;
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::answers::*;
use super::api::NoParams;
use super::auth::SignedIn;
use super::client_address::ClientAddress;
use super::error::ApiError;
use super::params::{text, valid_email, valid_otp, valid_token, Params};
use super::{run, run_hashing, schema_ref, Access, Api, Endpoint, Methods, Operation, Refusal};
use crate::domain::{accounts, links, twofactor, Ctx};
use crate::store::kinds::TokenPurpose;

pub fn register(api: &mut Api<'_>) {
    api.add(&RESEND_CONFIRMATION, resend_confirmation);
    api.add(&REQUEST_PASSWORD_RESET, request_password_reset);
    api.add(&RESET_PASSWORD, reset_password);
    api.add(&REQUEST_LOGIN_LINK, request_login_link);
    api.add(&LOGIN_BY_LINK, login_by_link);
    api.add(&ENABLE_TWO_FACTOR, enable_two_factor);
    api.add(&CONFIRM_TWO_FACTOR, confirm_two_factor);
    api.add(&DISABLE_TWO_FACTOR, disable_two_factor);
    api.add(&DELETE, delete);
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

/// Parameters of `user/enabletwofactor`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableTwoFactorParams {
    /// Needed when the account has a password.
    #[validate(length(max = 128, message = "must be at most 128 characters"))]
    #[schema(value_type = Option<text::Password>, inline)]
    pub currentpassword: Option<String>,
}

const ENABLE_TWO_FACTOR: Endpoint<TwoFactorSetupAnswer> = Endpoint::new(Operation {
    path: "/user/enabletwofactor",
    operation_id: "userEnabletwofactor",
    tag: "user",
    methods: Methods::Post,
    access: Access::User,
    summary: "Start turning on two-factor",
    description: "Makes a new TOTP secret (RFC 6238: SHA-1, 6 digits, 30 s) and answers it as \
        base32 and as an `otpauth://` URL for an authenticator app. Nothing changes until \
        `user/confirmtwofactor` with a current code; a later call replaces the secret. Needs \
        `currentpassword` when the account has one (403 when missing or wrong) and a session (an \
        API key answers 403). With two-factor already on it answers 409 `twofactor_enabled`. \
        Wrong passwords count toward `COLLABD_LOGIN_ATTEMPTS_PER_MINUTE` (429 past it).",
    params: Some(schema_ref::<EnableTwoFactorParams>),
    refusals: &[Refusal::Forbidden, Refusal::Conflict, Refusal::RateLimited],
});

async fn enable_two_factor(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<EnableTwoFactorParams>,
) -> Result<TwoFactorSetupAnswer, ApiError> {
    let twofactor = run_hashing(ctx, move |ctx| {
        twofactor::begin(ctx, &caller, p.currentpassword.as_deref())
    })
    .await?;
    Ok(TwoFactorSetupAnswer { twofactor })
}

/// Parameters of `user/confirmtwofactor` and `user/disabletwofactor`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpParams {
    #[validate(custom(function = "valid_otp"))]
    #[schema(value_type = text::Otp, inline)]
    pub otp: String,
}

const CONFIRM_TWO_FACTOR: Endpoint<TwoFactorEnabledAnswer> = Endpoint::new(Operation {
    path: "/user/confirmtwofactor",
    operation_id: "userConfirmtwofactor",
    tag: "user",
    methods: Methods::Post,
    access: Access::User,
    summary: "Turn on two-factor",
    description: "With a current code of the secret from `user/enabletwofactor`, turns \
        two-factor on and answers ten recovery codes, shown this once (each works once in place \
        of `otp`; only their keyed hashes are kept). From then on `user/login`, \
        `user/loginbylink` and `invite/accept` by token without a session need `otp`. A wrong \
        code answers 403 and counts toward `COLLABD_LOGIN_ATTEMPTS_PER_MINUTE`; without a \
        secret from `user/enabletwofactor`, 409 `twofactor_not_started`; already on, 409 \
        `twofactor_enabled`. Needs a \
        session.",
    params: Some(schema_ref::<OtpParams>),
    refusals: &[Refusal::Forbidden, Refusal::Conflict, Refusal::RateLimited],
});

async fn confirm_two_factor(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<OtpParams>,
) -> Result<TwoFactorEnabledAnswer, ApiError> {
    let twofactor = run(ctx, move |ctx| twofactor::confirm(ctx, &caller, &p.otp)).await?;
    Ok(TwoFactorEnabledAnswer { twofactor })
}

const DISABLE_TWO_FACTOR: Endpoint<Nothing> = Endpoint::new(Operation {
    path: "/user/disabletwofactor",
    operation_id: "userDisabletwofactor",
    tag: "user",
    methods: Methods::Post,
    access: Access::User,
    summary: "Turn off two-factor",
    description: "With a current code or an unused recovery code, turns two-factor off and \
        forgets the secret and the recovery codes. A wrong code answers 403 and counts toward \
        `COLLABD_LOGIN_ATTEMPTS_PER_MINUTE`. Already off: 200, nothing to do. Needs a session.",
    params: Some(schema_ref::<OtpParams>),
    refusals: &[Refusal::Forbidden, Refusal::RateLimited],
});

async fn disable_two_factor(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<OtpParams>,
) -> Result<Nothing, ApiError> {
    run(ctx, move |ctx| twofactor::disable(ctx, &caller, &p.otp)).await?;
    Ok(Nothing {})
}

/// Parameters of `user/delete`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountParams {
    /// Needed when the account has a password.
    #[validate(length(max = 128, message = "must be at most 128 characters"))]
    #[schema(value_type = Option<text::Password>, inline)]
    pub currentpassword: Option<String>,
    /// Needed when the account has two-factor on.
    #[validate(custom(function = "valid_otp"))]
    #[schema(value_type = Option<text::Otp>, inline)]
    pub otp: Option<String>,
}

const DELETE: Endpoint<Nothing> = Endpoint::new(Operation {
    path: "/user/delete",
    operation_id: "userDelete",
    tag: "user",
    methods: Methods::Post,
    access: Access::User,
    summary: "Close the account",
    description: "Deletes the caller's account at once, with its sessions and API keys (their \
        tokens answer 401 from the next request on), its memberships (each organization's audit \
        log records `collaborator.left`), its pending links, and the invites it sent. Audit \
        events it was the actor of keep its user id and email. Needs `currentpassword` when the \
        account has one and `otp` while two-factor is on (403 when missing or wrong), and a \
        session (an API key answers 403). While it is the only owner of an organization it \
        answers 409 `last_owner`, naming those organizations, and deletes nothing. Wrong \
        passwords and codes count toward `COLLABD_LOGIN_ATTEMPTS_PER_MINUTE` (429 past it).",
    params: Some(schema_ref::<DeleteAccountParams>),
    refusals: &[Refusal::Forbidden, Refusal::Conflict, Refusal::RateLimited],
});

async fn delete(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<DeleteAccountParams>,
) -> Result<Nothing, ApiError> {
    run_hashing(ctx, move |ctx| {
        accounts::delete(ctx, &caller, p.currentpassword.as_deref(), p.otp.as_deref())
    })
    .await?;
    Ok(Nothing {})
}
