//! Roles and the permission matrix of API.md §3, as one table. Every
//! organization endpoint asks [`allows`]; rules that depend on the target (an
//! admin touching an owner, inviting above one's role) are in [`may_assign`] and
//! [`may_manage`].

pub use crate::store::kinds::{Permission, Role};

impl Role {
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
        self >= other
    }
}

/// Roles compare by power: `Role::Owner > Role::Admin > Role::Technical >
/// Role::Collaborator`.
impl Ord for Role {
    fn cmp(&self, other: &Role) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for Role {
    fn partial_cmp(&self, other: &Role) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
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
    /// Delete the organization and all it holds.
    DeleteOrganization,
    ReadAuditLog,
    /// Create, list and delete webhooks, and read their deliveries.
    ManageWebhooks,
    /// Add and remove verified domains.
    ManageDomains,
    ListDomains,
}

/// True when `role` may take `action`: the matrix of API.md §3, one arm per
/// action, so an action without a row does not compile. `Leave` is open to
/// every role here; the last-owner rule is `ownership::ensure_an_owner_remains`.
pub fn allows(role: Role, action: Action) -> bool {
    use Role::{Admin, Owner, Technical};
    match action {
        Action::SeeOrganization | Action::Leave => true,
        Action::ListCollaborators
        | Action::ListInvites
        | Action::Invite
        | Action::ManageOwnInvite => matches!(role, Owner | Admin | Technical),
        Action::ManageAnyInvite
        | Action::EditCollaborator
        | Action::RemoveCollaborator
        | Action::CreateProject
        | Action::SeeAllProjects
        | Action::EditProject
        | Action::ReadAuditLog
        | Action::ManageWebhooks
        | Action::ListDomains => matches!(role, Owner | Admin),
        Action::ChangeSettings | Action::DeleteOrganization | Action::ManageDomains => {
            role == Owner
        }
    }
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

    /// API.md §3, column by column: owner, admin, technical, collaborator.
    #[test]
    fn the_matrix_is_api_md() {
        let rows = [
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
            (Action::DeleteOrganization, [true, false, false, false]),
            (Action::ManageWebhooks, [true, true, false, false]),
            (Action::ManageDomains, [true, false, false, false]),
            (Action::ListDomains, [true, true, false, false]),
        ];
        let columns = [
            Role::Owner,
            Role::Admin,
            Role::Technical,
            Role::Collaborator,
        ];
        for (action, expected) in rows {
            for (role, allowed) in columns.into_iter().zip(expected) {
                assert_eq!(allows(role, action), allowed, "{role:?} {action:?}");
            }
        }
    }

    #[test]
    fn roles_order_by_power() {
        assert!(Role::Owner > Role::Admin);
        assert!(Role::Admin > Role::Technical);
        assert!(Role::Technical > Role::Collaborator);
        assert_eq!(Role::ALL.iter().max(), Some(&Role::Owner));
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
