//! Webhooks (API.md §6): an organization's endpoints, notified of its audit
//! events. Registering checks where the URL leads; each event a webhook
//! subscribes to becomes a delivery row in the event's own transaction
//! (`kernel::events`), which the sender (`crate::webhook_sender`) signs and
//! posts.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use diesel::prelude::*;
use rand::RngCore;
use serde::Serialize;
use utoipa::ToSchema;

use super::access::{self, Hold};
use super::kernel::events::{self, By, WebhookCreated, WebhookDeleted};
use super::outbound;
use super::paging::PageRequest;
use super::permissions::Permission;
use super::sessions::Caller;
use super::{new_id, now_ms, rfc3339, Ctx, DomainError, DomainResult};
use crate::store::kinds::{AuditAction, DeliveryState};
use crate::store::rows::{DeliveryRow, WebhookRow};
use crate::store::schema::{webhook_deliveries, webhooks};
use crate::store::DbConn;
use crate::webhook_sender::SECRET_PREFIX;

pub use super::kernel::events::ALL_EVENTS;

/// The purpose the key that seals signing secrets is derived for.
pub const SEALING_PURPOSE: &str = "collabd webhook secrets v1";
/// Webhooks one organization may have.
pub const MAX_PER_ORGANIZATION: i64 = 20;
/// The longest URL accepted.
pub const MAX_URL_LEN: usize = outbound::MAX_URL_LEN;

/// A registered endpoint. `secret` appears only in the answer to
/// `customer/createwebhook`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub webhookid: String,
    pub organizationid: String,
    pub url: String,
    /// The audit actions delivered, or `["*"]` for every one.
    pub events: Vec<String>,
    #[schema(required = true)]
    pub description: Option<String>,
    #[schema(format = DateTime)]
    pub createdat: String,
    /// The signing secret (`whsec_` and base64 of 32 bytes), shown once on
    /// creation and never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<WebhookRow> for Webhook {
    fn from(row: WebhookRow) -> Webhook {
        Webhook {
            webhookid: row.id,
            organizationid: row.organization_id,
            url: row.url,
            events: serde_json::from_str(&row.events).unwrap_or_default(),
            description: row.description,
            createdat: rfc3339(row.created_at),
            secret: None,
        }
    }
}

/// One event on its way to one webhook.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    pub deliveryid: String,
    pub webhookid: String,
    /// The audit event's id, sent as `webhook-id` on every try.
    pub eventid: String,
    /// The audit action.
    #[serde(rename = "type")]
    pub kind: AuditAction,
    /// `pending` (waiting or being retried), `delivered` (answered with a
    /// 2xx) or `failed` (no 2xx after the last attempt).
    pub state: DeliveryState,
    pub attempts: i32,
    /// The HTTP status of the last answer; null before the first attempt or
    /// when the last one got no answer.
    #[schema(required = true)]
    pub lastcode: Option<i32>,
    #[schema(format = DateTime, required = true)]
    pub lastattemptat: Option<String>,
    #[schema(format = DateTime)]
    pub createdat: String,
}

impl From<DeliveryRow> for Delivery {
    fn from(row: DeliveryRow) -> Delivery {
        Delivery {
            deliveryid: row.id,
            webhookid: row.webhook_id,
            eventid: row.event_id,
            kind: row.event_type,
            state: row.state,
            attempts: row.attempts,
            lastcode: row.last_code,
            lastattemptat: row.last_attempt_at.map(rfc3339),
            createdat: rfc3339(row.created_at),
        }
    }
}

/// Checks a webhook URL by the outbound address rule (see
/// [`outbound::check_url`]), naming `url` when it fails. Blocks on the
/// resolver: run it off the HTTP workers.
pub fn check_url(raw: &str, allow_private: bool) -> DomainResult<url::Url> {
    outbound::check_url(raw, allow_private, "url")
}

/// Checks a subscription: `["*"]`, or one or more audit actions, each once.
pub fn check_events(events: &[String]) -> DomainResult<Vec<String>> {
    let invalid = |why: String| DomainError::invalid("events", why);
    if events.is_empty() {
        return Err(invalid(
            "must name at least one audit action, or be [\"*\"]".into(),
        ));
    }
    if events.iter().any(|e| e == ALL_EVENTS) {
        if events.len() > 1 {
            return Err(invalid(
                "\"*\" subscribes to everything; list it alone".into(),
            ));
        }
        return Ok(vec![ALL_EVENTS.to_string()]);
    }
    let mut checked: Vec<String> = Vec::with_capacity(events.len());
    for event in events {
        let action = AuditAction::ALL
            .iter()
            .find(|a| a.as_str() == event)
            .ok_or_else(|| invalid(format!("{event:?} is not an audit action")))?;
        if !checked.iter().any(|c| c == action.as_str()) {
            checked.push(action.as_str().to_string());
        }
    }
    Ok(checked)
}

/// What `customer/createwebhook` asks for, its URL and events already checked.
pub struct NewWebhook {
    pub url: url::Url,
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// Registers a webhook (owners and admins); the answer carries the secret.
pub fn create(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    new: NewWebhook,
) -> DomainResult<Webhook> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes));
    ctx.store.write(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Permission::WebhooksManage,
            Hold::Exclusive,
        )?;
        let organization_id = member.organization_id().to_string();
        let count: i64 = webhooks::table
            .filter(webhooks::organization_id.eq(&organization_id))
            .count()
            .get_result(conn)?;
        if count >= MAX_PER_ORGANIZATION {
            return Err(DomainError::invalid(
                "organizationid",
                format!(
                    "an organization has at most {MAX_PER_ORGANIZATION} webhooks; delete one first"
                ),
            ));
        }
        let row = WebhookRow {
            id: new_id(),
            organization_id: organization_id.clone(),
            url: new.url.to_string(),
            events: serde_json::Value::from(new.events.clone()).to_string(),
            description: new.description.clone(),
            secret: ctx.webhook_sealer.seal(&secret),
            created_at: now_ms(),
        };
        crate::store::execute(conn, diesel::insert_into(webhooks::table).values(&row))?;
        events::record(
            conn,
            &organization_id,
            By::Caller(caller),
            &row.id,
            WebhookCreated {
                url: &row.url,
                events: &new.events,
            },
        )?;
        let mut webhook = Webhook::from(row);
        webhook.secret = Some(secret.clone());
        Ok(webhook)
    })
}

/// Refuses a caller who may not manage the organization's webhooks (404 for
/// a non-member, 403 for a role that may not), before its URL is resolved:
/// no one else learns what a name resolves to.
pub fn authorize(ctx: &Ctx, caller: &Caller, organization_id: Option<&str>) -> DomainResult<()> {
    ctx.store.read(|conn| {
        access::organization(
            conn,
            caller,
            organization_id,
            Permission::WebhooksManage,
            Hold::Nothing,
        )
        .map(|_| ())
    })
}

/// The organization's webhooks, oldest first (owners and admins).
pub fn list(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
) -> DomainResult<Vec<Webhook>> {
    ctx.store.read(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Permission::WebhooksManage,
            Hold::Nothing,
        )?;
        let rows: Vec<WebhookRow> = webhooks::table
            .filter(webhooks::organization_id.eq(member.organization_id()))
            .order(webhooks::id.asc())
            .select(WebhookRow::as_select())
            .load(conn)?;
        Ok(rows.into_iter().map(Webhook::from).collect())
    })
}

/// The webhook `webhook_id` past the gate: 404 for whoever is not a member of
/// its organization, 403 for a member whose role may not manage webhooks.
fn gate(
    conn: &mut DbConn,
    caller: &Caller,
    webhook_id: &str,
    how: Hold,
) -> DomainResult<WebhookRow> {
    // A webhookid alone does not say its organization: this one read looks
    // in every organization's webhooks (docs/scaling.md).
    let row: WebhookRow = webhooks::table
        .filter(webhooks::id.eq(webhook_id))
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| DomainError::not_found("webhook not found"))?;
    access::object(
        conn,
        caller,
        &row.organization_id,
        Permission::WebhooksManage,
        how,
        "webhook",
    )?;
    Ok(row)
}

/// Deletes a webhook and its delivery log; pending deliveries are not sent.
pub fn delete(ctx: &Ctx, caller: &Caller, webhook_id: &str) -> DomainResult<()> {
    ctx.store.write(|conn| {
        let row = gate(conn, caller, webhook_id, Hold::Exclusive)?;
        let deleted = crate::store::execute(
            conn,
            diesel::delete(webhooks::table.find((&row.organization_id, &row.id))),
        )?;
        if deleted == 0 {
            // Deleted by a concurrent call while this one waited for the lock.
            return Err(DomainError::not_found("webhook not found"));
        }
        events::record(
            conn,
            &row.organization_id,
            By::Caller(caller),
            &row.id,
            WebhookDeleted { url: &row.url },
        )
    })
}

/// A page of a webhook's deliveries, newest first.
pub fn deliveries(
    ctx: &Ctx,
    caller: &Caller,
    webhook_id: &str,
    page: &PageRequest,
) -> DomainResult<(Vec<Delivery>, Option<String>)> {
    ctx.store.read(|conn| {
        let webhook = gate(conn, caller, webhook_id, Hold::Nothing)?;
        let mut query = webhook_deliveries::table
            .filter(webhook_deliveries::organization_id.eq(&webhook.organization_id))
            .filter(webhook_deliveries::webhook_id.eq(&webhook.id))
            .into_boxed();
        if let Some(before) = &page.after {
            query = query.filter(webhook_deliveries::id.lt(before.clone()));
        }
        let mut rows: Vec<DeliveryRow> = query
            .order(webhook_deliveries::id.desc())
            .limit(page.fetch())
            .select(DeliveryRow::as_select())
            .load(conn)?;
        let next = page.finish(&mut rows, |r| r.id.clone());
        Ok((rows.into_iter().map(Delivery::from).collect(), next))
    })
}
