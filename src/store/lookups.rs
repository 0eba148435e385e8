//! The rows most rules start from (an account, an organization, a
//! membership in force) and the locks that order writes on them, as methods
//! of the connection: `conn.user(id)?`, `conn.lock_organization(id)?`.

use diesel::prelude::*;

use super::connection::{classify, DbConn, StoreError};
use super::rows::{MembershipRow, OrganizationRow, UserRow};
use super::schema::{memberships, organizations, users};

/// A kind of row that must be there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    User,
    Organization,
}

/// Why a row that must be there could not be had: it is not there (what
/// that means is the caller's to say), or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no such {0:?}")]
    Missing(Row),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for LookupError {
    fn from(e: diesel::result::Error) -> Self {
        LookupError::Store(classify(e))
    }
}

/// A membership in force at `now`: lasting, or ending later, and not
/// suspended. A time-limited membership past its end is no membership from
/// that instant, whether or not the sweep has removed it yet (API.md §6);
/// a suspended one none while it is (SCIM's `active: false`, §11).
pub type Live = diesel::dsl::And<
    diesel::dsl::Or<
        diesel::dsl::IsNull<memberships::expires_at>,
        diesel::dsl::Gt<memberships::expires_at, i64>,
    >,
    diesel::dsl::IsNull<memberships::suspended_at>,
>;

pub fn live(now: i64) -> Live {
    memberships::expires_at
        .is_null()
        .or(memberships::expires_at.gt(now))
        .and(memberships::suspended_at.is_null())
}

/// Loads and locks of the rows every rule starts from.
pub trait Lookups {
    /// The account `user_id`.
    fn user(&mut self, user_id: &str) -> Result<UserRow, LookupError>;
    /// The account with the address `email` (as stored), if any.
    fn user_by_email(&mut self, email: &str) -> Result<Option<UserRow>, StoreError>;
    /// The organization `organization_id`.
    fn organization(&mut self, organization_id: &str) -> Result<OrganizationRow, LookupError>;
    /// The membership of `user_id` in `organization_id` in force at `now`.
    fn membership(
        &mut self,
        organization_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<MembershipRow>, StoreError>;
    /// Locks an organization's row until the transaction ends, so that rules
    /// which count members (the last owner) see every concurrent change.
    /// SQLite already runs one writer at a time.
    fn lock_organization(&mut self, organization_id: &str) -> Result<(), StoreError>;
    /// Holds an organization's row against changes until the transaction
    /// ends, while letting other holders in: writes that only depend on
    /// members' roles (invites) run side by side, and wait only for role
    /// changes, which take [`Lookups::lock_organization`].
    fn share_organization(&mut self, organization_id: &str) -> Result<(), StoreError>;
    /// Locks a user's row until the transaction ends (per-user limits).
    fn lock_user(&mut self, user_id: &str) -> Result<(), StoreError>;
}

impl Lookups for DbConn {
    fn user(&mut self, user_id: &str) -> Result<UserRow, LookupError> {
        users::table
            .find(user_id)
            .select(UserRow::as_select())
            .first(self)
            .optional()?
            .ok_or(LookupError::Missing(Row::User))
    }

    fn user_by_email(&mut self, email: &str) -> Result<Option<UserRow>, StoreError> {
        users::table
            .filter(users::email.eq(email))
            .select(UserRow::as_select())
            .first(self)
            .optional()
            .map_err(classify)
    }

    fn organization(&mut self, organization_id: &str) -> Result<OrganizationRow, LookupError> {
        organizations::table
            .find(organization_id)
            .select(OrganizationRow::as_select())
            .first(self)
            .optional()?
            .ok_or(LookupError::Missing(Row::Organization))
    }

    fn membership(
        &mut self,
        organization_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<MembershipRow>, StoreError> {
        memberships::table
            .filter(memberships::organization_id.eq(organization_id))
            .filter(memberships::user_id.eq(user_id))
            .filter(live(now))
            .select(MembershipRow::as_select())
            .first(self)
            .optional()
            .map_err(classify)
    }

    fn lock_organization(&mut self, organization_id: &str) -> Result<(), StoreError> {
        lock_row(
            self,
            "SELECT id FROM organizations WHERE id = $1 FOR UPDATE",
            organization_id,
        )
    }

    fn share_organization(&mut self, organization_id: &str) -> Result<(), StoreError> {
        lock_row(
            self,
            "SELECT id FROM organizations WHERE id = $1 FOR SHARE",
            organization_id,
        )
    }

    fn lock_user(&mut self, user_id: &str) -> Result<(), StoreError> {
        lock_row(
            self,
            "SELECT id FROM users WHERE id = $1 FOR UPDATE",
            user_id,
        )
    }
}

fn lock_row(conn: &mut DbConn, statement: &'static str, id: &str) -> Result<(), StoreError> {
    if let DbConn::Pg(_) = conn {
        diesel::sql_query(statement)
            .bind::<diesel::sql_types::Text, _>(id)
            .execute(conn)
            .map_err(classify)?;
    }
    Ok(())
}
