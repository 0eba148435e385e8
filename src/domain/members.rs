//! Collaborators: listing, editing, removing and leaving. The rules that
//! keep an organization owned are in [`super::ownership`].

use diesel::prelude::*;

use super::access::{self, Credential, Hold, Member};
use super::kernel::events::{
    self, By, CollaboratorEdited, CollaboratorLeft, CollaboratorRemoved, InviteRevoked, Revocation,
};
use super::kernel::grants::{
    check_grants, grants_of_page, hide_invisible, replace_grants, visible_projects, GrantRequest,
};
use super::kernel::membership::{collaborator, membership_end, record_departure, view};
use super::ownership::{ensure_an_owner_remains, ensure_owners_last, EndFrom, Leaving};
use super::paging::PageRequest;
use super::permissions::{Need, Permission, PermissionSet};
use super::roles::{self, may_assign, may_manage, AssignedRole, Role};
use super::rosters::{PageKey, RenderedPage};
use super::sessions::Caller;
use super::teamwork::{self, teams_of_page};
use super::{now_ms, Ctx, DomainError, DomainResult};
use crate::store::kinds::InviteState;
use crate::store::rows::{InviteRow, MembershipRow, UserRow};
use crate::store::schema::roles as role_rows;
use crate::store::schema::{api_keys, invites, memberships, users};
use crate::store::DbConn;

pub use super::kernel::membership::Collaborator;

/// A page of an organization's collaborators, in the order they joined,
/// rendered as JSON once per version of the organization's roster.
pub fn list(
    ctx: &Ctx,
    credential: &Credential,
    organization_id: Option<&str>,
    page: &PageRequest,
) -> DomainResult<RenderedPage> {
    ctx.store.read(|conn| {
        // The version before the rows: a page is never filed under a version
        // newer than what it shows.
        let (_, member, version) = access::organization_for_read(
            conn,
            credential,
            organization_id,
            Permission::MembersRead,
        )?;
        let organization_id = member.organization_id();
        let key = PageKey {
            organization_id: organization_id.to_string(),
            after: page.after.clone(),
            limit: page.limit,
            restricted_to: (!member.holds(Permission::ProjectsRead))
                .then(|| member.membership.id.clone()),
        };
        if let Some(rendered) = ctx.rosters.get(&key, version, now_ms()) {
            return Ok(rendered);
        }
        let visible = visible_projects(conn, &member)?;
        let now = now_ms();
        // With the name of each member's custom role, if any.
        let mut query = memberships::table
            .inner_join(users::table)
            .left_join(
                role_rows::table.on(role_rows::organization_id
                    .eq(memberships::organization_id)
                    .and(memberships::role_id.eq(role_rows::id.nullable()))),
            )
            .filter(memberships::organization_id.eq(organization_id))
            .filter(access::live(now))
            .into_boxed();
        if let Some(after) = &page.after {
            query = query.filter(memberships::id.gt(after.clone()));
        }
        let shown = (MembershipRow::as_select(), UserRow::as_select());
        let mut rows: Vec<(MembershipRow, UserRow, Option<String>)> = query
            .order(memberships::id.asc())
            .limit(page.fetch())
            .select((shown.0, shown.1, role_rows::name.nullable()))
            .load(conn)?;
        let next = page.finish(&mut rows, |(m, _, _)| m.id.clone());
        // The page shows these members until the first of them ends: a
        // membership ends by time, with no write to move the version.
        let valid_until = rows.iter().filter_map(|(m, _, _)| m.expires_at).min();
        let list = page_of_collaborators(conn, organization_id, page, rows, &visible)?;
        let collaborators = serde_json::value::to_raw_value(&list)
            .map_err(|e| DomainError::Internal(format!("rendering collaborators: {e}")))?;
        let rendered = RenderedPage {
            collaborators: collaborators.into(),
            nextcursor: next,
            valid_until,
        };
        ctx.rosters.put(key, version, rendered.clone());
        Ok(rendered)
    })
}

/// The rows of one page as collaborators: each with its grants on the
/// projects the viewer sees, and its teams (one statement each per page).
fn page_of_collaborators(
    conn: &mut DbConn,
    organization_id: &str,
    page: &PageRequest,
    rows: Vec<(MembershipRow, UserRow, Option<String>)>,
    visible: &Option<std::collections::HashMap<String, crate::store::kinds::Permission>>,
) -> DomainResult<Vec<Collaborator>> {
    let (mut grants, mut teams) = match rows.last() {
        Some((last, _, _)) => {
            let after = page.after.as_deref().unwrap_or("");
            (
                grants_of_page(conn, organization_id, after, &last.id)?,
                teams_of_page(conn, organization_id, after, &last.id)?,
            )
        }
        None => Default::default(),
    };
    Ok(rows
        .into_iter()
        .map(|(m, u, custom)| {
            let mut g = grants.remove(&m.id).unwrap_or_default();
            hide_invisible(&mut g, visible);
            let t = teams.remove(&m.id).unwrap_or_default();
            view(m, u, custom, g, t)
        })
        .collect())
}

/// How someone else's change took authority from a member.
#[derive(Clone, Copy)]
pub(crate) enum AuthorityLost {
    /// Now holding this system role (`collaborator` for a custom role's
    /// holder) and these permissions.
    Demoted(Role, PermissionSet),
    Removed,
}

/// An invite carries its inviter's authority (API.md §4): when someone else
/// demotes or removes `member`, their pending invites with a role they can no
/// longer grant are revoked in the same transaction, each with the audit
/// event `invite.revoked` and `reason` `inviter_demoted` or
/// `inviter_removed`. (Leaving and closing the account keep them.)
fn revoke_invites_beyond_authority(
    conn: &mut DbConn,
    member: &MembershipRow,
    lost: AuthorityLost,
    caller: &Caller,
) -> DomainResult<()> {
    let (authority_left, reason) = match lost {
        AuthorityLost::Demoted(role, held) => (Some((role, held)), Revocation::InviterDemoted),
        AuthorityLost::Removed => (None, Revocation::InviterRemoved),
    };
    let pending: Vec<InviteRow> = invites::table
        .filter(invites::organization_id.eq(&member.organization_id))
        .filter(invites::invited_by.eq(&member.user_id))
        .filter(invites::state.eq(InviteState::Pending))
        .select(InviteRow::as_select())
        .load(conn)?;
    let mut beyond: Vec<InviteRow> = Vec::new();
    for invite in pending {
        let within = match authority_left {
            None => false,
            Some((role, held)) => {
                let offered = roles::held(
                    conn,
                    &invite.organization_id,
                    invite.role,
                    invite.role_id.as_deref(),
                )?;
                may_assign(role, held, &offered)
            }
        };
        if !within {
            beyond.push(invite);
        }
    }
    if beyond.is_empty() {
        return Ok(());
    }
    let actor = caller.account(conn)?;
    let now = now_ms();
    for invite in beyond {
        diesel::update(invites::table.find((&invite.organization_id, &invite.id)))
            .set((
                invites::state.eq(InviteState::Revoked),
                invites::ended_at.eq(now),
            ))
            .execute(conn)?;
        events::record(
            conn,
            &member.organization_id,
            By::Account(&actor),
            &invite.id,
            InviteRevoked {
                email: &invite.email,
                reason: Some(reason),
            },
        )?;
    }
    Ok(())
}

/// Whom a change to what a role or a team gives touched (API.md §4, §10):
/// an edit of a custom role, or a team's role changing, the team going, or
/// a member leaving it, as someone else's change, demotes them; an edit of
/// a custom role may also put invites offering it beyond their senders.
pub(crate) enum Touched<'a> {
    /// Members holding this custom role, themselves or through a team, and
    /// members with pending invites offering it.
    RoleHolders(&'a str),
    /// These memberships (a team's members, or the one taken out of it).
    Memberships(&'a [String]),
}

/// After someone else's change to what a role or a team gives, the pending
/// invites of each member it `touched` with a role they can no longer grant
/// are revoked, as when they are demoted (`invite.revoked`, `reason`
/// `inviter_demoted`). Only members with pending invites are judged: one
/// statement finds them, and each is then read as the gate reads them (own
/// role and teams, as they are after the change). The caller's own invites
/// stay: they changed what they hold themselves.
pub(crate) fn reassess_inviters(
    conn: &mut DbConn,
    organization_id: &str,
    touched: Touched,
    caller: &Caller,
) -> DomainResult<()> {
    let pending: Vec<(Option<String>, Option<String>)> = invites::table
        .filter(invites::organization_id.eq(organization_id))
        .filter(invites::state.eq(InviteState::Pending))
        .filter(invites::invited_by.is_not_null())
        .select((invites::invited_by, invites::role_id))
        .distinct()
        .load(conn)?;
    // Each inviter once, and whether one of their invites offers the role.
    let mut inviters: Vec<(String, bool)> = Vec::new();
    for (user_id, role_id) in pending {
        let Some(user_id) = user_id else { continue };
        let offers = matches!(&touched, Touched::RoleHolders(r) if role_id.as_deref() == Some(*r));
        match inviters.iter_mut().find(|(u, _)| *u == user_id) {
            Some(entry) => entry.1 |= offers,
            None => inviters.push((user_id, offers)),
        }
    }
    for (user_id, offers_the_role) in inviters {
        if user_id == caller.user_id {
            continue;
        }
        let Some(member) = access::membership(conn, organization_id, &user_id)? else {
            continue;
        };
        let hit = match &touched {
            Touched::Memberships(ids) => ids.contains(&member.membership.id),
            // Its holders may hold less; whoever offers it may now offer
            // more than they hold.
            Touched::RoleHolders(role_id) => {
                offers_the_role
                    || member.membership.role_id.as_deref() == Some(*role_id)
                    || teamwork::in_team_with_role(conn, &member.membership, role_id)?
            }
        };
        if hit {
            let lost = AuthorityLost::Demoted(member.role, member.permissions);
            revoke_invites_beyond_authority(conn, &member.membership, lost, caller)?;
        }
    }
    Ok(())
}

/// The membership `collaborator_id` names, re-read once its organization is
/// locked, and the caller past the gate for `action`. Anyone who is not a
/// member there gets 404. `action` may depend on the target (leaving is not
/// removing), so it is chosen from the row first read.
fn target_and_actor(
    conn: &mut DbConn,
    caller: &Caller,
    collaborator_id: &str,
    action: impl Fn(&MembershipRow) -> Need,
) -> DomainResult<(MembershipRow, Member)> {
    let not_found = || DomainError::not_found("collaborator not found");
    // A collaboratorid alone does not say its organization: the first read
    // looks in every organization's memberships (docs/scaling.md), the
    // re-read in the one found.
    let read = |conn: &mut DbConn, organization_id: Option<&str>| -> DomainResult<MembershipRow> {
        // Not past its end; suspended or not (SCIM, API.md §11): a suspended
        // member is still edited and removed by those who manage members.
        let now = now_ms();
        let mut query = memberships::table
            .filter(memberships::id.eq(collaborator_id))
            .filter(
                memberships::expires_at
                    .is_null()
                    .or(memberships::expires_at.gt(now)),
            )
            .into_boxed();
        if let Some(organization_id) = organization_id {
            query = query.filter(memberships::organization_id.eq(organization_id.to_string()));
        }
        query
            .select(MembershipRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(not_found)
    };
    let first = read(conn, None)?;
    let actor = access::object(
        conn,
        caller,
        &first.organization_id,
        action(&first),
        Hold::Exclusive,
        "collaborator",
    )?;
    // Re-read after the lock: a concurrent change may have committed.
    let target = read(conn, Some(&first.organization_id))?;
    Ok((target, actor))
}

/// What `customer/editcollaborator` may change.
pub struct CollaboratorChanges {
    /// A system role's name, or a custom role's name or roleid.
    pub role: Option<String>,
    pub can_create_projects: Option<bool>,
    /// Replaces the whole set when given.
    pub project_permissions: Option<Vec<GrantRequest>>,
    /// `expiresat`: absent (`None`), null to make the membership lasting
    /// (`Some(None)`), or a new end as given (RFC 3339).
    pub expires_at: Option<Option<String>>,
}

/// Gives `target` the role `new_role`, as `actor` asks, and revokes the
/// invites it sent that the new role may not grant.
fn change_role(
    conn: &mut DbConn,
    caller: &Caller,
    target: &MembershipRow,
    actor: &Member,
    new_role: &AssignedRole,
) -> DomainResult<()> {
    // The last owner hears why first: even their own demotion
    // would leave the organization without an owner.
    ensure_an_owner_remains(conn, Leaving::Member(target))?;
    if target.user_id == caller.user_id {
        return Err(DomainError::forbidden("nobody changes their own role"));
    }
    if !may_assign(actor.role, actor.permissions, new_role) {
        return Err(DomainError::forbidden(format!(
            "the role {} may not grant the role {}",
            actor.assigned.name(),
            new_role.name()
        )));
    }
    diesel::update(memberships::table.find((&target.organization_id, &target.id)))
        .set((
            memberships::role.eq(new_role.system()),
            memberships::role_id.eq(new_role.role_id()),
        ))
        .execute(conn)?;
    // What they hold now: the new role's set, widened by their teams'.
    let left = teamwork::widen(
        conn,
        target,
        new_role.permissions(target.can_create_projects),
    )?;
    let lost = AuthorityLost::Demoted(new_role.system(), left);
    revoke_invites_beyond_authority(conn, target, lost, caller)
}

/// Edits a collaborator's role, `cancreateprojects` and project grants.
pub fn edit(
    ctx: &Ctx,
    caller: &Caller,
    collaborator_id: &str,
    changes: CollaboratorChanges,
) -> DomainResult<Collaborator> {
    ctx.store.write(|conn| {
        let (target, actor) = target_and_actor(conn, caller, collaborator_id, |_| {
            Need::from(Permission::MembersManage)
        })?;
        let org = target.organization_id.clone();
        if !may_manage(actor.role, target.role) {
            return Err(DomainError::forbidden("only owners may edit owners"));
        }
        let before = roles::held(conn, &org, target.role, target.role_id.as_deref())?;
        let mut role_after = before.system();
        if let Some(name) = &changes.role {
            let new_role = roles::resolve(conn, &org, name, "role")?;
            if new_role != before {
                change_role(conn, caller, &target, &actor, &new_role)?;
            }
            role_after = new_role.system();
        }
        if changes.expires_at.is_some() && target.user_id == caller.user_id {
            return Err(DomainError::forbidden(
                "nobody changes when their own membership ends",
            ));
        }
        let (end, from) = match &changes.expires_at {
            None => (target.expires_at, EndFrom::Membership),
            Some(None) => (None, EndFrom::Request),
            Some(Some(value)) => (
                membership_end("expiresat", Some(value), now_ms())?,
                EndFrom::Request,
            ),
        };
        ensure_owners_last("expiresat", role_after, end, from)?;
        if end != target.expires_at {
            diesel::update(memberships::table.find((&org, &target.id)))
                .set(memberships::expires_at.eq(end))
                .execute(conn)?;
        }
        if let Some(flag) = changes.can_create_projects {
            diesel::update(memberships::table.find((&org, &target.id)))
                .set(memberships::can_create_projects.eq(flag))
                .execute(conn)?;
        }
        if let Some(grants) = &changes.project_permissions {
            check_grants(conn, &org, grants)?;
            replace_grants(conn, &target, grants)?;
        }
        let after = collaborator(conn, &org, &target.id)?;
        events::record(
            conn,
            &org,
            By::Caller(caller),
            &target.id,
            CollaboratorEdited {
                userid: &after.userid,
                role: &after.role,
                previousrole: before.name(),
                cancreateprojects: after.cancreateprojects,
                projectpermissions: &after.projectpermissions,
                expiresat: after.expiresat.as_deref(),
            },
        )?;
        Ok(after)
    })
}

/// Removes a collaborator, or, when it is the caller's own membership, leaves.
/// API keys the removed user had bound to the organization are deleted too.
pub fn remove(ctx: &Ctx, caller: &Caller, collaborator_id: &str) -> DomainResult<()> {
    ctx.store
        .write(|conn| remove_in(conn, caller, collaborator_id))
}

/// [`remove`] in the caller's transaction.
pub fn remove_in(conn: &mut DbConn, caller: &Caller, collaborator_id: &str) -> DomainResult<()> {
    {
        let (target, actor) = target_and_actor(conn, caller, collaborator_id, |target| {
            if target.user_id == caller.user_id {
                Need::Membership
            } else {
                Need::from(Permission::MembersManage)
            }
        })?;
        let org = target.organization_id.clone();
        let leaving = target.user_id == caller.user_id;
        if !leaving && !may_manage(actor.role, target.role) {
            return Err(DomainError::forbidden("only owners may remove owners"));
        }
        ensure_an_owner_remains(conn, Leaving::Member(&target))?;
        let removed = collaborator(conn, &org, &target.id)?;
        if !leaving {
            revoke_invites_beyond_authority(conn, &target, AuthorityLost::Removed, caller)?;
        }
        diesel::delete(memberships::table.find((&org, &target.id))).execute(conn)?;
        record_departure(conn, &org, &removed.userid, &removed.email, now_ms())?;
        diesel::delete(
            api_keys::table
                .filter(api_keys::user_id.eq(&target.user_id))
                .filter(api_keys::organization_id.eq(&org)),
        )
        .execute(conn)?;
        let (userid, email, role) = (&removed.userid, &removed.email, removed.role.as_str());
        if leaving {
            let left = CollaboratorLeft {
                userid,
                email,
                role: Some(role),
                accountclosed: false,
            };
            events::record(conn, &org, By::Caller(caller), &target.id, left)
        } else {
            let removal = CollaboratorRemoved {
                userid,
                email,
                role,
            };
            events::record(conn, &org, By::Caller(caller), &target.id, removal)
        }
    }
}
