//! The audit log: one event per change to an organization, written in the
//! change's own transaction by `kernel::events`, and read here.

use diesel::prelude::*;

use super::access::{self, Hold};
use super::paging::PageRequest;
use super::permissions::Permission;
use super::sessions::Caller;
use super::{Ctx, DomainResult};
use crate::store::rows::AuditEventRow;
use crate::store::schema::audit_events;

pub use super::kernel::events::{Actor, AuditEvent};
pub use crate::store::kinds::AuditAction;

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
