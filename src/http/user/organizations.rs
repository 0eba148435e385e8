//! The caller's organizations: making one, listing those it belongs to, and
//! the invites waiting for it.

use actix_web::web::Data;
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use crate::domain::paging::PageRequest;
use crate::domain::{invites, organizations, Ctx};
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
    api.add(&CREATE_ORGANIZATION, create_organization);
    api.add(&LIST_ORGANIZATIONS, list_organizations);
    api.add(&LIST_INVITES, list_invites);
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
