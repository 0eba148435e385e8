//! The organization's side of an invite: creating it, revoking it, sending
//! it again with a new token.

use crate::domain::kernel::mailing::{self, text};
use crate::domain::LinkKind;
use diesel::prelude::*;

use super::reads::{assemble, load_inviter, view};
use super::states::{close, effective_state, ensure_open, load_by_id, reload};
use super::values::{Invite, Inviter, NewInvite};
use crate::domain::access::{self, Hold};
use crate::domain::kernel::events::{self, By, InviteCreated, InviteResent, InviteRevoked};
use crate::domain::kernel::grants::{check_granter_holds, check_grants, GrantRequest};
use crate::domain::kernel::membership::membership_end;
use crate::domain::kernel::organization::invite_ttl_days;
use crate::domain::ownership::{ensure_owners_last, EndFrom};
use crate::domain::permissions::Permission;
use crate::domain::roles::{self, may_assign, AssignedRole, Role};
use crate::domain::sessions::Caller;
use crate::domain::tokens::{hash_secret, new_secret};
use crate::domain::{
    new_id, normalize_email, now_ms, rfc3339, ConflictReason, Ctx, DomainError, DomainResult,
    GoneReason, MS_PER_DAY,
};
use crate::store::kinds::{InviteState, LinkPurpose};
use crate::store::link_tokens;
use crate::store::lookups::live;
use crate::store::rows::{InviteProjectRow, InviteRow, OrganizationRow, UserRow};
use crate::store::schema::{invite_projects, invites, memberships, users};
use crate::store::{execute, DbConn, Lookups};

pub(super) fn is_member_by_email(
    conn: &mut DbConn,
    organization_id: &str,
    email: &str,
) -> DomainResult<bool> {
    let count: i64 = memberships::table
        .inner_join(users::table)
        .filter(memberships::organization_id.eq(organization_id))
        .filter(users::email.eq(email))
        .filter(live(now_ms()))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// `state = 'pending'` written out rather than bound, so that both planners
/// may use the partial index `invites_one_pending (organization_id, email)
/// WHERE state = 'pending'`. With the state as a parameter, PostgreSQL's
/// generic plan scanned every pending invite of the organization instead
/// (the bench's invite load slowed as the organization grew).
fn pending_literally() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql("\"invites\".\"state\" = 'pending'")
}

/// Refuses a second pending invite for `email` (409 `invite_pending`). A
/// pending invite past its time no longer blocks a new one: it is marked
/// expired here. One read in the usual case, where there is none.
fn ensure_none_pending(
    conn: &mut DbConn,
    organization_id: &str,
    email: &str,
    now: i64,
) -> DomainResult<()> {
    let pending: Vec<i64> = invites::table
        .filter(invites::organization_id.eq(organization_id))
        .filter(invites::email.eq(email))
        .filter(pending_literally())
        .select(invites::expires_at)
        .load(conn)?;
    if pending.iter().any(|&expires_at| expires_at > now) {
        return Err(invite_pending());
    }
    if !pending.is_empty() {
        diesel::update(
            invites::table
                .filter(invites::organization_id.eq(organization_id))
                .filter(invites::email.eq(email))
                .filter(invites::state.eq(InviteState::Pending))
                .filter(invites::expires_at.le(now)),
        )
        .set((
            invites::state.eq(InviteState::Expired),
            invites::ended_at.eq(now),
        ))
        .execute(conn)?;
    }
    Ok(())
}

pub(super) fn already_member() -> DomainError {
    DomainError::conflict(
        ConflictReason::AlreadyMember,
        "this address already belongs to a member of the organization",
    )
}

pub(super) fn invite_pending() -> DomainError {
    DomainError::conflict(
        ConflictReason::InvitePending,
        "this address already has a pending invite to the organization",
    )
}

/// Queues the invitation email for `row` (offering `role`) with its fresh
/// `token`.
pub(super) fn queue_invitation(
    ctx: &Ctx,
    conn: &mut DbConn,
    organization: &OrganizationRow,
    (row, role): (&InviteRow, &AssignedRole),
    token: &str,
    inviter: &Inviter,
) -> DomainResult<()> {
    let link = ctx.policy.link(LinkKind::Invite, token);
    let language = mailing::language_of(conn, &row.email, organization)?;
    mailing::queue(
        conn,
        ctx,
        "invitation",
        (&row.email, &[language.as_deref()]),
        &[
            ("organization", text(&organization.name)),
            (
                "inviter",
                crate::texts::person(&inviter.name, &inviter.email, inviter.confirmed),
            ),
            ("role", text(role.name())),
            ("expires", text(rfc3339(row.expires_at))),
        ],
        Some(&link),
    )
}

/// After an invite was written (created or resent) with its email: a
/// concurrent twin that won the one-pending-invite index is 409. (The
/// invite was counted toward the hour's quota in its transaction, so a
/// refused one uses none.)
fn sent(result: DomainResult<Invite>) -> DomainResult<Invite> {
    match result {
        Err(DomainError::Store(e)) if e.is_unique_violation() => Err(invite_pending()),
        other => other,
    }
}

/// Invites an address with a role and grants, and queues the email.
/// The organization `caller` may invite into (named, or the key's): 403 for
/// a role that may not invite at all, 404 for a non-member. Whether a given
/// invite is allowed is still judged by [`create`].
pub fn may_invite(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
) -> DomainResult<String> {
    ctx.store.read(|conn| {
        access::organization(
            conn,
            caller,
            organization_id,
            Permission::MembersInvite,
            Hold::Nothing,
        )
        .map(|member| member.organization_id().to_string())
    })
}

pub fn create(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    new: NewInvite,
) -> DomainResult<Invite> {
    let email = normalize_email(&new.email);
    let token = new_secret();
    let now = now_ms();
    let result = ctx.store.write(|conn| {
        // Checked against the role as it is when the invite is written.
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Permission::MembersInvite,
            Hold::Shared,
        )?;
        let organization_id = member.organization_id();
        let role = roles::resolve(conn, organization_id, &new.role, "role")?;
        let membership_expires_at = requested_end(&new, role.system(), now)?;
        // Counted with the invite: it commits or rolls back with it.
        ctx.limits
            .invites
            .hit_on(conn, &organization_id.to_string())?;
        may_invite_as(&member, &role)?;
        if is_member_by_email(conn, organization_id, &email)? {
            return Err(already_member());
        }
        ensure_none_pending(conn, organization_id, &email, now)?;
        check_grants(conn, organization_id, &new.grants)?;
        check_granter_holds(conn, &member, &new.grants, new.can_create_projects)?;
        let organization = conn.organization(organization_id)?;
        let ttl_days = invite_ttl_days(ctx, &organization);
        let row = InviteRow {
            id: new_id(),
            organization_id: organization_id.to_string(),
            email: email.clone(),
            role: role.system(),
            can_create_projects: new.can_create_projects,
            token_hash: hash_secret(&token),
            state: InviteState::Pending,
            invited_by: Some(caller.user_id.clone()),
            created_at: now,
            expires_at: now + i64::from(ttl_days) * MS_PER_DAY,
            ended_at: None,
            membership_expires_at,
            inviter_name: None,
            inviter_email: None,
            inviter_confirmed: None,
            role_id: role.role_id().map(str::to_string),
        };
        insert_invite(conn, &row, &new.grants)?;
        let inviter = caller.account(conn)?;
        let sender = Inviter::from(&inviter);
        queue_invitation(ctx, conn, &organization, (&row, &role), &token, &sender)?;
        events::record(
            conn,
            organization_id,
            By::Account(&inviter),
            &row.id,
            InviteCreated {
                email: &row.email,
                role: role.name(),
                cancreateprojects: row.can_create_projects,
            },
        )?;
        if new.grants.is_empty() {
            // Everything the answer names is at hand.
            let custom = role.role_id().map(|_| role.name().to_string());
            let (name, none) = (organization.name, Vec::new());
            return Ok(assemble(row, name, sender, custom, none, now));
        }
        view(conn, row, now)
    });
    sent(result)
}

/// The generalised rule 4 of §3: nobody invites with a role holding a
/// permission they lack, and only owners with the owner role (403).
fn may_invite_as(member: &access::Member, role: &AssignedRole) -> DomainResult<()> {
    if may_assign(member.role, member.permissions, role) {
        return Ok(());
    }
    Err(DomainError::forbidden(format!(
        "the role {} may not invite as {}",
        member.assigned.name(),
        role.name()
    )))
}

/// The end of the membership `new` offers (`membershipexpiresat`), checked
/// as given and against its role: an owner's lasts.
fn requested_end(new: &NewInvite, role: Role, now: i64) -> DomainResult<Option<i64>> {
    let membership_expires_at = membership_end(
        "membershipexpiresat",
        new.membership_expires_at.as_deref(),
        now,
    )?;
    ensure_owners_last(
        "membershipexpiresat",
        role,
        membership_expires_at,
        EndFrom::Request,
    )?;
    Ok(membership_expires_at)
}

/// Who may manage (revoke or resend) an invite, as the action the gate
/// asks for: whoever may manage any invite of its organization, and its
/// sender when they may manage their own (owners and admins, and technical
/// users for their own, API.md §3). Decided here and answered by the gate
/// alone.
fn managing(row: &InviteRow, caller: &Caller) -> Permission {
    if row.invited_by.as_ref() == Some(&caller.user_id) {
        Permission::MembersInvite
    } else {
        Permission::InvitesManage
    }
}

/// Writes a new invite, the token of its link (found across
/// organizations) and the grants it gives on accepting.
fn insert_invite(conn: &mut DbConn, row: &InviteRow, grants: &[GrantRequest]) -> DomainResult<()> {
    execute(conn, diesel::insert_into(invites::table).values(row))?;
    link_tokens::issue(
        conn,
        LinkPurpose::Invite,
        &row.organization_id,
        &row.id,
        &row.token_hash,
    )?;
    insert_invite_grants(conn, row, grants)
}

/// Writes the grants an invite gives on accepting.
fn insert_invite_grants(
    conn: &mut DbConn,
    invite: &InviteRow,
    grants: &[GrantRequest],
) -> DomainResult<()> {
    let grant_rows: Vec<InviteProjectRow> = grants
        .iter()
        .map(|g| InviteProjectRow {
            organization_id: invite.organization_id.clone(),
            invite_id: invite.id.clone(),
            project_id: g.project_id.clone(),
            permission: g.permission,
        })
        .collect();
    // One statement per row: batch inserts are not portable over both backends.
    for grant in &grant_rows {
        diesel::insert_into(invite_projects::table)
            .values(grant)
            .execute(conn)?;
    }
    Ok(())
}

/// The invite `invite_id`, if the caller may revoke or resend it
/// ([`managing`]; 403 otherwise). Non-members get 404.
pub(super) fn manageable(
    conn: &mut DbConn,
    caller: &Caller,
    invite_id: &str,
) -> DomainResult<(InviteRow, UserRow, access::Member)> {
    let row = load_by_id(conn, invite_id)?;
    let member = access::object(
        conn,
        caller,
        &row.organization_id,
        managing(&row, caller),
        Hold::Shared,
        "invite",
    )?;
    let user = caller.account(conn)?;
    Ok((row, user, member))
}

/// A resend gives the invite new life under the resender's authority, so
/// they must be able to send it today (API.md §4): its role within theirs
/// (the generalised rule 4 of §3: a role holding nothing they lack) and
/// its grants and `cancreateprojects` ones they hold; 403 otherwise.
/// Whoever sent it first, and whatever they could grant then, no longer
/// counts. A custom role deleted since cannot be offered again (410). The
/// role offered, as it is now.
fn judge_as_new_invite(
    conn: &mut DbConn,
    resender: &access::Member,
    row: &InviteRow,
) -> DomainResult<AssignedRole> {
    let offered = match &row.role_id {
        None => AssignedRole::System(row.role),
        Some(id) => match roles::live_custom(conn, &row.organization_id, id)? {
            Some(custom) => AssignedRole::Custom(custom),
            None => {
                return Err(DomainError::Gone {
                    reason: GoneReason::Expired,
                    message: "the role this invite offers was deleted: create a new invite".into(),
                })
            }
        },
    };
    if !may_assign(resender.role, resender.permissions, &offered) {
        return Err(DomainError::forbidden(format!(
            "the role {} may not invite as {}, so it may not resend this invite",
            resender.assigned.name(),
            offered.name()
        )));
    }
    let grants: Vec<GrantRequest> = invite_projects::table
        .filter(invite_projects::organization_id.eq(&row.organization_id))
        .filter(invite_projects::invite_id.eq(&row.id))
        .select((invite_projects::project_id, invite_projects::permission))
        .load::<(String, crate::store::kinds::Permission)>(conn)?
        .into_iter()
        .map(|(project_id, permission)| GrantRequest {
            project_id,
            permission,
        })
        .collect();
    check_granter_holds(conn, resender, &grants, row.can_create_projects)?;
    Ok(offered)
}

/// Revokes a pending invite; its token answers 410 from now on.
pub fn revoke(ctx: &Ctx, caller: &Caller, invite_id: &str) -> DomainResult<Invite> {
    let now = now_ms();
    ctx.store.write(|conn| {
        let (row, user, _) = manageable(conn, caller, invite_id)?;
        close(conn, &row, InviteState::Revoked, now)?;
        events::record(
            conn,
            &row.organization_id,
            By::Account(&user),
            &row.id,
            InviteRevoked {
                email: &row.email,
                reason: None,
            },
        )?;
        let fresh = reload(conn, &row)?;
        view(conn, fresh, now)
    })
}

/// Issues a new token for a pending or expired invite (the old one answers
/// 410), restarts its lifetime and queues the email again. A resend is
/// judged as a new invite by the resender ([`judge_as_new_invite`]).
pub fn resend(ctx: &Ctx, caller: &Caller, invite_id: &str) -> DomainResult<Invite> {
    let token = new_secret();
    let now = now_ms();
    let result = ctx.store.write(|conn| {
        let (row, user, member) = manageable(conn, caller, invite_id)?;
        let role = judge_as_new_invite(conn, &member, &row)?;
        ctx.limits.invites.hit_on(conn, &row.organization_id)?;
        match effective_state(&row, now) {
            InviteState::Pending | InviteState::Expired => {}
            _ => ensure_open(&row, now)?,
        }
        if is_member_by_email(conn, &row.organization_id, &row.email)? {
            return Err(already_member());
        }
        if row.membership_expires_at.is_some_and(|end| end <= now) {
            return Err(DomainError::Gone {
                reason: GoneReason::Expired,
                message: "the membership this invite offers has already ended: create a new invite"
                    .into(),
            });
        }
        let organization = conn.organization(&row.organization_id)?;
        let ttl_days = invite_ttl_days(ctx, &organization);
        let expires_at = now + i64::from(ttl_days) * MS_PER_DAY;
        let token_hash = hash_secret(&token);
        // Only the token we read, in a state we may reopen: an accept or
        // revoke that committed meanwhile wins, and answers 410 here.
        let updated = diesel::update(
            invites::table
                .find((&row.organization_id, &row.id))
                .filter(invites::token_hash.eq(&row.token_hash))
                .filter(invites::state.eq_any([InviteState::Pending, InviteState::Expired])),
        )
        .set((
            invites::token_hash.eq(&token_hash),
            invites::state.eq(InviteState::Pending),
            invites::expires_at.eq(expires_at),
            invites::ended_at.eq(None::<i64>),
        ))
        .execute(conn)?;
        if updated != 1 {
            let fresh = reload(conn, &row)?;
            ensure_open(&fresh, now)?;
            return Err(DomainError::conflict(
                ConflictReason::InvitePending,
                "the invite was resent at the same moment; use the latest email",
            ));
        }
        link_tokens::retire(conn, &row.token_hash, now)?;
        link_tokens::issue(
            conn,
            LinkPurpose::Invite,
            &row.organization_id,
            &row.id,
            &token_hash,
        )?;
        let fresh = InviteRow {
            token_hash,
            state: InviteState::Pending,
            expires_at,
            ended_at: None,
            ..row
        };
        // The mail names who sent the invite, as the invite does, even
        // when their account has closed since.
        let inviter = load_inviter(conn, &fresh)?;
        queue_invitation(ctx, conn, &organization, (&fresh, &role), &token, &inviter)?;
        events::record(
            conn,
            &fresh.organization_id,
            By::Account(&user),
            &fresh.id,
            InviteResent {
                email: &fresh.email,
            },
        )?;
        view(conn, fresh, now)
    });
    sent(result)
}
