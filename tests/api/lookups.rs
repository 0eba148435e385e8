//! `customer/listcollaborators` looks a session token's session up in the
//! statement that reads the caller's membership, not before its parameters
//! are read. It must still answer exactly as the other endpoints do: a
//! revoked, expired or deleted session gets 401, and gets it before any 422
//! or 404 it would otherwise have earned (API.md §2); API keys and keyed
//! requests, which take the usual way, work as before.

use serde_json::json;

use crate::on_both_backends;
use crate::support::{sql, Backend, TestApp};

on_both_backends!(
    a_dead_session_gets_401_before_anything_else,
    a_live_session_gets_the_answers_it_earned,
    keys_and_keyed_requests_are_looked_up_first,
);

fn list(org: &str) -> String {
    format!("/customer/listcollaborators?organizationid={org}")
}

/// Every way a request can go wrong, for one token: each must be 401 when
/// the token's session is dead.
fn all_refused(app: &TestApp, token: &str, org: &str) {
    app.get(&list(org), Some(token)).err(401, "unauthenticated");
    // A parameter refused before the handler's statement runs.
    app.get(&format!("{}&limit=0", list(org)), Some(token))
        .err(401, "unauthenticated");
    app.get(&format!("{}&cursor=%%%", list(org)), Some(token))
        .err(401, "unauthenticated");
    app.get(&format!("{}&bogus=1", list(org)), Some(token))
        .err(401, "unauthenticated");
    // No organization named.
    app.get("/customer/listcollaborators", Some(token))
        .err(401, "unauthenticated");
    // An organization the user is not in.
    app.get(&list("no-such-organization"), Some(token))
        .err(401, "unauthenticated");
    // POST, with a malformed body.
    app.request(
        "POST",
        "/customer/listcollaborators",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &format!("Bearer {token}")),
        ],
        b"{not json",
    )
    .err(401, "unauthenticated");
}

fn a_dead_session_gets_401_before_anything_else(backend: Backend) {
    let app = TestApp::start(backend);
    let kept = app.user("owner@example.com");
    let org = app.organization(&kept, "Acme");
    let password = "correct horse battery";

    // Revoked by logging out: the other session of the same user still works.
    let revoked = app.login("owner@example.com", password);
    app.get(&list(&org), Some(&revoked)).ok();
    app.post("/user/logout", Some(&revoked), json!({})).ok();
    all_refused(&app, &revoked, &org);
    app.get(&list(&org), Some(&kept)).ok();

    // Expired in the database before the token's own `exp`.
    let aged = app.login("owner@example.com", password);
    app.get(&list(&org), Some(&aged)).ok();
    // Ids are time-ordered (UUIDv7): the newest session is `aged`'s.
    sql(
        &app,
        "UPDATE sessions SET expires_at = 1 \
         WHERE id = (SELECT id FROM sessions ORDER BY id DESC LIMIT 1)",
    );
    all_refused(&app, &aged, &org);
    app.get(&list(&org), Some(&kept)).ok();

    // Deleted outright (as retention does): every request 401.
    sql(&app, "DELETE FROM sessions");
    all_refused(&app, &kept, &org);
    all_refused(&app, &aged, &org);
}

fn a_live_session_gets_the_answers_it_earned(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let stranger = app.user("stranger@example.com");

    let page = app.get(&list(&org), Some(&owner)).ok();
    assert_eq!(page.get("collaborators").as_array().map(Vec::len), Some(1));
    app.get(&format!("{}&limit=0", list(&org)), Some(&owner))
        .err(422, "validation_failed");
    app.get("/customer/listcollaborators", Some(&owner))
        .err(422, "validation_failed");
    app.get(&format!("{}&bogus=1", list(&org)), Some(&owner))
        .err(400, "invalid_request");
    // Not a member: the organization does not exist for them.
    app.get(&list(&org), Some(&stranger)).err(404, "not_found");
    app.get(&list("no-such-organization"), Some(&owner))
        .err(404, "not_found");
    // A role the matrix refuses: 403.
    let collaborator = app.member(&owner, &org, "collaborator@example.com", "collaborator");
    app.get(&list(&org), Some(&collaborator.token))
        .err(403, "forbidden");
    // A member removed while their session lives: 404 from then on.
    let member = app.member(&owner, &org, "member@example.com", "technical");
    app.get(&list(&org), Some(&member.token)).ok();
    app.remove(&owner, &member.collaboratorid).ok();
    app.get(&list(&org), Some(&member.token))
        .err(404, "not_found");
    // A token whose signature does not hold never reaches the handler.
    let mut forged = owner.clone();
    forged.pop();
    forged.push(if owner.ends_with('A') { 'B' } else { 'A' });
    app.get(&list(&org), Some(&forged))
        .err(401, "unauthenticated");
}

fn keys_and_keyed_requests_are_looked_up_first(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let key = app.api_key(&owner, json!({"name": "ci", "organizationid": org}));
    let secret = key["secret"].as_str().expect("secret").to_string();
    // A bound key names its organization itself.
    let page = app.get("/customer/listcollaborators", Some(&secret)).ok();
    assert_eq!(page.get("collaborators").as_array().map(Vec::len), Some(1));
    app.post(
        "/user/deleteapikey",
        Some(&owner),
        json!({"apikeyid": key["apikeyid"]}),
    )
    .ok();
    app.get("/customer/listcollaborators", Some(&secret))
        .err(401, "unauthenticated");

    // With an Idempotency-Key the session is looked up before the key is
    // claimed, live or not.
    let keyed = |token: &str, key: &str| {
        app.post_with(
            "/customer/listcollaborators",
            Some(token),
            &[("Idempotency-Key", key)],
            json!({"organizationid": org}),
        )
    };
    keyed(&owner, "first").ok();
    // A replay carries the first answer's body, transaction id included.
    let replay = keyed(&owner, "first");
    assert_eq!(replay.status, 200, "{}", replay.body);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    app.post("/user/logout", Some(&owner), json!({})).ok();
    keyed(&owner, "second").err(401, "unauthenticated");
    keyed(&owner, "first").err(401, "unauthenticated");
}
