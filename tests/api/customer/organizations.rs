//! Organizations: `user/createorganization`, `user/listorganizations`, `customer/details`,
//! `customer/settings`, and projects.

use crate::on_both_backends;
use crate::support::{in_parallel, Backend, TestApp};
use serde_json::json;

on_both_backends!(
    create_list_details,
    settings_are_for_owners_and_validated,
    other_organizations_are_404,
    organization_limit_is_409,
    server_invite_ttl_is_the_default,
    organization_invite_lifetime_and_projects,
);

fn create_list_details(backend: Backend) {
    let app = TestApp::start(backend);
    let token = app.user("owner@example.com");
    let r = app
        .post(
            "/user/createorganization",
            Some(&token),
            json!({"name": "  Acme  "}),
        )
        .ok();
    let org = r.get("organization").clone();
    let keys: Vec<&String> = org.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "organizationid",
            "name",
            "createdat",
            "role",
            "membercount",
            "invitettldays",
            "language"
        ]
    );
    assert_eq!(org["name"], "Acme");
    assert_eq!(org["role"], "owner");
    assert_eq!(org["membercount"], 1);
    assert_eq!(org["invitettldays"], 7);
    let second = app.organization(&token, "Beta");
    let list = app.get("/user/listorganizations", Some(&token)).ok();
    let list = list.get("organizations").as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0], org);
    assert_eq!(list[1]["organizationid"], json!(second));
    let r = app
        .post(
            "/customer/details",
            Some(&token),
            json!({"organizationid": org["organizationid"]}),
        )
        .ok();
    assert_eq!(r.get("organization"), &org);
}

fn settings_are_for_owners_and_validated(backend: Backend) {
    let app = TestApp::start(backend);
    let token = app.user("owner@example.com");
    let org = app.organization(&token, "Acme");
    let r = app
        .post(
            "/customer/settings",
            Some(&token),
            json!({"organizationid": org, "name": "Acme AB", "invitettldays": 14}),
        )
        .ok();
    assert_eq!(r.get("organization")["name"], "Acme AB");
    assert_eq!(r.get("organization")["invitettldays"], 14);
    let r = app
        .get(
            &format!("/customer/details?organizationid={org}"),
            Some(&token),
        )
        .ok();
    assert_eq!(r.get("organization")["invitettldays"], 14);
    app.post(
        "/customer/settings",
        Some(&token),
        json!({"organizationid": org, "name": ""}),
    )
    .err(422, "validation_failed");
    // Nothing changed by the refused call.
    let r = app
        .get(
            &format!("/customer/details?organizationid={org}"),
            Some(&token),
        )
        .ok();
    assert_eq!(r.get("organization")["name"], "Acme AB");
}

fn other_organizations_are_404(backend: Backend) {
    let app = TestApp::start(backend);
    let alice = app.user("alice@example.com");
    let bob = app.user("bob@example.com");
    let org = app.organization(&alice, "Alice's");
    let missing = "01900000-0000-7000-8000-000000000000";
    let a = app
        .post(
            "/customer/details",
            Some(&bob),
            json!({"organizationid": org}),
        )
        .err(404, "not_found");
    let b = app
        .post(
            "/customer/details",
            Some(&bob),
            json!({"organizationid": missing}),
        )
        .err(404, "not_found");
    assert_eq!(
        a.text(),
        b.text(),
        "a foreign organization looks exactly like a missing one"
    );
    app.post(
        "/customer/settings",
        Some(&bob),
        json!({"organizationid": org, "name": "Mine"}),
    )
    .err(404, "not_found");
    assert_eq!(
        app.get("/user/listorganizations", Some(&bob))
            .ok()
            .get("organizations"),
        &json!([])
    );
}

fn organization_limit_is_409(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.max_orgs_per_user = 1);
    let token = app.user("owner@example.com");
    app.organization(&token, "Only");
    let r = app
        .post(
            "/user/createorganization",
            Some(&token),
            json!({"name": "Second"}),
        )
        .err(409, "conflict");
    assert_eq!(r.reason(), "organization_limit");
    assert_eq!(
        app.get("/user/listorganizations", Some(&token))
            .ok()
            .get("organizations")
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Concurrent creations cannot slip past the limit.
    let other = app.user("racer@example.com");
    let results: Vec<u16> = in_parallel(6, |i| {
        app.post(
            "/user/createorganization",
            Some(&other),
            json!({"name": format!("R{i}")}),
        )
        .status
    });
    assert_eq!(
        results.iter().filter(|s| **s == 200).count(),
        1,
        "{results:?}"
    );
    assert_eq!(
        results.iter().filter(|s| **s == 409).count(),
        5,
        "{results:?}"
    );
}

fn server_invite_ttl_is_the_default(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.invite_ttl_days = 3);
    let token = app.user("owner@example.com");
    let org = app.organization(&token, "Acme");
    let r = app
        .get(
            &format!("/customer/details?organizationid={org}"),
            Some(&token),
        )
        .ok();
    assert_eq!(r.get("organization")["invitettldays"], 3);
}

fn organization_invite_lifetime_and_projects(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.post(
        "/customer/settings",
        Some(&owner),
        json!({"organizationid": org, "invitettldays": 2}),
    )
    .ok();
    let invite = app.invite(&owner, &org, "short@example.com", "collaborator");
    let created =
        chrono::DateTime::parse_from_rfc3339(invite["createdat"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(invite["expiresat"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_hours(), 48);

    // A technical user with cancreateprojects creates a project and holds full on it.
    let tech = app.member(&owner, &org, "tech@example.com", "technical");
    app.post(
        "/customer/createproject",
        Some(&tech.token),
        json!({"organizationid": org, "name": "Nope"}),
    )
    .err(403, "forbidden");
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": tech.collaboratorid, "cancreateprojects": true}),
    )
    .ok();
    let project = app.project(&tech.token, &org, "Tech's");
    let list = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let me = list
        .get("collaborators")
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == "tech@example.com")
        .unwrap()
        .clone();
    assert_eq!(
        me["projectpermissions"],
        json!([{"projectid": project, "projectname": "Tech's", "permission": "full"}])
    );
    // Another organization's project is not found through this one.
    let other = app.organization(&owner, "Other");
    let foreign = app.project(&owner, &other, "Foreign");
    app.post(
        "/customer/editproject",
        Some(&owner),
        json!({"organizationid": org, "projectid": foreign, "name": "x"}),
    )
    .err(404, "not_found");
    app.post(
        "/customer/deleteproject",
        Some(&owner),
        json!({"organizationid": org, "projectid": foreign}),
    )
    .err(404, "not_found");
}
