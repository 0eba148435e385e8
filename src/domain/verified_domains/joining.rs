//! Joining by a verified domain, after a sign-in, an address confirmation or
//! an invite acceptance has committed, and the departures that stop it.

use diesel::prelude::*;

use super::names::domain_of;
use crate::domain::accounts::load_user;
use crate::domain::audit::{self, AuditAction};
use crate::domain::{new_id, now_ms, Ctx, DomainResult};
use crate::store::kinds::DomainState;
use crate::store::rows::{DepartureRow, DomainRow, MembershipRow, UserRow};
use crate::store::schema::{departures, domains, memberships};
use crate::store::{share_organization, DbConn};

/// Notes that the account `user_id` at `email` is no longer a member of
/// `organization_id` (removed, left, outlived the membership or closed the
/// account): a verified domain never adds it again, by account or by address.
pub fn record_departure(
    conn: &mut DbConn,
    organization_id: &str,
    user_id: &str,
    email: &str,
    now: i64,
) -> DomainResult<()> {
    crate::store::execute(
        conn,
        diesel::insert_into(departures::table)
            .values(DepartureRow {
                organization_id: organization_id.to_string(),
                email: email.to_string(),
                user_id: user_id.to_string(),
                departed_at: now,
            })
            .on_conflict_do_nothing(),
    )?;
    Ok(())
}

/// The verified domain that would add `user` to its organization now: the
/// address is verified and at that domain, the account is no member (any
/// membership row counts, even one past its end the sweep has not reached:
/// that is a departure about to be recorded), and it never departed.
fn joinable(conn: &mut DbConn, user: &UserRow) -> DomainResult<Option<DomainRow>> {
    if !user.email_verified {
        return Ok(None);
    }
    let Some(domain) = domain_of(&user.email) else {
        return Ok(None);
    };
    let Some(row) = domains::table
        .filter(domains::domain.eq(domain))
        .filter(domains::state.eq(DomainState::Verified))
        .select(DomainRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let member: i64 = memberships::table
        .filter(memberships::organization_id.eq(&row.organization_id))
        .filter(memberships::user_id.eq(&user.id))
        .count()
        .get_result(conn)?;
    if member > 0 {
        return Ok(None);
    }
    let departed: i64 = departures::table
        .filter(departures::organization_id.eq(&row.organization_id))
        .filter(
            departures::user_id
                .eq(&user.id)
                .or(departures::email.eq(&user.email)),
        )
        .count()
        .get_result(conn)?;
    Ok((departed == 0).then_some(row))
}

/// Adds the account to the organization that verified the domain of its
/// address, with the domain's role, when [`joinable`] says so; returns the
/// organization joined. Called once a sign-in, an address confirmation or
/// an invite acceptance has committed, in a transaction of its own (so it
/// holds no lock of theirs and cannot fail them): a failure is logged, and
/// the next sign-in tries again.
pub fn join_by_domain(ctx: &Ctx, user: &UserRow) -> Option<String> {
    match try_join(ctx, user) {
        Ok(joined) => joined,
        Err(e) => {
            tracing::warn!(error = %e, user = %user.id, "joining by verified domain failed; the next sign-in tries again");
            None
        }
    }
}

fn try_join(ctx: &Ctx, user: &UserRow) -> DomainResult<Option<String>> {
    if !user.email_verified {
        return Ok(None);
    }
    // Without locks first: most accounts are at no verified domain.
    let found = ctx.store.read(|conn| joinable(conn, user))?;
    let Some(found) = found else {
        return Ok(None);
    };
    ctx.store.write(|conn| {
        // Under the organization's lock, as every membership change takes
        // it; then everything again (a removal or a claim's end may have
        // committed meanwhile).
        share_organization(conn, &found.organization_id)?;
        let user = load_user(conn, &user.id)?;
        let Some(row) = joinable(conn, &user)? else {
            return Ok(None);
        };
        if row.organization_id != found.organization_id {
            // The domain moved to another organization meanwhile, whose
            // lock this does not hold: the next sign-in joins that one.
            return Ok(None);
        }
        let now = now_ms();
        let membership = MembershipRow {
            id: new_id(),
            organization_id: row.organization_id.clone(),
            user_id: user.id.clone(),
            role: row.role,
            can_create_projects: false,
            created_at: now,
            expires_at: None,
        };
        // A concurrent sign-in of the same account may have added it.
        let added = crate::store::execute(
            conn,
            diesel::insert_into(memberships::table)
                .values(&membership)
                .on_conflict_do_nothing(),
        )?;
        if added == 0 {
            return Ok(None);
        }
        audit::record(
            conn,
            &row.organization_id,
            Some(&user),
            AuditAction::CollaboratorJoined,
            &membership.id,
            serde_json::json!({
                "userid": user.id,
                "email": user.email,
                "role": row.role,
                "domain": row.domain,
                "domainid": row.id,
            }),
        )?;
        Ok(Some(row.organization_id))
    })
}
