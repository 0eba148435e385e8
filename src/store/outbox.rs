//! The commit hook of the outboxes. A write that queues mail or webhook
//! deliveries says so ([`filled`]) in its transaction; once that
//! transaction commits, [`Store::write`](super::Store::write) wakes the
//! outbox's sender, and not if it rolls back. No caller wakes a sender by
//! hand.

use std::cell::Cell;

/// A table of rows a background sender delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outbox {
    Mail,
    Webhooks,
}

impl Outbox {
    pub const ALL: [Outbox; 2] = [Outbox::Mail, Outbox::Webhooks];

    fn bit(self) -> u8 {
        match self {
            Outbox::Mail => 1,
            Outbox::Webhooks => 2,
        }
    }

    /// Its place in [`Outbox::ALL`].
    pub(super) fn index(self) -> usize {
        match self {
            Outbox::Mail => 0,
            Outbox::Webhooks => 1,
        }
    }
}

thread_local! {
    /// The outboxes the running write transaction has queued rows in.
    static FILLED: Cell<u8> = const { Cell::new(0) };
}

/// Notes that the running write transaction queued rows in `outbox`.
pub fn filled(outbox: Outbox) {
    FILLED.set(FILLED.get() | outbox.bit());
}

/// Forgets what an earlier transaction on this thread filled.
pub(super) fn forget_filled() {
    FILLED.set(0);
}

/// The outboxes filled since the last call, forgotten from now on.
pub(super) fn take_filled() -> impl Iterator<Item = Outbox> {
    let filled = FILLED.replace(0);
    Outbox::ALL
        .into_iter()
        .filter(move |outbox| filled & outbox.bit() != 0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::FutureExt;

    use super::*;
    use crate::store::{Store, StoreError};

    fn woken(store: &Store, outbox: Outbox) -> bool {
        store.wakeup(outbox).notified().now_or_never().is_some()
    }

    #[test]
    fn a_commit_wakes_the_senders_of_the_outboxes_it_filled_and_a_rollback_none() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = dir.path().join("t.sqlite3").display().to_string();
        let store = Store::open(&url, 2, Duration::from_secs(5));
        store
            .write(|_| {
                filled(Outbox::Mail);
                Ok::<_, StoreError>(())
            })
            .expect("committed");
        assert!(woken(&store, Outbox::Mail));
        assert!(!woken(&store, Outbox::Webhooks));
        let rolled_back = store.write(|_| {
            filled(Outbox::Webhooks);
            Err::<(), _>(StoreError::Unavailable("no".into()))
        });
        assert!(rolled_back.is_err());
        assert!(!woken(&store, Outbox::Webhooks));
        // What a rolled-back write filled is not woken by the next one.
        store.write(|_| Ok::<_, StoreError>(())).expect("committed");
        assert!(!woken(&store, Outbox::Webhooks));
        assert!(!woken(&store, Outbox::Mail));
    }
}
