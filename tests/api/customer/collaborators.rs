//! `customer/*` collaborators: the rules of API.md §3 on editing, removing and leaving.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use serde_json::json;

on_both_backends!(
    nobody_changes_their_own_role,
    admins_do_not_touch_owners,
    the_last_owner_stays,
    bad_edit_values_are_422,
    pagination_is_stable,
    admin_edits_and_removes_a_collaborator,
);

fn nobody_changes_their_own_role(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let second = app.member(&owner, &org, "second@example.com", "owner");
    for (who, role) in [
        (&admin, "collaborator"),
        (&admin, "owner"),
        (&second, "admin"),
    ] {
        let r = app
            .post(
                "/customer/editcollaborator",
                Some(&who.token),
                json!({"collaboratorid": who.collaboratorid, "role": role}),
            )
            .err(403, "forbidden");
        assert!(r.text().contains("own role"), "{}", r.text());
    }
    // Editing oneself without a role change is fine.
    app.post(
        "/customer/editcollaborator",
        Some(&admin.token),
        json!({"collaboratorid": admin.collaboratorid, "cancreateprojects": true}),
    )
    .ok();
}

fn admins_do_not_touch_owners(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let owner_id = app.first_collaborator(&owner, &org);
    app.post(
        "/customer/editcollaborator",
        Some(&admin.token),
        json!({"collaboratorid": owner_id, "cancreateprojects": false}),
    )
    .err(403, "forbidden");
    app.post(
        "/customer/editcollaborator",
        Some(&admin.token),
        json!({"collaboratorid": owner_id, "role": "admin"}),
    )
    .err(403, "forbidden");
    app.remove(&admin.token, &owner_id).err(403, "forbidden");
    // Nor grant owner to anyone.
    let worker = app.member(&owner, &org, "worker@example.com", "collaborator");
    app.post(
        "/customer/editcollaborator",
        Some(&admin.token),
        json!({"collaboratorid": worker.collaboratorid, "role": "owner"}),
    )
    .err(403, "forbidden");
    let r = app
        .post(
            "/customer/editcollaborator",
            Some(&admin.token),
            json!({"collaboratorid": worker.collaboratorid, "role": "admin"}),
        )
        .ok();
    assert_eq!(r.get("collaborator")["role"], "admin");
    // Owners may.
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": worker.collaboratorid, "role": "owner"}),
    )
    .ok();
}

fn the_last_owner_stays(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let owner_id = app.first_collaborator(&owner, &org);
    let r = app
        .post(
            "/customer/editcollaborator",
            Some(&owner),
            json!({"collaboratorid": owner_id, "role": "admin"}),
        )
        .err(409, "conflict");
    assert_eq!(r.reason(), "last_owner");
    let r = app.remove(&owner, &owner_id).err(409, "conflict");
    assert_eq!(r.reason(), "last_owner");
    // With a second owner, one may leave; then the other is last again.
    let second = app.member(&owner, &org, "second@example.com", "owner");
    app.remove(&second.token, &second.collaboratorid).ok();
    let r = app.remove(&owner, &owner_id).err(409, "conflict");
    assert_eq!(r.reason(), "last_owner");
    // Everyone else may leave.
    let tech = app.member(&owner, &org, "tech@example.com", "technical");
    app.remove(&tech.token, &tech.collaboratorid).ok();
    let r = app
        .get(
            &format!("/customer/details?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert_eq!(r.get("organization")["membercount"], 1);
}

fn bad_edit_values_are_422(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let other_org = app.organization(&owner, "Other");
    let foreign = app.project(&owner, &other_org, "Foreign");
    let mine = app.project(&owner, &org, "Mine");
    let worker = app.member(&owner, &org, "worker@example.com", "collaborator");
    let edit = |body: serde_json::Value| app.post("/customer/editcollaborator", Some(&owner), body);
    let r = edit(json!({"collaboratorid": worker.collaboratorid, "role": "superuser"}))
        .err(422, "validation_failed");
    assert!(r.body["response"]["error"]["fields"]["role"].is_array());
    let r = edit(json!({"collaboratorid": worker.collaboratorid, "projectpermissions": [{"projectid": mine, "permission": "write"}]}))
        .err(422, "validation_failed");
    assert!(
        r.body["response"]["error"]["fields"]["projectpermissions.0.permission"].is_array(),
        "{}",
        r.body
    );
    // Another organization's project is an id this one does not have: 404.
    edit(json!({"collaboratorid": worker.collaboratorid, "projectpermissions": [{"projectid": foreign, "permission": "read"}]}))
        .err(404, "not_found");
    edit(json!({"collaboratorid": worker.collaboratorid, "projectpermissions": [{"projectid": mine}]})).err(422, "validation_failed");
    edit(json!({"collaboratorid": worker.collaboratorid, "projectpermissions": "read"}))
        .err(400, "invalid_request");
    // Structured parameters need JSON.
    app.post_form(
        "/customer/editcollaborator",
        Some(&owner),
        &format!(
            "collaboratorid={}&projectpermissions=x",
            worker.collaboratorid
        ),
    )
    .err(400, "invalid_request");
    // Nothing was changed by the refused calls.
    let list = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let w = list
        .get("collaborators")
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == "worker@example.com")
        .unwrap()
        .clone();
    assert_eq!(w["role"], "collaborator");
    assert_eq!(w["projectpermissions"], json!([]));
    // A project named twice gets the stronger permission, once.
    let r = edit(
        json!({"collaboratorid": worker.collaboratorid, "projectpermissions": [
        {"projectid": mine, "permission": "read"}, {"projectid": mine, "permission": "full"}]}),
    )
    .ok();
    assert_eq!(
        r.get("collaborator")["projectpermissions"],
        json!([{"projectid": mine, "projectname": "Mine", "permission": "full"}])
    );
    // An empty list clears the set.
    let r = edit(json!({"collaboratorid": worker.collaboratorid, "projectpermissions": []})).ok();
    assert_eq!(r.get("collaborator")["projectpermissions"], json!([]));
}

fn pagination_is_stable(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    for i in 0..4 {
        app.member(&owner, &org, &format!("m{i}@example.com"), "collaborator");
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => {
                format!("/customer/listcollaborators?organizationid={org}&limit=2&cursor={c}")
            }
            None => format!("/customer/listcollaborators?organizationid={org}&limit=2"),
        };
        let r = app.get(&path, Some(&owner)).ok();
        let page = r.get("collaborators").as_array().unwrap().clone();
        assert!(page.len() <= 2);
        seen.extend(
            page.into_iter()
                .map(|c| c["email"].as_str().unwrap().to_string()),
        );
        match r.get("nextcursor").as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "owner@example.com",
            "m0@example.com",
            "m1@example.com",
            "m2@example.com",
            "m3@example.com"
        ]
    );
    app.get(
        &format!("/customer/listcollaborators?organizationid={org}&limit=0"),
        Some(&owner),
    )
    .err(422, "validation_failed");
    app.get(
        &format!("/customer/listcollaborators?organizationid={org}&limit=1001"),
        Some(&owner),
    )
    .err(422, "validation_failed");
    app.get(
        &format!("/customer/listcollaborators?organizationid={org}&cursor=%25%25"),
        Some(&owner),
    )
    .err(422, "validation_failed");
    let log = app
        .get(
            &format!("/customer/listauditevents?organizationid={org}&limit=3"),
            Some(&owner),
        )
        .ok();
    assert_eq!(log.get("auditevents").as_array().unwrap().len(), 3);
    assert!(log.get("nextcursor").is_string());
}

fn admin_edits_and_removes_a_collaborator(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let alpha = app.project(&owner, &org, "Alpha");
    let beta = app.project(&owner, &org, "Beta");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let worker = app.member(&owner, &org, "worker@example.com", "collaborator");

    let r = app
        .post(
            "/customer/editcollaborator",
            Some(&admin.token),
            json!({"collaboratorid": worker.collaboratorid, "cancreateprojects": true,
                   "projectpermissions": [{"projectid": alpha, "permission": "read"},
                                          {"projectid": beta, "permission": "full"}]}),
        )
        .ok();
    let c = r.get("collaborator");
    assert_eq!(c["cancreateprojects"], true);
    assert_eq!(c["role"], "collaborator");
    assert_eq!(c["projectpermissions"].as_array().unwrap().len(), 2);
    // The worker now sees both projects and may create one.
    let p = app
        .get(
            &format!("/customer/listprojects?organizationid={org}"),
            Some(&worker.token),
        )
        .ok();
    assert_eq!(p.get("projects").as_array().unwrap().len(), 2);
    app.project(&worker.token, &org, "Worker's");
    // Replacing the set with one entry drops the other.
    let r = app
        .post(
            "/customer/editcollaborator",
            Some(&admin.token),
            json!({"collaboratorid": worker.collaboratorid, "projectpermissions": [{"projectid": beta, "permission": "read"}]}),
        )
        .ok();
    assert_eq!(
        r.get("collaborator")["projectpermissions"],
        json!([{"projectid": beta, "projectname": "Beta", "permission": "read"}])
    );

    app.remove(&admin.token, &worker.collaboratorid).ok();
    app.get(
        &format!("/customer/details?organizationid={org}"),
        Some(&worker.token),
    )
    .err(404, "not_found");
    app.get(
        &format!("/customer/listprojects?organizationid={org}"),
        Some(&worker.token),
    )
    .err(404, "not_found");
    assert_eq!(
        app.get("/user/listorganizations", Some(&worker.token))
            .ok()
            .get("organizations"),
        &json!([])
    );
    let list = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert_eq!(list.get("collaborators").as_array().unwrap().len(), 2);

    // The audit log saw it all.
    let log = app
        .get(
            &format!("/customer/listauditevents?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let actions: Vec<&str> = log
        .get("auditevents")
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions[0], "collaborator.removed");
    assert!(
        actions.contains(&"collaborator.edited")
            && actions.contains(&"invite.accepted")
            && actions.contains(&"invite.created")
    );
}
