//! Teams (API.md §10): making, listing, changing and deleting them, their
//! members, and the `teams` a collaborator shows. What teams give their
//! members is in `team_access.rs`.

use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{Backend, Resp, TestApp};

on_both_backends!(
    a_team_is_made_changed_and_deleted,
    bad_team_values_are_refused,
    teams_and_their_members_come_a_page_at_a_time,
    members_are_added_removed_and_listed,
    outsiders_see_no_team,
);

/// `customer/createteam` in `org` with `body` besides.
pub fn create_team(app: &TestApp, token: &str, org: &str, mut body: Value) -> Resp {
    body["organizationid"] = json!(org);
    app.post("/customer/createteam", Some(token), body)
}

/// A new team's id.
pub fn team(app: &TestApp, token: &str, org: &str, body: Value) -> String {
    create_team(app, token, org, body).ok().get("team")["teamid"]
        .as_str()
        .expect("teamid")
        .to_string()
}

pub fn add_member(app: &TestApp, token: &str, team: &str, collaborator: &str) -> Resp {
    app.post(
        "/customer/addteammember",
        Some(token),
        json!({"teamid": team, "collaboratorid": collaborator}),
    )
}

pub fn remove_member(app: &TestApp, token: &str, team: &str, collaborator: &str) -> Resp {
    app.post(
        "/customer/removeteammember",
        Some(token),
        json!({"teamid": team, "collaboratorid": collaborator}),
    )
}

/// Every team of `org`, as `token` lists them.
pub fn teams(app: &TestApp, token: &str, org: &str) -> Vec<Value> {
    app.get(
        &format!("/customer/listteams?organizationid={org}"),
        Some(token),
    )
    .ok()
    .get("teams")
    .as_array()
    .expect("teams")
    .clone()
}

/// The emails of a team's members, as `token` lists them.
pub fn member_emails(app: &TestApp, token: &str, team: &str) -> Vec<String> {
    app.get(
        &format!("/customer/listteammembers?teamid={team}"),
        Some(token),
    )
    .ok()
    .get("collaborators")
    .as_array()
    .expect("collaborators")
    .iter()
    .map(|c| c["email"].as_str().expect("email").to_string())
    .collect()
}

fn a_team_is_made_changed_and_deleted(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let web = app.project(&owner, &org, "Web");
    let db = app.project(&owner, &org, "Database");
    let made = create_team(
        &app,
        &owner,
        &org,
        json!({"name": "  Operations ", "description": "On call", "role": "technical",
               "projectpermissions": [{"projectid": web, "permission": "read"},
                                      {"projectid": web, "permission": "full"},
                                      {"projectid": db, "permission": "read"}]}),
    )
    .ok();
    let made = made.get("team").clone();
    let id = made["teamid"].as_str().unwrap().to_string();
    assert_eq!(made["organizationid"], org.as_str());
    assert_eq!(made["name"], "Operations", "trimmed");
    assert_eq!(made["description"], "On call");
    assert_eq!(made["role"], "technical");
    assert_eq!(made["membercount"], 0);
    assert!(made["createdat"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        made["projectpermissions"],
        json!([{"projectid": db, "projectname": "Database", "permission": "read"},
               {"projectid": web, "projectname": "Web", "permission": "full"}]),
        "by project name, the stronger of a project named twice"
    );
    assert_eq!(teams(&app, &owner, &org), std::slice::from_ref(&made));

    // A team without role, description or grants.
    let bare = create_team(
        &app,
        &owner,
        &org,
        json!({"name": "Bare", "description": " "}),
    )
    .ok()
    .get("team")
    .clone();
    assert_eq!(bare["role"], Value::Null);
    assert_eq!(bare["description"], Value::Null, "an empty one is none");
    assert_eq!(bare["projectpermissions"], json!([]));

    // Changing one field leaves the others.
    let renamed = app
        .post(
            "/customer/editteam",
            Some(&owner),
            json!({"teamid": id, "name": "Ops"}),
        )
        .ok()
        .get("team")
        .clone();
    assert_eq!(renamed["name"], "Ops");
    assert_eq!(renamed["role"], "technical");
    assert_eq!(renamed["description"], "On call");
    assert_eq!(renamed["projectpermissions"], made["projectpermissions"]);
    // Null takes the role and the description away; a list replaces the grants.
    let edited = app
        .post(
            "/customer/editteam",
            Some(&owner),
            json!({"teamid": id, "role": null, "description": null,
                   "projectpermissions": [{"projectid": db, "permission": "full"}]}),
        )
        .ok()
        .get("team")
        .clone();
    assert_eq!(edited["role"], Value::Null);
    assert_eq!(edited["description"], Value::Null);
    assert_eq!(
        edited["projectpermissions"],
        json!([{"projectid": db, "projectname": "Database", "permission": "full"}])
    );
    let cleared = app
        .post(
            "/customer/editteam",
            Some(&owner),
            json!({"teamid": id, "role": "admin", "projectpermissions": []}),
        )
        .ok()
        .get("team")
        .clone();
    assert_eq!(cleared["role"], "admin");
    assert_eq!(cleared["projectpermissions"], json!([]));
    // Deleting a project takes it out of the team's grants.
    app.post(
        "/customer/editteam",
        Some(&owner),
        json!({"teamid": id, "projectpermissions": [{"projectid": web, "permission": "read"}]}),
    )
    .ok();
    app.post(
        "/customer/deleteproject",
        Some(&owner),
        json!({"organizationid": org, "projectid": web}),
    )
    .ok();
    let listed = teams(&app, &owner, &org);
    let ops = listed.iter().find(|t| t["teamid"] == id.as_str()).unwrap();
    assert_eq!(ops["projectpermissions"], json!([]));

    app.post("/customer/deleteteam", Some(&owner), json!({"teamid": id}))
        .ok();
    let left = teams(&app, &owner, &org);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["name"], "Bare");
    for path in ["/customer/editteam", "/customer/deleteteam"] {
        app.post(path, Some(&owner), json!({"teamid": id}))
            .err(404, "not_found");
    }
    // The name is free again.
    team(&app, &owner, &org, json!({"name": "Ops"}));
}

fn bad_team_values_are_refused(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let project = app.project(&owner, &org, "Web");
    let ops = team(&app, &owner, &org, json!({"name": "Ops"}));
    team(&app, &owner, &org, json!({"name": "Other"}));
    let invalid = |body: Value, field: &str| {
        let r = create_team(&app, &owner, &org, body).err(422, "validation_failed");
        assert!(
            r.body["response"]["error"]["fields"][field].is_array(),
            "{field}: {}",
            r.body
        );
    };
    invalid(json!({"name": "Ops"}), "name");
    invalid(json!({"name": " "}), "name");
    invalid(json!({"name": "x".repeat(201)}), "name");
    invalid(json!({"name": "A", "role": "owner"}), "role");
    invalid(json!({"name": "A", "role": "boss"}), "role");
    invalid(
        json!({"name": "A", "description": "d".repeat(501)}),
        "description",
    );
    invalid(
        json!({"name": "A", "description": "a\u{7}b"}),
        "description",
    );
    invalid(
        json!({"name": "A", "projectpermissions": [{"projectid": project, "permission": "write"}]}),
        "projectpermissions.0.permission",
    );
    create_team(
        &app,
        &owner,
        &org,
        json!({"name": "A", "projectpermissions": [{"projectid": "no-such", "permission": "read"}]}),
    )
    .err(404, "not_found");
    create_team(&app, &owner, &org, json!({"name": "A", "colour": "red"}))
        .err(400, "invalid_request");
    // An edit to another team's name, or to a bad role.
    for (body, field) in [
        (json!({"teamid": ops, "name": "Other"}), "name"),
        (json!({"teamid": ops, "role": "owner"}), "role"),
        (
            json!({"teamid": ops, "description": "d".repeat(501)}),
            "description",
        ),
    ] {
        let r = app
            .post("/customer/editteam", Some(&owner), body)
            .err(422, "validation_failed");
        assert!(
            r.body["response"]["error"]["fields"][field].is_array(),
            "{}",
            r.body
        );
    }
    // Nothing refused was made or changed.
    let names: Vec<Value> = teams(&app, &owner, &org)
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [json!("Ops"), json!("Other")]);
}

fn teams_and_their_members_come_a_page_at_a_time(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    for name in ["delta", "Alpha", "charlie", "bravo", "echo"] {
        team(&app, &owner, &org, json!({"name": name}));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/customer/listteams?organizationid={org}&limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get(&path, Some(&owner)).ok();
        let list = page.get("teams").as_array().unwrap().clone();
        assert!(list.len() <= 2);
        seen.extend(list.iter().map(|t| t["name"].as_str().unwrap().to_string()));
        match page.get("nextcursor").as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "by name");
    assert_eq!(seen.len(), 5);
    app.get(
        &format!("/customer/listteams?organizationid={org}&limit=0"),
        Some(&owner),
    )
    .err(422, "validation_failed");

    let crew = team(&app, &owner, &org, json!({"name": "crew"}));
    let mut expected = Vec::new();
    for i in 0..3 {
        let email = format!("m{i}@example.com");
        let m = app.member(&owner, &org, &email, "collaborator");
        add_member(&app, &owner, &crew, &m.collaboratorid).ok();
        expected.push(email);
    }
    let first = app
        .get(
            &format!("/customer/listteammembers?teamid={crew}&limit=2"),
            Some(&owner),
        )
        .ok();
    let next = first
        .get("nextcursor")
        .as_str()
        .expect("a next page")
        .to_string();
    let second = app
        .post(
            "/customer/listteammembers",
            Some(&owner),
            json!({"teamid": crew, "limit": 2, "cursor": next}),
        )
        .ok();
    assert_eq!(second.get("nextcursor"), &Value::Null);
    let emails: Vec<&str> = first
        .get("collaborators")
        .as_array()
        .unwrap()
        .iter()
        .chain(second.get("collaborators").as_array().unwrap().iter())
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, expected, "in the order they joined");
}

fn members_are_added_removed_and_listed(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let ada = app.member(&owner, &org, "ada@example.com", "collaborator");
    let bob = app.member(&owner, &org, "bob@example.com", "technical");
    let ops = team(
        &app,
        &owner,
        &org,
        json!({"name": "Ops", "role": "technical"}),
    );
    let web = team(&app, &owner, &org, json!({"name": "Web"}));
    let added = add_member(&app, &owner, &ops, &ada.collaboratorid).ok();
    assert_eq!(added.get("team")["membercount"], 1);
    add_member(&app, &owner, &web, &ada.collaboratorid).ok();
    add_member(&app, &owner, &ops, &bob.collaboratorid).ok();
    let again = add_member(&app, &owner, &ops, &ada.collaboratorid).err(409, "conflict");
    assert_eq!(again.reason(), "already_member");
    add_member(&app, &owner, &ops, "no-such-collaborator").err(404, "not_found");
    // A collaborator of another organization is none of this one's.
    let elsewhere = app.user("else@example.com");
    let other_org = app.organization(&elsewhere, "Elsewhere");
    let stranger = app.first_collaborator(&elsewhere, &other_org);
    add_member(&app, &owner, &ops, &stranger).err(404, "not_found");

    assert_eq!(
        member_emails(&app, &owner, &ops),
        ["ada@example.com", "bob@example.com"]
    );
    let listed = app
        .get(
            &format!("/customer/listteammembers?teamid={ops}"),
            Some(&owner),
        )
        .ok();
    let first = &listed.get("collaborators")[0];
    assert_eq!(first["collaboratorid"], ada.collaboratorid.as_str());
    assert_eq!(first["role"], "collaborator", "their own role");
    assert_eq!(
        first["teams"],
        json!([{"teamid": ops, "name": "Ops"}, {"teamid": web, "name": "Web"}])
    );

    // The collaborator object shows teams everywhere it is answered.
    let all = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let by_email = |email: &str| {
        all.get("collaborators")
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["email"] == email)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_email("owner@example.com")["teams"], json!([]));
    assert_eq!(by_email("ada@example.com")["teams"], first["teams"]);
    assert_eq!(
        by_email("bob@example.com")["teams"],
        json!([{"teamid": ops, "name": "Ops"}])
    );
    let edited = app
        .post(
            "/customer/editcollaborator",
            Some(&owner),
            json!({"collaboratorid": bob.collaboratorid, "cancreateprojects": true}),
        )
        .ok();
    assert_eq!(
        edited.get("collaborator")["teams"],
        json!([{"teamid": ops, "name": "Ops"}])
    );
    // A renamed team shows its new name in the (cached) list at once.
    app.post(
        "/customer/editteam",
        Some(&owner),
        json!({"teamid": web, "name": "Site"}),
    )
    .ok();
    let again = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let ada_now = again
        .get("collaborators")
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == "ada@example.com")
        .cloned()
        .unwrap();
    assert_eq!(
        ada_now["teams"],
        json!([{"teamid": ops, "name": "Ops"}, {"teamid": web, "name": "Site"}])
    );

    let removed = remove_member(&app, &owner, &ops, &ada.collaboratorid).ok();
    assert_eq!(removed.get("team")["membercount"], 1);
    remove_member(&app, &owner, &ops, &ada.collaboratorid).err(404, "not_found");
    assert_eq!(member_emails(&app, &owner, &ops), ["bob@example.com"]);
    // Deleting a team takes it off its members.
    app.post("/customer/deleteteam", Some(&owner), json!({"teamid": ops}))
        .ok();
    let bob_now = app
        .post(
            "/customer/editcollaborator",
            Some(&owner),
            json!({"collaboratorid": bob.collaboratorid}),
        )
        .ok();
    assert_eq!(bob_now.get("collaborator")["teams"], json!([]));
}

fn outsiders_see_no_team(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let member = app.member(&owner, &org, "m@example.com", "collaborator");
    let ops = team(&app, &owner, &org, json!({"name": "Ops"}));
    let outsider = app.user("outsider@example.com");
    let own = app.organization(&outsider, "Elsewhere");
    app.get(
        &format!("/customer/listteams?organizationid={org}"),
        Some(&outsider),
    )
    .err(404, "not_found");
    for (path, body) in [
        ("/customer/editteam", json!({"teamid": ops, "name": "Mine"})),
        ("/customer/deleteteam", json!({"teamid": ops})),
        (
            "/customer/addteammember",
            json!({"teamid": ops, "collaboratorid": member.collaboratorid}),
        ),
        (
            "/customer/removeteammember",
            json!({"teamid": ops, "collaboratorid": member.collaboratorid}),
        ),
        ("/customer/listteammembers", json!({"teamid": ops})),
    ] {
        let r = app.post(path, Some(&outsider), body).err(404, "not_found");
        assert!(r.text().contains("team not found"), "{path}: {}", r.text());
    }
    // Their own organization's member cannot be put in another's team.
    let mine = app.first_collaborator(&outsider, &own);
    add_member(&app, &owner, &ops, &mine).err(404, "not_found");
    assert_eq!(teams(&app, &owner, &org)[0]["name"], "Ops");
    assert_eq!(teams(&app, &outsider, &own), Vec::<Value>::new());
}
