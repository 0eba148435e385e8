//! Recording an event: its audit row and its webhook deliveries, in the
//! transaction of the change it records.

use super::deliveries;
use super::event::Event;
use crate::clock::{new_id, now_ms};
use crate::domain::kernel::error::{DomainError, DomainResult};
use crate::domain::sessions::Caller;
use crate::store::rows::{AuditEventRow, UserRow};
use crate::store::schema::audit_events;
use crate::store::{execute, DbConn, Lookups};

/// Who did what an event records.
#[derive(Clone, Copy)]
pub enum By<'a> {
    /// The calling account, loaded when the event is recorded (401 if it no
    /// longer exists).
    Caller(&'a Caller),
    /// An account at hand.
    Account(&'a UserRow),
    /// Nobody: the server itself (a sweep), or an emailed link used
    /// without a session.
    Nobody,
}

impl<'a> From<Option<&'a UserRow>> for By<'a> {
    fn from(account: Option<&'a UserRow>) -> By<'a> {
        account.map_or(By::Nobody, By::Account)
    }
}

/// Records `event` about `target` (the id of the object acted on) in
/// `organization_id`'s audit log, and queues a delivery of it to each of the
/// organization's webhooks that subscribes to it, in the current
/// transaction: the event and its deliveries exist if and only if the
/// change commits.
pub fn record<'a>(
    conn: &mut DbConn,
    organization_id: &str,
    by: By<'_>,
    target: &str,
    event: impl Into<Event<'a>>,
) -> DomainResult<()> {
    let event = event.into();
    let actor = match by {
        By::Caller(caller) => {
            let account = conn.user(&caller.user_id)?;
            Some((account.id, account.email))
        }
        By::Account(account) => Some((account.id.clone(), account.email.clone())),
        By::Nobody => None,
    };
    let details = serde_json::to_string(&event)
        .map_err(|e| DomainError::Internal(format!("writing an event's details: {e}")))?;
    let (actor_user_id, actor_email) = actor.unzip();
    let row = AuditEventRow {
        id: new_id(),
        organization_id: organization_id.to_string(),
        actor_user_id,
        actor_email,
        action: event.action(),
        target: target.to_string(),
        details,
        created_at: now_ms(),
    };
    execute(conn, diesel::insert_into(audit_events::table).values(&row))?;
    deliveries::queue(conn, &row)
}
