//! What can happen to an organization: one struct per audit action, whose
//! fields are the event's `details` exactly as the audit log and every
//! webhook delivery show them (field order is key order). [`Event`] is
//! any one of them; which struct it is names the action.

use serde::Serialize;

use crate::domain::kernel::grants::ProjectGrant;
use crate::store::kinds::AuditAction;

macro_rules! events {
    ($($action:ident),* $(,)?) => {
        /// Something that happened to an organization, with its details.
        #[derive(Debug, Serialize)]
        #[serde(untagged)]
        pub enum Event<'a> {
            $($action($action<'a>),)*
        }

        impl Event<'_> {
            /// The audit actions there are events for, one each.
            pub const ACTIONS: &'static [AuditAction] = &[$(AuditAction::$action,)*];

            /// The audit action this event is recorded as.
            pub fn action(&self) -> AuditAction {
                match self {
                    $(Event::$action(_) => AuditAction::$action,)*
                }
            }
        }

        $(
            impl<'a> From<$action<'a>> for Event<'a> {
                fn from(details: $action<'a>) -> Event<'a> {
                    Event::$action(details)
                }
            }
        )*
    };
}

events!(
    OrganizationCreated,
    OrganizationSettingsChanged,
    ProjectCreated,
    ProjectRenamed,
    ProjectDeleted,
    InviteCreated,
    InviteResent,
    InviteRevoked,
    InviteAccepted,
    InviteDeclined,
    CollaboratorJoined,
    CollaboratorEdited,
    CollaboratorRemoved,
    CollaboratorLeft,
    CollaboratorExpired,
    WebhookCreated,
    WebhookDeleted,
    DomainAdded,
    DomainVerified,
    DomainRemoved,
    RoleCreated,
    RoleEdited,
    RoleDeleted,
    TeamCreated,
    TeamEdited,
    TeamDeleted,
    TeamMemberAdded,
    TeamMemberRemoved,
    SsoConfigured,
    SsoRemoved,
    CollaboratorSuspended,
    CollaboratorReactivated,
);

pub use super::team_events::*;

/// `organization.created`; the target is the organization.
#[derive(Debug, Serialize)]
pub struct OrganizationCreated<'a> {
    pub name: &'a str,
}

/// `organization.settings_changed`: what the call gave, null where it gave
/// nothing; the target is the organization.
#[derive(Debug, Serialize)]
pub struct OrganizationSettingsChanged<'a> {
    pub name: Option<&'a str>,
    pub invitettldays: Option<u32>,
    /// Only when the call set or cleared it (null: cleared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<Option<&'a str>>,
}

/// `project.created`; the target is the project.
#[derive(Debug, Serialize)]
pub struct ProjectCreated<'a> {
    pub name: &'a str,
}

/// `project.renamed`; the target is the project.
#[derive(Debug, Serialize)]
pub struct ProjectRenamed<'a> {
    pub from: &'a str,
    pub to: &'a str,
}

/// `project.deleted`; the target is the project.
#[derive(Debug, Serialize)]
pub struct ProjectDeleted<'a> {
    pub name: &'a str,
}

/// `invite.created`; the target is the invite.
#[derive(Debug, Serialize)]
pub struct InviteCreated<'a> {
    pub email: &'a str,
    pub role: &'a str,
    pub cancreateprojects: bool,
}

/// `invite.resent`; the target is the invite.
#[derive(Debug, Serialize)]
pub struct InviteResent<'a> {
    pub email: &'a str,
}

/// `invite.revoked`; the target is the invite.
#[derive(Debug, Serialize)]
pub struct InviteRevoked<'a> {
    pub email: &'a str,
    /// Absent when someone revoked it; present when its inviter lost the
    /// authority it carried (API.md §4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Revocation>,
}

/// Why an invite was revoked by a change to its inviter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Revocation {
    InviterDemoted,
    InviterRemoved,
}

/// `invite.accepted`; the target is the invite.
#[derive(Debug, Serialize)]
pub struct InviteAccepted<'a> {
    pub email: &'a str,
    pub role: &'a str,
    pub collaboratorid: &'a str,
}

/// `invite.declined`; the target is the invite.
#[derive(Debug, Serialize)]
pub struct InviteDeclined<'a> {
    pub email: &'a str,
}

/// `collaborator.joined`: by a verified domain (with the domain), or by
/// the organization's SSO; the target is the membership.
#[derive(Debug, Serialize)]
pub struct CollaboratorJoined<'a> {
    pub userid: &'a str,
    pub email: &'a str,
    pub role: &'a str,
    pub via: Via,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domainid: Option<&'a str>,
}

/// How someone joined without an invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Domain,
    Sso,
    Scim,
}

/// `collaborator.suspended` (SCIM's `active: false`); the target is the
/// membership.
#[derive(Debug, Serialize)]
pub struct CollaboratorSuspended<'a> {
    pub userid: &'a str,
    pub email: &'a str,
    pub role: &'a str,
}

/// `collaborator.reactivated` (SCIM's `active: true` again); the target is
/// the membership.
#[derive(Debug, Serialize)]
pub struct CollaboratorReactivated<'a> {
    pub userid: &'a str,
    pub email: &'a str,
    pub role: &'a str,
}

/// `sso.configured`: the connection as set (never its secret); the target
/// is the organization.
#[derive(Debug, Serialize)]
pub struct SsoConfigured<'a> {
    pub issuer: &'a str,
    pub clientid: &'a str,
    pub role: &'a str,
    pub enforce: bool,
}

/// `sso.removed`; the target is the organization.
#[derive(Debug, Serialize)]
pub struct SsoRemoved<'a> {
    pub issuer: &'a str,
    pub clientid: &'a str,
}

/// `collaborator.edited`: the member as it is after the edit, and the role
/// before; the target is the membership.
#[derive(Debug, Serialize)]
pub struct CollaboratorEdited<'a> {
    pub userid: &'a str,
    pub role: &'a str,
    pub previousrole: &'a str,
    pub cancreateprojects: bool,
    pub projectpermissions: &'a [ProjectGrant],
    pub expiresat: Option<&'a str>,
}

/// `collaborator.removed`; the target is the membership.
#[derive(Debug, Serialize)]
pub struct CollaboratorRemoved<'a> {
    pub userid: &'a str,
    pub email: &'a str,
    pub role: &'a str,
}

/// `collaborator.left`: by leaving, with the role left; or by closing the
/// account, with `accountclosed` instead. The target is the membership.
#[derive(Debug, Serialize)]
pub struct CollaboratorLeft<'a> {
    pub userid: &'a str,
    pub email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub accountclosed: bool,
}

/// `collaborator.expired`; the target is the membership.
#[derive(Debug, Serialize)]
pub struct CollaboratorExpired<'a> {
    pub userid: &'a str,
    pub email: &'a str,
    pub role: &'a str,
    pub expiresat: Option<String>,
}

/// `webhook.created`; the target is the webhook.
#[derive(Debug, Serialize)]
pub struct WebhookCreated<'a> {
    pub url: &'a str,
    pub events: &'a [String],
}

/// `webhook.deleted`; the target is the webhook.
#[derive(Debug, Serialize)]
pub struct WebhookDeleted<'a> {
    pub url: &'a str,
}

/// `domain.added`; the target is the domain.
#[derive(Debug, Serialize)]
pub struct DomainAdded<'a> {
    pub domain: &'a str,
    pub role: &'a str,
    pub verificationemail: &'a str,
}

/// `domain.verified`; the target is the domain.
#[derive(Debug, Serialize)]
pub struct DomainVerified<'a> {
    pub domain: &'a str,
    pub verificationemail: &'a str,
}

/// `domain.removed`; the target is the domain.
#[derive(Debug, Serialize)]
pub struct DomainRemoved<'a> {
    pub domain: &'a str,
}

/// `role.created`: the custom role as made; the target is the role.
#[derive(Debug, Serialize)]
pub struct RoleCreated<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub permissions: &'a [&'a str],
}

/// `role.edited`: the role as it is after the edit, and its name and
/// permissions before; the target is the role.
#[derive(Debug, Serialize)]
pub struct RoleEdited<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub permissions: &'a [&'a str],
    pub previousname: &'a str,
    pub previouspermissions: &'a [&'a str],
}

/// `role.deleted`: the role as it was; the target is the role.
#[derive(Debug, Serialize)]
pub struct RoleDeleted<'a> {
    pub name: &'a str,
    pub permissions: &'a [&'a str],
}

#[cfg(test)]
mod tests {
    //! The details each event writes, against the JSON each call site wrote
    //! before events were typed (the `json!` literals here are those call
    //! sites'): the audit log and the webhook payloads show the same bytes.

    use std::collections::HashSet;

    use serde_json::{json, Value};

    use super::*;
    use crate::store::kinds::{Permission, Role};

    fn writes<'a>(event: impl Into<Event<'a>>, before: Value) {
        let event = event.into();
        let written = serde_json::to_string(&event).expect("details serialize");
        assert_eq!(written, before.to_string(), "{}", event.action().as_str());
    }

    #[test]
    fn every_audit_action_has_one_event() {
        let events: HashSet<&str> = Event::ACTIONS.iter().map(|a| a.as_str()).collect();
        let all: HashSet<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(events, all);
        assert_eq!(Event::ACTIONS.len(), AuditAction::ALL.len());
    }

    #[test]
    fn organization_and_project_events_write_what_they_wrote() {
        writes(
            OrganizationCreated { name: "Acme" },
            json!({"name": "Acme"}),
        );
        let renamed = OrganizationSettingsChanged {
            name: Some("Acme"),
            invitettldays: None,
            language: None,
        };
        writes(
            renamed,
            json!({"name": Some("Acme"), "invitettldays": None::<u32>}),
        );
        let ttl = OrganizationSettingsChanged {
            name: None,
            invitettldays: Some(7),
            language: None,
        };
        writes(
            ttl,
            json!({"name": None::<&str>, "invitettldays": Some(7u32)}),
        );
        writes(ProjectCreated { name: "Web" }, json!({"name": "Web"}));
        let renamed = ProjectRenamed {
            from: "Web",
            to: "Site",
        };
        writes(renamed, json!({"from": "Web", "to": "Site"}));
        writes(ProjectDeleted { name: "Web" }, json!({"name": "Web"}));
    }

    #[test]
    fn invite_events_write_what_they_wrote() {
        let email = "a@example.com";
        let created = InviteCreated {
            email,
            role: Role::Technical.as_str(),
            cancreateprojects: true,
        };
        writes(
            created,
            json!({"email": email, "role": Role::Technical, "cancreateprojects": true}),
        );
        writes(InviteResent { email }, json!({"email": email}));
        let revoked = |reason| InviteRevoked { email, reason };
        writes(revoked(None), json!({"email": email}));
        writes(
            revoked(Some(Revocation::InviterDemoted)),
            json!({"email": email, "reason": "inviter_demoted"}),
        );
        writes(
            revoked(Some(Revocation::InviterRemoved)),
            json!({"email": email, "reason": "inviter_removed"}),
        );
        let accepted = InviteAccepted {
            email,
            role: Role::Admin.as_str(),
            collaboratorid: "m1",
        };
        writes(
            accepted,
            json!({"email": email, "role": Role::Admin, "collaboratorid": "m1"}),
        );
        writes(InviteDeclined { email }, json!({"email": email}));
    }

    #[test]
    fn joining_and_editing_events_write_what_they_wrote() {
        let joined = CollaboratorJoined {
            userid: "u1",
            email: "a@acme.com",
            role: Role::Collaborator.as_str(),
            via: Via::Domain,
            domain: Some("acme.com"),
            domainid: Some("d1"),
        };
        writes(
            joined,
            json!({
                "userid": "u1",
                "email": "a@acme.com",
                "role": Role::Collaborator,
                "via": "domain",
                "domain": "acme.com",
                "domainid": "d1",
            }),
        );
        let by_sso = CollaboratorJoined {
            userid: "u1",
            email: "a@acme.com",
            role: "collaborator",
            via: Via::Sso,
            domain: None,
            domainid: None,
        };
        writes(
            by_sso,
            json!({"userid": "u1", "email": "a@acme.com", "role": "collaborator", "via": "sso"}),
        );
        let grants = vec![ProjectGrant {
            projectid: "p1".into(),
            projectname: "Web".into(),
            permission: Permission::Read,
        }];
        let ends = Some("2030-01-02T03:04:05Z".to_string());
        let edited = CollaboratorEdited {
            userid: "u1",
            role: Role::Admin.as_str(),
            previousrole: Role::Technical.as_str(),
            cancreateprojects: false,
            projectpermissions: &grants,
            expiresat: ends.as_deref(),
        };
        writes(
            edited,
            json!({
                "userid": "u1",
                "role": Role::Admin,
                "previousrole": Role::Technical,
                "cancreateprojects": false,
                "projectpermissions": grants,
                "expiresat": ends,
            }),
        );
    }

    #[test]
    fn departure_events_write_what_they_wrote() {
        let (userid, email) = ("u1", "a@example.com");
        let removed = CollaboratorRemoved {
            userid,
            email,
            role: Role::Owner.as_str(),
        };
        writes(
            removed,
            json!({"userid": userid, "email": email, "role": Role::Owner}),
        );
        let left = CollaboratorLeft {
            userid,
            email,
            role: Some(Role::Admin.as_str()),
            accountclosed: false,
        };
        writes(
            left,
            json!({"userid": userid, "email": email, "role": Role::Admin}),
        );
        let closed = CollaboratorLeft {
            userid,
            email,
            role: None,
            accountclosed: true,
        };
        writes(
            closed,
            json!({"userid": userid, "email": email, "accountclosed": true}),
        );
        let ends = Some("2030-01-02T03:04:05Z".to_string());
        let expired = CollaboratorExpired {
            userid,
            email,
            role: Role::Technical.as_str(),
            expiresat: ends.clone(),
        };
        writes(
            expired,
            json!({"userid": userid, "email": email, "role": Role::Technical, "expiresat": ends}),
        );
    }

    #[test]
    fn webhook_and_domain_events_write_what_they_wrote() {
        let url = "https://hooks.example.com/x";
        let events = vec!["invite.created".to_string()];
        let created = WebhookCreated {
            url,
            events: &events,
        };
        writes(created, json!({ "url": url, "events": events }));
        writes(WebhookDeleted { url }, json!({ "url": url }));
        let (domain, verificationemail) = ("acme.com", "it@acme.com");
        let added = DomainAdded {
            domain,
            role: Role::Admin.as_str(),
            verificationemail,
        };
        writes(
            added,
            json!({
                "domain": domain,
                "role": Role::Admin,
                "verificationemail": verificationemail,
            }),
        );
        let verified = DomainVerified {
            domain,
            verificationemail,
        };
        writes(
            verified,
            json!({"domain": domain, "verificationemail": verificationemail}),
        );
        writes(DomainRemoved { domain }, json!({"domain": domain}));
    }
}
