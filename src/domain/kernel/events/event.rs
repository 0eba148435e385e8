//! What can happen to an organization: one struct per audit action, whose
//! fields are the event's `details` exactly as the audit log and every
//! webhook delivery show them (field order is key order). [`Event`] is
//! any one of them; which struct it is names the action.

use serde::Serialize;

use crate::domain::kernel::grants::ProjectGrant;
use crate::store::kinds::{AuditAction, Role};

macro_rules! events {
    ($($action:ident),* $(,)?) => {
        /// Something that happened to an organization, with its details.
        #[derive(Debug, Serialize)]
        #[serde(untagged)]
        pub enum Event<'a> {
            $($action($action<'a>),)*
        }

        impl Event<'_> {
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
);

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
    pub role: Role,
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
    pub role: Role,
    pub collaboratorid: &'a str,
}

/// `invite.declined`; the target is the invite.
#[derive(Debug, Serialize)]
pub struct InviteDeclined<'a> {
    pub email: &'a str,
}

/// `collaborator.joined`, by a verified domain; the target is the
/// membership.
#[derive(Debug, Serialize)]
pub struct CollaboratorJoined<'a> {
    pub userid: &'a str,
    pub email: &'a str,
    pub role: Role,
    pub domain: &'a str,
    pub domainid: &'a str,
}

/// `collaborator.edited`: the member as it is after the edit, and the role
/// before; the target is the membership.
#[derive(Debug, Serialize)]
pub struct CollaboratorEdited<'a> {
    pub userid: &'a str,
    pub role: Role,
    pub previousrole: Role,
    pub cancreateprojects: bool,
    pub projectpermissions: &'a [ProjectGrant],
    pub expiresat: Option<&'a str>,
}

/// `collaborator.removed`; the target is the membership.
#[derive(Debug, Serialize)]
pub struct CollaboratorRemoved<'a> {
    pub userid: &'a str,
    pub email: &'a str,
    pub role: Role,
}

/// `collaborator.left`: by leaving, with the role left; or by closing the
/// account, with `accountclosed` instead. The target is the membership.
#[derive(Debug, Serialize)]
pub struct CollaboratorLeft<'a> {
    pub userid: &'a str,
    pub email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub accountclosed: bool,
}

/// `collaborator.expired`; the target is the membership.
#[derive(Debug, Serialize)]
pub struct CollaboratorExpired<'a> {
    pub userid: &'a str,
    pub email: &'a str,
    pub role: Role,
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
    pub role: Role,
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;
    use crate::store::kinds::Permission;

    /// The details each event writes, against the JSON each call site wrote
    /// before events were typed (the `json!` literals below are those call
    /// sites'): the audit log and the webhook payloads show the same bytes.
    #[test]
    fn each_event_writes_the_details_it_always_wrote() {
        let grants = vec![ProjectGrant {
            projectid: "p1".into(),
            projectname: "Web".into(),
            permission: Permission::Read,
        }];
        let webhook_events = vec!["invite.created".to_string()];
        let expired = Some("2030-01-02T03:04:05Z".to_string());
        let cases: Vec<(Event, serde_json::Value)> = vec![
            (
                OrganizationCreated { name: "Acme" }.into(),
                json!({"name": "Acme"}),
            ),
            (
                OrganizationSettingsChanged {
                    name: Some("Acme"),
                    invitettldays: None,
                }
                .into(),
                json!({"name": Some("Acme"), "invitettldays": None::<u32>}),
            ),
            (
                OrganizationSettingsChanged {
                    name: None,
                    invitettldays: Some(7),
                }
                .into(),
                json!({"name": None::<&str>, "invitettldays": Some(7u32)}),
            ),
            (
                ProjectCreated { name: "Web" }.into(),
                json!({"name": "Web"}),
            ),
            (
                ProjectRenamed {
                    from: "Web",
                    to: "Site",
                }
                .into(),
                json!({"from": "Web", "to": "Site"}),
            ),
            (
                ProjectDeleted { name: "Web" }.into(),
                json!({"name": "Web"}),
            ),
            (
                InviteCreated {
                    email: "a@example.com",
                    role: Role::Technical,
                    cancreateprojects: true,
                }
                .into(),
                json!({"email": "a@example.com", "role": Role::Technical, "cancreateprojects": true}),
            ),
            (
                InviteResent {
                    email: "a@example.com",
                }
                .into(),
                json!({"email": "a@example.com"}),
            ),
            (
                InviteRevoked {
                    email: "a@example.com",
                    reason: None,
                }
                .into(),
                json!({"email": "a@example.com"}),
            ),
            (
                InviteRevoked {
                    email: "a@example.com",
                    reason: Some(Revocation::InviterDemoted),
                }
                .into(),
                json!({"email": "a@example.com", "reason": "inviter_demoted"}),
            ),
            (
                InviteRevoked {
                    email: "a@example.com",
                    reason: Some(Revocation::InviterRemoved),
                }
                .into(),
                json!({"email": "a@example.com", "reason": "inviter_removed"}),
            ),
            (
                InviteAccepted {
                    email: "a@example.com",
                    role: Role::Admin,
                    collaboratorid: "m1",
                }
                .into(),
                json!({"email": "a@example.com", "role": Role::Admin, "collaboratorid": "m1"}),
            ),
            (
                InviteDeclined {
                    email: "a@example.com",
                }
                .into(),
                json!({"email": "a@example.com"}),
            ),
            (
                CollaboratorJoined {
                    userid: "u1",
                    email: "a@acme.com",
                    role: Role::Collaborator,
                    domain: "acme.com",
                    domainid: "d1",
                }
                .into(),
                json!({
                    "userid": "u1",
                    "email": "a@acme.com",
                    "role": Role::Collaborator,
                    "domain": "acme.com",
                    "domainid": "d1",
                }),
            ),
            (
                CollaboratorEdited {
                    userid: "u1",
                    role: Role::Admin,
                    previousrole: Role::Technical,
                    cancreateprojects: false,
                    projectpermissions: &grants,
                    expiresat: expired.as_deref(),
                }
                .into(),
                json!({
                    "userid": "u1",
                    "role": Role::Admin,
                    "previousrole": Role::Technical,
                    "cancreateprojects": false,
                    "projectpermissions": grants,
                    "expiresat": expired,
                }),
            ),
            (
                CollaboratorRemoved {
                    userid: "u1",
                    email: "a@example.com",
                    role: Role::Owner,
                }
                .into(),
                json!({"userid": "u1", "email": "a@example.com", "role": Role::Owner}),
            ),
            (
                CollaboratorLeft {
                    userid: "u1",
                    email: "a@example.com",
                    role: Some(Role::Admin),
                    accountclosed: false,
                }
                .into(),
                json!({"userid": "u1", "email": "a@example.com", "role": Role::Admin}),
            ),
            (
                CollaboratorLeft {
                    userid: "u1",
                    email: "a@example.com",
                    role: None,
                    accountclosed: true,
                }
                .into(),
                json!({"userid": "u1", "email": "a@example.com", "accountclosed": true}),
            ),
            (
                CollaboratorExpired {
                    userid: "u1",
                    email: "a@example.com",
                    role: Role::Technical,
                    expiresat: expired.clone(),
                }
                .into(),
                json!({
                    "userid": "u1",
                    "email": "a@example.com",
                    "role": Role::Technical,
                    "expiresat": expired,
                }),
            ),
            (
                WebhookCreated {
                    url: "https://hooks.example.com/x",
                    events: &webhook_events,
                }
                .into(),
                json!({ "url": "https://hooks.example.com/x", "events": webhook_events }),
            ),
            (
                WebhookDeleted {
                    url: "https://hooks.example.com/x",
                }
                .into(),
                json!({ "url": "https://hooks.example.com/x" }),
            ),
            (
                DomainAdded {
                    domain: "acme.com",
                    role: Role::Admin,
                    verificationemail: "it@acme.com",
                }
                .into(),
                json!({
                    "domain": "acme.com",
                    "role": Role::Admin,
                    "verificationemail": "it@acme.com",
                }),
            ),
            (
                DomainVerified {
                    domain: "acme.com",
                    verificationemail: "it@acme.com",
                }
                .into(),
                json!({
                    "domain": "acme.com",
                    "verificationemail": "it@acme.com",
                }),
            ),
            (
                DomainRemoved { domain: "acme.com" }.into(),
                json!({"domain": "acme.com"}),
            ),
        ];
        let mut actions = HashSet::new();
        for (event, before) in &cases {
            let written = serde_json::to_string(event).expect("details serialize");
            assert_eq!(written, before.to_string(), "{}", event.action().as_str());
            actions.insert(event.action().as_str());
        }
        let all: HashSet<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(actions, all, "every audit action has its event");
    }
}
