//! `invite/*` rules: ceilings, conflicts, ended invites, tokens, who manages which invite,
//! and the corners of accepting.

use crate::on_both_backends;
use crate::support::{sql, sql_strings, Backend, TestApp};
use serde_json::json;

on_both_backends!(
    nobody_invites_above_their_role,
    members_and_pending_addresses_are_409,
    ended_invites_are_410_saying_which,
    tokens_are_stored_only_as_hashes_and_resend_rotates,
    technical_users_manage_only_their_own_invites,
    an_unconfirmed_squatter_loses_the_account_to_the_mailbox_owner,
    granters_below_admin_hand_out_only_what_they_hold,
    accepting_corners,
    an_invite_addressed_to_someone_else_is_an_unknown_invite,
);

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

fn an_unconfirmed_squatter_loses_the_account_to_the_mailbox_owner(backend: Backend) {
    let app = TestApp::start(backend);
    // Someone signs up with an address that is not theirs and never confirms it.
    app.signup("victim@example.com", "squatter-password", "Squatter");
    let squatter = app.login("victim@example.com", "squatter-password");
    let key = app.api_key(&squatter, json!({"name": "k"}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.invite(&owner, &org, "victim@example.com", "admin");
    let token = app
        .mail
        .wait_for_nth("victim@example.com", 2)
        .token("invite")
        .expect("invite link");
    // The mailbox owner accepts by the emailed token.
    let r = app
        .post(
            "/invite/accept",
            None,
            json!({"token": token, "password": "victims-own-password"}),
        )
        .ok();
    assert_eq!(r.get("login")["user"]["emailverified"], true);
    // The squatter's password, session and key are all gone.
    app.post(
        "/user/login",
        None,
        json!({"email": "victim@example.com", "password": "squatter-password"}),
    )
    .err(401, "unauthenticated");
    app.get("/user/details", Some(&squatter))
        .err(401, "unauthenticated");
    app.get("/user/details", Some(&key))
        .err(401, "unauthenticated");
    let victim = app.login("victim@example.com", "victims-own-password");
    let orgs = app.get("/user/listorganizations", Some(&victim)).ok();
    assert_eq!(orgs.get("organizations")[0]["role"], "admin");
}

fn granters_below_admin_hand_out_only_what_they_hold(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let shared = app.project(&owner, &org, "Shared");
    let secret = app.project(&owner, &org, "Secret");
    let tech = app.member(&owner, &org, "tech@example.com", "technical");
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": tech.collaboratorid, "projectpermissions": [{"projectid": shared, "permission": "read"}]}),
    )
    .ok();
    let invite = |email: &str, extra: serde_json::Value| {
        let mut body = json!({"organizationid": org, "email": email, "role": "collaborator"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        app.post("/invite/create", Some(&tech.token), body)
    };
    invite(
        "a@example.com",
        json!({"projectpermissions": [{"projectid": shared, "permission": "full"}]}),
    )
    .err(403, "forbidden");
    invite(
        "b@example.com",
        json!({"projectpermissions": [{"projectid": secret, "permission": "read"}]}),
    )
    .err(403, "forbidden");
    invite("c@example.com", json!({"cancreateprojects": true})).err(403, "forbidden");
    invite(
        "d@example.com",
        json!({"projectpermissions": [{"projectid": shared, "permission": "read"}]}),
    )
    .ok();

    // What others hold on projects the technical user cannot see stays hidden.
    let worker = app.member(&owner, &org, "worker@example.com", "collaborator");
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": worker.collaboratorid, "projectpermissions": [
            {"projectid": shared, "permission": "full"}, {"projectid": secret, "permission": "full"}]}),
    )
    .ok();
    let list = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&tech.token),
        )
        .ok();
    let seen = list
        .get("collaborators")
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == "worker@example.com")
        .unwrap()
        .clone();
    assert_eq!(
        seen["projectpermissions"],
        json!([{"projectid": shared, "projectname": "Shared", "permission": "full"}])
    );
    let body = list.body.to_string();
    assert!(
        !body.contains(&secret) && !body.contains("Secret"),
        "{body}"
    );
    // Owners see everything.
    let list = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert!(list.body.to_string().contains(&secret));
}

fn accepting_corners(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    // By token while signed in as somebody else.
    app.invite(&owner, &org, "first@example.com", "collaborator");
    let token = app.invite_token("first@example.com", 1);
    let stranger = app.user("stranger@example.com");
    app.post("/invite/accept", Some(&stranger), json!({"token": token}))
        .err(403, "forbidden");
    // A newcomer's password works for later logins.
    app.post(
        "/invite/accept",
        None,
        json!({"token": token, "password": "first-password"}),
    )
    .ok();
    app.login("first@example.com", "first-password");

    // An existing account accepting by token without a session gets a session.
    app.signup("existing@example.com", "password123", "E");
    app.invite(&owner, &org, "existing@example.com", "technical");
    let token = app.invite_token("existing@example.com", 2);
    let r = app
        .post("/invite/accept", None, json!({"token": token}))
        .ok();
    assert_eq!(r.get("login")["user"]["email"], "existing@example.com");

    // By inviteid from an address that is not confirmed: not the caller's
    // to see until it is (the token from the mail works).
    app.signup("unconfirmed@example.com", "password123", "U");
    let unconfirmed = app.login("unconfirmed@example.com", "password123");
    let invite = app.invite(&owner, &org, "unconfirmed@example.com", "collaborator");
    app.post(
        "/invite/accept",
        Some(&unconfirmed),
        json!({"inviteid": invite["inviteid"]}),
    )
    .err(404, "not_found");
    assert_eq!(
        app.get("/user/listinvites", Some(&unconfirmed))
            .ok()
            .get("invites"),
        &json!([])
    );
    // Confirmed, it may decline by id; the invite then answers 410 to its token.
    let confirm = app
        .mail
        .wait_for("unconfirmed@example.com")
        .token("confirm")
        .unwrap();
    app.post("/user/confirm", None, json!({"token": confirm}))
        .ok();
    assert_eq!(
        app.get("/user/listinvites", Some(&unconfirmed))
            .ok()
            .get("invites")
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.post(
        "/invite/decline",
        Some(&unconfirmed),
        json!({"inviteid": invite["inviteid"]}),
    )
    .ok();
    let token = app.invite_token("unconfirmed@example.com", 2);
    app.post("/invite/accept", None, json!({"token": token}))
        .err(410, "gone");
    app.post(
        "/invite/resend",
        Some(&owner),
        json!({"inviteid": invite["inviteid"]}),
    )
    .err(410, "gone");
}

/// API.md §4: by `inviteid`, an invite addressed to someone else answers
/// exactly as an unknown id (404, same body), to a session, an unbound key
/// and a bound key alike; and it stays pending.
fn an_invite_addressed_to_someone_else_is_an_unknown_invite(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let invite = app.invite(&owner, &org, "someone@example.com", "admin");
    let stranger = app.user("stranger@example.com");
    sql(
        &app,
        "UPDATE users SET email_verified = TRUE WHERE email = 'stranger@example.com'",
    );
    let theirs = app.organization(&stranger, "Theirs");
    let free = app.api_key(&stranger, json!({"name": "any"}));
    let bound = app.api_key(
        &stranger,
        json!({"name": "theirs", "organizationid": theirs}),
    );
    let never = uuid::Uuid::now_v7().to_string();
    for (who, token) in [
        ("session", stranger.as_str()),
        ("unbound key", free["secret"].as_str().unwrap()),
        ("bound key", bound["secret"].as_str().unwrap()),
    ] {
        for path in ["/invite/accept", "/invite/decline"] {
            let existing = app
                .post(path, Some(token), json!({"inviteid": invite["inviteid"]}))
                .err(404, "not_found");
            let missing = app
                .post(path, Some(token), json!({"inviteid": never}))
                .err(404, "not_found");
            assert_eq!(
                crate::basic::told(&existing),
                crate::basic::told(&missing),
                "{path}, {who}"
            );
            assert_eq!(
                existing.body["response"]["error"],
                missing.body["response"]["error"]
            );
        }
    }
    let r = app
        .get(
            &format!("/invite/list?organizationid={org}&state=pending"),
            Some(&owner),
        )
        .ok();
    assert_eq!(r.get("invites")[0]["inviteid"], invite["inviteid"]);
}
