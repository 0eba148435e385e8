//! What a member may do, as data (API.md §10): the permission catalogue, the
//! four system roles as fixed sets of it (which give exactly the matrix of
//! §3), and what an operation needs. The gate (`access`) answers from the
//! caller's set; the endpoint table names each operation's [`Need`], and the
//! reference and the matrix test are derived from it. A custom role will be
//! another set, not another branch.

use super::roles::Role;

/// One named permission of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// See the organization (`customer/details`, the projects granted).
    OrganizationRead,
    /// Change its settings.
    OrganizationManage,
    /// List collaborators and the organization's invites.
    MembersRead,
    /// Invite, and revoke or resend the invites one sent.
    MembersInvite,
    /// Edit and remove collaborators.
    MembersManage,
    /// Revoke or resend any invite.
    InvitesManage,
    ProjectsCreate,
    /// See every project.
    ProjectsRead,
    /// `full` on every project.
    ProjectsWrite,
    /// Rename and delete projects.
    ProjectsManage,
    TeamsManage,
    RolesManage,
    AuditRead,
    WebhooksManage,
    DomainsRead,
    DomainsManage,
    SsoManage,
}

impl Permission {
    /// The catalogue, in the order API.md §10 lists it.
    pub const ALL: [Permission; 17] = [
        Permission::OrganizationRead,
        Permission::OrganizationManage,
        Permission::MembersRead,
        Permission::MembersInvite,
        Permission::MembersManage,
        Permission::InvitesManage,
        Permission::ProjectsCreate,
        Permission::ProjectsRead,
        Permission::ProjectsWrite,
        Permission::ProjectsManage,
        Permission::TeamsManage,
        Permission::RolesManage,
        Permission::AuditRead,
        Permission::WebhooksManage,
        Permission::DomainsRead,
        Permission::DomainsManage,
        Permission::SsoManage,
    ];

    /// The name clients see (`members:invite`).
    pub fn name(self) -> &'static str {
        match self {
            Permission::OrganizationRead => "organization:read",
            Permission::OrganizationManage => "organization:manage",
            Permission::MembersRead => "members:read",
            Permission::MembersInvite => "members:invite",
            Permission::MembersManage => "members:manage",
            Permission::InvitesManage => "invites:manage",
            Permission::ProjectsCreate => "projects:create",
            Permission::ProjectsRead => "projects:read",
            Permission::ProjectsWrite => "projects:write",
            Permission::ProjectsManage => "projects:manage",
            Permission::TeamsManage => "teams:manage",
            Permission::RolesManage => "roles:manage",
            Permission::AuditRead => "audit:read",
            Permission::WebhooksManage => "webhooks:manage",
            Permission::DomainsRead => "domains:read",
            Permission::DomainsManage => "domains:manage",
            Permission::SsoManage => "sso:manage",
        }
    }

    /// The permission named `name` (`members:invite`), if any.
    pub fn parse(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.name() == name)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PermissionSet(u32);

impl PermissionSet {
    pub fn of(permissions: &[Permission]) -> PermissionSet {
        PermissionSet(permissions.iter().fold(0, |bits, p| bits | p.bit()))
    }

    pub fn all() -> PermissionSet {
        PermissionSet::of(&Permission::ALL)
    }

    pub fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    pub fn with(self, permission: Permission) -> PermissionSet {
        PermissionSet(self.0 | permission.bit())
    }

    pub fn without(self, permissions: &[Permission]) -> PermissionSet {
        PermissionSet(self.0 & !PermissionSet::of(permissions).0)
    }

    /// True when every permission of `self` is in `other`.
    pub fn is_subset_of(self, other: PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The permissions of `self` that `other` lacks.
    pub fn beyond(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 & !other.0)
    }

    /// The set a stored list names (names separated by spaces); a name the
    /// catalogue no longer has gives nothing.
    pub fn parse(stored: &str) -> PermissionSet {
        let known: Vec<Permission> = stored
            .split_whitespace()
            .filter_map(Permission::parse)
            .collect();
        PermissionSet::of(&known)
    }

    /// The names, in catalogue order, as `roles.permissions` stores them.
    pub fn stored(self) -> String {
        self.names().join(" ")
    }

    /// The names, in catalogue order.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Permission::name).collect()
    }

    /// The permissions in the set, in catalogue order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }
}

/// The fixed set of a system role (API.md §10). `cancreateprojects` adds
/// `projects:create` to the technical and collaborator roles.
pub fn system_role(role: Role, can_create_projects: bool) -> PermissionSet {
    use Permission::*;
    let set = match role {
        Role::Owner => PermissionSet::all(),
        Role::Admin => PermissionSet::all().without(&[
            OrganizationManage,
            DomainsManage,
            SsoManage,
            RolesManage,
        ]),
        Role::Technical => PermissionSet::of(&[OrganizationRead, MembersRead, MembersInvite]),
        Role::Collaborator => PermissionSet::of(&[OrganizationRead]),
    };
    if can_create_projects {
        set.with(ProjectsCreate)
    } else {
        set
    }
}

/// What an organization's operation asks of its caller's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Membership alone (leaving: every member may).
    Membership,
    /// One permission of the caller's set.
    Permission(Permission),
    /// The owner role itself: deleting the organization, and what §3
    /// reserves to owners about the owner role, is no permission to grant.
    OwnerRole,
}

impl From<Permission> for Need {
    fn from(permission: Permission) -> Need {
        Need::Permission(permission)
    }
}

impl Need {
    /// True when a member with `role` and `permissions` meets it.
    pub fn met_by(self, role: Role, permissions: PermissionSet) -> bool {
        match self {
            Need::Membership => true,
            Need::Permission(permission) => permissions.contains(permission),
            Need::OwnerRole => role == Role::Owner,
        }
    }

    /// The system roles that meet it (without `cancreateprojects`).
    pub fn system_roles(self) -> Vec<Role> {
        Role::ALL
            .iter()
            .copied()
            .filter(|role| self.met_by(*role, system_role(*role, false)))
            .collect()
    }

    /// How the reference states it.
    pub fn describe(self) -> String {
        let roles: Vec<&str> = self.system_roles().iter().map(|r| r.as_str()).collect();
        match self {
            Need::Membership => "Any member may.".into(),
            Need::Permission(Permission::ProjectsCreate) => format!(
                "Needs the permission `projects:create` (system roles: {}, and technical users \
                 and collaborators with `cancreateprojects`); other members get 403.",
                roles.join(", ")
            ),
            Need::Permission(permission) => format!(
                "Needs the permission `{}` (system roles: {}); other members get 403.",
                permission.name(),
                roles.join(", ")
            ),
            Need::OwnerRole => "Owners only; other members get 403.".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    fn names(set: PermissionSet) -> Vec<&'static str> {
        set.iter().map(Permission::name).collect()
    }

    /// API.md §10, role by role.
    #[test]
    fn the_system_roles_are_the_sets_api_md_gives() {
        assert_eq!(system_role(Role::Owner, false).iter().count(), 17);
        assert_eq!(
            names(system_role(Role::Admin, false)),
            [
                "organization:read",
                "members:read",
                "members:invite",
                "members:manage",
                "invites:manage",
                "projects:create",
                "projects:read",
                "projects:write",
                "projects:manage",
                "teams:manage",
                "audit:read",
                "webhooks:manage",
                "domains:read",
            ]
        );
        let admin = system_role(Role::Admin, false);
        for missing in [OrganizationManage, DomainsManage, SsoManage, RolesManage] {
            assert!(!admin.contains(missing), "{}", missing.name());
        }
        assert_eq!(admin.iter().count(), 13);
        assert_eq!(
            names(system_role(Role::Technical, false)),
            ["organization:read", "members:read", "members:invite"]
        );
        assert_eq!(
            names(system_role(Role::Technical, true)),
            [
                "organization:read",
                "members:read",
                "members:invite",
                "projects:create"
            ]
        );
        assert_eq!(
            names(system_role(Role::Collaborator, false)),
            ["organization:read"]
        );
        assert_eq!(
            names(system_role(Role::Collaborator, true)),
            ["organization:read", "projects:create"]
        );
    }

    #[test]
    fn needs_are_met_by_the_roles_holding_them() {
        assert_eq!(Need::OwnerRole.system_roles(), [Role::Owner]);
        assert_eq!(Need::Membership.system_roles(), Role::ALL.to_vec());
        assert_eq!(
            Need::from(MembersInvite).system_roles(),
            [Role::Owner, Role::Admin, Role::Technical]
        );
        assert_eq!(Need::from(DomainsManage).system_roles(), [Role::Owner]);
        assert!(Need::from(ProjectsCreate)
            .met_by(Role::Collaborator, system_role(Role::Collaborator, true)));
        assert!(!Need::from(ProjectsCreate)
            .met_by(Role::Collaborator, system_role(Role::Collaborator, false)));
    }
}
