//! The custom role endpoints of the `customer` module (API.md §10).

use actix_web::web::Data;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use validator::Validate;

use super::auth::SignedIn;
use super::customer::OrganizationParams;
use super::error::ApiError;
use super::params::{present, text, Params};
use super::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read, work::run,
};
use crate::domain::custom_roles::{self, NewRole, RoleChanges, RoleView};
use crate::domain::permissions::{Need, Permission};
use crate::domain::Ctx;

pub fn register(api: &mut Api<'_>) {
    api.add(&CREATE, create);
    api.add(&LIST, list);
    api.add(&EDIT, edit);
    api.add(&DELETE, delete);
}

/// A custom role's name.
pub struct RoleName;

impl PartialSchema for RoleName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(2))
            .max_length(Some(40))
            .pattern(Some("^[a-z0-9_-]{2,40}$"))
            .description(Some(
                "2 to 40 of `a-z 0-9 _ -`; not a system role's name, and unique among the \
                 organization's roles (422 otherwise).",
            ))
            .into()
    }
}

impl ToSchema for RoleName {}

/// Permissions from the catalogue.
pub struct PermissionNames;

impl PartialSchema for PermissionNames {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(Permission::ALL.iter().map(|p| p.name()))),
            )
            .description(Some(
                "Names from the permission catalogue (API.md §10); an unknown one answers 422, \
                 a repeated one counts once, and one the caller does not hold answers 403.",
            ))
            .into()
    }
}

impl ToSchema for PermissionNames {}

/// A role's description.
pub struct RoleDescription;

impl PartialSchema for RoleDescription {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(custom_roles::MAX_DESCRIPTION))
            .pattern(Some("^[^\\u0000-\\u001f\\u007f-\\u009f]*$"))
            .description(Some(
                "Up to 500 characters, no control characters; empty is none.",
            ))
            .into()
    }
}

impl ToSchema for RoleDescription {}

/// Parameters of `customer/createrole`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleParams {
    /// Optional with an API key bound to the organization.
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    #[schema(value_type = RoleName, inline)]
    pub name: String,
    #[schema(value_type = Option<RoleDescription>, inline)]
    pub description: Option<String>,
    /// JSON only.
    #[schema(value_type = PermissionNames, inline)]
    pub permissions: Vec<String>,
}

/// Parameters of `customer/editrole`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditRoleParams {
    /// A custom role's id; it names its organization.
    #[schema(value_type = text::Id, inline)]
    pub roleid: String,
    #[schema(value_type = Option<RoleName>, inline)]
    pub name: Option<String>,
    /// Null or empty clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<RoleDescription>, inline)]
    pub description: Option<Option<String>>,
    /// Replaces the whole set. JSON only.
    #[schema(value_type = Option<PermissionNames>, inline)]
    pub permissions: Option<Vec<String>>,
}

/// Names a role.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleParams {
    #[schema(value_type = text::Id, inline)]
    pub roleid: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleAnswer {
    pub role: RoleView,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesAnswer {
    pub roles: Vec<RoleView>,
}

const MANAGE: Access = Access::Member(Need::Permission(Permission::RolesManage));

const CREATE: Endpoint<RoleAnswer> = Endpoint::new(Operation {
    path: "/customer/createrole",
    operation_id: "customerCreaterole",
    tag: "customer",
    methods: Methods::Post,
    access: MANAGE,
    summary: "Make a custom role",
    description: "A role of the organization's own, from the permission catalogue: usable \
        wherever a role is taken (`invite/create` and its bulk rows, \
        `customer/editcollaborator`, `customer/adddomain`) by its name or `roleid`. Its \
        holders may do exactly what its permissions say (with `projects:create` added by \
        `cancreateprojects`). A permission the caller does not hold answers 403. At most 50 \
        custom roles per organization (422 naming `organizationid`). Audit event \
        `role.created`.",
    params: Some(schema_ref::<CreateRoleParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn create(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<CreateRoleParams>,
) -> Result<RoleAnswer, ApiError> {
    let role = run(ctx, move |ctx| {
        let new = NewRole {
            name: p.name,
            description: p.description,
            permissions: p.permissions,
        };
        custom_roles::create(ctx, &caller, p.organizationid.as_deref(), new)
    })
    .await?;
    Ok(RoleAnswer { role })
}

const LIST: Endpoint<RolesAnswer> = Endpoint::new(Operation {
    path: "/customer/listroles",
    operation_id: "customerListroles",
    tag: "customer",
    methods: Methods::GetPost,
    access: Access::Member(Need::Permission(Permission::MembersRead)),
    summary: "The organization's roles",
    description: "The four system roles first (`system: true`, `roleid` their name, their \
        fixed permissions without `cancreateprojects`), then the custom roles, oldest first; \
        each with the number of members in force holding it.",
    params: Some(schema_ref::<OrganizationParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn list(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<OrganizationParams>,
) -> Result<RolesAnswer, ApiError> {
    let roles = read(ctx, move |ctx| {
        custom_roles::list(ctx, &caller, p.organizationid.as_deref())
    })
    .await?;
    Ok(RolesAnswer { roles })
}

const EDIT: Endpoint<RoleAnswer> = Endpoint::new(Operation {
    path: "/customer/editrole",
    operation_id: "customerEditrole",
    tag: "customer",
    methods: Methods::Post,
    access: MANAGE,
    summary: "Edit a custom role",
    description: "Renames it, changes its description, or replaces its permissions; its \
        holders may do what the new set says from their next request, in every collabd \
        process. A role holding, before or after, a permission the caller does not hold \
        answers 403; a system role's `roleid` answers 422. Anyone who is not a member of its \
        organization gets 404. Audit event `role.edited`.",
    params: Some(schema_ref::<EditRoleParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn edit(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<EditRoleParams>,
) -> Result<RoleAnswer, ApiError> {
    let role = run(ctx, move |ctx| {
        let changes = RoleChanges {
            name: p.name,
            description: p.description,
            permissions: p.permissions,
        };
        custom_roles::edit(ctx, &caller, &p.roleid, changes)
    })
    .await?;
    Ok(RoleAnswer { role })
}

const DELETE: Endpoint<super::answers::Nothing> = Endpoint::new(Operation {
    path: "/customer/deleterole",
    operation_id: "customerDeleterole",
    tag: "customer",
    methods: Methods::Post,
    access: MANAGE,
    summary: "Delete a custom role",
    description:
        "409 `role_in_use` while a member, a pending invite, a domain, a team or the SSO connection \
        (`customer/setsso`) holds it. \
        Ended invites keep naming it. Anyone who is not a member of its organization gets \
        404. Audit event `role.deleted`.",
    params: Some(schema_ref::<RoleParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound, Refusal::Conflict],
});

async fn delete(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<RoleParams>,
) -> Result<super::answers::Nothing, ApiError> {
    run(ctx, move |ctx| {
        custom_roles::delete(ctx, &caller, &p.roleid)
    })
    .await?;
    Ok(super::answers::Nothing {})
}
