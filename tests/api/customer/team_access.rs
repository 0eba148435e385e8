//! What teams give their members (API.md §10): the union of their own
//! role's and their teams' roles' permissions, on each project the highest
//! of their own grant and their teams', taking effect on the next request
//! (in every process), and gone when they leave the organization.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};

use super::teams::{add_member, member_emails, remove_member, team, teams};
use crate::support::{sql, sql_strings, Backend, Client, Receiver, TestApp, TestServer};
use crate::{on_both_backends, on_postgres};

on_both_backends!(
    team_roles_and_grants_combine_with_own,
    leaving_the_organization_leaves_its_teams,
    team_changes_are_audited_and_delivered,
    deleting_the_organization_deletes_its_teams,
);
on_postgres!(a_team_change_holds_in_every_process_on_the_next_request);

const PASSWORD: &str = "correct horse battery";

/// The names of the projects `token` lists in `org`.
fn project_names(client: &Client, token: &str, org: &str) -> Vec<String> {
    client
        .get(
            &format!("/customer/listprojects?organizationid={org}"),
            Some(token),
        )
        .ok()
        .get("projects")
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

fn grant(project: &str, permission: &str) -> Value {
    json!({"projectid": project, "permission": permission})
}

/// `invite/create` as `token` with grants.
fn invite_with(app: &TestApp, token: &str, org: &str, email: &str, grants: Value) -> u16 {
    app.post(
        "/invite/create",
        Some(token),
        json!({"organizationid": org, "email": email, "projectpermissions": grants}),
    )
    .status
}

fn collaborator_of(list: &Value, email: &str) -> Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == email)
        .cloned()
        .unwrap_or_else(|| panic!("{email} listed"))
}

fn team_roles_and_grants_combine_with_own(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let (p1, p2, p3) = (
        app.project(&owner, &org, "P1"),
        app.project(&owner, &org, "P2"),
        app.project(&owner, &org, "P3"),
    );
    let carol = app.member(&owner, &org, "carol@example.com", "collaborator");
    let dave = app.member(&owner, &org, "dave@example.com", "collaborator");
    for (who, grants) in [
        (&carol, json!([grant(&p1, "read")])),
        (&dave, json!([grant(&p1, "read"), grant(&p3, "full")])),
    ] {
        app.post(
            "/customer/editcollaborator",
            Some(&owner),
            json!({"collaboratorid": who.collaboratorid, "projectpermissions": grants}),
        )
        .ok();
    }
    let grants_team = team(
        &app,
        &owner,
        &org,
        json!({"name": "Builders", "projectpermissions": [grant(&p1, "full"), grant(&p2, "read")]}),
    );
    let technical_team = team(
        &app,
        &owner,
        &org,
        json!({"name": "Helpers", "role": "technical"}),
    );
    let list = format!("/customer/listcollaborators?organizationid={org}");

    // Her own: P1 to read, nothing a collaborator may not do.
    assert_eq!(project_names(&app, &carol.token, &org), ["P1"]);
    app.get(&list, Some(&carol.token)).err(403, "forbidden");
    assert_eq!(
        invite_with(&app, &carol.token, &org, "x1@example.com", json!([])),
        403
    );

    // Her teams' too, from the next request.
    add_member(&app, &owner, &grants_team, &carol.collaboratorid).ok();
    assert_eq!(project_names(&app, &carol.token, &org), ["P1", "P2"]);
    add_member(&app, &owner, &technical_team, &carol.collaboratorid).ok();
    let seen = app.get(&list, Some(&carol.token)).ok();
    // She sees the grants on the projects she sees (her own and her teams').
    let dave_seen = collaborator_of(seen.get("collaborators"), "dave@example.com");
    assert_eq!(
        dave_seen["projectpermissions"],
        json!([{"projectid": p1, "projectname": "P1", "permission": "read"}])
    );
    // Her own object shows her own grant; the team's are the team's.
    let herself = collaborator_of(seen.get("collaborators"), "carol@example.com");
    assert_eq!(herself["role"], "collaborator");
    assert_eq!(
        herself["projectpermissions"],
        json!([{"projectid": p1, "projectname": "P1", "permission": "read"}])
    );
    // The highest of her own grant (read) and her team's (full) on P1: she
    // may hand out full there, only read on P2, nothing on P3.
    assert_eq!(
        invite_with(
            &app,
            &carol.token,
            &org,
            "x2@example.com",
            json!([grant(&p1, "full")])
        ),
        200
    );
    assert_eq!(
        invite_with(
            &app,
            &carol.token,
            &org,
            "x3@example.com",
            json!([grant(&p2, "full")])
        ),
        403
    );
    assert_eq!(
        invite_with(
            &app,
            &carol.token,
            &org,
            "x4@example.com",
            json!([grant(&p2, "read")])
        ),
        200
    );
    assert_eq!(
        invite_with(
            &app,
            &carol.token,
            &org,
            "x5@example.com",
            json!([grant(&p3, "read")])
        ),
        403
    );

    // Out of a team: what it gave is gone on the next request.
    remove_member(&app, &owner, &technical_team, &carol.collaboratorid).ok();
    app.get(&list, Some(&carol.token)).err(403, "forbidden");
    remove_member(&app, &owner, &grants_team, &carol.collaboratorid).ok();
    assert_eq!(project_names(&app, &carol.token, &org), ["P1"]);

    // A team with the admin role: every project, and managing them.
    let admins = team(
        &app,
        &owner,
        &org,
        json!({"name": "Admins", "role": "admin"}),
    );
    add_member(&app, &owner, &admins, &carol.collaboratorid).ok();
    assert_eq!(project_names(&app, &carol.token, &org), ["P1", "P2", "P3"]);
    let made = app
        .post(
            "/customer/createproject",
            Some(&carol.token),
            json!({"organizationid": org, "name": "P4"}),
        )
        .ok();
    let p4 = made.get("project")["projectid"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/customer/editproject",
        Some(&carol.token),
        json!({"organizationid": org, "projectid": p4, "name": "P4b"}),
    )
    .ok();
    // Through the team she manages teams, giving what she holds.
    team(
        &app,
        &carol.token,
        &org,
        json!({"name": "Hers", "role": "technical"}),
    );
    // The owner role stays the owner's: teams cannot carry it.
    app.post(
        "/customer/settings",
        Some(&carol.token),
        json!({"organizationid": org, "invitettldays": 3}),
    )
    .err(403, "forbidden");
    // A changed team role holds on the next request.
    app.post(
        "/customer/editteam",
        Some(&owner),
        json!({"teamid": admins, "role": "collaborator"}),
    )
    .ok();
    app.post(
        "/customer/createproject",
        Some(&carol.token),
        json!({"organizationid": org, "name": "P5"}),
    )
    .err(403, "forbidden");
    assert_eq!(project_names(&app, &carol.token, &org), ["P1"]);
}

fn leaving_the_organization_leaves_its_teams(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let crew = team(
        &app,
        &owner,
        &org,
        json!({"name": "Crew", "role": "technical"}),
    );
    let people: Vec<_> = ["removed", "left", "expired", "closed"]
        .iter()
        .map(|who| {
            let m = app.member(&owner, &org, &format!("{who}@example.com"), "collaborator");
            add_member(&app, &owner, &crew, &m.collaboratorid).ok();
            m
        })
        .collect();
    let [removed, left, expired, closed] = &people[..] else {
        unreachable!()
    };
    let list = format!("/customer/listcollaborators?organizationid={org}");
    for m in &people {
        app.get(&list, Some(&m.token)).ok();
    }
    assert_eq!(teams(&app, &owner, &org)[0]["membercount"], 4);

    app.remove(&owner, &removed.collaboratorid).ok();
    app.remove(&left.token, &left.collaboratorid).ok();
    sql(
        &app,
        &format!(
            "UPDATE memberships SET expires_at = 1000 WHERE id = '{}'",
            expired.collaboratorid
        ),
    );
    app.post(
        "/user/delete",
        Some(&closed.token),
        json!({"currentpassword": PASSWORD}),
    )
    .ok();

    // At once: no member of the team, and no access through it.
    assert_eq!(teams(&app, &owner, &org)[0]["membercount"], 0);
    assert_eq!(member_emails(&app, &owner, &crew), Vec::<String>::new());
    for m in [removed, left, expired] {
        app.get(&list, Some(&m.token)).err(404, "not_found");
    }
    // The rows went with the memberships; the one past its end goes with
    // its membership at the sweep.
    let rows = sql_strings(&app, "SELECT membership_id AS value FROM team_members");
    assert_eq!(rows, std::slice::from_ref(&expired.collaboratorid));

    // Back in the organization, in no team.
    app.invite(&owner, &org, "removed@example.com", "collaborator");
    let mut taken = HashSet::from([app.invite_token("removed@example.com", 1)]);
    let token = app
        .mail
        .next_link("removed@example.com", "invite", &mut taken);
    let back = app
        .post(
            "/invite/accept",
            Some(&removed.token),
            json!({"token": token}),
        )
        .ok();
    assert_eq!(back.get("collaborator")["teams"], json!([]));
    app.get(&list, Some(&removed.token)).err(403, "forbidden");
    // Leaving a team is not leaving the organization: no team event.
    let events = app
        .get(
            &format!("/customer/listauditevents?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let removals = events
        .get("auditevents")
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "team.member_removed")
        .count();
    assert_eq!(removals, 0);
}

fn team_changes_are_audited_and_delivered(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.webhook_allow_private = true);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let member = app.member(&owner, &org, "m@example.com", "collaborator");
    let project = app.project(&owner, &org, "Web");
    let receiver = Receiver::start(&[]);
    let actions = [
        "team.created",
        "team.edited",
        "team.member_added",
        "team.member_removed",
        "team.deleted",
    ];
    app.post(
        "/customer/createwebhook",
        Some(&owner),
        json!({"organizationid": org, "url": receiver.url, "events": actions}),
    )
    .ok();
    let ops = team(
        &app,
        &owner,
        &org,
        json!({"name": "Ops", "role": "technical",
               "projectpermissions": [grant(&project, "read")]}),
    );
    app.post(
        "/customer/editteam",
        Some(&owner),
        json!({"teamid": ops, "name": "Operations", "role": null}),
    )
    .ok();
    add_member(&app, &owner, &ops, &member.collaboratorid).ok();
    remove_member(&app, &owner, &ops, &member.collaboratorid).ok();
    app.post("/customer/deleteteam", Some(&owner), json!({"teamid": ops}))
        .ok();

    let log = app
        .get(
            &format!("/customer/listauditevents?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let mut events: Vec<Value> = log
        .get("auditevents")
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("team."))
        .cloned()
        .collect();
    events.reverse(); // oldest first
    let logged: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(logged, actions);
    for event in &events {
        assert_eq!(event["target"], ops.as_str());
        assert_eq!(event["actor"]["email"], "owner@example.com");
    }
    assert_eq!(
        events[0]["details"],
        json!({"name": "Ops", "description": null, "role": "technical",
               "projectpermissions": [{"projectid": project, "projectname": "Web",
                                       "permission": "read"}]})
    );
    assert_eq!(events[1]["details"]["previousname"], "Ops");
    assert_eq!(events[1]["details"]["name"], "Operations");
    assert_eq!(events[1]["details"]["previousrole"], "technical");
    assert_eq!(events[1]["details"]["role"], Value::Null);
    for added_or_removed in &events[2..4] {
        assert_eq!(
            added_or_removed["details"]["collaboratorid"],
            member.collaboratorid.as_str()
        );
        assert_eq!(added_or_removed["details"]["email"], "m@example.com");
    }
    assert_eq!(events[4]["details"], json!({"name": "Operations"}));

    // Each one delivered to the webhook as it is in the log.
    let got = receiver.wait_for(5, Duration::from_secs(20));
    for event in &events {
        let delivered = got
            .iter()
            .map(|r| r.json())
            .find(|body| body["data"]["eventid"] == event["eventid"])
            .unwrap_or_else(|| panic!("{} delivered", event["action"]));
        assert_eq!(delivered["type"], event["action"]);
        assert_eq!(delivered["data"], *event);
    }
}

fn a_team_change_holds_in_every_process_on_the_next_request(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let carol = app.member(&owner, &org, "carol@example.com", "collaborator");
    let helpers = team(
        &app,
        &owner,
        &org,
        json!({"name": "Helpers", "role": "technical"}),
    );
    let other = TestServer::start(app.config.clone());
    let elsewhere = Client::new(&other.base);
    let list = format!("/customer/listcollaborators?organizationid={org}");
    // The other process has the page rendered before the change.
    let before = elsewhere.get(&list, Some(&owner)).ok();
    assert_eq!(
        collaborator_of(before.get("collaborators"), "carol@example.com")["teams"],
        json!([])
    );
    elsewhere
        .get(&list, Some(&carol.token))
        .err(403, "forbidden");

    add_member(&app, &owner, &helpers, &carol.collaboratorid).ok();
    elsewhere.get(&list, Some(&carol.token)).ok();
    let after = elsewhere.get(&list, Some(&owner)).ok();
    assert_eq!(
        collaborator_of(after.get("collaborators"), "carol@example.com")["teams"],
        json!([{"teamid": helpers, "name": "Helpers"}])
    );

    app.post(
        "/customer/editteam",
        Some(&owner),
        json!({"teamid": helpers, "role": "collaborator"}),
    )
    .ok();
    elsewhere
        .get(&list, Some(&carol.token))
        .err(403, "forbidden");
    app.post(
        "/customer/editteam",
        Some(&owner),
        json!({"teamid": helpers, "role": "technical"}),
    )
    .ok();
    elsewhere.get(&list, Some(&carol.token)).ok();
    app.remove(&owner, &carol.collaboratorid).ok();
    elsewhere
        .get(&list, Some(&carol.token))
        .err(404, "not_found");
    other.stop();
}

fn deleting_the_organization_deletes_its_teams(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let project = app.project(&owner, &org, "Web");
    let member = app.member(&owner, &org, "m@example.com", "collaborator");
    let crew = team(
        &app,
        &owner,
        &org,
        json!({"name": "Crew", "projectpermissions": [grant(&project, "full")]}),
    );
    add_member(&app, &owner, &crew, &member.collaboratorid).ok();
    let count = |table: &str| {
        sql_strings(
            &app,
            &format!(
                "SELECT organization_id AS value FROM {table} WHERE organization_id = '{org}'"
            ),
        )
        .len()
    };
    let tables = ["teams", "team_members", "team_project_permissions"];
    assert_eq!(tables.map(count), [1, 1, 1]);
    app.post(
        "/customer/delete",
        Some(&owner),
        json!({"organizationid": org, "name": "Acme"}),
    )
    .ok();
    assert_eq!(tables.map(count), [0, 0, 0]);
    app.post(
        "/customer/listteammembers",
        Some(&owner),
        json!({"teamid": crew}),
    )
    .err(404, "not_found");
}
