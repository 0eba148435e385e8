//! `Idempotency-Key` (API.md §1 "Retries"): a retried POST changes nothing
//! and answers as the first did; another body under the key is refused; a
//! repeat while the first runs is told so; and all of it holds across two
//! servers on one database, since the keys are kept there.

use serde_json::json;

use crate::on_both_backends;
use crate::support::{in_parallel, sql, Backend, Client, TestApp, TestServer};

on_both_backends!(
    keys_belong_to_a_credential_and_passing_refusals_are_not_kept,
    a_retried_post_changes_nothing,
    concurrent_repeats_run_once,
    keys_hold_across_processes
);

fn keyed(
    client: &Client,
    path: &str,
    token: Option<&str>,
    key: &str,
    body: serde_json::Value,
) -> crate::support::Resp {
    client.post_with(path, token, &[("Idempotency-Key", key)], body)
}

fn a_retried_post_changes_nothing(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let create = |name: &str| {
        keyed(
            &app,
            "/user/createorganization",
            Some(&owner),
            "org-1",
            json!({"name": name}),
        )
    };
    let first = create("Acme").ok();
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = create("Acme");
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body, "the kept answer, byte for byte");
    let list = app.get("/user/listorganizations", Some(&owner)).ok();
    assert_eq!(list.get("organizations").as_array().unwrap().len(), 1);
    // Another body under the same key.
    let r = create("Other").err(422, "validation_failed");
    assert!(r.body["response"]["error"]["fields"]["Idempotency-Key"].is_array());
    // A key is the caller's own: another user's "org-1" is a new request.
    let other = app.user("other@example.com");
    keyed(
        &app,
        "/user/createorganization",
        Some(&other),
        "org-1",
        json!({"name": "Acme"}),
    )
    .ok();

    // One invite, one email, whatever the retries.
    let org = first.get("organization")["organizationid"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..3 {
        let r = keyed(
            &app,
            "/invite/create",
            Some(&owner),
            "invite-1",
            json!({"organizationid": org, "email": "guest@example.com"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    app.mail.wait_for("guest@example.com");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mails = app
        .mail
        .messages()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == "guest@example.com"))
        .count();
    assert_eq!(mails, 1);
    let invites = app
        .get(&format!("/invite/list?organizationid={org}"), Some(&owner))
        .ok();
    assert_eq!(invites.get("invites").as_array().unwrap().len(), 1);
    // Refusals are kept too: a 409 replays as the same 409.
    let dup = json!({"organizationid": org, "email": "guest@example.com"});
    let conflict = keyed(
        &app,
        "/invite/create",
        Some(&owner),
        "invite-2",
        dup.clone(),
    );
    assert_eq!(conflict.status, 409);
    let replayed = keyed(&app, "/invite/create", Some(&owner), "invite-2", dup);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    // A key that is not 1–255 printable ASCII characters.
    keyed(
        &app,
        "/user/createorganization",
        Some(&owner),
        "",
        json!({"name": "X"}),
    )
    .err(400, "invalid_request");
}

fn concurrent_repeats_run_once(backend: Backend) {
    let app = TestApp::start(backend);
    // A sign-up hashes its password: long enough for repeats to meet it running.
    let statuses: Vec<(u16, bool, String)> = in_parallel(6, |_| {
        let r = keyed(
            &app,
            "/user/signup",
            None,
            "signup-1",
            json!({"email": "ada@example.com", "password": "correct horse", "name": "Ada"}),
        );
        (
            r.status,
            r.header("idempotent-replayed").is_some(),
            r.reason().to_string(),
        )
    });
    let ran = statuses
        .iter()
        .filter(|(s, replayed, _)| *s == 200 && !replayed)
        .count();
    assert_eq!(ran, 1, "{statuses:?}");
    for (status, replayed, reason) in &statuses {
        assert!(
            (*status == 200) || (*status == 409 && reason == "request_in_progress" && !replayed),
            "{statuses:?}"
        );
    }
    eprintln!("concurrent repeats: {statuses:?}");
}

fn keys_hold_across_processes(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let second = TestServer::start(app.config.clone());
    let other = Client::new(&second.base);
    let body = json!({"name": "Acme"});
    let first = keyed(
        &app,
        "/user/createorganization",
        Some(&owner),
        "k",
        body.clone(),
    )
    .ok();
    let again = keyed(&other, "/user/createorganization", Some(&owner), "k", body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    keyed(
        &other,
        "/user/createorganization",
        Some(&owner),
        "k",
        json!({"name": "B"}),
    )
    .err(422, "validation_failed");
    let list = other.get("/user/listorganizations", Some(&owner)).ok();
    assert_eq!(list.get("organizations").as_array().unwrap().len(), 1);
}

fn keys_belong_to_a_credential_and_passing_refusals_are_not_kept(backend: Backend) {
    let app = TestApp::start(backend);
    let session = app.user("owner@example.com");
    let key = app.api_key(&session, json!({"name": "ci"}));
    let key = key["secret"].as_str().expect("secret").to_string();
    let body = json!({"name": "Acme"});
    keyed(
        &app,
        "/user/createorganization",
        Some(&session),
        "same",
        body.clone(),
    )
    .ok();
    // The same user's API key is another credential: it runs, no replay.
    let by_key = keyed(
        &app,
        "/user/createorganization",
        Some(&key),
        "same",
        body.clone(),
    )
    .ok();
    assert_eq!(by_key.header("idempotent-replayed"), None);

    // A wrong password (401) is not kept: the retry runs again.
    let wrong = json!({"email": "owner@example.com", "password": "wrong password"});
    for _ in 0..2 {
        let r =
            keyed(&app, "/user/login", None, "login", wrong.clone()).err(401, "unauthenticated");
        assert_eq!(r.header("idempotent-replayed"), None);
    }

    // A claim whose process died holds its key for a minute, no longer.
    let stuck = json!({"name": "Stuck"});
    keyed(
        &app,
        "/user/createorganization",
        Some(&session),
        "stuck",
        stuck.clone(),
    )
    .ok();
    sql(
        &app,
        "UPDATE idempotency_keys SET status = NULL, body = NULL WHERE idempotency_key = 'stuck'",
    );
    let r = keyed(
        &app,
        "/user/createorganization",
        Some(&session),
        "stuck",
        stuck.clone(),
    );
    assert_eq!((r.status, r.reason()), (409, "request_in_progress"));
    let old = collabd::domain::now_ms() - 120_000;
    sql(
        &app,
        &format!("UPDATE idempotency_keys SET created_at = {old} WHERE idempotency_key = 'stuck'"),
    );
    let r = keyed(
        &app,
        "/user/createorganization",
        Some(&session),
        "stuck",
        stuck,
    )
    .ok();
    assert_eq!(r.header("idempotent-replayed"), None);
}
