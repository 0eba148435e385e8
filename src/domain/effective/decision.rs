//! What a member's inputs decide (API.md §10), without reading anything:
//! the reasons, the questions, and [`Effective`], a member's own role's set,
//! own grants and what their teams add, which answers a question and lists
//! what is held. The statements that fill it are the parent module's.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::permissions::{Permission, PermissionSet};
use crate::store::kinds::Permission as Level;

/// Why a check answered as it did (API.md §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The member's own role gives it.
    Role,
    /// Only one of the member's teams gives it.
    Team,
    /// The member's own grant on the project gives it.
    Grant,
    /// The person is no member of the organization (or no account).
    NotMember,
    /// A member, to whom nothing gives it.
    NotGranted,
}

/// An answer: allowed or not, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
}

impl Decision {
    pub fn yes(reason: Reason) -> Decision {
        Decision {
            allowed: true,
            reason,
        }
    }

    pub fn no(reason: Reason) -> Decision {
        Decision {
            allowed: false,
            reason,
        }
    }
}

/// What is asked of a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Question {
    /// A permission of the catalogue.
    Organization(Permission),
    /// `project:read` or `project:full` on one project.
    Project { project_id: String, level: Level },
}

/// Whom a question is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Person {
    UserId(String),
    /// As stored: normalized (`normalize_email`).
    Email(String),
}

/// One question about one person in one organization.
#[derive(Debug, Clone)]
pub struct Asked {
    pub organization_id: String,
    pub person: Person,
    pub question: Question,
}

/// What a team adds to a member: its role's permissions and its grants.
#[derive(Debug, Clone, Default)]
pub struct TeamInputs {
    pub permissions: PermissionSet,
    /// Project id → the highest grant of any of the member's teams.
    pub grants: HashMap<String, Level>,
}

/// Everything a member holds in one organization, by where it comes from.
#[derive(Debug, Clone, Default)]
pub struct Effective {
    /// The member's own role's set.
    pub role: PermissionSet,
    /// The member's own grants, by project id (projects of the organization).
    pub grants: HashMap<String, Level>,
    /// What the member's teams add.
    pub teams: TeamInputs,
}

fn higher(a: Option<Level>, b: Option<Level>) -> Option<Level> {
    match (a, b) {
        (Some(Level::Full), _) | (_, Some(Level::Full)) => Some(Level::Full),
        (Some(Level::Read), _) | (_, Some(Level::Read)) => Some(Level::Read),
        _ => None,
    }
}

/// True when `held` is at least `wanted`.
fn covers(held: Option<Level>, wanted: Level) -> bool {
    matches!(
        (held, wanted),
        (Some(Level::Full), _) | (Some(Level::Read), Level::Read)
    )
}

/// The level a permission set gives on every project.
fn everywhere(set: PermissionSet) -> Option<Level> {
    if set.contains(Permission::ProjectsWrite) {
        Some(Level::Full)
    } else if set.contains(Permission::ProjectsRead) {
        Some(Level::Read)
    } else {
        None
    }
}

impl Effective {
    /// The answer to `question`. `in_organization` says whether the
    /// project a project question names is one of the organization's.
    pub fn decide(&self, question: &Question, in_organization: bool) -> Decision {
        match question {
            Question::Organization(permission) => {
                if self.role.contains(*permission) {
                    Decision::yes(Reason::Role)
                } else if self.teams.permissions.contains(*permission) {
                    Decision::yes(Reason::Team)
                } else {
                    Decision::no(Reason::NotGranted)
                }
            }
            Question::Project { .. } if !in_organization => Decision::no(Reason::NotGranted),
            Question::Project { project_id, level } => {
                if covers(everywhere(self.role), *level) {
                    Decision::yes(Reason::Role)
                } else if covers(self.grants.get(project_id).copied(), *level) {
                    Decision::yes(Reason::Grant)
                } else if covers(everywhere(self.teams.permissions), *level)
                    || covers(self.teams.grants.get(project_id).copied(), *level)
                {
                    Decision::yes(Reason::Team)
                } else {
                    Decision::no(Reason::NotGranted)
                }
            }
        }
    }

    /// True when the member's own or a team's grant names `project_id`
    /// (so the project is the organization's: grants go with their project).
    pub fn granted_on(&self, project_id: &str) -> bool {
        self.grants.contains_key(project_id) || self.teams.grants.contains_key(project_id)
    }

    /// The project whose existence decides the answer to `question`: one
    /// no grant names, which a permission on every project would allow (a
    /// project the organization does not have is granted to nobody). The
    /// one rule of the checks' statements and of what they keep.
    pub fn existence_decides<'q>(&self, question: &'q Question) -> Option<&'q str> {
        match question {
            Question::Project { project_id, .. }
                if !self.granted_on(project_id) && self.decide(question, true).allowed =>
            {
                Some(project_id)
            }
            _ => None,
        }
    }

    /// The organization permissions held, from the role and the teams.
    pub fn organization(&self) -> PermissionSet {
        let both: Vec<Permission> = self
            .role
            .iter()
            .chain(self.teams.permissions.iter())
            .collect();
        PermissionSet::of(&both)
    }

    /// Each project the member or a team holds a grant on, with the highest
    /// permission held there from any source (a `read` grant of a member
    /// whose role gives `full` everywhere is `full`), by project id.
    pub fn projects(&self) -> Vec<(String, Level)> {
        let wide = higher(everywhere(self.role), everywhere(self.teams.permissions));
        let ids: HashSet<&String> = self.grants.keys().chain(self.teams.grants.keys()).collect();
        let mut out: Vec<(String, Level)> = ids
            .into_iter()
            .filter_map(|id| {
                let own = self.grants.get(id).copied();
                let team = self.teams.grants.get(id).copied();
                higher(wide, higher(own, team)).map(|level| (id.clone(), level))
            })
            .collect();
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::permissions::system_role;
    use crate::domain::roles::Role;

    fn project(level: Level) -> Question {
        Question::Project {
            project_id: "p".into(),
            level,
        }
    }

    fn member(role: Role) -> Effective {
        Effective {
            role: system_role(role, false),
            ..Effective::default()
        }
    }

    #[test]
    fn the_role_comes_first_then_the_grant_then_the_teams() {
        let admin = member(Role::Admin);
        assert_eq!(
            admin.decide(&project(Level::Full), true),
            Decision::yes(Reason::Role)
        );
        let mut collaborator = member(Role::Collaborator);
        assert_eq!(
            collaborator.decide(&project(Level::Read), true),
            Decision::no(Reason::NotGranted)
        );
        collaborator.grants.insert("p".into(), Level::Read);
        assert_eq!(
            collaborator.decide(&project(Level::Read), true),
            Decision::yes(Reason::Grant)
        );
        assert_eq!(
            collaborator.decide(&project(Level::Full), true),
            Decision::no(Reason::NotGranted)
        );
        collaborator.teams.grants.insert("p".into(), Level::Full);
        assert_eq!(
            collaborator.decide(&project(Level::Full), true),
            Decision::yes(Reason::Team)
        );
        assert_eq!(
            collaborator.decide(&project(Level::Read), true),
            Decision::yes(Reason::Grant)
        );
        collaborator.teams.permissions = PermissionSet::of(&[Permission::AuditRead]);
        assert_eq!(
            collaborator.decide(&Question::Organization(Permission::AuditRead), true),
            Decision::yes(Reason::Team)
        );
        assert_eq!(
            collaborator.decide(&Question::Organization(Permission::OrganizationRead), true),
            Decision::yes(Reason::Role)
        );
    }

    #[test]
    fn a_project_the_organization_lacks_is_granted_to_nobody() {
        assert_eq!(
            member(Role::Owner).decide(&project(Level::Read), false),
            Decision::no(Reason::NotGranted)
        );
    }

    #[test]
    fn projects_show_the_highest_permission_from_any_source() {
        let mut technical = member(Role::Technical);
        technical.grants.insert("a".into(), Level::Read);
        technical.teams.grants.insert("a".into(), Level::Full);
        technical.teams.grants.insert("b".into(), Level::Read);
        assert_eq!(
            technical.projects(),
            [("a".into(), Level::Full), ("b".into(), Level::Read)]
        );
        let mut admin = member(Role::Admin);
        admin.grants.insert("a".into(), Level::Read);
        assert_eq!(admin.projects(), [("a".into(), Level::Full)]);
    }
}
