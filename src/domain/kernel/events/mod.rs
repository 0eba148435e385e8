//! Events: what happened to an organization, recorded once. A feature
//! calls [`record`] with a typed [`Event`] (one struct per audit action,
//! its fields the event's details) inside its transaction; that writes the
//! audit row and a delivery for each subscribed webhook, so the log and the
//! webhooks see the same event with the same details, and neither exists
//! unless the change commits. What is left for after the commit is
//! [`after_commit`]'s; the senders of mail and webhook deliveries are woken
//! by the store's commit hook, for every write alike.
//!
//! The submodules import each other directly; this file only names what
//! the features use.

mod after_commit;
mod deliveries;
mod event;
mod record;
mod team_events;
mod view;

pub use after_commit::{after_commit, AfterCommit};
pub use deliveries::ALL_EVENTS;
pub use event::*;
pub use record::{record, By};
pub use view::{Actor, AuditEvent};
