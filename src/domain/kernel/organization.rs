//! An organization as its members see it ([`Organization`]), and the
//! setting every feature that sends invites reads (its invite lifetime).

use std::collections::HashMap;

use diesel::dsl::count_star;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::context::Ctx;
use super::error::DomainResult;
use crate::clock::{now_ms, rfc3339};
use crate::domain::access::Member;
use crate::store::lookups::live;
use crate::store::rows::OrganizationRow;
use crate::store::schema::memberships;
use crate::store::{DbConn, Lookups};

/// An organization as one of its members sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    pub organizationid: String,
    pub name: String,
    #[schema(format = DateTime)]
    pub createdat: String,
    /// The caller's role in this organization: a system role's name, or a
    /// custom role's.
    pub role: String,
    pub membercount: i64,
    /// Days an invite stays valid: the organization's own setting, or the
    /// server's default (`COLLABD_INVITE_TTL_DAYS`) when it has none.
    pub invitettldays: i32,
    /// The language of mail to people without an account (invitations to
    /// newcomers; `customer/settings`); null until set.
    #[schema(required = true)]
    pub language: Option<String>,
}

/// How many memberships in force each of `organization_ids` has.
pub fn member_counts(
    conn: &mut DbConn,
    organization_ids: &[String],
) -> DomainResult<HashMap<String, i64>> {
    let counts: Vec<(String, i64)> = memberships::table
        .filter(memberships::organization_id.eq_any(organization_ids))
        .filter(live(now_ms()))
        .group_by(memberships::organization_id)
        .select((memberships::organization_id, count_star()))
        .load(conn)?;
    Ok(counts.into_iter().collect())
}

/// `row` as a member with the role named `role` sees it.
pub fn view(ctx: &Ctx, row: OrganizationRow, role: &str, membercount: i64) -> Organization {
    Organization {
        organizationid: row.id.clone(),
        createdat: rfc3339(row.created_at),
        role: role.to_string(),
        membercount,
        invitettldays: invite_ttl_days(ctx, &row),
        language: row.language,
        name: row.name,
    }
}

/// One organization as `member` sees it.
pub fn organization_view(
    ctx: &Ctx,
    conn: &mut DbConn,
    member: &Member,
) -> DomainResult<Organization> {
    let org_id = &member.membership.organization_id;
    let row = conn.organization(org_id)?;
    let count = member_counts(conn, std::slice::from_ref(org_id))?
        .get(org_id)
        .copied()
        .unwrap_or(0);
    Ok(view(ctx, row, member.assigned.name(), count))
}

/// The days an invite of this organization lives: its own setting, or the
/// server's default.
pub fn invite_ttl_days(ctx: &Ctx, organization: &OrganizationRow) -> i32 {
    organization
        .invite_ttl_days
        .unwrap_or(ctx.policy.invite_ttl_days as i32)
}
