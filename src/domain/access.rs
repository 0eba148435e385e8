//! The one gate every organization-scoped call passes: the caller's API-key
//! scope, then membership (404 for anyone who is not a member, so an
//! organization's existence is never revealed), then what the call needs,
//! answered from the member's permission set (403).

use diesel::prelude::*;

use super::emails::domain_of;
use super::ownership;
use super::permissions::{Need, Permission, PermissionSet};
use super::roles::{may_assign, resolve, AssignedRole, Role};
use super::rosters;
use super::sessions::{Caller, SessionClaim};
use super::teamwork;
use super::{now_ms, DomainError, DomainResult};
use crate::store::rows::{MembershipRow, RoleRow, SessionRow};
use crate::store::schema::{
    memberships, roles, roster_versions, sessions, sso_connections, users, verified_domains,
};
use crate::store::{DbConn, Lookups};

pub use crate::store::lookups::{live, Live};

/// A caller's membership in an organization, past the gate.
pub struct Member {
    pub membership: MembershipRow,
    /// The `role` column: the system role, or `collaborator` for a custom
    /// role's holder. Rules about the owner role read this.
    pub role: Role,
    /// What the role (with `cancreateprojects`) and the member's teams'
    /// roles let the member do, read with the membership on this request:
    /// a changed custom role or team counts from the next request, in every
    /// process.
    pub permissions: PermissionSet,
    /// The role held, system or custom, as answers name it.
    pub assigned: AssignedRole,
    /// Since when the organization enforces its SSO (API.md §9), if it
    /// does, read with the membership; [`sso_admits`] judges what that means
    /// for a caller.
    pub sso_enforced_since: Option<i64>,
}

impl Member {
    pub fn organization_id(&self) -> &str {
        &self.membership.organization_id
    }

    pub fn holds(&self, permission: Permission) -> bool {
        self.permissions.contains(permission)
    }
}

impl Member {
    /// The role named `name` that this member gives to people who will
    /// join without an invite (by a verified domain, by SSO): never owner
    /// (422 on `role`), and none holding a permission this member lacks
    /// (403).
    pub fn joining_role(&self, conn: &mut DbConn, name: &str) -> DomainResult<AssignedRole> {
        let role = resolve(conn, self.organization_id(), name, "role")?;
        if let AssignedRole::System(system) = role {
            ownership::domain_may_give(system).map_err(|why| DomainError::invalid("role", why))?;
        }
        if !may_assign(self.role, self.permissions, &role) {
            return Err(DomainError::forbidden(format!(
                "the role {} may not give the role {}",
                self.assigned.name(),
                role.name()
            )));
        }
        Ok(role)
    }

    /// A membership and, when it holds a custom role, that role's row.
    pub fn new(membership: MembershipRow, custom: Option<RoleRow>) -> Member {
        let assigned = AssignedRole::held(membership.role, custom.as_ref());
        Member {
            role: membership.role,
            permissions: assigned.permissions(membership.can_create_projects),
            assigned,
            membership,
            sso_enforced_since: None,
        }
    }
}

/// Memberships joined with the custom role they hold, if any.
macro_rules! with_custom_role {
    ($from:expr) => {
        $from.left_join(
            roles::table.on(roles::organization_id
                .eq(memberships::organization_id)
                .and(memberships::role_id.eq(roles::id.nullable()))),
        )
    };
}

/// A membership as the gate judges it: what its own role allows, widened
/// by its teams' roles (API.md §10), read afresh on every request.
fn with_teams(conn: &mut DbConn, mut member: Member) -> DomainResult<Member> {
    member.permissions = teamwork::widen(conn, &member.membership, member.permissions)?;
    Ok(member)
}

/// How a write holds the organization's row while it decides (PostgreSQL;
/// SQLite's write lock already serializes writers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// Reads.
    Nothing,
    /// Writes that depend on roles (invites): side by side, waiting only for
    /// role changes.
    Shared,
    /// Writes that change roles or count owners.
    Exclusive,
}

/// The organization a call names, or the one the caller's API key is bound
/// to. A bound key naming another organization gets 403; naming none without
/// a bound key is a missing parameter (422).
fn scope(bound: Option<&str>, requested: Option<&str>) -> DomainResult<String> {
    match (bound, requested) {
        (Some(bound), Some(requested)) if bound != requested => Err(DomainError::forbidden(
            "this API key is bound to another organization",
        )),
        (Some(bound), _) => Ok(bound.to_string()),
        (None, Some(requested)) => Ok(requested.to_string()),
        (None, None) => Err(DomainError::invalid("organizationid", "required")),
    }
}

fn hold(conn: &mut DbConn, organization_id: &str, how: Hold) -> DomainResult<()> {
    match how {
        Hold::Nothing => Ok(()),
        Hold::Shared => Ok(conn.share_organization(organization_id)?),
        Hold::Exclusive => Ok(conn.lock_organization(organization_id)?),
    }
}

/// The membership of `user_id` in `organization_id`, if any is in force,
/// with whether the organization enforces its SSO.
pub fn membership(
    conn: &mut DbConn,
    organization_id: &str,
    user_id: &str,
) -> DomainResult<Option<Member>> {
    let found: Option<(MembershipRow, Option<RoleRow>, Option<i64>)> =
        with_custom_role!(memberships::table)
            .left_join(
                sso_connections::table.on(sso_connections::organization_id
                    .eq(memberships::organization_id)
                    .and(sso_connections::enforced_at.is_not_null())),
            )
            .filter(memberships::organization_id.eq(organization_id))
            .filter(memberships::user_id.eq(user_id))
            .filter(live(now_ms()))
            .select((
                MembershipRow::as_select(),
                Option::<RoleRow>::as_select(),
                sso_connections::enforced_at.nullable(),
            ))
            .first(conn)
            .optional()?;
    match found {
        Some((membership, custom, enforced)) => {
            let mut member = Member::new(membership, custom);
            member.sso_enforced_since = enforced;
            with_teams(conn, member).map(Some)
        }
        None => Ok(None),
    }
}

/// Whether `caller` may act as `member` in an organization that may enforce
/// its SSO (API.md §9): always, unless it enforces it, the member is no
/// owner, the member's verified address is at one of the organization's
/// verified domains, and the caller holds neither a session its SSO made
/// nor an API key that keeps working (one bound to the organization, one
/// made before enforcement began, or one a session of its SSO made): then
/// 403 `sso_required`. A provider token is a session collabd did not make
/// through that SSO, so it is refused as a password session is.
pub fn sso_admits(conn: &mut DbConn, caller: &Caller, member: &Member) -> DomainResult<()> {
    let Some(since) = member.sso_enforced_since else {
        return Ok(());
    };
    let organization_id = member.organization_id();
    let key_works = caller.api_key.as_ref().is_some_and(|key| {
        key.organization_id.as_deref() == Some(organization_id) || key.created_at < since
    });
    if member.role == Role::Owner || key_works || caller.sso_organization() == Some(organization_id)
    {
        return Ok(());
    }
    let (email, verified): (String, bool) = users::table
        .find(&member.membership.user_id)
        .select((users::email, users::email_verified))
        .first(conn)?;
    let Some(domain) = domain_of(&email).filter(|_| verified) else {
        return Ok(());
    };
    let at_verified_domain: i64 = verified_domains::table
        .filter(verified_domains::domain.eq(domain))
        .filter(verified_domains::organization_id.eq(organization_id))
        .count()
        .get_result(conn)?;
    if at_verified_domain == 0 {
        return Ok(());
    }
    Err(DomainError::SsoRequired(format!(
        "this organization requires signing in through its SSO: open /sso/{organization_id} \
         in a browser for a session it accepts"
    )))
}

fn permit(member: Member, need: Need) -> DomainResult<Member> {
    if need.met_by(member.role, member.permissions) {
        Ok(member)
    } else {
        Err(DomainError::forbidden(format!(
            "the role {} may not do this",
            member.assigned.name()
        )))
    }
}

/// The gate for a call that names an organization (`organizationid`, or the
/// caller's bound key): key scope (403), membership (404), matrix (403).
pub fn organization(
    conn: &mut DbConn,
    caller: &Caller,
    requested: Option<&str>,
    need: impl Into<Need>,
    how: Hold,
) -> DomainResult<Member> {
    let requested = requested.or(caller.named_organization.as_deref());
    let organization_id = scope(caller.bound_organization(), requested)?;
    hold(conn, &organization_id, how)?;
    let member = membership(conn, &organization_id, &caller.user_id)?
        .ok_or_else(|| DomainError::not_found("organization not found"))?;
    sso_admits(conn, caller, &member)?;
    permit(member, need.into())
}

/// The gate for a call that names an object of an organization (a
/// collaborator, an invite): membership first, so a non-member gets the
/// object's own 404 (`what` not found) and learns nothing from a 403; then
/// key scope and matrix.
pub fn object(
    conn: &mut DbConn,
    caller: &Caller,
    organization_id: &str,
    need: impl Into<Need>,
    how: Hold,
    what: &str,
) -> DomainResult<Member> {
    hold(conn, organization_id, how)?;
    let member = membership(conn, organization_id, &caller.user_id)?
        .ok_or_else(|| DomainError::not_found(format!("{what} not found")))?;
    scope(caller.bound_organization(), Some(organization_id))?;
    sso_admits(conn, caller, &member)?;
    permit(member, need.into())
}

/// The key-scope rule alone, for calls about an organization that do not need
/// membership (accepting an invite to it): a key bound elsewhere gets 403.
pub fn within_scope(caller: &Caller, organization_id: &str) -> DomainResult<()> {
    scope(caller.bound_organization(), Some(organization_id)).map(|_| ())
}

/// What a hot read knows of its caller: a caller the HTTP layer already
/// looked up (an API key), or a session claim still to be looked up.
pub enum Credential {
    Caller(Caller),
    Claim(SessionClaim),
}

/// The gate of [`organization`] for a read that also wants the
/// organization's roster version. A session claim is looked up in the same
/// statement as its membership and the version: one round trip where there
/// were three. Returns the caller, the member, and the version, read before
/// anything the caller goes on to read.
pub fn organization_for_read(
    conn: &mut DbConn,
    credential: &Credential,
    requested: Option<&str>,
    need: impl Into<Need>,
) -> DomainResult<(Caller, Member, i64)> {
    let need = need.into();
    let claim = match credential {
        Credential::Caller(caller) => {
            let member = organization(conn, caller, requested, need, Hold::Nothing)?;
            let version = rosters::version(conn, member.organization_id())?;
            return Ok((caller.clone(), member, version));
        }
        Credential::Claim(claim) => claim,
    };
    // A session is bound to no organization.
    let organization_id = scope(None, requested)?;
    let now = now_ms();
    // Built once per backend: `as_select` takes its backend from the
    // connection the statement runs on.
    macro_rules! query {
        () => {
            sessions::table
                .left_join(
                    memberships::table.on(memberships::user_id
                        .eq(sessions::user_id)
                        .and(memberships::organization_id.eq(organization_id.clone()))
                        .and(live(now))),
                )
                .left_join(
                    roles::table.on(roles::organization_id
                        .eq(memberships::organization_id)
                        .and(memberships::role_id.eq(roles::id.nullable()))),
                )
                .left_join(
                    roster_versions::table
                        .on(roster_versions::organization_id.eq(organization_id.clone())),
                )
                .left_join(
                    sso_connections::table.on(sso_connections::organization_id
                        .eq(organization_id.clone())
                        .and(sso_connections::enforced_at.is_not_null())),
                )
                .filter(sessions::id.eq(claim.session_id.clone()))
                .select((
                    SessionRow::as_select(),
                    Option::<MembershipRow>::as_select(),
                    Option::<RoleRow>::as_select(),
                    roster_versions::version.nullable(),
                    sso_connections::enforced_at.nullable(),
                ))
        };
    }
    type Found = (
        SessionRow,
        Option<MembershipRow>,
        Option<RoleRow>,
        Option<i64>,
        Option<i64>,
    );
    // Straight on the backend's own connection: through the multi-backend
    // wrapper, Diesel writes a statement's SQL out again on every call
    // (about a tenth of a list request's CPU) before finding it prepared.
    let found: Option<Found> = match conn {
        DbConn::Pg(c) => query!().first::<Found>(c).optional(),
        DbConn::Sqlite(c) => query!().first::<Found>(c).optional(),
    }?;
    let (session, membership, custom, version, enforced) = match found {
        Some((session, membership, custom, version, enforced)) => {
            (Some(session), membership, custom, version, enforced)
        }
        None => (None, None, None, None, None),
    };
    let caller = claim.confirm(session.as_ref(), now)?;
    let found = membership.map(|membership| (Member::new(membership, custom), enforced));
    let member = judged(conn, &caller, found, need)?;
    Ok((caller, member, version.unwrap_or(0)))
}

/// The membership a hot read found (with whether its organization enforces
/// SSO), judged as [`organization`] judges one: 404 without it, then SSO
/// enforcement, the teams' widening, the need.
fn judged(
    conn: &mut DbConn,
    caller: &Caller,
    found: Option<(Member, Option<i64>)>,
    need: Need,
) -> DomainResult<Member> {
    let (mut member, enforced) =
        found.ok_or_else(|| DomainError::not_found("organization not found"))?;
    member.sso_enforced_since = enforced;
    sso_admits(conn, caller, &member)?;
    let member = with_teams(conn, member)?;
    permit(member, need)
}
