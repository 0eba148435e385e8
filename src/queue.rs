//! The delivery machinery mail and webhooks share: a table of pending rows,
//! claimed a round at a time by a background sender, delivered, and marked
//! done, retried with exponential backoff, or given up.
//!
//! Each round claims up to [`BATCH`] due rows under a token of its own, with
//! a lease of [`Courier::LEASE_MS`] taken with `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so several collabd processes on one database never deliver
//! one row twice. Until its outcomes are recorded, a heartbeat renews the
//! round's leases every [`HEARTBEAT`] and learns which rows it still holds
//! (after a stall, another process may have taken some over); a row is sent
//! only while it is still held and its lease is known to outlast the longest
//! send plus one heartbeat. A process that dies holds its rows for at most
//! one lease: another process takes them over after that. Rows go out
//! [`Courier::PARALLEL`] at a time, and a round records its outcomes in one
//! transaction, each only while the round still holds the row's claim.
//!
//! A table served here has the columns `id`, `state` (`'pending'` until
//! finished), `attempts`, `next_attempt_at`, `claimed_until` and `claim`.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use rand::Rng;
use tokio::sync::Notify;

use crate::clock::{new_id, now_ms};
use crate::store::{classify, DbConn, Store, StoreError};

/// Rows claimed per round.
pub const BATCH: i64 = 32;
/// How often a running round renews its claims.
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
    /// Rows in flight at once.
    const PARALLEL: usize;
    /// The longest one delivery may take.
    const SEND_TIMEOUT: Duration;
    /// How long a claim lasts without renewal: what a crashed process's rows
    /// wait before another process takes them over. More than
    /// `SEND_TIMEOUT` and two heartbeats, so a started send ends in time.
    const LEASE_MS: i64;

    /// How often due rows are looked for when nothing wakes the sender.
    fn poll(&self) -> Duration;
    fn retry(&self) -> Retry;
    fn id(item: &Self::Item) -> &str;
    fn attempts(item: &Self::Item) -> i32;
    /// The pending rows round `token` claims.
    fn load(conn: &mut DbConn, token: &str) -> Result<Vec<Self::Item>, StoreError>;
    fn deliver(&self, item: &Self::Item) -> impl Future<Output = (Outcome, Self::Report)> + Send;
    /// Writes what follows an attempt, only where round `token` still holds
    /// the row's claim; answers the rows changed (0 when the claim was lost).
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
    loop {
        let token = new_id();
        let round = token.clone();
        let claimed = match blocking(&store, move |store| claim::<C>(store, &round)).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, queue = C::NAME, "cannot read the queue");
                Claimed {
                    items: Vec::new(),
                    until: 0,
                }
            }
        };
        let full_batch = claimed.items.len() as i64 == BATCH;
        if !claimed.items.is_empty() {
            deliver_round(&store, &courier, &token, claimed).await;
        }
        if full_batch {
            continue;
        }
        tokio::select! {
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(courier.poll()) => {}
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

/// Delivers one round's rows and records every outcome, renewing the
/// round's claims until the record is written.
async fn deliver_round<C: Courier>(
    store: &Store,
    courier: &Arc<C>,
    token: &str,
    claimed: Claimed<C::Item>,
) {
    // Until when the claims are known to hold, and the rows they still hold.
    let held_until = &AtomicI64::new(claimed.until);
    let held: &Mutex<HashSet<String>> = &Mutex::new(
        claimed
            .items
            .iter()
            .map(|item| C::id(item).to_string())
            .collect(),
    );
    let still_held = |id: &str| {
        held.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(id)
    };
    let margin = (C::SEND_TIMEOUT + HEARTBEAT).as_millis() as i64;
    let work = async {
        let mut outcomes = Vec::with_capacity(claimed.items.len());
        for wave in claimed.items.chunks(C::PARALLEL) {
            let sends = wave.iter().map(|item| async move {
                // Never start a send the lease might not outlast, nor one of
                // a row another process has taken over.
                if held_until.load(Ordering::Acquire) < now_ms() + margin
                    || !still_held(C::id(item))
                {
                    return None;
                }
                // The courier's own timeouts may not cover every step (an
                // SMTP server that accepts and never greets): the lease
                // arithmetic holds only if a send really ends in time.
                let (outcome, report) =
                    match tokio::time::timeout(C::SEND_TIMEOUT, courier.deliver(item)).await {
                        Ok(done) => done,
                        Err(_) => (
                            Outcome::Failed(format!(
                                "no outcome within {} s",
                                C::SEND_TIMEOUT.as_secs()
                            )),
                            C::Report::default(),
                        ),
                    };
                Some((item.clone(), outcome, report))
            });
            outcomes.extend(
                futures_util::future::join_all(sends)
                    .await
                    .into_iter()
                    .flatten(),
            );
        }
        let retry = courier.retry();
        let token = token.to_string();
        if let Err(e) = blocking(store, move |store| {
            record::<C>(store, retry, &token, &outcomes)
        })
        .await
        {
            tracing::error!(error = %e, queue = C::NAME, "cannot record the deliveries");
        }
    };
    let heartbeat = async {
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            let token = token.to_string();
            match blocking(store, move |store| renew::<C>(store, &token)).await {
                Ok((until, ids)) => {
                    let mut held = held.lock().unwrap_or_else(|p| p.into_inner());
                    held.retain(|id| ids.contains(id));
                    held_until.store(until, Ordering::Release);
                }
                Err(e) => tracing::warn!(error = %e, queue = C::NAME, "cannot renew the claims"),
            }
        }
    };
    tokio::select! {
        _ = work => {}
        _ = heartbeat => unreachable!("the heartbeat never ends"),
    }
}

/// `sql` with its `?` placeholders as the connection's backend writes them.
fn placeholders(conn: &DbConn, sql: &str) -> String {
    numbered(matches!(conn, DbConn::Pg(_)), sql)
}

/// `$1`, `$2`, … for PostgreSQL (`numbered`), else `?` as written. The SQL
/// here is this module's own, with no `?` inside a literal.
fn numbered(numbered: bool, sql: &str) -> String {
    if !numbered {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Extends every pending claim of round `token`; returns the new end and
/// the rows the round still holds. Rows are locked in id order, the order
/// [`record`] writes them in, so a renewal and a record never deadlock.
pub fn renew<C: Courier>(store: &Store, token: &str) -> Result<(i64, HashSet<String>), StoreError> {
    let until = now_ms() + C::LEASE_MS;
    let ids = store.write(|conn| {
        let lock = match conn {
            DbConn::Pg(_) => " ORDER BY id COLLATE \"C\" FOR UPDATE",
            DbConn::Sqlite(_) => "",
        };
        let sql = placeholders(
            conn,
            &format!(
                "UPDATE {table} SET claimed_until = ? WHERE id IN (\
                 SELECT id FROM {table} WHERE claim = ? AND state = 'pending'{lock})",
                table = C::TABLE
            ),
        );
        diesel::sql_query(sql)
            .bind::<BigInt, _>(until)
            .bind::<Text, _>(token)
            .execute(conn)
            .map_err(classify)?;
        let sql = placeholders(
            conn,
            &format!(
                "SELECT id FROM {} WHERE claim = ? AND state = 'pending'",
                C::TABLE
            ),
        );
        diesel::sql_query(sql)
            .bind::<Text, _>(token)
            .load::<IdRow>(conn)
            .map_err(classify)
    })?;
    Ok((until, ids.into_iter().map(|r| r.id).collect()))
}

/// The rows a round claimed, and until when its claims hold.
pub struct Claimed<T> {
    pub items: Vec<T>,
    pub until: i64,
}

/// Claims up to [`BATCH`] due rows for round `token` and loads them.
pub fn claim<C: Courier>(store: &Store, token: &str) -> Result<Claimed<C::Item>, StoreError> {
    store.write(|conn| {
        let now = now_ms();
        let until = now + C::LEASE_MS;
        // Rows another process holds are skipped, not waited for (on SQLite
        // the write transaction already excludes every other writer).
        let skip_locked = match conn {
            DbConn::Pg(_) => " FOR UPDATE SKIP LOCKED",
            DbConn::Sqlite(_) => "",
        };
        let sql = placeholders(
            conn,
            &format!(
                "UPDATE {table} SET claim = ?, claimed_until = ? WHERE id IN (\
                 SELECT id FROM {table} WHERE state = 'pending' AND next_attempt_at <= ? \
                 AND (claimed_until IS NULL OR claimed_until < ?) \
                 ORDER BY next_attempt_at, id LIMIT ?{skip_locked})",
                table = C::TABLE
            ),
        );
        let claimed = diesel::sql_query(sql)
            .bind::<Text, _>(token)
            .bind::<BigInt, _>(until)
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(BATCH)
            .execute(conn)
            .map_err(classify)?;
        let items = if claimed == 0 {
            Vec::new()
        } else {
            C::load(conn, token)?
        };
        Ok(Claimed { items, until })
    })
}

#[derive(QueryableByName)]
struct StateCount {
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many rows of the queue are in each of `states` (0 where none), for
/// `/metrics`.
pub fn depth<C: Courier>(
    store: &Store,
    states: &[&'static str],
) -> Result<Vec<(&'static str, i64)>, StoreError> {
    let counts: Vec<StateCount> = store.read(|conn| {
        diesel::sql_query(format!(
            "SELECT state, COUNT(*) AS n FROM {} GROUP BY state",
            C::TABLE
        ))
        .load(conn)
        .map_err(classify)
    })?;
    Ok(states
        .iter()
        .map(|state| {
            let n = counts.iter().find(|c| c.state == *state).map_or(0, |c| c.n);
            (*state, n)
        })
        .collect())
}

/// Records a round's outcomes in one transaction, each only while round
/// `token` still holds the row's claim.
pub fn record<C: Courier>(
    store: &Store,
    retry: Retry,
    token: &str,
    outcomes: &[(C::Item, Outcome, C::Report)],
) -> Result<(), StoreError> {
    let now = now_ms();
    // In id order, as [`renew`] locks them.
    let mut ordered: Vec<&(C::Item, Outcome, C::Report)> = outcomes.iter().collect();
    ordered.sort_by(|a, b| C::id(&a.0).as_bytes().cmp(C::id(&b.0).as_bytes()));
    store.write(|conn| {
        for (item, outcome, report) in ordered {
            let attempts = C::attempts(item) + 1;
            let next = retry.next(outcome, attempts, now);
            let id = C::id(item);
            match (outcome, next) {
                (Outcome::Failed(error), Next::RetryAt(_)) => {
                    tracing::warn!(queue = C::NAME, id, attempts, error = %error, "delivery failed, will retry")
                }
                (Outcome::Failed(error) | Outcome::Rejected(error), _) => {
                    tracing::error!(queue = C::NAME, id, attempts, error = %error, "giving up on this delivery")
                }
                _ => {}
            }
            let updated = C::record(conn, token, item, outcome, report, attempts, next, now)?;
            if updated != 1 {
                tracing::warn!(
                    queue = C::NAME,
                    id,
                    "the claim ran out before the result was recorded"
                );
            }
        }
        // Rows of the round not sent (their lease was too short to start
        // one) go back at once rather than when the lease runs out.
        let sql = placeholders(
            conn,
            &format!(
                "UPDATE {} SET claim = NULL, claimed_until = NULL WHERE claim = ? AND state = 'pending'",
                C::TABLE
            ),
        );
        diesel::sql_query(sql)
            .bind::<Text, _>(token)
            .execute(conn)
            .map_err(classify)?;
        Ok(())
    })
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

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        assert_eq!(numbered(false, "a = ? AND b = ?"), "a = ? AND b = ?");
        assert_eq!(numbered(true, "a = ? AND b = ?"), "a = $1 AND b = $2");
    }
}
