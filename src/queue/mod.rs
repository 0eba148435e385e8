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
//! heartbeat, else it goes back at once. A process that dies holds its rows
//! for at most one lease: another process takes them over after that. An
//! outcome is recorded only while its claim still holds the row.
//!
//! A table served here has the columns `id`, `state` (`'pending'` until
//! finished), `attempts`, `next_attempt_at`, `claimed_until` and `claim`.

mod claim;
mod flight;
mod rows;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{mpsc, Notify};

use crate::clock::{new_id, now_ms};
use crate::store::{DbConn, Store, StoreError};
use claim::Shares;
pub use claim::{claim, Claimed, Quota};
use flight::{Flight, Slot};
pub use rows::{depth, record, renew, Attempt};

/// How often the claims of rows in flight are renewed.
const HEARTBEAT: Duration = Duration::from_secs(3);
/// The longest wait between two attempts at one row.
const MAX_BACKOFF_MS: i64 = 3_600_000;

/// How one delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Worth trying again later.
    Failed(String),
    /// Will never work (a refused address, a message that cannot be built).
    Rejected(String),
}

/// What becomes of a row after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Done,
    /// Pending again, due at this time (ms).
    RetryAt(i64),
    GiveUp,
}

/// When to try again and when to stop.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// The first retry waits this long; each further one twice as long.
    pub base_ms: i64,
    /// Attempts before a row is given up; 0 retries for as long as it fails
    /// (a rejection is given up at once either way).
    pub max_attempts: i32,
}

impl Retry {
    /// What follows attempt number `attempts` (counting this one).
    pub fn next(&self, outcome: &Outcome, attempts: i32, now: i64) -> Next {
        match outcome {
            Outcome::Delivered => Next::Done,
            Outcome::Failed(_) if self.max_attempts == 0 || attempts < self.max_attempts => {
                Next::RetryAt(now + backoff_ms(self.base_ms.max(1), attempts))
            }
            Outcome::Failed(_) | Outcome::Rejected(_) => Next::GiveUp,
        }
    }
}

/// The wait before attempt `attempts + 1`: base · 2^(attempts−1), capped, ±20 %.
fn backoff_ms(base: i64, attempts: i32) -> i64 {
    let exponent = (attempts - 1).clamp(0, 30) as u32;
    let wait = base.saturating_mul(1i64 << exponent).min(MAX_BACKOFF_MS);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    ((wait as f64) * jitter) as i64
}

/// One kind of delivery: its table, how a row goes out, and what is
/// recorded afterwards.
pub trait Courier: Send + Sync + 'static {
    /// A claimed row with what its delivery needs.
    type Item: Clone + Send + Sync + 'static;
    /// What an attempt reports besides its outcome (an HTTP status, say).
    type Report: Default + Send + 'static;
    /// Names the queue in logs.
    const NAME: &'static str;
    /// The table, as written in SQL.
    const TABLE: &'static str;
    /// The group a row belongs to for its fair share of the sender, as an
    /// SQL expression over the table aliased `q` (a webhook's organization);
    /// `None` when all rows are one group.
    const GROUP: Option<&'static str>;
    /// Where a row goes within its group, for its share of the group's, as
    /// an SQL expression over `q` (a delivery's webhook); `None` when a
    /// group's rows all go to one place.
    const TARGET: Option<&'static str>;
    /// The longest one delivery may take.
    const SEND_TIMEOUT: Duration;
    /// How long a claim lasts without renewal: what a crashed process's rows
    /// wait before another process takes them over. More than
    /// `SEND_TIMEOUT` and two heartbeats, so a started send ends in time.
    const LEASE_MS: i64;

    /// Rows in flight at once in this process.
    fn parallel(&self) -> usize;
    /// Rows of one group in flight at once in this process (one target's
    /// are half that, at least one).
    fn share(&self) -> usize;
    /// How often due rows are looked for when nothing wakes the sender.
    fn poll(&self) -> Duration;
    fn retry(&self) -> Retry;
    fn id(item: &Self::Item) -> &str;
    fn attempts(item: &Self::Item) -> i32;
    /// The pending rows claim `token` holds.
    fn load(conn: &mut DbConn, token: &str) -> Result<Vec<Self::Item>, StoreError>;
    fn deliver(&self, item: &Self::Item) -> impl Future<Output = (Outcome, Self::Report)> + Send;
    /// Writes what follows an attempt, only where claim `token` still holds
    /// the row; answers the rows changed (0 when the claim was lost).
    #[allow(clippy::too_many_arguments)] // each is one fact of the attempt
    fn record(
        conn: &mut DbConn,
        token: &str,
        item: &Self::Item,
        outcome: &Outcome,
        report: &Self::Report,
        attempts: i32,
        next: Next,
        now: i64,
    ) -> Result<usize, StoreError>;
}

/// Delivers due rows until the runtime stops. `wakeup` is notified when a
/// transaction has queued rows, so they go out at once.
pub async fn run<C: Courier>(store: Store, courier: Arc<C>, wakeup: Arc<Notify>) {
    let flight = Arc::new(Flight::default());
    let (finished, outcomes) = mpsc::unbounded_channel();
    tokio::join!(
        dispatch(&store, &courier, &flight, &wakeup, finished),
        renew_while_in_flight::<C>(&store, &flight),
        record_as_they_end(&store, &courier, outcomes),
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
async fn record_as_they_end<C: Courier>(
    store: &Store,
    courier: &Arc<C>,
    mut outcomes: mpsc::UnboundedReceiver<Finished<C>>,
) {
    while let Some(first) = outcomes.recv().await {
        let mut ended = vec![first];
        while let Ok(more) = outcomes.try_recv() {
            ended.push(more);
        }
        let (attempts, slots): (Vec<Attempt<C>>, Vec<Slot>) = ended
            .into_iter()
            .map(|finished| (finished.attempt, finished.slot))
            .unzip();
        let retry = courier.retry();
        if let Err(e) = blocking(store, move |store| record::<C>(store, retry, &attempts)).await {
            tracing::error!(error = %e, queue = C::NAME, "cannot record the deliveries");
        }
        drop(slots);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let first = backoff_ms(1000, 1);
        assert!((800..=1200).contains(&first), "{first}");
        let fourth = backoff_ms(1000, 4);
        assert!((6400..=9600).contains(&fourth), "{fourth}");
        assert!(backoff_ms(1000, 40) <= (MAX_BACKOFF_MS as f64 * 1.2) as i64);
    }

    #[test]
    fn retries_stop_at_the_last_attempt_and_rejections_at_once() {
        let retry = Retry {
            base_ms: 1000,
            max_attempts: 3,
        };
        let failed = Outcome::Failed("503".into());
        assert!(matches!(retry.next(&failed, 2, 0), Next::RetryAt(_)));
        assert_eq!(retry.next(&failed, 3, 0), Next::GiveUp);
        assert_eq!(
            retry.next(&Outcome::Rejected("no".into()), 1, 0),
            Next::GiveUp
        );
        assert_eq!(retry.next(&Outcome::Delivered, 1, 0), Next::Done);
        let forever = Retry {
            base_ms: 1000,
            max_attempts: 0,
        };
        assert!(matches!(forever.next(&failed, 500, 0), Next::RetryAt(_)));
    }
}
