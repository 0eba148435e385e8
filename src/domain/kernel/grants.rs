//! Grants on projects, as memberships and invites carry them: reading them
//! for the API, checking and writing them, and the rule that nobody hands
//! out more than they hold.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{DomainError, DomainResult};
use crate::domain::access::Member;
use crate::domain::permissions;
use crate::domain::roles::Permission;
use crate::domain::teamwork;
use crate::store::rows::{MembershipRow, ProjectPermissionRow};
use crate::store::schema::{project_permissions, projects};
use crate::store::DbConn;

/// A permission on one project, as members and invites carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectGrant {
    pub projectid: String,
    pub projectname: String,
    pub permission: Permission,
}

/// A requested grant, before it is checked against the organization.
#[derive(Debug, Clone)]
pub struct GrantRequest {
    pub project_id: String,
    pub permission: Permission,
}

/// One grant per project: a project named more than once gets the strongest
/// permission it was named with, in the order first named.
pub fn merge_grants(requests: Vec<GrantRequest>) -> Vec<GrantRequest> {
    let mut merged: Vec<GrantRequest> = Vec::with_capacity(requests.len());
    for request in requests {
        match merged
            .iter_mut()
            .find(|g| g.project_id == request.project_id)
        {
            Some(existing) if request.permission == Permission::Full => {
                existing.permission = Permission::Full
            }
            Some(_) => {}
            None => merged.push(request),
        }
    }
    merged
}

/// Checks that each requested project belongs to the organization: a project
/// it does not have answers 404, like any id the caller cannot see.
pub fn check_grants(
    conn: &mut DbConn,
    organization_id: &str,
    grants: &[GrantRequest],
) -> DomainResult<()> {
    if grants.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = grants.iter().map(|g| g.project_id.as_str()).collect();
    let known: HashSet<String> = projects::table
        .filter(projects::organization_id.eq(organization_id))
        .filter(projects::id.eq_any(&ids))
        .select(projects::id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    if let Some(unknown) = ids.iter().find(|id| !known.contains(**id)) {
        return Err(DomainError::not_found(format!(
            "project {unknown} not found in this organization"
        )));
    }
    Ok(())
}

/// The project a grant names, in the grant's organization.
#[allow(clippy::type_complexity)] // Diesel's join type, named once here.
fn granted_project() -> diesel::dsl::On<
    projects::table,
    diesel::dsl::And<
        diesel::dsl::Eq<projects::organization_id, project_permissions::organization_id>,
        diesel::dsl::Eq<projects::id, project_permissions::project_id>,
    >,
> {
    projects::table.on(projects::organization_id
        .eq(project_permissions::organization_id)
        .and(projects::id.eq(project_permissions::project_id)))
}

/// The grants of one member of `organization_id`, by project name.
pub fn grants_of_member(
    conn: &mut DbConn,
    organization_id: &str,
    membership_id: &str,
) -> DomainResult<Vec<ProjectGrant>> {
    let rows: Vec<(String, String, String, Permission)> = project_permissions::table
        .inner_join(granted_project())
        .filter(project_permissions::organization_id.eq(organization_id))
        .filter(project_permissions::membership_id.eq(membership_id))
        .select((
            project_permissions::membership_id,
            projects::id,
            projects::name,
            project_permissions::permission,
        ))
        .load(conn)?;
    Ok(group_grants(rows).remove(membership_id).unwrap_or_default())
}

/// The grants of the members on one page of an organization's collaborators,
/// those with ids in `(after, last]`: membership id → grants, by project
/// name. The statement has one shape whatever the page, so each connection
/// prepares it once (a list of ids would be parsed again on every call).
pub fn grants_of_page(
    conn: &mut DbConn,
    organization_id: &str,
    after: &str,
    last: &str,
) -> DomainResult<HashMap<String, Vec<ProjectGrant>>> {
    let rows: Vec<(String, String, String, Permission)> = project_permissions::table
        .inner_join(granted_project())
        .filter(project_permissions::organization_id.eq(organization_id))
        .filter(project_permissions::membership_id.gt(after))
        .filter(project_permissions::membership_id.le(last))
        .select((
            project_permissions::membership_id,
            projects::id,
            projects::name,
            project_permissions::permission,
        ))
        .load(conn)?;
    Ok(group_grants(rows))
}

/// Grant rows `(owner id, project id, project name, permission)`, grouped
/// by owner (a membership or an invite), each owner's by project name, then
/// id. (Sorting the few grants of each owner here lets the query follow its
/// index instead of sorting every row it joined.)
pub fn group_grants(
    rows: Vec<(String, String, String, Permission)>,
) -> HashMap<String, Vec<ProjectGrant>> {
    let mut out: HashMap<String, Vec<ProjectGrant>> = HashMap::new();
    for (owner, projectid, projectname, permission) in rows {
        out.entry(owner).or_default().push(ProjectGrant {
            projectid,
            projectname,
            permission,
        });
    }
    for grants in out.values_mut() {
        grants.sort_unstable_by(|a, b| {
            (&a.projectname, &a.projectid).cmp(&(&b.projectname, &b.projectid))
        });
    }
    out
}

/// Replaces a member's grants with `grants`.
pub fn replace_grants(
    conn: &mut DbConn,
    member: &MembershipRow,
    grants: &[GrantRequest],
) -> DomainResult<()> {
    diesel::delete(
        project_permissions::table
            .filter(project_permissions::organization_id.eq(&member.organization_id))
            .filter(project_permissions::membership_id.eq(&member.id)),
    )
    .execute(conn)?;
    let rows: Vec<ProjectPermissionRow> = grants
        .iter()
        .map(|g| ProjectPermissionRow {
            organization_id: member.organization_id.clone(),
            membership_id: member.id.clone(),
            project_id: g.project_id.clone(),
            permission: g.permission,
        })
        .collect();
    insert_grants(conn, &rows)
}

/// Inserts grants one statement per row: batch inserts are not portable over
/// Diesel's multi-backend connection, and grant lists are short.
pub fn insert_grants(conn: &mut DbConn, rows: &[ProjectPermissionRow]) -> DomainResult<()> {
    for row in rows {
        diesel::insert_into(project_permissions::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// The projects `member` may see: `None` for all (owners and admins, or a
/// team's role that reads every project), else the ones granted to them or
/// to their teams, each with the highest of those grants (API.md §10).
pub fn visible_projects(
    conn: &mut DbConn,
    member: &Member,
) -> DomainResult<Option<HashMap<String, Permission>>> {
    if member.holds(permissions::Permission::ProjectsRead) {
        return Ok(None);
    }
    held_grants(conn, member).map(Some)
}

/// The grants `member` holds on projects, their own and their teams', the
/// highest of them on each project: the one place both are combined.
fn held_grants(conn: &mut DbConn, member: &Member) -> DomainResult<HashMap<String, Permission>> {
    let (organization_id, membership_id) = (member.organization_id(), &member.membership.id);
    let mut held = teamwork::team_grants_of_member(conn, organization_id, membership_id)?;
    for grant in grants_of_member(conn, organization_id, membership_id)? {
        teamwork::raise(&mut held, grant.projectid, grant.permission);
    }
    Ok(held)
}

/// Keeps only the grants on projects the viewer may see.
pub fn hide_invisible(
    grants: &mut Vec<ProjectGrant>,
    visible: &Option<HashMap<String, Permission>>,
) {
    if let Some(visible) = visible {
        grants.retain(|g| visible.contains_key(&g.projectid));
    }
}

/// Nobody hands out more than they hold: without `projects:write` (below
/// admin), each grant needs the granter's own permission on that project
/// (their own grant or a team's) at least as high (`projects:read` counting
/// as `read` everywhere), and `cancreateprojects` needs their own
/// `projects:create` (403 otherwise).
pub fn check_granter_holds(
    conn: &mut DbConn,
    granter: &Member,
    grants: &[GrantRequest],
    can_create_projects: bool,
) -> DomainResult<()> {
    if granter.holds(permissions::Permission::ProjectsWrite) {
        return Ok(());
    }
    if can_create_projects && !granter.holds(permissions::Permission::ProjectsCreate) {
        return Err(DomainError::forbidden(
            "cancreateprojects can be granted only by someone who has it",
        ));
    }
    // `projects:read` without `projects:write` (a custom role) reads every
    // project: it grants `read` anywhere, `full` only where granted it.
    let reads_all = granter.holds(permissions::Permission::ProjectsRead);
    let held = held_grants(conn, granter)?;
    for grant in grants {
        let enough = match held.get(&grant.project_id) {
            _ if reads_all && grant.permission == Permission::Read => true,
            Some(Permission::Full) => true,
            Some(Permission::Read) => grant.permission == Permission::Read,
            None => false,
        };
        if !enough {
            return Err(DomainError::forbidden(format!(
                "you may grant on project {} only the permission you hold",
                grant.project_id
            )));
        }
    }
    Ok(())
}
