//! Retention (API.md §8): what has ended is deleted once it is older than
//! `COLLABD_RETENTION_DAYS`: sent and dead mail, delivered and failed webhook
//! deliveries, ended sessions, used or
//! expired tokens and ended invites; audit events after
//! `COLLABD_AUDIT_RETENTION_DAYS` (0 keeps them); and, at once, the rate
//! limits' windows that have ended (a window's count is never needed again
//! once it is over). Each sweep is a few DELETEs
//! of rows that nothing can need again, so several processes may sweep at
//! once: whichever comes second finds nothing left.

use diesel::prelude::*;

use super::idempotency::KEPT_MS;
use super::MS_PER_DAY;
use crate::store::kinds::{DeliveryState, InviteState, MailState};
use crate::store::schema::{
    account_tokens, audit_events, email_confirmations, idempotency_keys, invites, outbox,
    rate_limits, retired_invite_tokens, sessions, webhook_deliveries,
};
use crate::store::{classify, DbConn, Store, StoreError};

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
        // A pending invite past its time has ended too, even before anything
        // marked it expired.
        let invites = diesel::delete(
            invites::table.filter(
                (invites::state
                    .ne(InviteState::Pending)
                    .and(invites::ended_at.lt(cutoff)))
                .or(invites::state
                    .eq(InviteState::Pending)
                    .and(invites::expires_at.lt(cutoff))),
            ),
        )
        .execute(conn)
        .map_err(classify)?;
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
    let retired = diesel::delete(
        retired_invite_tokens::table.filter(retired_invite_tokens::retired_at.lt(cutoff)),
    )
    .execute(conn)
    .map_err(classify)?;
    Ok(confirmations + links + retired)
}
