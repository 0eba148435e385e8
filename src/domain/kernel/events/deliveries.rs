//! The fan-out of an event to the webhooks that subscribe to it: one
//! delivery row each, in the event's own transaction, carrying the body
//! every try of it sends.

use diesel::prelude::*;

use super::view::AuditEvent;
use crate::clock::{new_id, rfc3339};
use crate::domain::kernel::error::DomainResult;
use crate::store::kinds::DeliveryState;
use crate::store::rows::{AuditEventRow, DeliveryRow};
use crate::store::schema::{webhook_deliveries, webhooks};
use crate::store::{execute, filled, load, DbConn, Outbox};

/// Subscribing to this instead of a list of actions means every action.
pub const ALL_EVENTS: &str = "*";

#[derive(QueryableByName)]
struct Subscription {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
}

/// The body every try of one event's delivery carries.
fn body(event: &AuditEventRow) -> String {
    serde_json::json!({
        "type": event.action.as_str(),
        "timestamp": rfc3339(event.created_at),
        "data": AuditEvent::from(event.clone()),
    })
    .to_string()
}

/// Queues the event for each webhook of its organization that subscribes to
/// it, in the event's own transaction: the deliveries exist if and only if
/// the event does, and the webhook sender is woken once it commits.
pub(super) fn queue(conn: &mut DbConn, event: &AuditEventRow) -> DomainResult<()> {
    let subscribed: Vec<(String, String)> = load(
        conn,
        webhooks::table
            .filter(webhooks::organization_id.eq(&event.organization_id))
            .select((webhooks::id, webhooks::events)),
    )?;
    let action = event.action.as_str();
    let mut targets: Vec<String> = subscribed
        .into_iter()
        .filter(|(_, events)| {
            serde_json::from_str::<Vec<String>>(events)
                .unwrap_or_default()
                .iter()
                .any(|e| e == ALL_EVENTS || e == action)
        })
        .map(|(webhook_id, _)| webhook_id)
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    if let DbConn::Pg(pg) = conn {
        // Held against a concurrent `customer/deletewebhook` until this
        // transaction ends (the deliveries' foreign key would lock them the
        // same way): a webhook deleted since the read above drops out here
        // instead of failing the insert; one deleted later waits, and takes
        // these deliveries with it. Only webhooks that get a delivery are
        // locked. (SQLite runs one writer at a time.)
        let held: Vec<Subscription> = diesel::sql_query(
            "SELECT id FROM webhooks WHERE organization_id = $1 AND id = ANY($2) \
             ORDER BY id FOR KEY SHARE",
        )
        .bind::<diesel::sql_types::Text, _>(&event.organization_id)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&targets)
        .load(pg)?;
        targets.retain(|id| held.iter().any(|h| &h.id == id));
    }
    if targets.is_empty() {
        return Ok(());
    }
    let payload = body(event);
    let rows: Vec<DeliveryRow> = targets
        .into_iter()
        .map(|webhook_id| DeliveryRow {
            id: new_id(),
            organization_id: event.organization_id.clone(),
            webhook_id,
            event_id: event.id.clone(),
            event_type: event.action,
            payload: payload.clone(),
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: event.created_at,
            claimed_until: None,
            claim: None,
            last_code: None,
            last_error: None,
            last_attempt_at: None,
            created_at: event.created_at,
        })
        .collect();
    // One statement per row: Diesel runs a multi-row insert on SQLite as a
    // transaction of its own, which cannot nest in the event's.
    for row in &rows {
        execute(
            conn,
            diesel::insert_into(webhook_deliveries::table).values(row),
        )?;
    }
    filled(Outbox::Webhooks);
    Ok(())
}
