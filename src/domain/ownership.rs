//! The rules that keep every organization in its owners' hands, each decided
//! here and nowhere else: an organization always keeps an owner
//! ([`ensure_an_owner_remains`]); an owner's membership never ends by time
//! ([`ensure_owners_last`]), so expiry can never take the last owner; and a
//! verified domain never makes anyone an owner ([`domain_may_give`]).

use diesel::prelude::*;

use super::roles::Role;
use super::{ConflictReason, DomainError, DomainResult};
use crate::store::rows::MembershipRow;
use crate::store::schema::{memberships, organizations};
use crate::store::{DbConn, Lookups};

/// Who would leave an organization's owners, for [`ensure_an_owner_remains`].
#[derive(Clone, Copy)]
pub enum Leaving<'a> {
    /// One membership demoted, removed, or leaving.
    Member(&'a MembershipRow),
    /// An account being closed, with every membership it holds.
    Account(&'a [MembershipRow]),
}

/// Refuses (409 `last_owner`) when `leaving` would leave an organization
/// without an owner: an owner's demotion, removal or leaving when nobody
/// else owns its organization; an account's closing when it is the only
/// owner of any of its organizations, which the refusal names. Every path
/// that demotes or removes an owner calls this inside its transaction; it
/// locks each organization it counts the owners of (a caller holding several
/// locks them first, in id order), so concurrent demotions are seen one
/// after the other.
pub fn ensure_an_owner_remains(conn: &mut DbConn, leaving: Leaving<'_>) -> DomainResult<()> {
    let held = match leaving {
        Leaving::Member(membership) => std::slice::from_ref(membership),
        Leaving::Account(memberships) => memberships,
    };
    let mut alone = Vec::new();
    for membership in held.iter().filter(|m| m.role == Role::Owner) {
        conn.lock_organization(&membership.organization_id)?;
        let other_owners: i64 = memberships::table
            .filter(memberships::organization_id.eq(&membership.organization_id))
            .filter(memberships::role.eq(Role::Owner))
            .filter(memberships::id.ne(&membership.id))
            // A suspended owner (SCIM, API.md §11) owns nothing while it is.
            .filter(memberships::suspended_at.is_null())
            .count()
            .get_result(conn)?;
        if other_owners == 0 {
            alone.push(membership.organization_id.clone());
        }
    }
    if alone.is_empty() {
        return Ok(());
    }
    let message = match leaving {
        Leaving::Member(_) => "the organization's last owner cannot be demoted, removed or leave; \
                               make another owner first"
            .to_string(),
        Leaving::Account(_) => format!(
            "the account is the only owner of {}: make someone else an owner or delete the \
             organization first",
            named(conn, &alone)?.join(", ")
        ),
    };
    Err(DomainError::conflict(ConflictReason::LastOwner, message))
}

/// "name (id)" for each organization of `ids`, in id order.
fn named(conn: &mut DbConn, ids: &[String]) -> DomainResult<Vec<String>> {
    let rows: Vec<(String, String)> = organizations::table
        .filter(organizations::id.eq_any(ids))
        .select((organizations::id, organizations::name))
        .order(organizations::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| format!("{name} ({id})"))
        .collect())
}

/// Where the end of a membership checked by [`ensure_owners_last`] comes
/// from, for the advice its refusal gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndFrom {
    /// Given in the request (`membershipexpiresat`, `expiresat`).
    Request,
    /// The member's present end, kept by a request that makes them an owner.
    Membership,
}

/// Refuses (422 on `field`) a membership with the role `role` that ends at
/// `end`, when the role is owner: owners' memberships never end by time, so
/// the sweep of ended memberships never takes an owner, least of all the
/// last. Every path that gives a membership an end or a role calls this:
/// `invite/create` (and each row of `invite/createbulk`) for the membership
/// its invite makes, `customer/editcollaborator` for the one it edits.
pub fn ensure_owners_last(
    field: &str,
    role: Role,
    end: Option<i64>,
    from: EndFrom,
) -> DomainResult<()> {
    if role != Role::Owner || end.is_none() {
        return Ok(());
    }
    let message = match from {
        EndFrom::Request => "owners' memberships cannot be time-limited",
        EndFrom::Membership => {
            "owners' memberships cannot be time-limited: send expiresat null with the new role"
        }
    };
    Err(DomainError::invalid(field, message))
}

/// What a verified domain's role must be.
pub const ROLES_A_DOMAIN_GIVES: &str = "must be admin, technical or collaborator";

/// Whether a verified domain (or an SSO connection) may give `role` to the
/// accounts that join by it: any but owner, since nobody becomes an owner by
/// their address or by signing in (API.md §6, §9). Refused with why, for the field `role`. The edge asks this
/// while it checks `role` (so the refusal comes with the request's other
/// field errors, before anything else), and claiming a domain asks it again;
/// the database's CHECK on `domains.role` holds it for rows too.
pub fn domain_may_give(role: Role) -> Result<(), &'static str> {
    match role {
        Role::Owner => Err(ROLES_A_DOMAIN_GIVES),
        Role::Admin | Role::Technical | Role::Collaborator => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_owner_with_an_end_is_refused() {
        for &role in Role::ALL {
            for from in [EndFrom::Request, EndFrom::Membership] {
                assert!(ensure_owners_last("expiresat", role, None, from).is_ok());
                let refused = ensure_owners_last("expiresat", role, Some(1), from).is_err();
                assert_eq!(refused, role == Role::Owner, "{role:?} {from:?}");
            }
        }
    }

    #[test]
    fn a_domain_gives_any_role_but_owner() {
        for &role in Role::ALL {
            assert_eq!(
                domain_may_give(role).is_err(),
                role == Role::Owner,
                "{role:?}"
            );
        }
    }
}
