//! The delivery machinery mail and webhooks share: a table of pending rows,
//! claimed by a background sender, each delivered on its own as soon as it
//! is claimed, then marked done, retried with exponential backoff, or given
//! up.
//!
//! No delivery waits for another. The sender keeps up to
//! [`Courier::parallel`] rows in flight, each on its own task, and shares
//! them out fairly ([`claim`]): at most [`Courier::share`] of one group (a
//! webhook's organization), at most half that of one target within it (a
//! webhook), the least busy groups and targets first, and half the slots
//! kept for each group's first row. So a slow or dead endpoint holds only
//! its own rows and part of its group's share, and however many groups have
//! backlogs at dead endpoints, a group with nothing in flight finds a slot
//! unless as many others as the kept slots each have rows in flight.
//! Each outcome is recorded as soon as its send ends (outcomes that end
//! together share a transaction); its slot is then free and the sender
//! claims again at once, without waiting for its poll.
//!
//! Each claim takes due rows under a token of its own, with a lease of
//! [`Courier::LEASE_MS`] taken with `FOR UPDATE SKIP LOCKED` on PostgreSQL,
//! so several collabd processes on one database never deliver one row twice.
//! Until a row's outcome is recorded, a heartbeat renews its claim every
//! [`HEARTBEAT`] and learns which rows are still held (after a stall,
//! another process may have taken some over); a row is sent only while it
//! is still held and its lease is known to outlast the longest send plus one
//! heartbeat, else it goes back at once. A record that fails (a brief
//! database error, a deadlock) is tried again, row by row, the claims still
//! renewed, while they hold; only then are its rows left to be sent again
//! after their lease. A process that dies holds its rows for at most one lease: another
//! process takes them over after that. An outcome is recorded only while
//! its claim still holds the row.
//!
//! A table served here has the columns `id`, `state` (`'pending'` until
//! finished), `attempts`, `next_attempt_at`, `claimed_until` and `claim`.

mod claim;
mod courier;
mod flight;
mod rows;

use std::borrow::Borrow;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use crate::clock::{new_id, now_ms};
use crate::store::{Store, StoreError};
use claim::Shares;
pub use claim::{claim, Claimed, Quota};
pub use courier::{Courier, Next, Outcome, Retry};
use flight::{Flight, Slot};
pub use rows::{depth, record, renew, Attempt};

/// How often the claims of rows in flight are renewed.
const HEARTBEAT: Duration = Duration::from_secs(3);
/// The first wait before a failed record is tried again; each next one is
/// twice as long, up to [`RECORD_RETRY_MAX`].
const RECORD_RETRY_FIRST: Duration = Duration::from_millis(100);
const RECORD_RETRY_MAX: Duration = Duration::from_secs(2);
/// A failed record is tried again only while its claim is known to hold
/// the row this much longer.
const RECORD_MARGIN_MS: i64 = 2_000;

/// Delivers due rows until the runtime stops. `wakeup` is notified when a
/// transaction has queued rows, so they go out at once.
pub async fn run<C: Courier>(store: Store, courier: Arc<C>, wakeup: Arc<Notify>) {
    let flight = Arc::new(Flight::default());
    let (finished, outcomes) = mpsc::unbounded_channel();
    tokio::join!(
        dispatch(&store, &courier, &flight, &wakeup, finished),
        renew_while_in_flight::<C>(&store, &flight),
        record_as_they_end(&store, &courier, &flight, outcomes),
    );
}

/// Claims due rows while there is room, and starts each on its own task;
/// then waits for queued rows, a free slot or the poll.
async fn dispatch<C: Courier>(
    store: &Store,
    courier: &Arc<C>,
    flight: &Arc<Flight>,
    wakeup: &Notify,
    finished: mpsc::UnboundedSender<Finished<C>>,
) {
    let shares = Shares::of(
        courier.parallel(),
        courier.share(),
        C::GROUP.is_some(),
        C::TARGET.is_some(),
    );
    loop {
        loop {
            let quota = flight.quota(shares);
            if quota.room == 0 {
                break;
            }
            let token = new_id();
            let round = token.clone();
            let claimed =
                match blocking(store, move |store| claim::<C>(store, &round, &quota)).await {
                    Ok(claimed) => claimed,
                    Err(e) => {
                        tracing::warn!(error = %e, queue = C::NAME, "cannot read the queue");
                        break;
                    }
                };
            if claimed.items.is_empty() {
                break;
            }
            let rows = claimed
                .items
                .iter()
                .map(|item| {
                    let id = C::id(item).to_string();
                    let lane = claimed.lanes.get(&id).cloned().unwrap_or_default();
                    (id, lane)
                })
                .collect();
            let slots = flight.hold(&token, claimed.until, rows);
            for (item, slot) in claimed.items.into_iter().zip(slots) {
                actix_web::rt::spawn(attempt(
                    courier.clone(),
                    flight.clone(),
                    item,
                    slot,
                    finished.clone(),
                ));
            }
        }
        tokio::select! {
            _ = wakeup.notified() => {}
            _ = flight.freed.notified() => {}
            _ = tokio::time::sleep(courier.poll()) => {}
        }
    }
}

/// One row's turn: sent if its claim still holds and will outlast the
/// send, then handed to the recorder with its slot.
async fn attempt<C: Courier>(
    courier: Arc<C>,
    flight: Arc<Flight>,
    item: C::Item,
    slot: Slot,
    finished: mpsc::UnboundedSender<Finished<C>>,
) {
    let margin = (C::SEND_TIMEOUT + HEARTBEAT).as_millis() as i64;
    // Never start a send the lease might not outlast, nor one of a row
    // another process has taken over.
    let result = if flight.holds(&slot.token, C::id(&item), now_ms() + margin) {
        Some(send(&*courier, &item).await)
    } else {
        None
    };
    let token = slot.token.clone();
    // Should the recorder be gone, dropping the slot still frees it.
    let _ = finished.send(Finished {
        attempt: Attempt {
            token,
            item,
            result,
        },
        slot,
        ended_at: now_ms(),
    });
}

/// Delivers one row within the courier's timeout.
async fn send<C: Courier>(courier: &C, item: &C::Item) -> (Outcome, C::Report) {
    // The courier's own timeouts may not cover every step (an SMTP server
    // that accepts and never greets): the lease arithmetic holds only if a
    // send really ends in time.
    match tokio::time::timeout(C::SEND_TIMEOUT, courier.deliver(item)).await {
        Ok(done) => done,
        Err(_) => (
            Outcome::Failed(format!("no outcome within {} s", C::SEND_TIMEOUT.as_secs())),
            C::Report::default(),
        ),
    }
}

/// Records outcomes as their sends end: whatever has ended since the last
/// write goes in the next one. Each row's slot frees once it is written.
/// A write that fails is tried again with backoff, row by row (so one row
/// that keeps failing holds back no other) and with whatever has ended
/// meanwhile, the slots kept so their claims are still renewed; a row is
/// given up (left to be sent again after its lease) only once its claim is
/// no longer known to hold it for [`RECORD_MARGIN_MS`], or after retrying
/// for one lease.
async fn record_as_they_end<C: Courier>(
    store: &Store,
    courier: &Arc<C>,
    flight: &Flight,
    mut outcomes: mpsc::UnboundedReceiver<Finished<C>>,
) {
    while let Some(first) = outcomes.recv().await {
        let mut ended = vec![first];
        let mut wait = RECORD_RETRY_FIRST;
        let mut row_by_row = false;
        loop {
            while let Ok(more) = outcomes.try_recv() {
                ended.push(more);
            }
            let failed = record_once(store, courier, ended, row_by_row).await;
            let now = now_ms();
            let (kept, lost): (Vec<_>, Vec<_>) = failed.into_iter().partition(|f| {
                now - f.ended_at < C::LEASE_MS
                    && flight.holds(&f.slot.token, &f.slot.id, now + RECORD_MARGIN_MS)
            });
            if !lost.is_empty() {
                tracing::error!(
                    queue = C::NAME,
                    rows = lost.len(),
                    "cannot record the deliveries: they will be sent again after their lease"
                );
            }
            if kept.is_empty() {
                break;
            }
            ended = kept;
            row_by_row = true;
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(RECORD_RETRY_MAX);
        }
    }
}

/// Records `ended`, in one write or `row_by_row`, freeing the slot of each
/// row written; answers the rows whose write failed.
async fn record_once<C: Courier>(
    store: &Store,
    courier: &Arc<C>,
    ended: Vec<Finished<C>>,
    row_by_row: bool,
) -> Vec<Finished<C>> {
    let retry = courier.retry();
    let written = blocking(store, move |store| {
        let writes: Vec<Vec<Finished<C>>> = if row_by_row {
            ended.into_iter().map(|row| vec![row]).collect()
        } else {
            vec![ended]
        };
        let mut failed = Vec::new();
        let mut error = None;
        for write in writes {
            // Written, the rows' slots free as they drop.
            if let Err(e) = record::<C>(store, retry, &write) {
                failed.extend(write);
                error = Some(e);
            }
        }
        Ok((failed, error))
    })
    .await;
    match written {
        Ok((failed, None)) => failed,
        Ok((failed, Some(e))) => {
            tracing::warn!(error = %e, queue = C::NAME, rows = failed.len(), "cannot record the deliveries yet");
            failed
        }
        // The blocking pool lost the rows (and their slots with them).
        Err(e) => {
            tracing::error!(error = %e, queue = C::NAME, "cannot record the deliveries");
            Vec::new()
        }
    }
}

/// Renews the claims of the rows in flight every [`HEARTBEAT`], and learns
/// which of them this process still holds.
async fn renew_while_in_flight<C: Courier>(store: &Store, flight: &Flight) {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let tokens = flight.tokens();
        if tokens.is_empty() {
            continue;
        }
        let renewing = tokens.clone();
        match blocking(store, move |store| renew::<C>(store, &renewing)).await {
            Ok((until, held)) => flight.renewed(&tokens, until, &held),
            Err(e) => tracing::warn!(error = %e, queue = C::NAME, "cannot renew the claims"),
        }
    }
}

async fn blocking<T: Send + 'static>(
    store: &Store,
    work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    actix_web::web::block(move || work(&store))
        .await
        .map_err(|e| StoreError::Unavailable(format!("blocking task failed: {e}")))?
}

/// A row's turn done: what to record, and the slot it frees once recorded.
struct Finished<C: Courier> {
    attempt: Attempt<C>,
    slot: Slot,
    /// When its turn ended (ms).
    ended_at: i64,
}

impl<C: Courier> Borrow<Attempt<C>> for Finished<C> {
    fn borrow(&self) -> &Attempt<C> {
        &self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::sender::SenderSettings;
    use crate::secrets::Sealer;
    use crate::store::kinds::MailState;
    use crate::store::schema::outbox;
    use crate::store::{classify, Store};
    use diesel::prelude::*;

    /// A store whose outbox holds one mail to each of `recipients`, and
    /// the sealer it was sealed with.
    fn store_with_mail_to(recipients: &[&str]) -> (tempfile::TempDir, Store, Sealer) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = dir.path().join("t.sqlite3").display().to_string();
        let store = Store::open(&url, 2, Duration::from_secs(5));
        store.migrate().expect("migrate");
        let sealer = Sealer::new(
            b"a test secret of thirty-two bytes",
            crate::mail::SEALING_PURPOSE,
        );
        for to in recipients {
            let mail = crate::mail::Mail {
                to: to.to_string(),
                subject: "s".into(),
                text: "t".into(),
                html: "h".into(),
                link: None,
            };
            store
                .write(|conn| crate::mail::enqueue(conn, &sealer, mail))
                .expect("enqueue");
        }
        (dir, store, sealer)
    }

    /// A write that fails is tried again row by row: the rows that can be
    /// written are, their slots freed, and one that keeps failing holds no
    /// other back; it is given up once its claim is no longer known to last.
    #[test]
    fn a_failed_record_is_tried_again_row_by_row_while_its_claim_lasts() {
        let (dir, store, sealer) =
            store_with_mail_to(&["a@example.com", "b@example.com", "c@example.com"]);
        // The database refuses to record b's outcome, however it is written.
        store
            .write(|conn| {
                diesel::sql_query(
                    "CREATE TRIGGER refuse_b BEFORE UPDATE OF state ON outbox \
                     WHEN NEW.recipient = 'b@example.com' \
                     BEGIN SELECT RAISE(ABORT, 'refused'); END",
                )
                .execute(conn)
                .map_err(classify)
            })
            .expect("trigger");
        let mail_dir = dir.path().join("mail");
        let courier =
            SenderSettings::new(None, mail_dir, "x@example.com", 1000, 0, HEARTBEAT, sealer)
                .expect("settings");
        let claimed = claim::<SenderSettings>(&store, "t1", &Quota::open(8)).expect("claim");
        let flight = Arc::new(Flight::default());
        // A claim known to last one second past the margin.
        let until = now_ms() + RECORD_MARGIN_MS + 1_000;
        let rows = claimed
            .items
            .iter()
            .map(|r| (r.id.clone(), Default::default()));
        let slots = flight.hold("t1", until, rows.collect());
        let (finished, outcomes) = mpsc::unbounded_channel();
        for (item, slot) in claimed.items.into_iter().zip(slots) {
            let attempt = Attempt {
                token: "t1".into(),
                item,
                result: Some((Outcome::Delivered, ())),
            };
            let ended_at = now_ms();
            assert!(finished
                .send(Finished {
                    attempt,
                    slot,
                    ended_at
                })
                .is_ok());
        }
        drop(finished);

        let started = std::time::Instant::now();
        let courier = Arc::new(courier);
        let recording = record_as_they_end(&store, &courier, &flight, outcomes);
        actix_web::rt::System::new().block_on(recording);
        let took = started.elapsed();

        let states: Vec<(String, MailState, Option<String>)> = store
            .read(|conn| {
                outbox::table
                    .select((outbox::recipient, outbox::state, outbox::claim))
                    .order(outbox::recipient)
                    .load(conn)
                    .map_err(classify)
            })
            .expect("states");
        let b = (
            "b@example.com".into(),
            MailState::Pending,
            Some("t1".into()),
        );
        assert_eq!(states[1], b, "b stays claimed, to be taken over");
        assert_eq!(
            (states[0].1, states[2].1),
            (MailState::Sent, MailState::Sent)
        );
        assert!(flight.tokens().is_empty(), "every slot is free");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(4),
            "b was tried again until its claim ran short ({took:?})"
        );
    }
}
