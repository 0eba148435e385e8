//! An audit event as the API shows it: in the audit log, and as the `data`
//! of every webhook delivery.

use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::rfc3339;
use crate::store::kinds::AuditAction;
use crate::store::rows::AuditEventRow;

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
