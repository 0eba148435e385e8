//! The caller's own account: its details, changes to its name, password
//! and address, its second factor, and closing it.

use actix_web::web::Data;
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use crate::domain::accounts::{self, AccountChanges};
use crate::domain::{twofactor, Ctx};
use crate::http::answers::*;
use crate::http::api::NoParams;
use crate::http::auth::SignedIn;
use crate::http::error::ApiError;
use crate::http::params::{present, text, valid_email, valid_name, valid_otp, Params};
use crate::http::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read, work::run, work::run_hashing,
};

pub fn register(api: &mut Api<'_>) {
    api.add(&DETAILS, details);
    api.add(&EDIT, edit);
    api.add(&ENABLE_TWO_FACTOR, enable_two_factor);
    api.add(&CONFIRM_TWO_FACTOR, confirm_two_factor);
    api.add(&DISABLE_TWO_FACTOR, disable_two_factor);
    api.add(&DELETE, delete);
}

const DETAILS: Endpoint<UserAnswer> = Endpoint::new(Operation {
    path: "/user/details",
    operation_id: "userDetails",
    tag: "user",
    methods: Methods::GetPost,
    access: Access::User,
    summary: "The caller's account",
    description: "The account the token belongs to.",
    params: Some(schema_ref::<NoParams>),
    refusals: &[],
});

async fn details(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    _: Params<NoParams>,
) -> Result<UserAnswer, ApiError> {
    let user = read(ctx, move |ctx| accounts::details(ctx, &caller)).await?;
    Ok(UserAnswer { user })
}

/// Parameters of `user/edit`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditParams {
    #[validate(custom(function = "valid_name"))]
    #[schema(value_type = Option<text::Name>, inline)]
    pub name: Option<String>,
    /// The new password, 8 to 128 characters.
    #[validate(length(min = 8, max = 128, message = "must be 8 to 128 characters"))]
    #[schema(value_type = Option<text::NewPassword>, inline)]
    pub password: Option<String>,
    /// A new address: in force once confirmed by the link mailed to it.
    #[validate(custom(function = "valid_email"))]
    #[schema(value_type = Option<text::Email>, inline)]
    pub email: Option<String>,
    /// The language of the account's emails and pages: one collabd has
    /// (`en`, `sv`, or one the templates directory adds; 422 otherwise, but
    /// the account's value sent back unchanged is taken even if collabd no
    /// longer has it); null or empty clears it (then the server's default).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 16)]
    pub language: Option<Option<String>>,
    /// Needed with `password` or `email` when the account has one.
    #[validate(length(max = 128, message = "must be at most 128 characters"))]
    #[schema(value_type = Option<text::Password>, inline)]
    pub currentpassword: Option<String>,
}

const EDIT: Endpoint<UserAnswer> = Endpoint::new(Operation {
    path: "/user/edit",
    operation_id: "userEdit",
    tag: "user",
    methods: Methods::Post,
    access: Access::User,
    summary: "Change name, password or address",
    description: "Changes the caller's name, password and/or address. A new password or address \
        needs `currentpassword` (403 when missing or wrong) unless the account has no \
        password yet, and a session (with an API key it answers 403). A new password ends every \
        other session of the user; the session making the change stays valid. A new `email` \
        keeps the old address in force: `user` shows it as `pendingemail`, a link \
        `{public_url}/confirm/{token}` goes to it (valid `COLLABD_CONFIRM_TTL_HOURS`; \
        `user/confirm` with its token makes it the account's address, verified), and the old \
        address is told. An address of another account answers 409 `email_taken`, here and \
        again at confirmation; the account's own address changes nothing. Wrong passwords count \
        toward `COLLABD_LOGIN_ATTEMPTS_PER_MINUTE` (429 past it). Past \
        `COLLABD_MAILS_PER_ADDRESS_PER_HOUR` mails to the new address, 429.",
    params: Some(schema_ref::<EditParams>),
    refusals: &[Refusal::Forbidden, Refusal::Conflict, Refusal::RateLimited],
});

async fn edit(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<EditParams>,
) -> Result<UserAnswer, ApiError> {
    let user = run_hashing(ctx, move |ctx| {
        accounts::edit(
            ctx,
            &caller,
            AccountChanges {
                name: p.name.as_deref(),
                language: p.language.as_ref().map(Option::as_deref),
                password: p.password.as_deref(),
                email: p.email.as_deref(),
                current_password: p.currentpassword.as_deref(),
            },
        )
    })
    .await?;
    Ok(UserAnswer { user })
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
