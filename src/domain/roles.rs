//! Roles and the permission matrix of API.md §3, as one table. Every
//! organization endpoint asks [`allows`]; rules that depend on the target (an
//! admin touching an owner, inviting above one's role) are in [`may_assign`] and
//! [`may_manage`].

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A member's role, from most to least powerful.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Technical,
    Collaborator,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Owner,
        Role::Admin,
        Role::Technical,
        Role::Collaborator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Technical => "technical",
            Role::Collaborator => "collaborator",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Higher is more powerful.
    fn rank(self) -> u8 {
        match self {
            Role::Owner => 3,
            Role::Admin => 2,
            Role::Technical => 1,
            Role::Collaborator => 0,
        }
    }

    pub fn at_least(self, other: Role) -> bool {
        self.rank() >= other.rank()
    }
}

/// A role read back from the database (its CHECK constraint admits only
/// the four names; anything else is a bug).
pub fn stored_role(text: &str) -> crate::domain::DomainResult<Role> {
    Role::parse(text)
        .ok_or_else(|| crate::domain::DomainError::Internal(format!("stored role {text:?}")))
}

/// A permission read back from the database.
pub fn stored_permission(text: &str) -> crate::domain::DomainResult<Permission> {
    Permission::parse(text)
        .ok_or_else(|| crate::domain::DomainError::Internal(format!("stored permission {text:?}")))
}

/// A per-project permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// See the project and everything in it.
    Read,
    /// Create, change and delete everything in the project.
    Full,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<Permission> {
        match s {
            "read" => Some(Permission::Read),
            "full" => Some(Permission::Full),
            _ => None,
        }
    }
}

/// What a member may try to do in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SeeOrganization,
    ListCollaborators,
    ListInvites,
    Invite,
    /// Revoke or resend any invite of the organization.
    ManageAnyInvite,
    /// Revoke or resend the invites one sent oneself.
    ManageOwnInvite,
    EditCollaborator,
    RemoveCollaborator,
    Leave,
    /// Create a project without the `cancreateprojects` flag.
    CreateProject,
    SeeAllProjects,
    EditProject,
    ChangeSettings,
    ReadAuditLog,
}

/// The matrix: which roles may take each action. `Leave` is allowed to all
/// here; the last-owner rule is checked by `members`.
const MATRIX: &[(Action, [bool; 4])] = &[
    //                               owner  admin  technical collaborator
    (Action::SeeOrganization, [true, true, true, true]),
    (Action::ListCollaborators, [true, true, true, false]),
    (Action::ListInvites, [true, true, true, false]),
    (Action::Invite, [true, true, true, false]),
    (Action::ManageAnyInvite, [true, true, false, false]),
    (Action::ManageOwnInvite, [true, true, true, false]),
    (Action::EditCollaborator, [true, true, false, false]),
    (Action::RemoveCollaborator, [true, true, false, false]),
    (Action::Leave, [true, true, true, true]),
    (Action::CreateProject, [true, true, false, false]),
    (Action::SeeAllProjects, [true, true, false, false]),
    (Action::EditProject, [true, true, false, false]),
    (Action::ChangeSettings, [true, false, false, false]),
    (Action::ReadAuditLog, [true, true, false, false]),
];

/// True when `role` may take `action` by the matrix.
pub fn allows(role: Role, action: Action) -> bool {
    let column = match role {
        Role::Owner => 0,
        Role::Admin => 1,
        Role::Technical => 2,
        Role::Collaborator => 3,
    };
    MATRIX
        .iter()
        .find(|(a, _)| *a == action)
        .map(|(_, roles)| roles[column])
        .unwrap_or(false)
}

/// True when `actor` may give someone the role `granted` (invite or edit):
/// nobody grants above their own role, and only owners grant owner.
pub fn may_assign(actor: Role, granted: Role) -> bool {
    actor.at_least(granted) && (granted != Role::Owner || actor == Role::Owner)
}

/// True when `actor` may edit or remove a member whose role is `target`:
/// only owners touch owners.
pub fn may_manage(actor: Role, target: Role) -> bool {
    target != Role::Owner || actor == Role::Owner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_row() {
        let actions = [
            Action::SeeOrganization,
            Action::ListCollaborators,
            Action::ListInvites,
            Action::Invite,
            Action::ManageAnyInvite,
            Action::ManageOwnInvite,
            Action::EditCollaborator,
            Action::RemoveCollaborator,
            Action::Leave,
            Action::CreateProject,
            Action::SeeAllProjects,
            Action::EditProject,
            Action::ChangeSettings,
            Action::ReadAuditLog,
        ];
        for action in actions {
            assert!(MATRIX.iter().any(|(a, _)| *a == action), "{action:?}");
        }
        assert_eq!(MATRIX.len(), actions.len());
    }

    #[test]
    fn assigning_roles() {
        assert!(may_assign(Role::Owner, Role::Owner));
        assert!(!may_assign(Role::Admin, Role::Owner));
        assert!(may_assign(Role::Admin, Role::Admin));
        assert!(may_assign(Role::Technical, Role::Collaborator));
        assert!(!may_assign(Role::Technical, Role::Admin));
        assert!(!may_manage(Role::Admin, Role::Owner));
        assert!(may_manage(Role::Admin, Role::Admin));
    }
}
