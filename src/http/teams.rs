//! The team endpoints of the `customer` module (API.md §10).

use actix_web::web::Data;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use validator::Validate;

use super::answers::Nothing;
use super::auth::SignedIn;
use super::customer::PageParams;
use super::error::ApiError;
use super::grants::{grant_requests, ProjectPermissionParam};
use super::params::{present, text, valid_name, whole_number, Params};
use super::webhooks::Description;
use super::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read, work::run,
};
use crate::domain::members::Collaborator;
use crate::domain::paging::PageRequest;
use crate::domain::permissions::{Need, Permission};
use crate::domain::teams::changes::{NewTeam, TeamChanges};
use crate::domain::teams::{self, changes, roster, Team};
use crate::domain::Ctx;

pub fn register(api: &mut Api<'_>) {
    api.add(&CREATE, create);
    api.add(&LIST, list);
    api.add(&EDIT, edit);
    api.add(&DELETE, delete);
    api.add(&ADD_MEMBER, add_member);
    api.add(&REMOVE_MEMBER, remove_member);
    api.add(&LIST_MEMBERS, list_members);
}

/// The role a team may carry.
pub struct TeamRole;

impl PartialSchema for TeamRole {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(64))
            .description(Some(
                "The role the team gives its members beside their own: `admin`, `technical`, \
                 `collaborator` (never `owner`: 422), or the name or roleid of one of the \
                 organization's custom roles (422 for another); answers show its name in \
                 `role` and a custom role's id in `roleid`. You may give only a role whose \
                 permissions you hold (403).",
            ))
            .into()
    }
}

impl ToSchema for TeamRole {}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamAnswer {
    pub team: Team,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamsPage {
    pub teams: Vec<Team>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub nextcursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamMembersPage {
    pub collaborators: Vec<Collaborator>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub nextcursor: Option<String>,
}

/// Parameters of `customer/createteam`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeamParams {
    /// Optional with an API key bound to the organization.
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    /// Unique in the organization (422 otherwise).
    #[validate(custom(function = "valid_name"))]
    #[schema(value_type = text::Name, inline)]
    pub name: String,
    #[schema(value_type = Option<Description>, inline)]
    pub description: Option<String>,
    /// Grants the team's members hold through it, as `invite/create` takes
    /// them; none when left out. JSON only.
    #[validate(nested)]
    pub projectpermissions: Option<Vec<ProjectPermissionParam>>,
    /// None when left out or null.
    #[schema(value_type = Option<TeamRole>, inline)]
    pub role: Option<String>,
}

const CREATE: Endpoint<TeamAnswer> = Endpoint::new(Operation {
    path: "/customer/createteam",
    operation_id: "customerCreateteam",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::TeamsManage)),
    summary: "Create a team",
    description: "A team carries an optional `role` and `projectpermissions`; its members hold \
        them beside their own: a member's permissions are the union of their own role's and \
        their teams' roles', and on each project the highest of their own grant and their \
        teams'. Nobody gives a team a role holding a permission they do not hold, or a grant on \
        a project above their own (403). A name another team of the organization has answers \
        422; a project the organization does not have answers 404; a project named twice gets \
        the stronger of its permissions. Audit event `team.created`.",
    params: Some(schema_ref::<CreateTeamParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn create(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<CreateTeamParams>,
) -> Result<TeamAnswer, ApiError> {
    let team = run(ctx, move |ctx| {
        let new = NewTeam {
            name: p.name,
            description: teams::description(p.description)?,
            role: p.role,
            grants: grant_requests(p.projectpermissions.as_deref().unwrap_or_default()),
        };
        changes::create(ctx, &caller, p.organizationid.as_deref(), new)
    })
    .await?;
    Ok(TeamAnswer { team })
}

const LIST: Endpoint<TeamsPage> = Endpoint::new(Operation {
    path: "/customer/listteams",
    operation_id: "customerListteams",
    tag: "customer",
    methods: Methods::GetPost,
    access: Access::Member(Need::Permission(Permission::MembersRead)),
    summary: "The organization's teams",
    description: "Every team with its role, project permissions (a caller who sees only some \
        projects sees only the grants on those) and member count, by name, a page at a time \
        (`limit`, `cursor`; `nextcursor` is null on the last page).",
    params: Some(schema_ref::<PageParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn list(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<PageParams>,
) -> Result<TeamsPage, ApiError> {
    let (list, next) = read(ctx, move |ctx| {
        let page = PageRequest::parse(p.limit, p.cursor.as_deref())?;
        teams::list(ctx, &caller, p.organizationid.as_deref(), &page)
    })
    .await?;
    Ok(TeamsPage {
        teams: list,
        nextcursor: next,
    })
}

/// Parameters of `customer/editteam`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditTeamParams {
    /// The team; it names its organization.
    #[schema(value_type = text::Id, inline)]
    pub teamid: String,
    #[validate(custom(function = "valid_name"))]
    #[schema(value_type = Option<text::Name>, inline)]
    pub name: Option<String>,
    /// Null or empty clears it; unchanged when left out.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Description>, inline)]
    pub description: Option<Option<String>>,
    /// Replaces the whole set; an empty list clears it. JSON only.
    #[validate(nested)]
    pub projectpermissions: Option<Vec<ProjectPermissionParam>>,
    /// Null takes the team's role away; unchanged when left out.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<TeamRole>, inline)]
    pub role: Option<Option<String>>,
}

const EDIT: Endpoint<TeamAnswer> = Endpoint::new(Operation {
    path: "/customer/editteam",
    operation_id: "customerEditteam",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::TeamsManage)),
    summary: "Change a team",
    description: "Changes a team's `name`, `description`, `role` (null takes it away) and \
        `projectpermissions` (which replaces the whole set). The caller must hold what the \
        team carries now, and what it will carry: nobody gives a team a role holding a \
        permission they do not hold, or a grant on a project above their own (403). Its members \
        hold the change from their next request. Audit event `team.edited`. Anyone who is not \
        a member of its organization gets 404.",
    params: Some(schema_ref::<EditTeamParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn edit(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<EditTeamParams>,
) -> Result<TeamAnswer, ApiError> {
    let team = run(ctx, move |ctx| {
        let description = match p.description {
            None => None,
            Some(given) => Some(teams::description(given)?),
        };
        let changes = TeamChanges {
            name: p.name,
            description,
            role: p.role,
            grants: p.projectpermissions.as_deref().map(grant_requests),
        };
        changes::edit(ctx, &caller, &p.teamid, changes)
    })
    .await?;
    Ok(TeamAnswer { team })
}

/// Names a team.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamParams {
    #[schema(value_type = text::Id, inline)]
    pub teamid: String,
}

const DELETE: Endpoint<Nothing> = Endpoint::new(Operation {
    path: "/customer/deleteteam",
    operation_id: "customerDeleteteam",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::TeamsManage)),
    summary: "Delete a team",
    description: "Deletes the team and its grants; its members stay in the organization and \
        lose what the team gave them from their next request. Only someone who holds the \
        team's role and grants may (403). Audit event `team.deleted`. Anyone who is not a \
        member of its organization gets 404.",
    params: Some(schema_ref::<TeamParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn delete(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<TeamParams>,
) -> Result<Nothing, ApiError> {
    run(ctx, move |ctx| changes::delete(ctx, &caller, &p.teamid)).await?;
    Ok(Nothing {})
}

/// A team and one of its organization's collaborators.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamMemberParams {
    #[schema(value_type = text::Id, inline)]
    pub teamid: String,
    /// A member of the team's organization.
    #[schema(value_type = text::Id, inline)]
    pub collaboratorid: String,
}

const ADD_MEMBER: Endpoint<TeamAnswer> = Endpoint::new(Operation {
    path: "/customer/addteammember",
    operation_id: "customerAddteammember",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::TeamsManage)),
    summary: "Add a collaborator to a team",
    description: "From their next request the collaborator holds the team's role and grants \
        beside their own, whatever their own role. That is giving them the team's role and \
        grants, so the caller must hold them (403 otherwise): an admin may add anyone to a \
        team with the admin role, a member whose role lacks a permission of the team's role \
        may add nobody to it. One already in the team answers 409 `already_member`; a \
        collaborator of another organization, or one whose membership has ended, 404. Audit \
        event `team.member_added`. Leaving or being removed from the organization leaves its \
        teams.",
    params: Some(schema_ref::<TeamMemberParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound, Refusal::Conflict],
});

async fn add_member(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<TeamMemberParams>,
) -> Result<TeamAnswer, ApiError> {
    let team = run(ctx, move |ctx| {
        roster::add_member(ctx, &caller, &p.teamid, &p.collaboratorid)
    })
    .await?;
    Ok(TeamAnswer { team })
}

const REMOVE_MEMBER: Endpoint<TeamAnswer> = Endpoint::new(Operation {
    path: "/customer/removeteammember",
    operation_id: "customerRemoveteammember",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::TeamsManage)),
    summary: "Take a collaborator out of a team",
    description: "From their next request the collaborator holds only what their own role, \
        their own grants and their other teams give. Only someone who holds the team's role and \
        grants may (403). One who is not in the team answers 404. Audit event \
        `team.member_removed`.",
    params: Some(schema_ref::<TeamMemberParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn remove_member(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<TeamMemberParams>,
) -> Result<TeamAnswer, ApiError> {
    let team = run(ctx, move |ctx| {
        roster::remove_member(ctx, &caller, &p.teamid, &p.collaboratorid)
    })
    .await?;
    Ok(TeamAnswer { team })
}

/// A team and a page of its members.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamMembersParams {
    #[schema(value_type = text::Id, inline)]
    pub teamid: String,
    /// Rows per page, 1 to 1000 (default 100).
    #[validate(range(min = 1, max = 1000, message = "must be 1 to 1000"))]
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub limit: Option<u32>,
    /// `nextcursor` of the previous page.
    #[schema(value_type = Option<text::Cursor>, inline)]
    pub cursor: Option<String>,
}

const LIST_MEMBERS: Endpoint<TeamMembersPage> = Endpoint::new(Operation {
    path: "/customer/listteammembers",
    operation_id: "customerListteammembers",
    tag: "customer",
    methods: Methods::GetPost,
    access: Access::Member(Need::Permission(Permission::MembersRead)),
    summary: "A team's members",
    description: "The team's members as `collaborator` objects (as \
        `customer/listcollaborators` shows them), in the order they joined the organization, a \
        page at a time (`limit`, `cursor`; `nextcursor` is null on the last page). Anyone who \
        is not a member of its organization gets 404.",
    params: Some(schema_ref::<TeamMembersParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn list_members(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<TeamMembersParams>,
) -> Result<TeamMembersPage, ApiError> {
    let (list, next) = read(ctx, move |ctx| {
        let page = PageRequest::parse(p.limit, p.cursor.as_deref())?;
        roster::list_members(ctx, &caller, &p.teamid, &page)
    })
    .await?;
    Ok(TeamMembersPage {
        collaborators: list,
        nextcursor: next,
    })
}
