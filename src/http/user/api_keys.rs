//! The caller's API keys: made, listed and deleted.

use actix_web::web::Data;
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use crate::domain::{apikeys, Ctx};
use crate::http::answers::*;
use crate::http::api::NoParams;
use crate::http::auth::SignedIn;
use crate::http::error::ApiError;
use crate::http::params::{text, valid_name, whole_number, Params};
use crate::http::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read, work::run,
};

pub fn register(api: &mut Api<'_>) {
    api.add(&CREATE_API_KEY, create_api_key);
    api.add(&LIST_API_KEYS, list_api_keys);
    api.add(&DELETE_API_KEY, delete_api_key);
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
