//! What each endpoint answers: one type per shape of payload, serialized
//! beside `status` in the envelope and documented from the same type, so the
//! keys, their schemas and which are optional cannot drift from what is sent.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::accounts::User;
use crate::domain::apikeys::ApiKey;
use crate::domain::audit::AuditEvent;
use crate::domain::invites::Invite;
use crate::domain::logins::Login;
use crate::domain::members::Collaborator;
use crate::domain::organizations::Organization;
use crate::domain::projects::Project;
use crate::domain::twofactor::{TwoFactorEnabled, TwoFactorSetup};

/// Nothing beside `status`.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserAnswer {
    pub user: User,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginAnswer {
    pub login: Login,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationAnswer {
    pub organization: Organization,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationsAnswer {
    pub organizations: Vec<Organization>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyAnswer {
    /// With `secret`, this once.
    pub apikey: ApiKey,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeysAnswer {
    pub apikeys: Vec<ApiKey>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollaboratorAnswer {
    pub collaborator: Collaborator,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollaboratorsPage {
    /// Rendered once per version of the organization's roster.
    #[schema(value_type = Vec<Collaborator>)]
    pub collaborators: std::sync::Arc<serde_json::value::RawValue>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub nextcursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectAnswer {
    pub project: Project,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectsPage {
    pub projects: Vec<Project>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub nextcursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditEventsPage {
    pub auditevents: Vec<AuditEvent>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub nextcursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteAnswer {
    pub invite: Invite,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitesPage {
    pub invites: Vec<Invite>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub nextcursor: Option<String>,
}

/// What accepting an invite gives back.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptAnswer {
    /// The new membership.
    pub collaborator: Collaborator,
    pub organization: Organization,
    /// A new session for the account that joined; only when the call came
    /// without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub login: Option<Login>,
}

/// What `user/enabletwofactor` gives back.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorSetupAnswer {
    pub twofactor: TwoFactorSetup,
}

/// What `user/confirmtwofactor` gives back.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwoFactorEnabledAnswer {
    pub twofactor: TwoFactorEnabled,
}

/// `error` of one refused row: as the `error` of a whole answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RowError {
    /// As `error.type` of an answer.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: String,
    /// As `error.reason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
    /// As `error.fields`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, additional_properties = true, nullable = false)]
    pub fields: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

/// One row of `invite/createbulk`: the invite made (`code` 200), or what
/// `invite/create` would have answered instead.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum BulkResult {
    Made {
        email: String,
        /// 200.
        code: u16,
        // Boxed: a refused row carries much less.
        invite: Box<Invite>,
    },
    Refused {
        email: String,
        /// The HTTP status `invite/create` would have answered.
        code: u16,
        error: RowError,
    },
}

/// What `invite/createbulk` gives back.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkAnswer {
    /// One per row, in the order given.
    pub results: Vec<BulkResult>,
}
