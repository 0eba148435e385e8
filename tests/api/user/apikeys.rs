//! `user/*` API keys: creation, binding to an organization, expiry, deletion.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use serde_json::json;

on_both_backends!(
    api_key_lifecycle,
    bound_keys_stay_in_their_organization,
    expired_keys_are_401,
    a_bound_key_lists_only_keys_bound_with_it,
    bound_keys_stay_inside_their_organization,
    keys_follow_the_current_role_and_ended_links_say_so,
);

fn api_key_lifecycle(backend: Backend) {
    let app = TestApp::start(backend);
    let token = app.user("ops@example.com");
    let key = app.api_key(&token, json!({"name": "deploy script"}));
    let secret = key["secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 43, "at least 256 bits");
    assert_eq!(key["organizationid"], json!(null));
    assert_eq!(key["expiresat"], json!(null));
    assert_eq!(key["lastusedat"], json!(null));

    // Only a hash of the secret is stored.
    let stored = crate::support::sql_strings(&app, "SELECT secret_hash AS value FROM api_keys");
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(&secret) && stored[0].len() == 64);

    // The key works as a bearer token and is recorded as used.
    let r = app.get("/user/details", Some(&secret)).ok();
    assert_eq!(r.get("user")["email"], "ops@example.com");
    let list = app.get("/user/listapikeys", Some(&token)).ok();
    let listed = &list.get("apikeys")[0];
    assert!(
        listed.get("secret").is_none(),
        "the secret is shown once only"
    );
    assert!(listed["lastusedat"].is_string());
    assert_eq!(listed["apikeyid"], key["apikeyid"]);

    // Another user cannot delete it.
    let other = app.user("other@example.com");
    app.post(
        "/user/deleteapikey",
        Some(&other),
        json!({"apikeyid": key["apikeyid"]}),
    )
    .err(404, "not_found");
    app.post(
        "/user/deleteapikey",
        Some(&token),
        json!({"apikeyid": key["apikeyid"]}),
    )
    .ok();
    app.get("/user/details", Some(&secret))
        .err(401, "unauthenticated");
    assert_eq!(
        app.get("/user/listapikeys", Some(&token))
            .ok()
            .get("apikeys"),
        &json!([])
    );
    // An API key is not a session.
    let r = app
        .post(
            "/user/createapikey",
            Some(&token),
            json!({"name": "second"}),
        )
        .ok();
    let second = r.get("apikey")["secret"].as_str().unwrap().to_string();
    app.post("/user/logout", Some(&second), json!({}))
        .err(403, "forbidden");
}

fn bound_keys_stay_in_their_organization(backend: Backend) {
    let app = TestApp::start(backend);
    let token = app.user("owner@example.com");
    let mine = app.organization(&token, "Mine");
    let other = app.organization(&token, "Other");
    let stranger = app.user("stranger@example.com");
    let theirs = app.organization(&stranger, "Theirs");

    // Binding needs membership.
    app.post(
        "/user/createapikey",
        Some(&token),
        json!({"name": "k", "organizationid": theirs}),
    )
    .err(404, "not_found");
    let r = app
        .post(
            "/user/createapikey",
            Some(&token),
            json!({"name": "k", "organizationid": mine}),
        )
        .ok();
    let key = r.get("apikey")["secret"].as_str().unwrap().to_string();
    assert_eq!(r.get("apikey")["organizationid"], json!(mine));

    // organizationid defaults to the bound one.
    let r = app.post("/customer/details", Some(&key), json!({})).ok();
    assert_eq!(r.get("organization")["organizationid"], json!(mine));
    app.post(
        "/customer/details",
        Some(&key),
        json!({"organizationid": mine}),
    )
    .ok();
    // Another organization answers 403, even one the user belongs to.
    app.post(
        "/customer/details",
        Some(&key),
        json!({"organizationid": other}),
    )
    .err(403, "forbidden");
    app.post(
        "/customer/settings",
        Some(&key),
        json!({"organizationid": other, "name": "x"}),
    )
    .err(403, "forbidden");
    // It sees only its organization, and cannot widen itself.
    let r = app.get("/user/listorganizations", Some(&key)).ok();
    assert_eq!(r.get("organizations").as_array().unwrap().len(), 1);
    app.post(
        "/user/createorganization",
        Some(&key),
        json!({"name": "More"}),
    )
    .err(403, "forbidden");
    app.post(
        "/user/createapikey",
        Some(&key),
        json!({"name": "wider", "organizationid": other}),
    )
    .err(403, "forbidden");
    let r = app
        .post("/user/createapikey", Some(&key), json!({"name": "same"}))
        .ok();
    assert_eq!(r.get("apikey")["organizationid"], json!(mine));
    // It acts with its owner's role: an owner may change settings.
    app.post("/customer/settings", Some(&key), json!({"name": "Renamed"}))
        .ok();
}

fn expired_keys_are_401(backend: Backend) {
    let app = TestApp::start(backend);
    let token = app.user("ops@example.com");
    let r = app
        .post(
            "/user/createapikey",
            Some(&token),
            json!({"name": "short", "expiresindays": 1}),
        )
        .ok();
    let key = r.get("apikey");
    let expires = chrono::DateTime::parse_from_rfc3339(key["expiresat"].as_str().unwrap()).unwrap();
    let delta = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!((86_000..=86_400).contains(&delta), "{delta}");
    app.post(
        "/user/createapikey",
        Some(&token),
        json!({"name": "bad", "expiresindays": 0}),
    )
    .err(422, "validation_failed");
    // Age the key past its expiry in the database.
    let id = key["apikeyid"].as_str().unwrap();
    let secret = key["secret"].as_str().unwrap();
    app.get("/user/details", Some(secret)).ok();
    crate::support::sql(
        &app,
        &format!("UPDATE api_keys SET expires_at = 1000 WHERE id = '{id}'"),
    );
    app.get("/user/details", Some(secret))
        .err(401, "unauthenticated");
}

fn bound_keys_stay_inside_their_organization(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let mine = app.organization(&owner, "Mine");
    let other_owner = app.user("other@example.com");
    let theirs = app.organization(&other_owner, "Theirs");
    let key = app.api_key(&owner, json!({"name": "bound", "organizationid": mine}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    // A password change needs a session.
    app.post(
        "/user/edit",
        Some(&key),
        json!({"password": "new password 1", "currentpassword": "correct horse battery"}),
    )
    .err(403, "forbidden");
    // It may not delete the user's other keys.
    let unbound = app
        .post(
            "/user/createapikey",
            Some(&owner),
            json!({"name": "unbound"}),
        )
        .ok()
        .get("apikey")["apikeyid"]
        .clone();
    app.post(
        "/user/deleteapikey",
        Some(&key),
        json!({"apikeyid": unbound}),
    )
    .err(403, "forbidden");
    // Another organization's objects look missing, not forbidden.
    let list = app
        .get(
            &format!("/customer/listcollaborators?organizationid={theirs}"),
            Some(&other_owner),
        )
        .ok();
    let foreign = list.get("collaborators")[0]["collaboratorid"].clone();
    app.remove(&key, foreign.as_str().unwrap())
        .err(404, "not_found");
    let foreign_invite = app.invite(&other_owner, &theirs, "someone@example.com", "collaborator");
    app.post(
        "/invite/revoke",
        Some(&key),
        json!({"inviteid": foreign_invite["inviteid"]}),
    )
    .err(404, "not_found");
    // An invite to another organization cannot be accepted with it.
    app.invite(&other_owner, &theirs, "owner@example.com", "collaborator");
    let token = app.invite_token("owner@example.com", 2);
    let listed = app.get("/user/listinvites", Some(&key)).ok();
    assert_eq!(
        listed.get("invites"),
        &json!([]),
        "a bound key sees only its organization's invites"
    );
    app.post("/invite/accept", Some(&key), json!({"token": token}))
        .err(403, "forbidden");
    // With a session it works.
    app.post("/invite/accept", Some(&owner), json!({"token": token}))
        .ok();
}

fn keys_follow_the_current_role_and_ended_links_say_so(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let key = app.api_key(&admin.token, json!({"name": "ops", "organizationid": org}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    app.get(
        &format!("/customer/listauditevents?organizationid={org}"),
        Some(&key),
    )
    .ok();
    // Demoted to collaborator: the key acts with the new role at once.
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": admin.collaboratorid, "role": "collaborator"}),
    )
    .ok();
    app.get(
        &format!("/customer/listauditevents?organizationid={org}"),
        Some(&key),
    )
    .err(403, "forbidden");
    // Removed: the keys bound to the organization are gone.
    app.remove(&owner, &admin.collaboratorid).ok();
    app.get("/user/details", Some(&key))
        .err(401, "unauthenticated");
    app.get("/user/details", Some(&admin.token)).ok();

    // Revoking an invite that has expired says so.
    let late = app.invite(&owner, &org, "late@example.com", "collaborator");
    crate::support::sql(
        &app,
        "UPDATE invites SET expires_at = 1000 WHERE email = 'late@example.com'",
    );
    let r = app
        .post(
            "/invite/revoke",
            Some(&owner),
            json!({"inviteid": late["inviteid"]}),
        )
        .err(410, "gone");
    assert_eq!(r.reason(), "expired");
    // An expired confirmation link answers 410 and confirms nothing.
    app.signup("slow@example.com", "password123", "S");
    let token = app
        .mail
        .wait_for("slow@example.com")
        .token("confirm")
        .unwrap();
    crate::support::sql(&app, "UPDATE email_confirmations SET expires_at = 1000");
    let r = app
        .post("/user/confirm", None, json!({"token": token}))
        .err(410, "gone");
    assert_eq!(r.reason(), "expired");
    let session = app.login("slow@example.com", "password123");
    assert_eq!(
        app.get("/user/details", Some(&session)).ok().get("user")["emailverified"],
        false
    );
}

fn a_bound_key_lists_only_keys_bound_with_it(backend: Backend) {
    let app = TestApp::start(backend);
    let token = app.user("ops@example.com");
    let acme = app.organization(&token, "Acme");
    let other = app.organization(&token, "Other");
    app.api_key(&token, json!({"name": "unbound"}));
    app.api_key(&token, json!({"name": "other", "organizationid": other}));
    let bound = app.api_key(&token, json!({"name": "acme", "organizationid": acme}));
    let secret = bound["secret"].as_str().expect("secret");
    let seen = app.get("/user/listapikeys", Some(secret)).ok();
    let names: Vec<&str> = seen
        .get("apikeys")
        .as_array()
        .expect("apikeys")
        .iter()
        .map(|k| k["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["acme"]);
    let all = app.get("/user/listapikeys", Some(&token)).ok();
    assert_eq!(all.get("apikeys").as_array().expect("apikeys").len(), 3);
}
