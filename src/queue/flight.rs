//! What one process has in flight: the claims it holds, until when, and
//! how many rows of each group are between their claim and their record.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::rows::Quota;

/// One claim's rows still held, and until when the claim is known to hold.
struct Lease {
    until: i64,
    rows: HashSet<String>,
}

/// What this process has in flight: the claims it holds and the rows of
/// each group between their claim and their record.
#[derive(Default)]
pub(super) struct Flight {
    books: Mutex<Books>,
    /// Notified when a row's slot frees.
    pub(super) freed: Notify,
}

/// The flight's accounts, kept under one lock.
#[derive(Default)]
struct Books {
    /// By claim token.
    leases: HashMap<String, Lease>,
    /// Rows in flight by group.
    busy: HashMap<String, usize>,
    in_flight: usize,
}

impl Flight {
    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the next claim may take.
    pub(super) fn quota(&self, parallel: usize, share: usize) -> Quota {
        let books = self.books();
        Quota {
            room: parallel.saturating_sub(books.in_flight),
            share: share.max(1),
            busy: books.busy.clone(),
        }
    }

    /// Books the rows claim `token` took until `until`, each an id and its
    /// group: a slot for each, in order.
    pub(super) fn hold(
        self: &Arc<Self>,
        token: &str,
        until: i64,
        rows: Vec<(String, String)>,
    ) -> Vec<Slot> {
        let mut books = self.books();
        let lease = Lease {
            until,
            rows: rows.iter().map(|(id, _)| id.clone()).collect(),
        };
        books.leases.insert(token.to_string(), lease);
        books.in_flight += rows.len();
        rows.into_iter()
            .map(|(id, group)| {
                *books.busy.entry(group.clone()).or_insert(0) += 1;
                Slot {
                    flight: self.clone(),
                    token: token.to_string(),
                    id,
                    group,
                }
            })
            .collect()
    }

    /// Whether row `id` of claim `token` is still held until at least
    /// `until`.
    pub(super) fn may_send(&self, token: &str, id: &str, until: i64) -> bool {
        self.books()
            .leases
            .get(token)
            .is_some_and(|lease| lease.until >= until && lease.rows.contains(id))
    }

    pub(super) fn tokens(&self) -> Vec<String> {
        self.books().leases.keys().cloned().collect()
    }

    /// After `tokens` were renewed until `until`: only the rows in `held`
    /// are still theirs.
    pub(super) fn renewed(&self, tokens: &[String], until: i64, held: &HashSet<String>) {
        let mut books = self.books();
        for token in tokens {
            if let Some(lease) = books.leases.get_mut(token) {
                lease.rows.retain(|id| held.contains(id));
                lease.until = until;
            }
        }
    }

    fn free(&self, slot: &Slot) {
        let mut books = self.books();
        books.in_flight = books.in_flight.saturating_sub(1);
        if let Some(n) = books.busy.get_mut(&slot.group) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                books.busy.remove(&slot.group);
            }
        }
        if let Some(lease) = books.leases.get_mut(&slot.token) {
            lease.rows.remove(&slot.id);
            if lease.rows.is_empty() {
                books.leases.remove(&slot.token);
            }
        }
        drop(books);
        self.freed.notify_one();
    }
}

/// A row's place in flight, from its claim until its outcome is recorded
/// (or its task ends some other way): dropping it frees the place.
pub(super) struct Slot {
    flight: Arc<Flight>,
    pub(super) token: String,
    id: String,
    group: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.flight.free(self);
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;

    use super::*;

    fn rows(rows: &[(&str, &str)]) -> Vec<(String, String)> {
        rows.iter()
            .map(|(id, group)| (id.to_string(), group.to_string()))
            .collect()
    }

    #[test]
    fn slots_count_against_the_room_and_their_group_until_they_free() {
        let flight = Arc::new(Flight::default());
        let mut slots = flight.hold("t1", 100, rows(&[("1", "a"), ("2", "a"), ("3", "b")]));
        let quota = flight.quota(4, 2);
        assert_eq!(quota.room, 1);
        assert_eq!(
            quota.busy,
            HashMap::from([("a".into(), 2), ("b".into(), 1)])
        );
        assert_eq!(flight.quota(2, 2).room, 0, "never below none");

        drop(slots.remove(0));
        assert!(
            flight.freed.notified().now_or_never().is_some(),
            "a freed slot wakes the sender"
        );
        let quota = flight.quota(4, 2);
        assert_eq!(quota.room, 2);
        assert_eq!(
            quota.busy,
            HashMap::from([("a".into(), 1), ("b".into(), 1)])
        );
        assert!(!flight.may_send("t1", "1", 0), "a freed row is not held");

        slots.clear();
        assert!(flight.tokens().is_empty(), "nothing left to renew");
        assert!(flight.quota(4, 2).busy.is_empty());
    }

    #[test]
    fn only_rows_still_held_by_a_long_enough_lease_are_sent() {
        let flight = Arc::new(Flight::default());
        let _first = flight.hold("t1", 100, rows(&[("1", "a"), ("2", "a")]));
        let _second = flight.hold("t2", 100, rows(&[("3", "b")]));
        assert!(flight.may_send("t1", "1", 100));
        assert!(!flight.may_send("t1", "1", 101), "the lease might run out");
        assert!(!flight.may_send("t2", "1", 0), "another claim's row");

        // Renewed, but another process took row 2 over meanwhile.
        flight.renewed(&["t1".to_string()], 500, &HashSet::from(["1".to_string()]));
        assert!(flight.may_send("t1", "1", 400));
        assert!(!flight.may_send("t1", "2", 0), "a row taken over");
        assert!(!flight.may_send("t2", "3", 400), "t2 was not renewed");
        let mut tokens = flight.tokens();
        tokens.sort();
        assert_eq!(tokens, ["t1", "t2"]);
    }
}
