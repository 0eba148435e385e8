//! Roles: their order of power, and the rules that depend on the target (an
//! admin touching an owner, inviting above one's role): [`may_assign`] and
//! [`may_manage`]. What each role may do is data, in `permissions`.

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
