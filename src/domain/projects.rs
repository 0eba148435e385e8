//! Projects and per-project permissions.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::access::{self, Hold, Member};
use super::accounts::load_user;
use super::audit;
use super::audit::AuditAction;
use super::paging::{named_position, PageRequest};
use super::permissions;
use super::roles::Permission;
use super::sessions::Caller;
use super::{new_id, now_ms, rfc3339, Ctx, DomainError, DomainResult};
use crate::store::rows::{ProjectPermissionRow, ProjectRow};
use crate::store::schema::{memberships, project_permissions, projects};
use crate::store::DbConn;

/// A project of an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub projectid: String,
    pub organizationid: String,
    pub name: String,
    #[schema(format = DateTime)]
    pub createdat: String,
}

impl From<ProjectRow> for Project {
    fn from(row: ProjectRow) -> Project {
        Project {
            projectid: row.id,
            organizationid: row.organization_id,
            name: row.name,
            createdat: rfc3339(row.created_at),
        }
    }
}

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

/// The grants of one member, by project name.
pub fn grants_of_member(conn: &mut DbConn, membership_id: &str) -> DomainResult<Vec<ProjectGrant>> {
    let rows: Vec<(String, String, String, Permission)> = project_permissions::table
        .inner_join(projects::table)
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
    let rows: Vec<(String, String, String, Permission)> = memberships::table
        .inner_join(project_permissions::table.inner_join(projects::table))
        .filter(memberships::organization_id.eq(organization_id))
        .filter(memberships::id.gt(after))
        .filter(memberships::id.le(last))
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
    membership_id: &str,
    grants: &[GrantRequest],
) -> DomainResult<()> {
    diesel::delete(
        project_permissions::table.filter(project_permissions::membership_id.eq(membership_id)),
    )
    .execute(conn)?;
    let rows: Vec<ProjectPermissionRow> = grants
        .iter()
        .map(|g| ProjectPermissionRow {
            membership_id: membership_id.to_string(),
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

fn may_create(member: &Member) -> bool {
    member.holds(permissions::Permission::ProjectsCreate)
}

/// Makes a project. Owners and admins always may; technical users and
/// collaborators with `cancreateprojects`, who then get `full` on it.
pub fn create(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    name: &str,
) -> DomainResult<Project> {
    ctx.store.write(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            permissions::Permission::OrganizationRead,
            Hold::Nothing,
        )?;
        let organization_id = member.organization_id();
        let row = ProjectRow {
            id: new_id(),
            organization_id: organization_id.to_string(),
            name: name.trim().to_string(),
            created_at: now_ms(),
        };
        if !may_create(&member) {
            return Err(DomainError::forbidden(format!(
                "the role {} may create projects only with cancreateprojects",
                member.role.as_str()
            )));
        }
        let user = load_user(conn, &caller.user_id)?;
        diesel::insert_into(projects::table)
            .values(&row)
            .execute(conn)?;
        if !member.holds(permissions::Permission::ProjectsRead) {
            diesel::insert_into(project_permissions::table)
                .values(&ProjectPermissionRow {
                    membership_id: member.membership.id.clone(),
                    project_id: row.id.clone(),
                    permission: Permission::Full,
                })
                .execute(conn)?;
        }
        audit::record(
            conn,
            organization_id,
            Some(&user),
            AuditAction::ProjectCreated,
            &row.id,
            json!({"name": row.name}),
        )?;
        Ok(Project::from(row))
    })
}

/// A page of the projects the caller may see: all for owners and admins, the
/// granted ones for everyone else. Ordered by name, then id; the cursor names
/// both, so a page starts where the last ended whatever was added meanwhile.
pub fn list(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    page: &PageRequest,
) -> DomainResult<(Vec<Project>, Option<String>)> {
    ctx.store.read(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            permissions::Permission::OrganizationRead,
            Hold::Nothing,
        )?;
        let organization_id = member.organization_id();
        let mut query = projects::table
            .filter(projects::organization_id.eq(organization_id))
            .into_boxed();
        if !member.holds(permissions::Permission::ProjectsRead) {
            let granted = project_permissions::table
                .filter(project_permissions::membership_id.eq(member.membership.id.clone()))
                .select(project_permissions::project_id);
            query = query.filter(projects::id.eq_any(granted));
        }
        if let Some((name, id)) = page.after_named() {
            // `name >= ?` is the range the index seeks to; the rest skips
            // the rows of that name up to the id.
            query = query
                .filter(projects::name.ge(name.clone()))
                .filter(projects::name.gt(name).or(projects::id.gt(id)));
        }
        let mut rows = query
            .order((projects::name.asc(), projects::id.asc()))
            .limit(page.fetch())
            .select(ProjectRow::as_select())
            .load(conn)?;
        let next = page.finish(&mut rows, |r| named_position(&r.name, &r.id));
        Ok((rows.into_iter().map(Project::from).collect(), next))
    })
}

fn load_project(
    conn: &mut DbConn,
    organization_id: &str,
    project_id: &str,
) -> DomainResult<ProjectRow> {
    projects::table
        .filter(projects::organization_id.eq(organization_id))
        .filter(projects::id.eq(project_id))
        .select(ProjectRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| DomainError::not_found("project not found"))
}

/// Renames a project (owners and admins).
pub fn rename(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    project_id: &str,
    name: &str,
) -> DomainResult<Project> {
    ctx.store.write(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            permissions::Permission::ProjectsManage,
            Hold::Nothing,
        )?;
        let organization_id = member.organization_id();
        let user = load_user(conn, &caller.user_id)?;
        let mut row = load_project(conn, organization_id, project_id)?;
        let old = std::mem::replace(&mut row.name, name.trim().to_string());
        diesel::update(projects::table.find(project_id))
            .set(projects::name.eq(&row.name))
            .execute(conn)?;
        audit::record(
            conn,
            organization_id,
            Some(&user),
            AuditAction::ProjectRenamed,
            project_id,
            json!({"from": old, "to": row.name}),
        )?;
        Ok(Project::from(row))
    })
}

/// Deletes a project and every grant on it (owners and admins).
pub fn delete(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    project_id: &str,
) -> DomainResult<()> {
    ctx.store.write(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            permissions::Permission::ProjectsManage,
            Hold::Nothing,
        )?;
        let organization_id = member.organization_id();
        let user = load_user(conn, &caller.user_id)?;
        let row = load_project(conn, organization_id, project_id)?;
        diesel::delete(projects::table.find(project_id)).execute(conn)?;
        audit::record(
            conn,
            organization_id,
            Some(&user),
            AuditAction::ProjectDeleted,
            project_id,
            json!({"name": row.name}),
        )?;
        Ok(())
    })
}

/// The projects `member` may see: `None` for all (owners and admins), else
/// the ones granted to them.
pub fn visible_projects(
    conn: &mut DbConn,
    member: &Member,
) -> DomainResult<Option<HashMap<String, Permission>>> {
    if member.holds(permissions::Permission::ProjectsRead) {
        return Ok(None);
    }
    let grants = grants_of_member(conn, &member.membership.id)?;
    Ok(Some(
        grants
            .into_iter()
            .map(|g| (g.projectid, g.permission))
            .collect(),
    ))
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

/// Nobody hands out more than they hold: below admin, each grant needs the
/// granter's own permission on that project at least as high, and
/// `cancreateprojects` needs their own flag (403 otherwise).
pub fn check_granter_holds(
    conn: &mut DbConn,
    granter: &Member,
    grants: &[GrantRequest],
    can_create_projects: bool,
) -> DomainResult<()> {
    let Some(held) = visible_projects(conn, granter)? else {
        return Ok(());
    };
    if can_create_projects && !granter.membership.can_create_projects {
        return Err(DomainError::forbidden(
            "cancreateprojects can be granted only by someone who has it",
        ));
    }
    for grant in grants {
        let enough = match held.get(&grant.project_id) {
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
