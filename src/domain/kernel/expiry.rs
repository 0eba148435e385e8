//! Time-limited memberships (API.md §6): the sweep that removes memberships
//! past their end. Access never waits for it — a membership past its end is
//! no membership from that instant (`access::live`) — so the sweep only
//! tidies, records `collaborator.expired`, and tells the person by email.
//! Each ended membership is removed by one `DELETE` that only one process's
//! transaction can win, so several processes on one database record and mail
//! each expiry once.

use crate::domain::kernel::mailing::{self, text};
use diesel::prelude::*;

use super::context::Ctx;
use super::error::{DomainError, DomainResult};
use super::events::{self, By, CollaboratorExpired};
use super::membership::record_departure;
use crate::clock::{now_ms, rfc3339};
use crate::domain::roles;
use crate::store::rows::MembershipRow;
use crate::store::schema::{api_keys, memberships};
use crate::store::{DbConn, Lookups};

/// Memberships looked at per round of a sweep.
const BATCH: i64 = 100;

/// Removes every membership that has ended by now; how many this process
/// removed. A membership that cannot be removed (its transaction fails) is
/// logged and left for the next sweep: it holds up no other; the sweep
/// fails only when it removed none and one failed.
pub fn sweep(ctx: &Ctx) -> DomainResult<usize> {
    let mut removed = 0;
    let mut failed = None;
    loop {
        let now = now_ms();
        let due: Vec<(String, String)> = ctx.store.read(|conn| {
            memberships::table
                .filter(memberships::expires_at.le(now))
                .order(memberships::expires_at.asc())
                .limit(BATCH)
                .select((memberships::organization_id, memberships::id))
                .load(conn)
                .map_err(DomainError::from)
        })?;
        let mut this_round = 0;
        for (organization_id, id) in &due {
            match expire(ctx, organization_id, id, now) {
                Ok(true) => this_round += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(membership = %id, error = %e,
                        "an ended membership could not be removed; the next sweep tries again");
                    failed.get_or_insert(e);
                }
            }
        }
        removed += this_round;
        if (due.len() as i64) < BATCH || this_round == 0 {
            return match failed {
                Some(e) if removed == 0 => Err(e),
                _ => Ok(removed),
            };
        }
    }
}

/// Removes the membership `id` if it has ended by `now`, with its audit
/// event and email, in one transaction. False when another process (or a
/// change of its end) got there first.
fn expire(ctx: &Ctx, organization_id: &str, id: &str, now: i64) -> DomainResult<bool> {
    ctx.store
        .write(|conn| expire_in(ctx, conn, organization_id, id, now))
}

/// [`expire`] in the caller's transaction (accepting a new invite removes an
/// ended membership the sweep has not reached, the same way).
pub fn expire_in(
    ctx: &Ctx,
    conn: &mut DbConn,
    organization_id: &str,
    id: &str,
    now: i64,
) -> DomainResult<bool> {
    let Some(membership) = memberships::table
        .find((organization_id, id))
        .filter(memberships::expires_at.le(now))
        .select(MembershipRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(false);
    };
    // The organization first, as every path that deletes an organization
    // or its members locks it: no lock cycle with `customer/delete`.
    conn.share_organization(&membership.organization_id)?;
    let deleted = diesel::delete(
        memberships::table
            .find((organization_id, id))
            .filter(memberships::expires_at.le(now)),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Ok(false);
    }
    // As on removal: keys the person had bound to the organization go.
    diesel::delete(
        api_keys::table
            .filter(api_keys::user_id.eq(&membership.user_id))
            .filter(api_keys::organization_id.eq(&membership.organization_id)),
    )
    .execute(conn)?;
    let user = conn.user(&membership.user_id)?;
    record_departure(
        conn,
        &membership.organization_id,
        &user.id,
        &user.email,
        now,
    )?;
    let organization = conn.organization(&membership.organization_id)?;
    let role = roles::held(
        conn,
        &membership.organization_id,
        membership.role,
        membership.role_id.as_deref(),
    )?;
    events::record(
        conn,
        &membership.organization_id,
        By::Nobody,
        &membership.id,
        CollaboratorExpired {
            userid: &user.id,
            email: &user.email,
            role: role.name(),
            expiresat: membership.expires_at.map(rfc3339),
        },
    )?;
    mailing::queue(
        conn,
        ctx,
        "membership_ended",
        (&user.email, &[user.language.as_deref()]),
        &[
            ("name", text(&user.name)),
            ("organization", text(&organization.name)),
        ],
        None,
    )?;
    Ok(true)
}
