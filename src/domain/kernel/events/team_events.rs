//! The events of teams (API.md §10): their fields are the `details` the
//! audit log and webhooks show. The target of each is the team.

use serde::Serialize;

use crate::domain::kernel::grants::ProjectGrant;

/// `team.created`: the team as made.
#[derive(Debug, Serialize)]
pub struct TeamCreated<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub role: Option<&'a str>,
    pub projectpermissions: &'a [ProjectGrant],
}

/// `team.edited`: the team as it is after the edit, and its name and role
/// before.
#[derive(Debug, Serialize)]
pub struct TeamEdited<'a> {
    pub name: &'a str,
    pub previousname: &'a str,
    pub description: Option<&'a str>,
    pub role: Option<&'a str>,
    pub previousrole: Option<&'a str>,
    pub projectpermissions: &'a [ProjectGrant],
}

/// `team.deleted`.
#[derive(Debug, Serialize)]
pub struct TeamDeleted<'a> {
    pub name: &'a str,
}

/// `team.member_added`: who joined the team.
#[derive(Debug, Serialize)]
pub struct TeamMemberAdded<'a> {
    pub name: &'a str,
    pub collaboratorid: &'a str,
    pub userid: &'a str,
    pub email: &'a str,
}

/// `team.member_removed`: who was taken out of the team (leaving the
/// organization takes a member out of its teams with the
/// `collaborator.removed`, `.left` or `.expired` event alone).
#[derive(Debug, Serialize)]
pub struct TeamMemberRemoved<'a> {
    pub name: &'a str,
    pub collaboratorid: &'a str,
    pub userid: &'a str,
    pub email: &'a str,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::kernel::events::Event;
    use crate::store::kinds::{Permission, Role};

    fn writes<'a>(event: impl Into<Event<'a>>, expected: serde_json::Value) {
        let written = serde_json::to_value(event.into()).expect("details serialize");
        assert_eq!(written, expected);
    }

    #[test]
    fn team_events_write_their_details() {
        let grants = vec![ProjectGrant {
            projectid: "p1".into(),
            projectname: "Web".into(),
            permission: Permission::Read,
        }];
        let created = TeamCreated {
            name: "Ops",
            description: None,
            role: Some(Role::Technical.as_str()),
            projectpermissions: &grants,
        };
        writes(
            created,
            json!({"name": "Ops", "description": null, "role": "technical",
                   "projectpermissions": [{"projectid": "p1", "projectname": "Web",
                                           "permission": "read"}]}),
        );
        let edited = TeamEdited {
            name: "Ops",
            previousname: "Infra",
            description: Some("On call"),
            role: None,
            previousrole: Some(Role::Admin.as_str()),
            projectpermissions: &[],
        };
        writes(
            edited,
            json!({"name": "Ops", "previousname": "Infra", "description": "On call",
                   "role": null, "previousrole": "admin", "projectpermissions": []}),
        );
        writes(TeamDeleted { name: "Ops" }, json!({"name": "Ops"}));
        let (collaboratorid, userid, email) = ("m1", "u1", "a@example.com");
        writes(
            TeamMemberAdded {
                name: "Ops",
                collaboratorid,
                userid,
                email,
            },
            json!({"name": "Ops", "collaboratorid": "m1", "userid": "u1",
                   "email": "a@example.com"}),
        );
        writes(
            TeamMemberRemoved {
                name: "Ops",
                collaboratorid,
                userid,
                email,
            },
            json!({"name": "Ops", "collaboratorid": "m1", "userid": "u1",
                   "email": "a@example.com"}),
        );
    }
}
