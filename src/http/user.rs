//! The `user/*` endpoints: accounts, sessions, API keys, and the caller's
//! organizations.

use actix_web::web::Data;
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::answers::*;
use super::api::NoParams;
use super::auth::SignedIn;
use super::client_address::ClientAddress;
use super::error::ApiError;
use super::invite::TokenParams;
use super::params::{
    text, valid_email, valid_login_email, valid_name, valid_otp, whole_number, Params,
};
use super::{
    read, run, run_hashing, schema_ref, Access, Api, Endpoint, Methods, Operation, Refusal,
};
use crate::domain::accounts::{self, AccountChanges, NewAccount};
use crate::domain::apikeys::{self};
use crate::domain::invites::{self};
use crate::domain::logins;
use crate::domain::organizations::{self};
use crate::domain::paging::PageRequest;
use crate::domain::Ctx;

pub fn register(api: &mut Api<'_>) {
    api.add(&SIGNUP, signup);
    api.add(&LOGIN, login);
    api.add(&LOGOUT, logout);
    api.add(&DETAILS, details);
    api.add(&EDIT, edit);
    api.add(&CREATE_ORGANIZATION, create_organization);
    api.add(&LIST_ORGANIZATIONS, list_organizations);
    api.add(&CREATE_API_KEY, create_api_key);
    api.add(&LIST_API_KEYS, list_api_keys);
    api.add(&DELETE_API_KEY, delete_api_key);
    api.add(&LIST_INVITES, list_invites);
    api.add(&CONFIRM, confirm);
}

/// Parameters of `user/listinvites`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListMyInvitesParams {
    /// Rows per page, 1 to 1000 (default 100).
    #[validate(range(min = 1, max = 1000, message = "must be 1 to 1000"))]
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub limit: Option<u32>,
    /// `nextcursor` of the previous page.
    #[schema(value_type = Option<text::Cursor>, inline)]
    pub cursor: Option<String>,
}

const LIST_INVITES: Endpoint<InvitesPage> = Endpoint::new(Operation {
    path: "/user/listinvites",
    operation_id: "userListinvites",
    tag: "user",
    methods: Methods::GetPost,
    access: Access::User,
    summary: "Invites waiting for the caller",
    description: "The pending, unexpired invites addressed to the caller's email, from every \
        organization, oldest first, a page at a time (`limit`, `cursor`; `nextcursor` is null on \
        the last page). Empty until the address is verified (`user/confirm`, or an account made \
        by accepting an emailed invite).",
    params: Some(schema_ref::<ListMyInvitesParams>),
    refusals: &[],
});

async fn list_invites(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<ListMyInvitesParams>,
) -> Result<InvitesPage, ApiError> {
    let (list, next) = read(ctx, move |ctx| {
        let page = PageRequest::parse(p.limit, p.cursor.as_deref())?;
        invites::for_user(ctx, &caller, &page)
    })
    .await?;
    Ok(InvitesPage {
        invites: list,
        nextcursor: next,
    })
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
                password: p.password.as_deref(),
                email: p.email.as_deref(),
                current_password: p.currentpassword.as_deref(),
            },
        )
    })
    .await?;
    Ok(UserAnswer { user })
}

/// Parameters of `user/createorganization`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganizationParams {
    /// 1 to 200 characters.
    #[validate(custom(function = "valid_name"))]
    #[schema(value_type = text::Name, inline)]
    pub name: String,
}

const CREATE_ORGANIZATION: Endpoint<OrganizationAnswer> = Endpoint::new(Operation {
    path: "/user/createorganization",
    operation_id: "userCreateorganization",
    tag: "user",
    methods: Methods::Post,
    access: Access::User,
    summary: "Create an organization",
    description: "Makes an organization with the caller as its owner. When the server limits \
        organizations per user (`COLLABD_MAX_ORGS_PER_USER`), creating past the limit answers \
        409 with reason `organization_limit`. An API key bound to an organization cannot \
        create organizations (403).",
    params: Some(schema_ref::<CreateOrganizationParams>),
    refusals: &[Refusal::Forbidden, Refusal::Conflict],
});

async fn create_organization(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<CreateOrganizationParams>,
) -> Result<OrganizationAnswer, ApiError> {
    let organization = run(ctx, move |ctx| organizations::create(ctx, &caller, &p.name)).await?;
    Ok(OrganizationAnswer { organization })
}

const LIST_ORGANIZATIONS: Endpoint<OrganizationsAnswer> = Endpoint::new(Operation {
    path: "/user/listorganizations",
    operation_id: "userListorganizations",
    tag: "user",
    methods: Methods::GetPost,
    access: Access::User,
    summary: "The caller's organizations",
    description: "Every organization the caller belongs to, oldest first, each with the \
        caller's role. A key bound to one organization sees only that one.",
    params: Some(schema_ref::<NoParams>),
    refusals: &[],
});

async fn list_organizations(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    _: Params<NoParams>,
) -> Result<OrganizationsAnswer, ApiError> {
    let list = read(ctx, move |ctx| organizations::list(ctx, &caller)).await?;
    Ok(OrganizationsAnswer {
        organizations: list,
    })
}

/// Parameters of `user/createapikey`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyParams {
    #[validate(custom(function = "valid_name"))]
    #[schema(value_type = text::Name, inline)]
    pub name: String,
    /// Bind the key to this organization (the caller must be its member).
    #[schema(value_type = Option<text::Id>, inline)]
    pub organizationid: Option<String>,
    /// Days until the key stops working, 1 to 3650; without it the key does not expire.
    #[validate(range(min = 1, max = 3650, message = "must be 1 to 3650"))]
    #[schema(minimum = 1, maximum = 3650)]
    #[serde(default, deserialize_with = "whole_number")]
    pub expiresindays: Option<u32>,
}

const CREATE_API_KEY: Endpoint<ApiKeyAnswer> = Endpoint::new(Operation {
    path: "/user/createapikey",
    operation_id: "userCreateapikey",
    tag: "user",
    methods: Methods::Post,
    access: Access::User,
    summary: "Create an API key",
    description: "Makes a long-lived bearer secret for scripts. The `secret` is in this answer \
        only; collabd keeps just its hash. A key bound to an organization acts only there \
        (`organizationid` may then be left out), and never above its owner's current role. \
        A caller using a bound key may only create keys bound to the same organization (403).",
    params: Some(schema_ref::<CreateApiKeyParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn create_api_key(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<CreateApiKeyParams>,
) -> Result<ApiKeyAnswer, ApiError> {
    let key = run(ctx, move |ctx| {
        apikeys::create(
            ctx,
            &caller,
            &p.name,
            p.organizationid.as_deref(),
            p.expiresindays,
        )
    })
    .await?;
    Ok(ApiKeyAnswer { apikey: key })
}

const LIST_API_KEYS: Endpoint<ApiKeysAnswer> = Endpoint::new(Operation {
    path: "/user/listapikeys",
    operation_id: "userListapikeys",
    tag: "user",
    methods: Methods::GetPost,
    access: Access::User,
    summary: "The caller's API keys",
    description: "The caller's keys, oldest first, without their secrets. A caller using a key \
        bound to an organization sees only the keys bound there.",
    params: Some(schema_ref::<NoParams>),
    refusals: &[],
});

async fn list_api_keys(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    _: Params<NoParams>,
) -> Result<ApiKeysAnswer, ApiError> {
    let keys = read(ctx, move |ctx| apikeys::list(ctx, &caller)).await?;
    Ok(ApiKeysAnswer { apikeys: keys })
}

/// Parameters of `user/deleteapikey`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteApiKeyParams {
    #[schema(value_type = text::Id, inline)]
    pub apikeyid: String,
}

const DELETE_API_KEY: Endpoint<Nothing> = Endpoint::new(Operation {
    path: "/user/deleteapikey",
    operation_id: "userDeleteapikey",
    tag: "user",
    methods: Methods::Post,
    access: Access::User,
    summary: "Delete an API key",
    description: "Deletes one of the caller's keys; it answers 401 from its next use. A key \
        that is not the caller's answers 404. A caller using a key bound to an organization may \
        delete only keys bound to the same organization (403).",
    params: Some(schema_ref::<DeleteApiKeyParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn delete_api_key(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<DeleteApiKeyParams>,
) -> Result<Nothing, ApiError> {
    run(ctx, move |ctx| apikeys::delete(ctx, &caller, &p.apikeyid)).await?;
    Ok(Nothing {})
}
