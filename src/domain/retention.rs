//! Retention (API.md §8): what has ended is deleted once it is older than
//! `COLLABD_RETENTION_DAYS`: sent and dead mail, delivered and failed webhook
//! deliveries, ended sessions, used or
//! expired tokens and ended invites; audit events after
//! `COLLABD_AUDIT_RETENTION_DAYS` (0 keeps them); and, at once, the rate
//! limits' windows that have ended (a window's count is never needed again
//! once it is over). Each sweep is a few DELETEs
//! of rows that nothing can need again, so several processes may sweep at
//! once: whichever comes second finds nothing left. SSO sign-ins begun and
//! not finished go ten minutes after they began.

use std::collections::BTreeMap;

use diesel::prelude::*;

use super::idempotency::KEPT_MS;
use super::MS_PER_DAY;
use crate::store::kinds::{DeliveryState, InviteState, MailState};
use crate::store::link_tokens;
use crate::store::schema::{
    account_tokens, audit_events, email_confirmations, idempotency_keys, invites, outbox,
    rate_limits, sessions, sso_flows, webhook_deliveries,
};
use crate::store::{classify, DbConn, Store, StoreError};

/// How long an SSO sign-in begun may be finished (API.md §9): ten minutes.
/// Its row is deleted by the next sweep after that.
pub const SSO_FLOW_TTL_MS: i64 = 10 * 60 * 1000;

/// How long ended things are kept, in days.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub days: u32,
    /// 0 keeps audit events forever.
    pub audit_days: u32,
}

/// Rows deleted by one sweep.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub mail: usize,
    pub webhook_deliveries: usize,
    pub sessions: usize,
    pub tokens: usize,
    pub invites: usize,
    pub audit_events: usize,
    /// Rate limit windows that had ended.
    pub limit_windows: usize,
}

/// Deletes what has been over for longer than `retention` says, as of `now`.
pub fn sweep(store: &Store, retention: Retention, now: i64) -> Result<Swept, StoreError> {
    let cutoff = now - i64::from(retention.days) * MS_PER_DAY;
    store.write(|conn| {
        let mail = diesel::delete(
            outbox::table.filter(
                (outbox::state
                    .eq(MailState::Sent)
                    .and(outbox::sent_at.lt(cutoff)))
                .or(outbox::state
                    .eq(MailState::Dead)
                    .and(outbox::created_at.lt(cutoff))),
            ),
        )
        .execute(conn)
        .map_err(classify)?;
        let webhook_deliveries = diesel::delete(
            webhook_deliveries::table
                .filter(webhook_deliveries::state.ne(DeliveryState::Pending))
                .filter(webhook_deliveries::last_attempt_at.lt(cutoff)),
        )
        .execute(conn)
        .map_err(classify)?;
        let sessions = diesel::delete(
            sessions::table.filter(
                sessions::revoked_at
                    .lt(cutoff)
                    .or(sessions::expires_at.lt(cutoff)),
            ),
        )
        .execute(conn)
        .map_err(classify)?;
        let tokens = delete_ended_tokens(conn, cutoff)?;
        let invites = delete_ended_invites(conn, cutoff)?;
        let audit_events = if retention.audit_days == 0 {
            0
        } else {
            let audit_cutoff = now - i64::from(retention.audit_days) * MS_PER_DAY;
            diesel::delete(audit_events::table.filter(audit_events::created_at.lt(audit_cutoff)))
                .execute(conn)
                .map_err(classify)?
        };
        // Kept answers to idempotency keys live a day, whatever the setting.
        diesel::delete(
            idempotency_keys::table.filter(idempotency_keys::created_at.lt(now - KEPT_MS)),
        )
        .execute(conn)
        .map_err(classify)?;
        // SSO sign-ins begun work for 10 minutes, whatever the setting.
        diesel::delete(sso_flows::table.filter(sso_flows::created_at.lt(now - SSO_FLOW_TTL_MS)))
            .execute(conn)
            .map_err(classify)?;
        let limit_windows = diesel::delete(rate_limits::table.filter(rate_limits::ends_at.le(now)))
            .execute(conn)
            .map_err(classify)?;
        Ok(Swept {
            limit_windows,
            mail,
            webhook_deliveries,
            sessions,
            tokens,
            invites,
            audit_events,
        })
    })
}

/// Deletes the emailed tokens used or ended before `cutoff`: address
/// confirmations, reset and sign-in links, and invite tokens a resend
/// retired. How many.
fn delete_ended_tokens(conn: &mut DbConn, cutoff: i64) -> Result<usize, StoreError> {
    let confirmations = diesel::delete(
        email_confirmations::table.filter(
            email_confirmations::used_at
                .lt(cutoff)
                .or(email_confirmations::expires_at.lt(cutoff)),
        ),
    )
    .execute(conn)
    .map_err(classify)?;
    let links = diesel::delete(
        account_tokens::table.filter(
            account_tokens::used_at
                .lt(cutoff)
                .or(account_tokens::expires_at.lt(cutoff)),
        ),
    )
    .execute(conn)
    .map_err(classify)?;
    let retired = link_tokens::forget_retired_before(conn, cutoff)?;
    Ok(confirmations + links + retired)
}

/// Deletes the invites ended before `cutoff` (a pending one past its time
/// has ended too, even before anything marked it expired) and the tokens of
/// their links, which no foreign key takes with them (a reference table,
/// docs/scaling.md). How many invites.
fn delete_ended_invites(conn: &mut DbConn, cutoff: i64) -> Result<usize, StoreError> {
    let ended = || {
        invites::table.filter(
            (invites::state
                .ne(InviteState::Pending)
                .and(invites::ended_at.lt(cutoff)))
            .or(invites::state
                .eq(InviteState::Pending)
                .and(invites::expires_at.lt(cutoff))),
        )
    };
    let rows: Vec<(String, String)> = ended()
        .select((invites::organization_id, invites::id))
        .order((invites::organization_id, invites::id))
        .load(conn)
        .map_err(classify)?;
    let mut by_organization: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (organization_id, id) in rows {
        by_organization.entry(organization_id).or_default().push(id);
    }
    let mut deleted = 0;
    for (organization_id, ids) in &by_organization {
        for chunk in ids.chunks(500) {
            // Still ended as the row is now: one resent meanwhile stays.
            deleted += diesel::delete(
                ended()
                    .filter(invites::organization_id.eq(organization_id))
                    .filter(invites::id.eq_any(chunk)),
            )
            .execute(conn)
            .map_err(classify)?;
            let kept: Vec<String> = invites::table
                .filter(invites::organization_id.eq(organization_id))
                .filter(invites::id.eq_any(chunk))
                .select(invites::id)
                .load(conn)
                .map_err(classify)?;
            let gone: Vec<String> = chunk
                .iter()
                .filter(|id| !kept.contains(id))
                .cloned()
                .collect();
            link_tokens::forget_targets(conn, organization_id, &gone)?;
        }
    }
    Ok(deleted)
}
