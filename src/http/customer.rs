//! The `customer/*` endpoints: one organization and what is in it.

use crate::domain::permissions::{Need, Permission};
use actix_web::web::Data;
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::answers::*;
use super::auth::{Credentials, SignedIn};
use super::error::ApiError;
use super::grants::{grant_requests, ProjectPermissionParam};
use super::params::{present, text, valid_name, valid_role, whole_number, Params, RoleRef};
use super::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read, work::run,
};
use crate::domain::audit::{self};
use crate::domain::members::{self, CollaboratorChanges};
use crate::domain::organizations::{self, SettingsChange};
use crate::domain::paging::PageRequest;
use crate::domain::projects::{self};
use crate::domain::Ctx;

pub fn register(api: &mut Api<'_>) {
    api.add(&DETAILS, details);
    api.add(&SETTINGS, settings);
    api.add(&DELETE, delete);
    api.add_looking_up(&LIST_COLLABORATORS, list_collaborators);
    api.add(&EDIT_COLLABORATOR, edit_collaborator);
    api.add(&REMOVE_COLLABORATOR, remove_collaborator);
    api.add(&CREATE_PROJECT, create_project);
    api.add(&LIST_PROJECTS, list_projects);
    api.add(&EDIT_PROJECT, edit_project);
    api.add(&DELETE_PROJECT, delete_project);
    api.add(&LIST_AUDIT_EVENTS, list_audit_events);
}

/// Names an organization; a key bound to one supplies it when left out.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationParams {
    /// Optional with an API key bound to the organization.
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
}

const DETAILS: Endpoint<OrganizationAnswer> = Endpoint::new(Operation {
    path: "/customer/details",
    operation_id: "customerDetails",
    tag: "customer",
    methods: Methods::GetPost,
    access: Access::Member(Need::Permission(Permission::OrganizationRead)),
    summary: "One organization",
    description: "The organization with the caller's role, its member count and its invite \
        lifetime. Any member may call it; anyone else gets 404.",
    params: Some(schema_ref::<OrganizationParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn details(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<OrganizationParams>,
) -> Result<OrganizationAnswer, ApiError> {
    let organization = read(ctx, move |ctx| {
        organizations::details(ctx, &caller, p.organizationid.as_deref())
    })
    .await?;
    Ok(OrganizationAnswer { organization })
}

/// Parameters of `customer/settings`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsParams {
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    /// A new name, 1 to 200 characters.
    #[validate(custom(function = "valid_name"))]
    #[schema(value_type = Option<text::Name>, inline)]
    pub name: Option<String>,
    /// Days new invites stay valid, 1 to 30.
    #[validate(range(min = 1, max = 30, message = "must be 1 to 30"))]
    #[schema(minimum = 1, maximum = 30)]
    #[serde(default, deserialize_with = "whole_number")]
    pub invitettldays: Option<u32>,
    /// The language of mail and pages for people without an account (and
    /// of invitation pages for accounts without one): one collabd has (422
    /// otherwise, but the organization's value sent back unchanged is
    /// taken even if collabd no longer has it); null or empty clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 16)]
    pub language: Option<Option<String>>,
}

const SETTINGS: Endpoint<OrganizationAnswer> = Endpoint::new(Operation {
    path: "/customer/settings",
    operation_id: "customerSettings",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::OrganizationManage)),
    summary: "Change organization settings",
    description: "The organization's `name`, \
        `invitettldays` (1–30), the lifetime of invites created from now on, and `language`, the \
        language of mail to people without an account (API.md §13: an account's own language \
        comes first).",
    params: Some(schema_ref::<SettingsParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn settings(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<SettingsParams>,
) -> Result<OrganizationAnswer, ApiError> {
    let organization = run(ctx, move |ctx| {
        let change = SettingsChange {
            name: p.name.as_deref(),
            invite_ttl_days: p.invitettldays,
            language: p.language.as_ref().map(Option::as_deref),
        };
        organizations::settings(ctx, &caller, p.organizationid.as_deref(), change)
    })
    .await?;
    Ok(OrganizationAnswer { organization })
}

/// Parameters of `customer/delete`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteOrganizationParams {
    /// Optional with an API key bound to the organization.
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    /// The organization's current name, as a guard against deleting the
    /// wrong one.
    #[validate(custom(function = "valid_name"))]
    #[schema(value_type = text::Name, inline)]
    pub name: String,
}

const DELETE: Endpoint<Nothing> = Endpoint::new(Operation {
    path: "/customer/delete",
    operation_id: "customerDelete",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::OwnerRole),
    summary: "Delete the organization",
    description: "Deletes the organization and all it holds \
        (projects, memberships and their grants, invites, its audit log, API keys bound to it) \
        in one transaction, and tells every member by email. `name` must be its current name \
        (422 otherwise). Afterwards every id of it answers 404.",
    params: Some(schema_ref::<DeleteOrganizationParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn delete(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<DeleteOrganizationParams>,
) -> Result<Nothing, ApiError> {
    run(ctx, move |ctx| {
        organizations::delete(ctx, &caller, p.organizationid.as_deref(), &p.name)
    })
    .await?;
    Ok(Nothing {})
}

/// An organization and a page of one of its lists.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// Optional with an API key bound to the organization.
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    #[validate(range(min = 1, max = 1000, message = "must be 1 to 1000"))]
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub limit: Option<u32>,
    /// `nextcursor` of the previous page.
    #[schema(value_type = Option<text::Cursor>, inline)]
    pub cursor: Option<String>,
}

const LIST_COLLABORATORS: Endpoint<CollaboratorsPage> = Endpoint::new(Operation {
    path: "/customer/listcollaborators",
    operation_id: "customerListcollaborators",
    tag: "customer",
    methods: Methods::GetPost,
    access: Access::Member(Need::Permission(Permission::MembersRead)),
    summary: "The organization's collaborators",
    description: "Every member with their role, `cancreateprojects` and project permissions, in \
        the order they joined, a page at a time (`limit`, `cursor`; `nextcursor` is null on the \
        last page).",
    params: Some(schema_ref::<PageParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn list_collaborators(
    ctx: Data<Ctx>,
    Credentials(credential): Credentials,
    Params(p): Params<PageParams>,
) -> Result<CollaboratorsPage, ApiError> {
    let page = read(ctx, move |ctx| {
        let page = PageRequest::parse(p.limit, p.cursor.as_deref())?;
        members::list(ctx, &credential, p.organizationid.as_deref(), &page)
    })
    .await?;
    Ok(CollaboratorsPage {
        collaborators: page.collaborators,
        nextcursor: page.nextcursor,
    })
}

/// Parameters of `customer/editcollaborator`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditCollaboratorParams {
    /// The membership to edit; it names its organization.
    #[schema(value_type = text::Id, inline)]
    pub collaboratorid: String,
    #[validate(custom(function = "valid_role"))]
    #[schema(value_type = Option<RoleRef>)]
    pub role: Option<String>,
    pub cancreateprojects: Option<bool>,
    /// Replaces the whole set; an empty list clears it. JSON only.
    #[validate(nested)]
    pub projectpermissions: Option<Vec<ProjectPermissionParam>>,
    /// When the membership ends: RFC 3339, in the future, at most 5 years
    /// ahead, not for owners; null makes it lasting. Unchanged when left out.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expiresat: Option<Option<String>>,
}

const EDIT_COLLABORATOR: Endpoint<CollaboratorAnswer> = Endpoint::new(Operation {
    path: "/customer/editcollaborator",
    operation_id: "customerEditcollaborator",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::MembersManage)),
    summary: "Change a collaborator",
    description: "Changes a member's `role`, `cancreateprojects` and `projectpermissions` (which \
        replaces the whole set). Owners may edit anyone; admins may edit everyone but owners and \
        cannot grant owner (403). Nobody changes their own role (403). Demoting the last owner \
        answers 409 `last_owner`. A project the organization does not have answers 404; a project named twice gets the \
        stronger of its permissions. `expiresat` time-limits the membership (422 when not in the \
        future, more than 5 years ahead, or for an owner; null makes it lasting): from that \
        instant the person is a non-member everywhere, and a sweep then removes the membership \
        (audit event `collaborator.expired`) and tells them by email. Nobody changes their own \
        membership's end (403). A member past their end answers 404 here as everywhere. A \
        demotion revokes, in the same transaction, the member's pending invites with a role \
        they can no longer grant (audit `invite.revoked`, `reason` `inviter_demoted`).",
    params: Some(schema_ref::<EditCollaboratorParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound, Refusal::Conflict],
});

async fn edit_collaborator(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<EditCollaboratorParams>,
) -> Result<CollaboratorAnswer, ApiError> {
    let collaborator = run(ctx, move |ctx| {
        let changes = CollaboratorChanges {
            role: p.role,
            can_create_projects: p.cancreateprojects,
            project_permissions: p.projectpermissions.as_deref().map(grant_requests),
            expires_at: p.expiresat,
        };
        members::edit(ctx, &caller, &p.collaboratorid, changes)
    })
    .await?;
    Ok(CollaboratorAnswer { collaborator })
}

/// Names a collaborator (a membership).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollaboratorParams {
    #[schema(value_type = text::Id, inline)]
    pub collaboratorid: String,
}

const REMOVE_COLLABORATOR: Endpoint<Nothing> = Endpoint::new(Operation {
    path: "/customer/removecollaborator",
    operation_id: "customerRemovecollaborator",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::MembersManage)),
    summary: "Remove a collaborator, or leave",
    description: "Removes a member from the organization; removing one's own membership is \
        leaving, which every role may do. Owners may remove anyone, admins everyone but owners \
        (403). The last owner cannot be removed or leave (409 `last_owner`). API keys the \
        removed user had bound to the organization are deleted. A removal revokes the member's \
        pending invites (audit `invite.revoked`, `reason` `inviter_removed`); invites of someone \
        who leaves stay valid.",
    params: Some(schema_ref::<CollaboratorParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound, Refusal::Conflict],
});

async fn remove_collaborator(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<CollaboratorParams>,
) -> Result<Nothing, ApiError> {
    run(ctx, move |ctx| {
        members::remove(ctx, &caller, &p.collaboratorid)
    })
    .await?;
    Ok(Nothing {})
}

/// Parameters of `customer/createproject`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectParams {
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    /// 1 to 200 characters.
    #[validate(custom(function = "valid_name"))]
    #[schema(value_type = text::Name, inline)]
    pub name: String,
}

const CREATE_PROJECT: Endpoint<ProjectAnswer> = Endpoint::new(Operation {
    path: "/customer/createproject",
    operation_id: "customerCreateproject",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::ProjectsCreate)),
    summary: "Create a project",
    description: "Technical users and collaborators who may (with `cancreateprojects`) get \
        `full` on the project they create.",
    params: Some(schema_ref::<CreateProjectParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn create_project(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<CreateProjectParams>,
) -> Result<ProjectAnswer, ApiError> {
    let project = run(ctx, move |ctx| {
        projects::create(ctx, &caller, p.organizationid.as_deref(), &p.name)
    })
    .await?;
    Ok(ProjectAnswer { project })
}

const LIST_PROJECTS: Endpoint<ProjectsPage> = Endpoint::new(Operation {
    path: "/customer/listprojects",
    operation_id: "customerListprojects",
    tag: "customer",
    methods: Methods::GetPost,
    access: Access::Member(Need::Permission(Permission::OrganizationRead)),
    summary: "The projects the caller may see",
    description: "All projects for owners and admins; the projects they hold a permission on \
        for technical users and collaborators. Ordered by name, then id, a page at a time \
        (`limit`, `cursor`; `nextcursor` is null on the last page).",
    params: Some(schema_ref::<PageParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn list_projects(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<PageParams>,
) -> Result<ProjectsPage, ApiError> {
    let (list, next) = read(ctx, move |ctx| {
        let page = PageRequest::parse(p.limit, p.cursor.as_deref())?;
        projects::list(ctx, &caller, p.organizationid.as_deref(), &page)
    })
    .await?;
    Ok(ProjectsPage {
        projects: list,
        nextcursor: next,
    })
}

/// Parameters of `customer/editproject`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditProjectParams {
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    #[schema(value_type = text::Id, inline)]
    pub projectid: String,
    #[validate(custom(function = "valid_name"))]
    #[schema(value_type = text::Name, inline)]
    pub name: String,
}

const EDIT_PROJECT: Endpoint<ProjectAnswer> = Endpoint::new(Operation {
    path: "/customer/editproject",
    operation_id: "customerEditproject",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::ProjectsManage)),
    summary: "Rename a project",
    description: "Renames a project.",
    params: Some(schema_ref::<EditProjectParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn edit_project(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<EditProjectParams>,
) -> Result<ProjectAnswer, ApiError> {
    let project = run(ctx, move |ctx| {
        projects::rename(
            ctx,
            &caller,
            p.organizationid.as_deref(),
            &p.projectid,
            &p.name,
        )
    })
    .await?;
    Ok(ProjectAnswer { project })
}

/// Names a project of an organization.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectParams {
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    #[schema(value_type = text::Id, inline)]
    pub projectid: String,
}

const DELETE_PROJECT: Endpoint<Nothing> = Endpoint::new(Operation {
    path: "/customer/deleteproject",
    operation_id: "customerDeleteproject",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::ProjectsManage)),
    summary: "Delete a project",
    description: "Deletes the project and every permission on it, including those pending in \
        invites.",
    params: Some(schema_ref::<ProjectParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn delete_project(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<ProjectParams>,
) -> Result<Nothing, ApiError> {
    run(ctx, move |ctx| {
        projects::delete(ctx, &caller, p.organizationid.as_deref(), &p.projectid)
    })
    .await?;
    Ok(Nothing {})
}

const LIST_AUDIT_EVENTS: Endpoint<AuditEventsPage> = Endpoint::new(Operation {
    path: "/customer/listauditevents",
    operation_id: "customerListauditevents",
    tag: "customer",
    methods: Methods::GetPost,
    access: Access::Member(Need::Permission(Permission::AuditRead)),
    summary: "The organization's audit log",
    description: "Every change to the organization, newest first, a page at a time.",
    params: Some(schema_ref::<PageParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn list_audit_events(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<PageParams>,
) -> Result<AuditEventsPage, ApiError> {
    let (list, next) = read(ctx, move |ctx| {
        let page = PageRequest::parse(p.limit, p.cursor.as_deref())?;
        audit::list(ctx, &caller, p.organizationid.as_deref(), &page)
    })
    .await?;
    Ok(AuditEventsPage {
        auditevents: list,
        nextcursor: next,
    })
}
