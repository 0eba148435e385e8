//! The rules of API.md §3 and §4: own role, owners, inviting above one's role,
//! the last owner, duplicates, ended invites, tokens.

use serde_json::json;

use crate::on_both_backends;
use crate::support::{sql, sql_strings, Backend, TestApp};

on_both_backends!(
    nobody_changes_their_own_role,
    admins_do_not_touch_owners,
    nobody_invites_above_their_role,
    the_last_owner_stays,
    members_and_pending_addresses_are_409,
    ended_invites_are_410_saying_which,
    tokens_are_stored_only_as_hashes_and_resend_rotates,
    technical_users_manage_only_their_own_invites,
    bad_edit_values_are_422,
    pagination_is_stable,
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

fn nobody_invites_above_their_role(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let tech = app.member(&owner, &org, "tech@example.com", "technical");
    let collab = app.member(&owner, &org, "collab@example.com", "collaborator");
    let invite = |token: &str, email: &str, role: &str| {
        app.post(
            "/invite/create",
            Some(token),
            json!({"organizationid": org, "email": email, "role": role}),
        )
    };
    invite(&admin.token, "a1@example.com", "owner").err(403, "forbidden");
    invite(&admin.token, "a2@example.com", "admin").ok();
    invite(&tech.token, "t1@example.com", "admin").err(403, "forbidden");
    invite(&tech.token, "t2@example.com", "technical").ok();
    invite(&tech.token, "t3@example.com", "collaborator").ok();
    invite(&collab.token, "c1@example.com", "collaborator").err(403, "forbidden");
    invite(&owner, "o1@example.com", "owner").ok();
    // The default role is collaborator.
    let r = app
        .post(
            "/invite/create",
            Some(&owner),
            json!({"organizationid": org, "email": "d@example.com"}),
        )
        .ok();
    assert_eq!(r.get("invite")["role"], "collaborator");
    assert_eq!(r.get("invite")["cancreateprojects"], false);
    assert_eq!(r.get("invite")["projectpermissions"], json!([]));
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

fn members_and_pending_addresses_are_409(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let r = app
        .post(
            "/invite/create",
            Some(&owner),
            json!({"organizationid": org, "email": "OWNER@example.com"}),
        )
        .err(409, "conflict");
    assert_eq!(r.reason(), "already_member");
    app.invite(&owner, &org, "pending@example.com", "collaborator");
    let r = app
        .post(
            "/invite/create",
            Some(&owner),
            json!({"organizationid": org, "email": " Pending@Example.com "}),
        )
        .err(409, "conflict");
    assert_eq!(r.reason(), "invite_pending");
    // Another organization may invite the same address.
    let other = app.organization(&owner, "Other");
    app.invite(&owner, &other, "pending@example.com", "collaborator");
    // Once the pending invite has expired, a new one may be made.
    sql(
        &app,
        "UPDATE invites SET expires_at = 1000 WHERE email = 'pending@example.com'",
    );
    app.invite(&owner, &org, "pending@example.com", "collaborator");
}

fn ended_invites_are_410_saying_which(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");

    app.invite(&owner, &org, "expired@example.com", "collaborator");
    let expired = app.invite_token("expired@example.com", 1);
    sql(
        &app,
        "UPDATE invites SET expires_at = 1000 WHERE email = 'expired@example.com'",
    );
    let r = app
        .post("/invite/accept", None, json!({"token": expired}))
        .err(410, "gone");
    assert_eq!(r.reason(), "expired");
    assert!(r.text().contains("expired"), "{}", r.text());
    let listed = app
        .get(
            &format!("/invite/list?organizationid={org}&state=expired"),
            Some(&owner),
        )
        .ok();
    assert_eq!(listed.get("invites")[0]["state"], "expired");

    let revoked = app.invite(&owner, &org, "revoked@example.com", "collaborator");
    let revoked_token = app.invite_token("revoked@example.com", 1);
    let r = app
        .post(
            "/invite/revoke",
            Some(&owner),
            json!({"inviteid": revoked["inviteid"]}),
        )
        .ok();
    assert_eq!(r.get("invite")["state"], "revoked");
    let r = app
        .post("/invite/accept", None, json!({"token": revoked_token}))
        .err(410, "gone");
    assert_eq!(r.reason(), "revoked");
    assert!(r.text().contains("revoked"), "{}", r.text());
    app.post(
        "/invite/revoke",
        Some(&owner),
        json!({"inviteid": revoked["inviteid"]}),
    )
    .err(410, "gone");

    app.invite(&owner, &org, "declined@example.com", "collaborator");
    let declined = app.invite_token("declined@example.com", 1);
    app.post("/invite/decline", None, json!({"token": declined}))
        .ok();
    let r = app
        .post("/invite/accept", None, json!({"token": declined}))
        .err(410, "gone");
    assert_eq!(r.reason(), "declined");
    assert!(r.text().contains("declined"), "{}", r.text());

    let used = app.member(&owner, &org, "used@example.com", "collaborator");
    let used_token = app.invite_token(&used.email, 1);
    let r = app
        .post("/invite/accept", None, json!({"token": used_token}))
        .err(410, "gone");
    assert_eq!(r.reason(), "accepted");
    assert!(r.text().contains("accepted"), "{}", r.text());
    let r = app
        .post("/invite/decline", None, json!({"token": used_token}))
        .err(410, "gone");
    assert_eq!(r.reason(), "accepted");

    // Unknown tokens and ids are 404; a malformed token is 422; both or neither is 422.
    app.post("/invite/accept", None, json!({"token": "A".repeat(43)}))
        .err(404, "not_found");
    app.post("/invite/accept", None, json!({"token": "not a token!"}))
        .err(422, "validation_failed");
    app.post("/invite/accept", Some(&owner), json!({}))
        .err(422, "validation_failed");
    app.post(
        "/invite/accept",
        Some(&owner),
        json!({"token": "A".repeat(43), "inviteid": "x"}),
    )
    .err(422, "validation_failed");
}

fn tokens_are_stored_only_as_hashes_and_resend_rotates(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let invite = app.invite(&owner, &org, "rotate@example.com", "collaborator");
    let first = app.invite_token("rotate@example.com", 1);
    let stored = sql_strings(&app, "SELECT token_hash AS value FROM invites");
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], first);
    assert_eq!(stored[0].len(), 64, "a hex SHA-256");
    let confirmations = sql_strings(&app, "SELECT token_hash AS value FROM email_confirmations");
    let everything = sql_strings(
        &app,
        "SELECT id || email || role || state || token_hash AS value FROM invites",
    );
    assert!(
        everything.iter().all(|row| !row.contains(&first)),
        "the token itself is nowhere in the table"
    );
    assert!(confirmations.iter().all(|h| h.len() == 64));

    let r = app
        .post(
            "/invite/resend",
            Some(&owner),
            json!({"inviteid": invite["inviteid"]}),
        )
        .ok();
    assert_eq!(r.get("invite")["state"], "pending");
    let second = app.invite_token("rotate@example.com", 2);
    assert_ne!(first, second);
    let r = app
        .post("/invite/accept", None, json!({"token": first}))
        .err(410, "gone");
    assert!(r.text().contains("replaced"), "{}", r.text());
    app.get(&format!("/invite/details?token={first}"), None)
        .err(410, "gone");
    app.post("/invite/accept", None, json!({"token": second}))
        .ok();

    // Resend revives an expired invite with a fresh lifetime.
    let late = app.invite(&owner, &org, "late@example.com", "collaborator");
    sql(
        &app,
        "UPDATE invites SET expires_at = 1000 WHERE email = 'late@example.com'",
    );
    let r = app
        .post(
            "/invite/resend",
            Some(&owner),
            json!({"inviteid": late["inviteid"]}),
        )
        .ok();
    assert_eq!(r.get("invite")["state"], "pending");
    assert!(r.get("invite")["expiresat"].as_str().unwrap() > late["createdat"].as_str().unwrap());
    let token = app.invite_token("late@example.com", 2);
    app.post("/invite/accept", None, json!({"token": token}))
        .ok();
    // Accepted invites cannot be resent.
    app.post(
        "/invite/resend",
        Some(&owner),
        json!({"inviteid": late["inviteid"]}),
    )
    .err(410, "gone");
}

fn technical_users_manage_only_their_own_invites(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let tech = app.member(&owner, &org, "tech@example.com", "technical");
    let theirs = app.invite(&tech.token, &org, "theirs@example.com", "collaborator");
    let owners = app.invite(&owner, &org, "owners@example.com", "collaborator");
    app.post(
        "/invite/revoke",
        Some(&tech.token),
        json!({"inviteid": owners["inviteid"]}),
    )
    .err(403, "forbidden");
    app.post(
        "/invite/resend",
        Some(&tech.token),
        json!({"inviteid": owners["inviteid"]}),
    )
    .err(403, "forbidden");
    app.post(
        "/invite/resend",
        Some(&tech.token),
        json!({"inviteid": theirs["inviteid"]}),
    )
    .ok();
    app.post(
        "/invite/revoke",
        Some(&tech.token),
        json!({"inviteid": theirs["inviteid"]}),
    )
    .ok();
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
