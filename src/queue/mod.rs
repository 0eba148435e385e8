//! The delivery machinery mail and webhooks share: a table of pending rows,
//! claimed by a background sender, each delivered on its own as soon as it
//! is claimed, then marked done, retried with exponential backoff, or given
//! up.
//!
//! No delivery waits for another. The sender keeps up to
//! [`Courier::parallel`] rows in flight, each on its own task, and at most
//! [`Courier::share`] of one group (a webhook's organization, say): a claim
//! passes over the rows of groups at their share and takes the others' in
//! due order, so a slow or dead endpoint holds only its own rows and its
//! group's share, and one group's backlog never starves another. Each
//! outcome is recorded as soon as its send ends (outcomes that end together
//! share a transaction); its slot is then free and the sender claims again
//! at once, without waiting for its poll.
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

mod courier;
mod flight;
mod rows;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use crate::clock::{new_id, now_ms};
use crate::store::{Store, StoreError};
pub use courier::{Courier, Next, Outcome, Retry};
use flight::{Flight, Slot};
pub use rows::{claim, depth, record, renew, Attempt, Claimed, Quota};

/// How often the claims of rows in flight are renewed.
const HEARTBEAT: Duration = Duration::from_secs(3);
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
    loop {
        loop {
            let quota = flight.quota(courier.parallel(), courier.share());
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
                    let group = claimed.groups.get(&id).cloned().unwrap_or_default();
                    (id, group)
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
    let result = if flight.may_send(&slot.token, C::id(&item), now_ms() + margin) {
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
