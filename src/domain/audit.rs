//! The audit log: one event per change to an organization, written in the
//! change's own transaction.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::access::{self, Hold};
use super::paging::PageRequest;
use super::permissions::Permission;
use super::sessions::Caller;
use super::{new_id, now_ms, rfc3339, Ctx, DomainResult};
pub use crate::store::kinds::AuditAction;
use crate::store::rows::{AuditEventRow, UserRow};
use crate::store::schema::audit_events;
use crate::store::DbConn;

/// Who did something.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub userid: String,
    pub email: String,
}

/// One recorded change.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    pub eventid: String,
    pub organizationid: String,
    #[schema(required = true)]
    pub actor: Option<Actor>,
    /// What happened, such as `invite.created` or `collaborator.edited`.
    pub action: AuditAction,
    /// The id of the object acted on.
    pub target: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    #[schema(format = DateTime)]
    pub createdat: String,
}

impl From<AuditEventRow> for AuditEvent {
    fn from(row: AuditEventRow) -> AuditEvent {
        let actor = match (row.actor_user_id, row.actor_email) {
            (Some(userid), Some(email)) => Some(Actor { userid, email }),
            _ => None,
        };
        AuditEvent {
            eventid: row.id,
            organizationid: row.organization_id,
            actor,
            action: row.action,
            target: row.target,
            details: serde_json::from_str(&row.details).unwrap_or(serde_json::Value::Null),
            createdat: rfc3339(row.created_at),
        }
    }
}

/// Records one event in the current transaction.
pub fn record(
    conn: &mut DbConn,
    organization_id: &str,
    actor: Option<&UserRow>,
    action: AuditAction,
    target: &str,
    details: serde_json::Value,
) -> DomainResult<()> {
    let row = AuditEventRow {
        id: new_id(),
        organization_id: organization_id.to_string(),
        actor_user_id: actor.map(|u| u.id.clone()),
        actor_email: actor.map(|u| u.email.clone()),
        action,
        target: target.to_string(),
        details: details.to_string(),
        created_at: now_ms(),
    };
    crate::store::execute(conn, diesel::insert_into(audit_events::table).values(&row))?;
    super::webhooks::queue_deliveries(conn, &row)
}

/// A page of an organization's audit log, newest first (owners and admins).
pub fn list(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    page: &PageRequest,
) -> DomainResult<(Vec<AuditEvent>, Option<String>)> {
    ctx.store.read(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Permission::AuditRead,
            Hold::Nothing,
        )?;
        let organization_id = member.organization_id();
        let mut query = audit_events::table
            .filter(audit_events::organization_id.eq(organization_id))
            .into_boxed();
        if let Some(before) = &page.after {
            query = query.filter(audit_events::id.lt(before.clone()));
        }
        let mut rows: Vec<AuditEventRow> = query
            .order(audit_events::id.desc())
            .limit(page.fetch())
            .select(AuditEventRow::as_select())
            .load(conn)?;
        let next = page.finish(&mut rows, |r| r.id.clone());
        Ok((rows.into_iter().map(AuditEvent::from).collect(), next))
    })
}
