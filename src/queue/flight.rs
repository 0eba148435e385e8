//! What one process has in flight: the claims it holds, until when, and
//! how many rows of each group and target are between their claim and their
//! record.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::claim::{Lane, Quota, Shares};

/// One claim's rows still held, and until when the claim is known to hold.
struct Lease {
    until: i64,
    rows: HashSet<String>,
}

/// What this process has in flight: the claims it holds and the rows of
/// each group and target between their claim and their record.
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
    groups: HashMap<String, usize>,
    /// Rows in flight by target.
    targets: HashMap<String, usize>,
    in_flight: usize,
}

impl Flight {
    fn books(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What the next claim may take of `shares`.
    pub(super) fn quota(&self, shares: Shares) -> Quota {
        let books = self.books();
        // Rows beyond their group's first.
        let extra = books.in_flight.saturating_sub(books.groups.len());
        Quota {
            room: shares.parallel.saturating_sub(books.in_flight),
            extra: shares.extra.saturating_sub(extra),
            group_share: shares.group,
            target_share: shares.target,
            groups: books.groups.clone(),
            targets: books.targets.clone(),
        }
    }

    /// Books the rows claim `token` took until `until`, each an id and its
    /// lane: a slot for each, in order.
    pub(super) fn hold(
        self: &Arc<Self>,
        token: &str,
        until: i64,
        rows: Vec<(String, Lane)>,
    ) -> Vec<Slot> {
        let mut books = self.books();
        let lease = Lease {
            until,
            rows: rows.iter().map(|(id, _)| id.clone()).collect(),
        };
        books.leases.insert(token.to_string(), lease);
        books.in_flight += rows.len();
        rows.into_iter()
            .map(|(id, lane)| {
                *books.groups.entry(lane.group.clone()).or_insert(0) += 1;
                *books.targets.entry(lane.target.clone()).or_insert(0) += 1;
                Slot {
                    flight: self.clone(),
                    token: token.to_string(),
                    id,
                    lane,
                }
            })
            .collect()
    }

    /// Whether row `id` of claim `token` is still held until at least
    /// `until`: whether it may be sent, or its outcome still be recorded.
    pub(super) fn holds(&self, token: &str, id: &str, until: i64) -> bool {
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
        let Books {
            groups, targets, ..
        } = &mut *books;
        for (busy, lane) in [(groups, &slot.lane.group), (targets, &slot.lane.target)] {
            if let Some(n) = busy.get_mut(lane) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    busy.remove(lane);
                }
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
    pub(super) id: String,
    lane: Lane,
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

    /// Rows by id, group and target.
    fn rows(rows: &[(&str, &str, &str)]) -> Vec<(String, Lane)> {
        rows.iter()
            .map(|(id, group, target)| {
                let lane = Lane {
                    group: group.to_string(),
                    target: target.to_string(),
                };
                (id.to_string(), lane)
            })
            .collect()
    }

    fn counts(lanes: &[(&str, usize)]) -> HashMap<String, usize> {
        lanes.iter().map(|(l, n)| (l.to_string(), *n)).collect()
    }

    const SHARES: Shares = Shares {
        parallel: 4,
        group: 2,
        target: 1,
        extra: 1,
    };

    #[test]
    fn slots_count_against_the_room_their_group_and_target_until_they_free() {
        let flight = Arc::new(Flight::default());
        let mut slots = flight.hold(
            "t1",
            100,
            rows(&[("1", "a", "a1"), ("2", "a", "a2"), ("3", "b", "b1")]),
        );
        let quota = flight.quota(SHARES);
        assert_eq!((quota.room, quota.extra), (1, 0), "only for a first row");
        assert_eq!((quota.group_share, quota.target_share), (2, 1));
        assert_eq!(quota.groups, counts(&[("a", 2), ("b", 1)]));
        assert_eq!(quota.targets, counts(&[("a1", 1), ("a2", 1), ("b1", 1)]));
        let full = Shares {
            parallel: 2,
            ..SHARES
        };
        assert_eq!(flight.quota(full).room, 0, "never below none");

        drop(slots.remove(0));
        assert!(
            flight.freed.notified().now_or_never().is_some(),
            "a freed slot wakes the sender"
        );
        let quota = flight.quota(SHARES);
        assert_eq!((quota.room, quota.extra), (2, 1), "a second row freed");
        assert_eq!(quota.groups, counts(&[("a", 1), ("b", 1)]));
        assert_eq!(quota.targets, counts(&[("a2", 1), ("b1", 1)]));
        assert!(!flight.holds("t1", "1", 0), "a freed row is not held");

        slots.clear();
        assert!(flight.tokens().is_empty(), "nothing left to renew");
        let quota = flight.quota(SHARES);
        assert!(quota.groups.is_empty() && quota.targets.is_empty());
        assert_eq!((quota.room, quota.extra), (4, 1));
    }

    #[test]
    fn only_rows_still_held_by_a_long_enough_lease_are_sent() {
        let flight = Arc::new(Flight::default());
        let _first = flight.hold("t1", 100, rows(&[("1", "a", "w"), ("2", "a", "w")]));
        let _second = flight.hold("t2", 100, rows(&[("3", "b", "v")]));
        assert!(flight.holds("t1", "1", 100));
        assert!(!flight.holds("t1", "1", 101), "the lease might run out");
        assert!(!flight.holds("t2", "1", 0), "another claim's row");

        // Renewed, but another process took row 2 over meanwhile.
        flight.renewed(&["t1".to_string()], 500, &HashSet::from(["1".to_string()]));
        assert!(flight.holds("t1", "1", 400));
        assert!(!flight.holds("t1", "2", 0), "a row taken over");
        assert!(!flight.holds("t2", "3", 400), "t2 was not renewed");
        let mut tokens = flight.tokens();
        tokens.sort();
        assert_eq!(tokens, ["t1", "t2"]);
    }
}
