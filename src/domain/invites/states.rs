//! The states of an invite and the one conditional UPDATE that ends a
//! pending one, so of many concurrent transitions exactly one wins.

use diesel::prelude::*;

use crate::domain::{rfc3339, DomainError, DomainResult, GoneReason};
use crate::store::kinds::InviteState;
use crate::store::rows::InviteRow;
use crate::store::schema::invites;
use crate::store::DbConn;

/// The state an invite is in now: a pending one past its time has expired.
pub(super) fn effective_state(row: &InviteRow, now: i64) -> InviteState {
    match row.state {
        InviteState::Pending if row.expires_at <= now => InviteState::Expired,
        other => other,
    }
}

/// 410 unless the invite can still be accepted or declined.
pub(super) fn ensure_open(row: &InviteRow, now: i64) -> DomainResult<()> {
    let gone = |reason, message: &str| {
        Err(DomainError::Gone {
            reason,
            message: message.to_string(),
        })
    };
    match effective_state(row, now) {
        InviteState::Pending => Ok(()),
        InviteState::Accepted => gone(GoneReason::Accepted, "this invite was already accepted"),
        InviteState::Declined => gone(GoneReason::Declined, "this invite was declined"),
        InviteState::Revoked => gone(
            GoneReason::Revoked,
            "this invite was revoked by the organization",
        ),
        InviteState::Expired => Err(DomainError::Gone {
            reason: GoneReason::Expired,
            message: format!("this invite expired at {}", rfc3339(row.expires_at)),
        }),
    }
}

/// Ends a pending, unexpired invite in `state`, or answers 410 saying why not.
pub(super) fn close(
    conn: &mut DbConn,
    row: &InviteRow,
    state: InviteState,
    now: i64,
) -> DomainResult<()> {
    let updated = diesel::update(
        invites::table
            .find((&row.organization_id, &row.id))
            .filter(invites::state.eq(InviteState::Pending))
            .filter(invites::expires_at.gt(now)),
    )
    .set((invites::state.eq(state), invites::ended_at.eq(now)))
    .execute(conn)?;
    if updated == 1 {
        return Ok(());
    }
    let fresh = reload(conn, row)?;
    ensure_open(&fresh, now)?;
    Err(DomainError::Internal("invite could not be closed".into()))
}

/// The invite `invite_id`, or 404. A call that names an invite by its id
/// alone does not say its organization: this one lookup reads every
/// organization's invites (docs/scaling.md); what follows reads one.
pub(super) fn load_by_id(conn: &mut DbConn, invite_id: &str) -> DomainResult<InviteRow> {
    invites::table
        .filter(invites::id.eq(invite_id))
        .select(InviteRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(not_found)
}

/// The invite `invite_id` of `organization_id`, if it is there.
pub(super) fn load_in(
    conn: &mut DbConn,
    organization_id: &str,
    invite_id: &str,
) -> DomainResult<Option<InviteRow>> {
    Ok(invites::table
        .find((organization_id, invite_id))
        .select(InviteRow::as_select())
        .first(conn)
        .optional()?)
}

/// `row` as it is now, or 404 when it is gone.
pub(super) fn reload(conn: &mut DbConn, row: &InviteRow) -> DomainResult<InviteRow> {
    load_in(conn, &row.organization_id, &row.id)?.ok_or_else(not_found)
}

/// What an invite the caller may not see answers, exactly as an unknown one.
pub(super) fn not_found() -> DomainError {
    DomainError::not_found("invite not found")
}
