//! Membership: the one function that makes a member ([`add`]: creating an
//! organization, accepting an invite, joining by a verified domain; SSO and
//! SCIM will too), a member as the API shows it ([`Collaborator`]), when a
//! membership may end ([`membership_end`]), and what a departure leaves
//! behind ([`record_departure`]) so that a verified domain never adds the
//! person back.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{DomainError, DomainResult};
use super::grants::{grants_of_member, insert_grants, ProjectGrant};
use crate::clock::{new_id, rfc3339, MS_PER_DAY};
use crate::domain::emails::domain_of;
use crate::domain::roles::{Permission, Role};
use crate::domain::teamwork::{teams_of_members, TeamRef};
use crate::store::kinds::DomainState;
use crate::store::rows::{DepartureRow, DomainRow, MembershipRow, ProjectPermissionRow, UserRow};
use crate::store::schema::{departures, domains, memberships, roles, users, verified_domains};
use crate::store::{execute, DbConn};

/// A membership about to be made.
pub struct NewMember<'a> {
    pub organization_id: &'a str,
    pub user_id: &'a str,
    pub role: Role,
    /// The custom role, when `role` is its `collaborator` (see
    /// [`crate::domain::roles::AssignedRole::system`]).
    pub role_id: Option<&'a str>,
    pub can_create_projects: bool,
    /// When it ends; `None` for a lasting one (see [`membership_end`]).
    pub expires_at: Option<i64>,
    /// Grants on projects, by project id.
    pub grants: Vec<(String, Permission)>,
}

/// Makes `new` a member, with its grants, as of `now`. `None`, and nothing
/// written, when the account has a membership row in the organization
/// already (one made by a concurrent call, or one past its end the sweep
/// has not removed): each caller says what that means for it.
pub fn add(conn: &mut DbConn, new: NewMember<'_>, now: i64) -> DomainResult<Option<MembershipRow>> {
    let membership = MembershipRow {
        id: new_id(),
        organization_id: new.organization_id.to_string(),
        user_id: new.user_id.to_string(),
        role: new.role,
        can_create_projects: new.can_create_projects,
        created_at: now,
        expires_at: new.expires_at,
        role_id: new.role_id.map(str::to_string),
        suspended_at: None,
    };
    let added = execute(
        conn,
        diesel::insert_into(memberships::table)
            .values(&membership)
            .on_conflict_do_nothing(),
    )?;
    if added == 0 {
        return Ok(None);
    }
    let grants: Vec<ProjectPermissionRow> = new
        .grants
        .into_iter()
        .map(|(project_id, permission)| ProjectPermissionRow {
            organization_id: membership.organization_id.clone(),
            membership_id: membership.id.clone(),
            project_id,
            permission,
        })
        .collect();
    insert_grants(conn, &grants)?;
    Ok(Some(membership))
}

/// A member of an organization. `collaboratorid` is the membership's id.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Collaborator {
    pub collaboratorid: String,
    pub organizationid: String,
    pub userid: String,
    pub email: String,
    pub name: String,
    /// The role's name: a system role's, or a custom role's.
    pub role: String,
    /// The custom role's id; absent for a system role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roleid: Option<String>,
    /// Whether a technical user or collaborator may create projects.
    pub cancreateprojects: bool,
    /// The member's own grants on projects, as `customer/editcollaborator`
    /// sets them; owners and admins have `full` everywhere anyway. Grants
    /// through teams are the teams' (`customer/listteams`): a member's
    /// permission on a project is the highest of their own and their teams'.
    pub projectpermissions: Vec<ProjectGrant>,
    /// The organization's teams the member is in, by name.
    pub teams: Vec<TeamRef>,
    #[schema(format = DateTime)]
    pub joinedat: String,
    /// When the membership ends (`membershipexpiresat` of its invite, or
    /// `customer/editcollaborator`); null for a lasting one.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expiresat: Option<String>,
}

/// A membership, its account, the name of its custom role (if it holds
/// one), its grants and its teams as the API shows them.
pub fn view(
    membership: MembershipRow,
    user: UserRow,
    custom_role: Option<String>,
    grants: Vec<ProjectGrant>,
    teams: Vec<TeamRef>,
) -> Collaborator {
    let (role, roleid) = match custom_role {
        Some(name) => (name, membership.role_id),
        None => (membership.role.as_str().to_string(), None),
    };
    Collaborator {
        role,
        roleid,
        collaboratorid: membership.id,
        organizationid: membership.organization_id,
        userid: user.id,
        email: user.email,
        name: user.name,
        cancreateprojects: membership.can_create_projects,
        projectpermissions: grants,
        teams,
        joinedat: rfc3339(membership.created_at),
        expiresat: membership.expires_at.map(rfc3339),
    }
}

/// One collaborator of `organization_id` as the API shows it.
pub fn collaborator(
    conn: &mut DbConn,
    organization_id: &str,
    membership_id: &str,
) -> DomainResult<Collaborator> {
    let (membership, user, custom): (MembershipRow, UserRow, Option<String>) = memberships::table
        .inner_join(users::table)
        .left_join(
            roles::table.on(roles::organization_id
                .eq(memberships::organization_id)
                .and(memberships::role_id.eq(roles::id.nullable()))),
        )
        .filter(memberships::organization_id.eq(organization_id))
        .filter(memberships::id.eq(membership_id))
        .select((
            MembershipRow::as_select(),
            UserRow::as_select(),
            roles::name.nullable(),
        ))
        .first(conn)?;
    let mine = grants_of_member(conn, organization_id, &membership.id)?;
    let teams = teams_of_members(conn, organization_id, std::slice::from_ref(&membership.id))?
        .remove(&membership.id)
        .unwrap_or_default();
    Ok(view(membership, user, custom, mine, teams))
}

/// The longest a membership may be time-limited ahead: 5 years.
const MAX_MEMBERSHIP_AHEAD_MS: i64 = 5 * 366 * MS_PER_DAY;

/// A membership's end as given (`membershipexpiresat`, `expiresat`): an RFC
/// 3339 time in the future, at most 5 years ahead (422 otherwise, on
/// `field`). `None` for a lasting membership. Whether the role may have an
/// end is [`crate::domain::ownership::ensure_owners_last`]'s to say.
pub fn membership_end(field: &str, value: Option<&str>, now: i64) -> DomainResult<Option<i64>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let at = chrono::DateTime::parse_from_rfc3339(value.trim())
        .map_err(|_| {
            DomainError::invalid(
                field,
                "must be an RFC 3339 time, such as 2027-01-31T17:00:00Z",
            )
        })?
        .timestamp_millis();
    if at <= now {
        return Err(DomainError::invalid(field, "must be in the future"));
    }
    if at > now + MAX_MEMBERSHIP_AHEAD_MS {
        return Err(DomainError::invalid(field, "must be at most 5 years ahead"));
    }
    Ok(Some(at))
}

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
    execute(
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
pub fn joinable_by_domain(conn: &mut DbConn, user: &UserRow) -> DomainResult<Option<DomainRow>> {
    if !user.email_verified {
        return Ok(None);
    }
    let Some(domain) = domain_of(&user.email) else {
        return Ok(None);
    };
    // The organization a domain is verified for, from the table of every
    // organization's; then its claim, in its own.
    let Some((organization_id, domain_id)) = verified_domains::table
        .find(domain)
        .select((
            verified_domains::organization_id,
            verified_domains::domain_id,
        ))
        .first::<(String, String)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let Some(row) = domains::table
        .find((&organization_id, &domain_id))
        .filter(domains::state.eq(DomainState::Verified))
        .select(DomainRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let gone = no_rejoin(conn, &row.organization_id, user)?;
    Ok((!gone).then_some(row))
}

/// True when an account that joins without an invite (a verified domain,
/// SSO) must not be added to `organization_id`: it has a membership row there
/// already (any: one past its end the sweep has not reached is a departure
/// about to be recorded), or it departed (removed, left, outlived a
/// membership), by account or by address.
pub fn no_rejoin(conn: &mut DbConn, organization_id: &str, user: &UserRow) -> DomainResult<bool> {
    let member: i64 = memberships::table
        .filter(memberships::organization_id.eq(organization_id))
        .filter(memberships::user_id.eq(&user.id))
        .count()
        .get_result(conn)?;
    if member > 0 {
        return Ok(true);
    }
    let departed: i64 = departures::table
        .filter(departures::organization_id.eq(organization_id))
        .filter(
            departures::user_id
                .eq(&user.id)
                .or(departures::email.eq(&user.email)),
        )
        .count()
        .get_result(conn)?;
    Ok(departed > 0)
}
