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
