//! Work a committed change leaves to do outside its transaction, in a
//! transaction of its own, so that it holds no lock of the change's and
//! cannot fail it. (Waking the mail and webhook senders needs no call: the
//! store's commit hook does it for every outbox a transaction filled.)

use super::event::{CollaboratorJoined, Via};
use super::record::{record, By};
use crate::clock::now_ms;
use crate::domain::kernel::context::Ctx;
use crate::domain::kernel::error::DomainResult;
use crate::domain::kernel::membership::{self, NewMember};
use crate::domain::roles;
use crate::store::rows::UserRow;
use crate::store::Lookups;

/// What a committed change leaves to do.
pub enum AfterCommit<'a> {
    /// The account signed in or proved its address (a sign-in by password
    /// or link, an address confirmed, an invite accepted): the verified
    /// domain of its address, if any, adds it to that organization.
    SignedIn(&'a UserRow),
}

/// Does `work`. A failure is logged, not returned: the change it follows
/// has committed, and the next sign-in tries again.
pub fn after_commit(ctx: &Ctx, work: AfterCommit<'_>) {
    match work {
        AfterCommit::SignedIn(user) => {
            if let Err(e) = join_by_domain(ctx, user) {
                tracing::warn!(error = %e, user = %user.id, "joining by verified domain failed; the next sign-in tries again");
            }
        }
    }
}

/// Adds the account to the organization that verified the domain of its
/// address, with the domain's role, when
/// [`membership::joinable_by_domain`] says so.
fn join_by_domain(ctx: &Ctx, user: &UserRow) -> DomainResult<()> {
    if !user.email_verified {
        return Ok(());
    }
    // Without locks first: most accounts are at no verified domain.
    let found = ctx
        .store
        .read(|conn| membership::joinable_by_domain(conn, user))?;
    let Some(found) = found else {
        return Ok(());
    };
    ctx.store.write(|conn| {
        // Under the organization's lock, as every membership change takes
        // it; then everything again (a removal or a claim's end may have
        // committed meanwhile).
        conn.share_organization(&found.organization_id)?;
        let user = conn.user(&user.id)?;
        let Some(row) = membership::joinable_by_domain(conn, &user)? else {
            return Ok(());
        };
        if row.organization_id != found.organization_id {
            // The domain moved to another organization meanwhile, whose
            // lock this does not hold: the next sign-in joins that one.
            return Ok(());
        }
        let new = NewMember {
            organization_id: &row.organization_id,
            user_id: &user.id,
            role: row.role,
            role_id: row.role_id.as_deref(),
            can_create_projects: false,
            expires_at: None,
            grants: Vec::new(),
        };
        // A concurrent sign-in of the same account may have added it.
        let Some(membership) = membership::add(conn, new, now_ms())? else {
            return Ok(());
        };
        let role = roles::held(conn, &row.organization_id, row.role, row.role_id.as_deref())?;
        record(
            conn,
            &row.organization_id,
            By::Account(&user),
            &membership.id,
            CollaboratorJoined {
                userid: &user.id,
                email: &user.email,
                role: role.name(),
                via: Via::Domain,
                domain: Some(&row.domain),
                domainid: Some(&row.id),
            },
        )
    })
}
