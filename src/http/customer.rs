//! The `customer/*` endpoints: one organization and what is in it.

use actix_web::web::Data;
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::auth::SignedIn;
use super::envelope::Payload;
use super::params::{valid_name, Params};
use super::{run, schema_ref, Access, Api, ApiResult, Endpoint, Methods};
use crate::domain::organizations::{self, resolve_organization, Organization, SettingsChange};
use crate::domain::Ctx;

pub fn register(api: &mut Api<'_>) {
    api.add(&DETAILS, details);
    api.add(&SETTINGS, settings);
}

/// Names an organization; a key bound to one supplies it when left out.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationParams {
    /// Optional with an API key bound to the organization.
    pub organizationid: Option<String>,
}

const DETAILS: Endpoint = Endpoint {
    path: "/customer/details",
    operation_id: "customerDetails",
    tag: "customer",
    methods: Methods::GetPost,
    access: Access::Member,
    summary: "One organization",
    description: "The organization with the caller's role, its member count and its invite \
        lifetime. Any member may call it; anyone else gets 404.",
    params: Some(schema_ref::<OrganizationParams>),
    payload: &[("organization", schema_ref::<Organization>)],
    errors: &[400, 401, 403, 404, 422],
};

async fn details(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<OrganizationParams>,
) -> ApiResult {
    let organization = run(move || {
        let org = resolve_organization(&caller, p.organizationid.as_deref())?;
        organizations::details(&ctx, &caller, &org)
    })
    .await?;
    Ok(Payload::new().with("organization", organization))
}

/// Parameters of `customer/settings`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsParams {
    pub organizationid: Option<String>,
    /// A new name, 1 to 200 characters.
    #[validate(custom(function = "valid_name"))]
    pub name: Option<String>,
    /// Days new invites stay valid, 1 to 30.
    #[validate(range(min = 1, max = 30, message = "must be 1 to 30"))]
    #[schema(minimum = 1, maximum = 30)]
    pub invitettldays: Option<u32>,
}

const SETTINGS: Endpoint = Endpoint {
    path: "/customer/settings",
    operation_id: "customerSettings",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member,
    summary: "Change organization settings",
    description: "Owners only (403 for other members): the organization's `name` and \
        `invitettldays` (1–30), the lifetime of invites created from now on.",
    params: Some(schema_ref::<SettingsParams>),
    payload: &[("organization", schema_ref::<Organization>)],
    errors: &[400, 401, 403, 404, 413, 422],
};

async fn settings(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<SettingsParams>,
) -> ApiResult {
    let organization = run(move || {
        let org = resolve_organization(&caller, p.organizationid.as_deref())?;
        let change = SettingsChange {
            name: p.name.as_deref(),
            invite_ttl_days: p.invitettldays,
        };
        organizations::settings(&ctx, &caller, &org, change)
    })
    .await?;
    Ok(Payload::new().with("organization", organization))
}
