//! `/scim/v2/Users`: the organization's members as SCIM Users (API.md §11).

use actix_web::web::{Bytes, Data, Path, Query};
use actix_web::HttpRequest;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::super::auth::SignedIn;
use super::super::error::ApiError;
use super::super::wire::{Body, NoContent};
use super::super::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read, work::run,
};
use super::discovery::Document;
use super::{json_body, precondition, unchanged, NewResource, Resource, Scim, PREFIX};
use crate::domain::scim::patch as scim_patch;
use crate::domain::scim::provision::{self, UserInput};
use crate::domain::scim::users::{self, Page};
use crate::domain::scim::{project, MAX_RESULTS};
use crate::domain::sessions::Caller;
use crate::domain::Ctx;

pub(super) fn register(api: &mut Api<'_>) {
    api.add_own(&LIST, list);
    api.add_own(&CREATE, create);
    api.add_own(&GET, get);
    api.add_own(&REPLACE, replace);
    api.add_own(&PATCH, patch);
    api.add_own(&DELETE, delete);
}

/// What a list of Users takes (RFC 7644 §3.4.2).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ListParams {
    /// `eq` comparisons joined by `and`, on `id`, `userName` (regardless of
    /// case), `externalId`, `active`, `displayName`, `emails.value` and
    /// `emails[type eq "…"].value`; anything else answers 400
    /// `invalidFilter`.
    #[schema(max_length = 1024)]
    filter: Option<String>,
    /// The first result's place, from 1 (less is taken as 1).
    #[serde(rename = "startIndex")]
    start_index: Option<i64>,
    /// How many results a page holds: at most 200 (default 100).
    count: Option<i64>,
    /// Only these attributes (comma-separated; `schemas`, `id` and `meta`
    /// always come).
    attributes: Option<String>,
    /// All but these attributes (comma-separated).
    #[serde(rename = "excludedAttributes")]
    excluded_attributes: Option<String>,
}

/// The default page size.
const DEFAULT_COUNT: usize = 100;

static LIST: Endpoint<Body<Document>, Scim> = Endpoint::new(Operation {
    path: "/scim/v2/Users",
    operation_id: "scimListUsers",
    tag: "scim",
    methods: Methods::Get,
    access: Access::User,
    summary: "The organization's members, as SCIM Users",
    description: "A ListResponse (`totalResults`, `startIndex`, `itemsPerPage`, `Resources`) \
        of the members the filter matches, in the order they joined; `totalResults` 0 and no \
        resources when none does. Suspended members are listed with `active: false`. Needs \
        `Authorization: Bearer <API key>` of a key bound to the organization, whose holder has \
        `members:manage` and `teams:manage` there.",
    params: Some(schema_ref::<ListParams>),
    refusals: &[Refusal::Forbidden],
});

static GET: Endpoint<Resource, Scim> = Endpoint::new(Operation {
    path: "/scim/v2/Users/{id}",
    operation_id: "scimGetUser",
    tag: "scim",
    methods: Methods::Get,
    access: Access::User,
    summary: "One member, as a SCIM User",
    description: "By its id (the collaboratorid), suspended or not; `ETag` is its \
        `meta.version`, and `If-None-Match` naming it answers 304. Another organization's id answers a SCIM 404. Needs an API key as for \
        every SCIM call.",
    params: None,
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

/// Where a resource's `location` is.
fn base(ctx: &Ctx) -> String {
    format!("{}{PREFIX}", ctx.policy.public_url.trim_end_matches('/'))
}

async fn list(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Query(p): Query<ListParams>,
) -> Result<Body<Document>, ApiError> {
    let base = base(&ctx);
    let page = Page {
        start_index: usize::try_from(p.start_index.unwrap_or(1).max(1)).unwrap_or(1),
        count: p
            .count
            .map_or(DEFAULT_COUNT, |c| usize::try_from(c.max(0)).unwrap_or(0))
            .min(MAX_RESULTS),
    };
    let (attributes, excluded) = (p.attributes.clone(), p.excluded_attributes.clone());
    let mut listed = read(ctx, move |ctx| {
        users::list(
            ctx,
            &caller,
            p.filter.as_deref(),
            Page {
                start_index: page.start_index,
                count: page.count,
            },
            &base,
        )
    })
    .await?;
    if let Some(resources) = listed["Resources"].as_array_mut() {
        for resource in resources {
            project(resource, attributes.as_deref(), excluded.as_deref());
        }
    }
    Ok(Body(Document(listed)))
}

static CREATE: Endpoint<NewResource, Scim> = Endpoint::new(Operation {
    path: "/scim/v2/Users",
    operation_id: "scimCreateUser",
    tag: "scim",
    methods: Methods::Post,
    access: Access::User,
    summary: "Make a member",
    description: "The membership is made at once, with the role collaborator, for the \
        account with the address in `emails` marked primary (else of type work, else the \
        first), or `userName` when `emails` is absent and it is an address (400 \
        `invalidValue` when none is); an account is made when none has it (verified, without \
        a password: it signs in by link or SSO). The directory's view (`userName`, \
        `name.givenName`/`familyName`, `displayName`, `emails`, `externalId`) is kept and read \
        back as written; the account's own address and name are never changed by SCIM. \
        `userName` is unique in the organization regardless of case (409 `uniqueness`), as is \
        membership. `active: false` suspends at once. Audit event `collaborator.joined` with \
        `via` `scim`.",
    params: Some(schema_ref::<Document>),
    refusals: &[Refusal::Forbidden, Refusal::Conflict],
});

static REPLACE: Endpoint<Resource, Scim> = Endpoint::new(Operation {
    path: "/scim/v2/Users/{id}",
    operation_id: "scimReplaceUser",
    tag: "scim",
    methods: Methods::Put,
    access: Access::User,
    summary: "Replace a member's directory view",
    description: "The view becomes what the body says (`userName` required); `active` \
        suspends or reactivates (`collaborator.suspended`, `collaborator.reactivated`). The \
        last owner in force cannot be suspended (409).",
    params: Some(schema_ref::<Document>),
    refusals: &[
        Refusal::Forbidden,
        Refusal::NotFound,
        Refusal::Conflict,
        Refusal::PreconditionFailed,
    ],
});

static PATCH: Endpoint<Resource, Scim> = Endpoint::new(Operation {
    path: "/scim/v2/Users/{id}",
    operation_id: "scimPatchUser",
    tag: "scim",
    methods: Methods::Patch,
    access: Access::User,
    summary: "Change a member's directory view, or suspend it",
    description: "A PatchOp: `add`, `replace`, `remove` (names in any case), with a `path` \
        (`active`, `name.givenName`, `emails[type eq \"work\"].value`, …) or without one \
        (`value` an object of attributes); `active` as a boolean or as `\"True\"`/`\"False\"`. \
        The result is checked as a PUT's body. Suspension as for PUT.",
    params: Some(schema_ref::<Document>),
    refusals: &[
        Refusal::Forbidden,
        Refusal::NotFound,
        Refusal::Conflict,
        Refusal::PreconditionFailed,
    ],
});

static DELETE: Endpoint<NoContent, Scim> = Endpoint::new(Operation {
    path: "/scim/v2/Users/{id}",
    operation_id: "scimDeleteUser",
    tag: "scim",
    methods: Methods::Delete,
    access: Access::User,
    summary: "Remove a member",
    description: "Removes the membership (suspended or not) as `customer/removecollaborator` \
        does: audit `collaborator.removed`, the departure recorded, its bound API keys deleted. \
        The last owner cannot be removed (409).",
    params: None,
    refusals: &[
        Refusal::Forbidden,
        Refusal::NotFound,
        Refusal::Conflict,
        Refusal::PreconditionFailed,
    ],
});

async fn get(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    id: Path<String>,
    request: HttpRequest,
) -> Result<Resource, ApiError> {
    let body = current(&ctx, &caller, id.into_inner()).await?;
    if unchanged(&request, &body) {
        let version = body["meta"]["version"].as_str().unwrap_or("").to_string();
        return Ok(Resource::NotModified(version));
    }
    Ok(Resource::Found(body))
}

/// The User `id` as it is now.
async fn current(ctx: &Data<Ctx>, caller: &Caller, id: String) -> Result<Value, ApiError> {
    let (base, caller) = (base(ctx), caller.clone());
    read(ctx.clone(), move |ctx| users::get(ctx, &caller, &id, &base)).await
}

async fn create(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    body: Bytes,
) -> Result<NewResource, ApiError> {
    let input = UserInput::read(&json_body(&body)?)?;
    let base = base(&ctx);
    let made = run(ctx, move |ctx| {
        provision::create(ctx, &caller, &input, &base)
    })
    .await?;
    Ok(NewResource(made))
}

async fn replace(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    id: Path<String>,
    body: Bytes,
    request: HttpRequest,
) -> Result<Resource, ApiError> {
    let input = UserInput::read(&json_body(&body)?)?;
    let (base, id) = (base(&ctx), id.into_inner());
    precondition(&request, &current(&ctx, &caller, id.clone()).await?)?;
    let written = run(ctx, move |ctx| {
        provision::write(ctx, &caller, &id, &input, &base)
    })
    .await?;
    Ok(Resource::Found(written))
}

async fn patch(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    id: Path<String>,
    body: Bytes,
    request: HttpRequest,
) -> Result<Resource, ApiError> {
    let operations = json_body(&body)?;
    let (base, id) = (base(&ctx), id.into_inner());
    let mut resource = current(&ctx, &caller, id.clone()).await?;
    precondition(&request, &resource)?;
    scim_patch::apply(&mut resource, &operations)?;
    let input = UserInput::read(&resource)?;
    let written = run(ctx, move |ctx| {
        provision::write(ctx, &caller, &id, &input, &base)
    })
    .await?;
    Ok(Resource::Found(written))
}

async fn delete(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    id: Path<String>,
    request: HttpRequest,
) -> Result<NoContent, ApiError> {
    let id = id.into_inner();
    precondition(&request, &current(&ctx, &caller, id.clone()).await?)?;
    run(ctx, move |ctx| {
        crate::domain::scim::authorize(ctx, &caller)?;
        crate::domain::members::remove(ctx, &caller, &id)
    })
    .await?;
    Ok(NoContent)
}
