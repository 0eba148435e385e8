//! What the invite calls take and give: an invite as the API shows it,
//! what creating one asks for, how a call names one, and what accepting
//! gives back.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::kernel::error::{DomainError, DomainResult};
use crate::domain::kernel::grants::{GrantRequest, ProjectGrant};
use crate::domain::kernel::membership::Collaborator;
use crate::domain::kernel::organization::Organization;
use crate::domain::kernel::signin::Login;
use crate::store::kinds::InviteState;

/// Who sent an invite. The name and address stay when the sender's
/// account closes; `userid` is null from then on (API.md §12).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Inviter {
    #[schema(required = true)]
    pub userid: Option<String>,
    pub name: String,
    pub email: String,
    /// Whether the inviter has confirmed `email`: the mail and the page
    /// name an unconfirmed sender by name only (API.md §4).
    #[serde(skip)]
    pub confirmed: bool,
}

/// An invitation to join an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    pub inviteid: String,
    pub organizationid: String,
    pub organizationname: String,
    /// The invited address, lower case.
    pub email: String,
    /// The role the invitee gets on accepting: a system role's name, or a
    /// custom role's.
    pub role: String,
    /// The custom role's id; absent for a system role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roleid: Option<String>,
    pub cancreateprojects: bool,
    /// The grants the invitee gets on accepting.
    pub projectpermissions: Vec<ProjectGrant>,
    /// `expired` once `expiresat` has passed, even before anything touched it.
    pub state: InviteState,
    pub invitedby: Inviter,
    #[schema(format = DateTime)]
    pub createdat: String,
    #[schema(format = DateTime)]
    pub expiresat: String,
    /// When the membership this invite makes will end; null for a lasting one.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub membershipexpiresat: Option<String>,
}

/// What `invite/create` asks for.
pub struct NewInvite {
    pub email: String,
    /// A system role's name, or a custom role's name or roleid.
    pub role: String,
    pub can_create_projects: bool,
    pub grants: Vec<GrantRequest>,
    /// `membershipexpiresat` as given (RFC 3339), checked by `create`.
    pub membership_expires_at: Option<String>,
}

/// How a call names an invite.
pub enum InviteRef<'a> {
    /// By id, with a session whose verified email is the invite's.
    Id(&'a str),
    /// By the emailed token, with or without a session.
    Token(&'a str),
}

impl<'a> InviteRef<'a> {
    /// Exactly one of `inviteid` and `token` (422 otherwise).
    pub fn from_params(
        invite_id: Option<&'a str>,
        token: Option<&'a str>,
    ) -> DomainResult<InviteRef<'a>> {
        match (invite_id, token) {
            (Some(id), None) => Ok(InviteRef::Id(id)),
            (None, Some(token)) => Ok(InviteRef::Token(token)),
            _ => Err(DomainError::invalid(
                "inviteid",
                "give either inviteid or token",
            )),
        }
    }
}

/// What accepting gives back.
pub struct Accepted {
    pub collaborator: Collaborator,
    pub organization: Organization,
    /// A new session, when the call came without one.
    pub login: Option<Login>,
}
