//! `/scim/v2/Groups`: the organization's teams as SCIM Groups (API.md §11).

use actix_web::web::{Bytes, Data, Path, Query};
use actix_web::HttpRequest;
use serde_json::{json, Value};

use super::super::auth::SignedIn;
use super::super::error::ApiError;
use super::super::wire::{Body, NoContent};
use super::super::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read, work::run,
};
use super::discovery::Document;
use super::{base, deleted, json_body, written, ListParams, NewResource, Resource, Scim, Shape};
use crate::domain::scim::groups::{self, GroupInput};
use crate::domain::scim::patch as scim_patch;
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
    path: "/scim/v2/Groups",
    operation_id: "scimListGroups",
    tag: "scim",
    methods: Methods::Get,
    access: Access::User,
    summary: "The organization's teams, as SCIM Groups",
    description: "A ListResponse of the teams the filter matches, by name; `totalResults` 0 and \
        no resources when none does. `excludedAttributes=members` leaves the members out. Needs \
        `Authorization: Bearer <API key>` of a key bound to the organization, whose holder has \
        `members:manage` and `teams:manage` there.",
    params: Some(schema_ref::<ListParams>),
    refusals: &[Refusal::Forbidden],
});

static GET: Endpoint<Resource, Scim> = Endpoint::new(Operation {
    path: "/scim/v2/Groups/{id}",
    operation_id: "scimGetGroup",
    tag: "scim",
    methods: Methods::Get,
    access: Access::User,
    summary: "One team, as a SCIM Group",
    description: "By its id (the teamid): `displayName` is its name, `members` its members \
        (suspended ones too) as Users. `ETag` is its `meta.version`, and `If-None-Match` naming \
        it answers 304. Another organization's id answers a SCIM 404.",
    params: Some(schema_ref::<Shape>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

static CREATE: Endpoint<NewResource, Scim> = Endpoint::new(Operation {
    path: "/scim/v2/Groups",
    operation_id: "scimCreateGroup",
    tag: "scim",
    methods: Methods::Post,
    access: Access::User,
    summary: "Make a team",
    description: "A team named `displayName` (1 to 200 characters; another team's name answers \
        409 `uniqueness`), without role, description or grants (the organization gives those \
        with `customer/editteam`), with `members` (Users of the organization by `value`; \
        another id answers 400 `invalidValue`) and `externalId`. Audit events `team.created` \
        and `team.member_added` for each member.",
    params: Some(schema_ref::<Document>),
    refusals: &[Refusal::Forbidden, Refusal::Conflict],
});

static REPLACE: Endpoint<Resource, Scim> = Endpoint::new(Operation {
    path: "/scim/v2/Groups/{id}",
    operation_id: "scimReplaceGroup",
    tag: "scim",
    methods: Methods::Put,
    access: Access::User,
    summary: "Replace a team's name and members",
    description: "`displayName` and `externalId` become what the body says; `members`, when \
        the body has it, becomes the team's members (a body without `members` leaves them as \
        they are). The team's role and grants stay; the caller must hold what it carries \
        (403), as for `customer/editteam`. Audit `team.edited` on a new name, \
        `team.member_added` and `team.member_removed` for each change of members.",
    params: Some(schema_ref::<Document>),
    refusals: &[
        Refusal::Forbidden,
        Refusal::NotFound,
        Refusal::Conflict,
        Refusal::PreconditionFailed,
    ],
});

static PATCH: Endpoint<Resource, Scim> = Endpoint::new(Operation {
    path: "/scim/v2/Groups/{id}",
    operation_id: "scimPatchGroup",
    tag: "scim",
    methods: Methods::Patch,
    access: Access::User,
    summary: "Add or remove a team's members, or rename it",
    description: "A PatchOp (names in any case): `add` with path `members` and a list of \
        `{value}`; `remove` with path `members[value eq \"…\"]`, or with path `members` and the \
        list to remove (Entra), or `members` alone for all; `replace` of `members`, \
        `displayName` or `externalId`, with a path or without one. The result is written as a \
        PUT's body with its members.",
    params: Some(schema_ref::<Document>),
    refusals: &[
        Refusal::Forbidden,
        Refusal::NotFound,
        Refusal::Conflict,
        Refusal::PreconditionFailed,
    ],
});

static DELETE: Endpoint<NoContent, Scim> = Endpoint::new(Operation {
    path: "/scim/v2/Groups/{id}",
    operation_id: "scimDeleteGroup",
    tag: "scim",
    methods: Methods::Delete,
    access: Access::User,
    summary: "Delete a team",
    description: "As `customer/deleteteam`: its members lose what it gave them and stay \
        members; audit `team.deleted`. The caller must hold what the team carries (403).",
    params: None,
    refusals: &[
        Refusal::Forbidden,
        Refusal::NotFound,
        Refusal::PreconditionFailed,
    ],
});

async fn list(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Query(p): Query<ListParams>,
) -> Result<Body<Document>, ApiError> {
    let (base, page) = (base(&ctx), p.page());
    let filter = p.filter.clone();
    let listed = read(ctx, move |ctx| {
        groups::list(ctx, &caller, filter.as_deref(), page, &base)
    })
    .await?;
    Ok(Body(Document(p.shape(listed))))
}

async fn get(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    id: Path<String>,
    Query(shape): Query<Shape>,
    request: HttpRequest,
) -> Result<Resource, ApiError> {
    let (base, id) = (base(&ctx), id.into_inner());
    let body = read(ctx, move |ctx| groups::get(ctx, &caller, &id, &base)).await?;
    // The version is the whole resource's, whatever is left out.
    Ok(Resource::answer(&request, shape.apply(body)))
}

async fn create(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    body: Bytes,
) -> Result<NewResource, ApiError> {
    let input = GroupInput::read(&json_body(&body)?)?;
    let base = base(&ctx);
    let made = run(ctx, move |ctx| groups::create(ctx, &caller, &input, &base)).await?;
    Ok(NewResource(made))
}

async fn replace(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    id: Path<String>,
    body: Bytes,
    request: HttpRequest,
) -> Result<Resource, ApiError> {
    let input = GroupInput::read(&json_body(&body)?)?;
    let change = move |_: &Value| Ok(input.clone());
    written(
        ctx,
        caller,
        (id.into_inner(), &request),
        groups::write,
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
        let mut group = current.clone();
        scim_patch::apply(&mut group, &operations)?;
        // Members taken away as a whole are none, not "as they are".
        if let Some(object) = group.as_object_mut() {
            if !object.keys().any(|k| k.eq_ignore_ascii_case("members")) {
                object.insert("members".into(), json!([]));
            }
        }
        GroupInput::read(&group)
    };
    written(
        ctx,
        caller,
        (id.into_inner(), &request),
        groups::write,
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
    deleted(ctx, caller, (id.into_inner(), &request), groups::delete).await
}
