//! `access/check` and `access/checkbatch`, the permission checks of the
//! provider's own services, and `customer/mypermissions`, a member's own
//! permissions for a user interface (API.md §10).

use actix_web::web::Data;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use validator::Validate;

use super::auth::{Checking, SignedIn};
use super::customer::OrganizationParams;
use super::error::ApiError;
use super::params::{text, valid_login_email, Params};
use super::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read,
};
use crate::domain::checks as judge;
use crate::domain::checks::{
    Check, CheckRequest, CheckResult, Permissions, PROJECT_FULL, PROJECT_READ,
};
use crate::domain::permissions::{Need, Permission};
use crate::domain::Ctx;

pub fn register(api: &mut Api<'_>) {
    api.add(&CHECK, check);
    api.add(&CHECK_BATCH, check_batch);
    api.add(&MY_PERMISSIONS, my_permissions);
}

/// What a check may ask: a permission of the catalogue, or `project:read`
/// / `project:full` (with `projectid`). Anything else answers 422.
pub struct CheckedPermission;

impl PartialSchema for CheckedPermission {
    fn schema() -> RefOr<Schema> {
        let names: Vec<&str> = Permission::ALL
            .iter()
            .map(|p| p.name())
            .chain([PROJECT_READ, PROJECT_FULL])
            .collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names))
            .description(Some(
                "A permission of the catalogue (API.md §10), or `project:read` / \
                 `project:full` with `projectid`.",
            ))
            .into()
    }
}

impl ToSchema for CheckedPermission {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("CheckedPermission")
    }
}

/// One check: may this person do this in this organization?
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckParams {
    /// Required with a service key; with an API key bound to the
    /// organization it may be left out.
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    /// The person's user id. Give exactly one of `userid` and `email`.
    #[schema(value_type = Option<text::Id>, inline)]
    pub userid: Option<String>,
    /// The person's address, compared as everywhere (case-insensitively,
    /// normalised). Give exactly one of `userid` and `email`.
    #[validate(custom(function = "valid_login_email"))]
    #[schema(value_type = Option<text::LoginEmail>, inline)]
    pub email: Option<String>,
    #[schema(value_type = CheckedPermission)]
    pub permission: String,
    /// The project of `project:read` / `project:full`; only with them.
    #[schema(value_type = Option<text::Id>, inline)]
    pub projectid: Option<String>,
}

impl CheckParams {
    /// The check as the domain judges it.
    fn into_request(self) -> CheckRequest {
        CheckRequest {
            organizationid: self.organizationid,
            userid: self.userid,
            email: self.email,
            permission: self.permission,
            projectid: self.projectid,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckAnswer {
    pub check: Check,
}

const CHECK_TEXT: &str = "Answers `check` {allowed, reason}. `reason` is `role` (the member's \
    own role gives it; `projects:read` and `projects:write` give `read` and `full` on every \
    project of the organization), `grant` (their own grant on the project), `team` (only one \
    of their teams gives it), `not_member` (no member, no such account or address: never \
    404, the caller is trusted) or `not_granted` (a member, to whom nothing gives it; also \
    for a project the organization does not have, whoever asks). A removed member's checks \
    answer `not_member` from the next request. A check changes nothing and is never kept: \
    an `Idempotency-Key` is ignored, and every call answers the present.";

const CHECK: Endpoint<CheckAnswer> = Endpoint::new(Operation {
    path: "/access/check",
    operation_id: "accessCheck",
    tag: "access",
    methods: Methods::GetPost,
    access: Access::Service,
    summary: "May this person do this here?",
    description: CHECK_TEXT,
    params: Some(schema_ref::<CheckParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn check(
    ctx: Data<Ctx>,
    Checking(checker): Checking,
    Params(p): Params<CheckParams>,
) -> Result<CheckAnswer, ApiError> {
    let request = p.into_request();
    let check = read(ctx, move |ctx| judge::check(ctx, &checker, &request)).await?;
    Ok(CheckAnswer { check })
}

/// Parameters of `access/checkbatch`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBatchParams {
    /// 1 to 100 checks, each as `access/check` takes it. JSON only.
    #[validate(
        length(min = 1, max = 100, message = "must hold 1 to 100 checks"),
        nested
    )]
    #[schema(min_items = 1, max_items = 100)]
    pub checks: Vec<CheckParams>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBatchAnswer {
    /// The answers, in the order asked, each with the check as asked.
    pub checks: Vec<CheckResult>,
}

const CHECK_BATCH: Endpoint<CheckBatchAnswer> = Endpoint::new(Operation {
    path: "/access/checkbatch",
    operation_id: "accessCheckbatch",
    tag: "access",
    methods: Methods::Post,
    access: Access::Service,
    summary: "Many checks at once",
    description: "Answers `checks`: for each of 1 to 100 checks, in the order asked, the check \
        as asked (`userid`, `email` and `projectid` null where not given) with `allowed` and \
        `reason` as `access/check` answers them. The batch is refused whole (422 naming \
        `checks.<index>.<field>`) when one check is malformed, and whole (403) when the \
        credential may not ask about one of its organizations. It reads every membership named \
        in one statement. Like `access/check`, it ignores `Idempotency-Key`.",
    params: Some(schema_ref::<CheckBatchParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn check_batch(
    ctx: Data<Ctx>,
    Checking(checker): Checking,
    Params(p): Params<CheckBatchParams>,
) -> Result<CheckBatchAnswer, ApiError> {
    let requests: Vec<CheckRequest> = p
        .checks
        .into_iter()
        .map(CheckParams::into_request)
        .collect();
    let checks = read(ctx, move |ctx| judge::check_batch(ctx, &checker, &requests)).await?;
    Ok(CheckBatchAnswer { checks })
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionsAnswer {
    pub permissions: Permissions,
}

const MY_PERMISSIONS: Endpoint<PermissionsAnswer> = Endpoint::new(Operation {
    path: "/customer/mypermissions",
    operation_id: "customerMypermissions",
    tag: "customer",
    methods: Methods::GetPost,
    access: Access::Member(Need::Membership),
    summary: "What the caller may do here",
    description: "The caller's own `permissions` in the organization, so a user interface can \
        show only what works: `organization`, the names of the catalogue permissions held (from \
        the role and the teams), and `projects`, each project the caller or one of their teams \
        holds a grant on with the highest permission held there. `projects:read` / \
        `projects:write` in `organization` give `read` / `full` on every project, whether \
        listed in `projects` or not.",
    params: Some(schema_ref::<OrganizationParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn my_permissions(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<OrganizationParams>,
) -> Result<PermissionsAnswer, ApiError> {
    let permissions = read(ctx, move |ctx| {
        judge::my_permissions(ctx, &caller, p.organizationid.as_deref())
    })
    .await?;
    Ok(PermissionsAnswer { permissions })
}
