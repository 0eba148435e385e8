//! The `projectpermissions` parameter, shared by `invite/create` and
//! `customer/editcollaborator`.

use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::params::{text, valid_permission};
use crate::domain::projects::{merge_grants, GrantRequest};
use crate::domain::roles::Permission;

/// A permission on one project.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectPermissionParam {
    /// A project of the same organization.
    #[schema(value_type = text::Id, inline)]
    pub projectid: String,
    #[validate(custom(function = "valid_permission"))]
    #[schema(value_type = Permission)]
    pub permission: String,
}

/// The validated list as domain requests, one per project.
pub fn grant_requests(list: &[ProjectPermissionParam]) -> Vec<GrantRequest> {
    let requests = list
        .iter()
        .filter_map(|p| {
            Permission::parse(&p.permission).map(|permission| GrantRequest {
                project_id: p.projectid.clone(),
                permission,
            })
        })
        .collect();
    merge_grants(requests)
}
