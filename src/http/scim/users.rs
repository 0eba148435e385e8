//! `/scim/v2/Users`: the organization's members as SCIM Users (API.md §11).

use actix_web::web::{Bytes, Data, Path, Query};
use actix_web::HttpRequest;
use serde_json::Value;

use super::super::auth::SignedIn;
use super::super::error::ApiError;
use super::super::wire::{Body, NoContent};
use super::super::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read, work::run,
};
use super::discovery::Document;
use super::{base, deleted, json_body, written, ListParams, NewResource, Resource, Scim, Shape};
use crate::domain::scim::patch as scim_patch;
use crate::domain::scim::provision::{self, UserInput};
use crate::domain::scim::users;
use crate::domain::Ctx;

pub(super) fn register(api: &mut Api<'_>) {
    api.add_own(&LIST, list);
    api.add_own(&CREATE, create);
    api.add_own(&GET, get);
    api.add_own(&REPLACE, replace);
    api.add_own(&PATCH, patch);
    api.add_own(&DELETE, delete);
}

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
    params: Some(schema_ref::<Shape>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn list(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Query(p): Query<ListParams>,
) -> Result<Body<Document>, ApiError> {
    let (base, page) = (base(&ctx), p.page());
    let filter = p.filter.clone();
    let listed = read(ctx, move |ctx| {
        users::list(ctx, &caller, filter.as_deref(), page, &base)
    })
    .await?;
    Ok(Body(Document(p.shape(listed))))
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
    Query(shape): Query<Shape>,
    request: HttpRequest,
) -> Result<Resource, ApiError> {
    let (base, id) = (base(&ctx), id.into_inner());
    let body = read(ctx, move |ctx| users::get(ctx, &caller, &id, &base)).await?;
    // The version is the whole resource's, whatever is left out.
    Ok(Resource::answer(&request, shape.apply(body)))
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
    let change = move |_: &Value| Ok(input.clone());
    written(
        ctx,
        caller,
        (id.into_inner(), &request),
        provision::write,
        change,
    )
    .await
}

async fn patch(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    id: Path<String>,
    body: Bytes,
    request: HttpRequest,
) -> Result<Resource, ApiError> {
    let operations = json_body(&body)?;
    let change = move |current: &Value| {
        let mut resource = current.clone();
        scim_patch::apply(&mut resource, &operations)?;
        provision::keeps_active(&resource)?;
        UserInput::read(&resource)
    };
    written(
        ctx,
        caller,
        (id.into_inner(), &request),
        provision::write,
        change,
    )
    .await
}

async fn delete(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    id: Path<String>,
    request: HttpRequest,
) -> Result<NoContent, ApiError> {
    deleted(ctx, caller, (id.into_inner(), &request), provision::delete).await
}
