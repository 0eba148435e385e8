//! Projects: creating, listing, renaming and deleting them. The grants
//! members and invites hold on them are the kernel's (`kernel::grants`).

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::access::{self, Hold, Member};
use super::kernel::events::{self, By, ProjectCreated, ProjectDeleted, ProjectRenamed};
use super::paging::{named_position, PageRequest};
use super::permissions;
use super::roles::Permission;
use super::sessions::Caller;
use super::{new_id, now_ms, rfc3339, Ctx, DomainError, DomainResult};
use crate::store::rows::{ProjectPermissionRow, ProjectRow};
use crate::store::schema::{project_permissions, projects, team_members, team_project_permissions};
use crate::store::DbConn;

pub use super::kernel::grants::{merge_grants, GrantRequest, ProjectGrant};

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
        diesel::insert_into(projects::table)
            .values(&row)
            .execute(conn)?;
        if !member.holds(permissions::Permission::ProjectsRead) {
            diesel::insert_into(project_permissions::table)
                .values(&ProjectPermissionRow {
                    organization_id: organization_id.to_string(),
                    membership_id: member.membership.id.clone(),
                    project_id: row.id.clone(),
                    permission: Permission::Full,
                })
                .execute(conn)?;
        }
        events::record(
            conn,
            organization_id,
            By::Caller(caller),
            &row.id,
            ProjectCreated { name: &row.name },
        )?;
        Ok(Project::from(row))
    })
}

/// A page of the projects the caller may see: all for owners and admins, the
/// ones granted to them or their teams for everyone else. Ordered by name, then id; the cursor names
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
                .filter(project_permissions::organization_id.eq(organization_id.to_string()))
                .filter(project_permissions::membership_id.eq(member.membership.id.clone()))
                .select(project_permissions::project_id);
            // And those granted to the member's teams (API.md §10).
            let teams_of_member = team_members::table
                .filter(team_members::organization_id.eq(organization_id.to_string()))
                .filter(team_members::membership_id.eq(member.membership.id.clone()))
                .select(team_members::team_id);
            let granted_to_teams = team_project_permissions::table
                .filter(team_project_permissions::organization_id.eq(organization_id.to_string()))
                .filter(team_project_permissions::team_id.eq_any(teams_of_member))
                .select(team_project_permissions::project_id);
            query = query.filter(
                projects::id
                    .eq_any(granted)
                    .or(projects::id.eq_any(granted_to_teams)),
            );
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
        .find((organization_id, project_id))
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
        let mut row = load_project(conn, organization_id, project_id)?;
        let old = std::mem::replace(&mut row.name, name.trim().to_string());
        diesel::update(projects::table.find((organization_id, project_id)))
            .set(projects::name.eq(&row.name))
            .execute(conn)?;
        events::record(
            conn,
            organization_id,
            By::Caller(caller),
            project_id,
            ProjectRenamed {
                from: &old,
                to: &row.name,
            },
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
        let row = load_project(conn, organization_id, project_id)?;
        diesel::delete(projects::table.find((organization_id, project_id))).execute(conn)?;
        events::record(
            conn,
            organization_id,
            By::Caller(caller),
            project_id,
            ProjectDeleted { name: &row.name },
        )
    })
}
