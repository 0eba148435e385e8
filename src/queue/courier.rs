//! One kind of delivery as the machinery sees it ([`Courier`]), how an
//! attempt went ([`Outcome`]), and what follows it ([`Retry`], [`Next`]).

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use crate::store::{DbConn, StoreError};

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
