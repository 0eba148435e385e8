//! Nothing usable rests in the database (API.md §8 "Data at rest"): after a
//! whole flow, a full dump of the database holds none of the tokens, keys or
//! session tokens the clients saw: not in the tables of record (hashes only),
//! not in queued or sent mail (sealed, then erased).

use std::process::Command;

use serde_json::json;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(a_database_dump_holds_no_working_secret);

/// The whole database as text, from the backend's own dump tool.
fn dump(app: &TestApp) -> String {
    let output = if app.db.name().is_some() {
        Command::new("pg_dump").arg(&app.db.url).output()
    } else {
        Command::new("sqlite3")
            .arg(&app.db.url)
            .arg(".dump")
            .output()
    };
    let output = output.expect("run the dump tool");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 dump")
}

fn a_database_dump_holds_no_working_secret(backend: Backend) {
    let app = TestApp::start(backend);
    let mut seen: Vec<(String, String)> = Vec::new();

    // Sign-up and its confirmation link.
    app.signup("owner@example.com", "correct horse battery", "Owner");
    let confirm = app
        .mail
        .wait_for("owner@example.com")
        .token("confirm")
        .expect("confirmation link");
    app.post("/user/confirm", None, json!({"token": confirm}))
        .ok();
    seen.push(("confirmation token".into(), confirm));

    // Sessions.
    let owner = app.login("owner@example.com", "correct horse battery");
    // A login under an Idempotency-Key: its kept answer holds the session.
    let second = app
        .post_with(
            "/user/login",
            None,
            &[("Idempotency-Key", "login-1")],
            json!({"email": "owner@example.com", "password": "correct horse battery"}),
        )
        .ok()
        .get("login")["token"]
        .as_str()
        .expect("token")
        .to_string();
    seen.push(("session token".into(), owner.clone()));
    seen.push(("session token".into(), second));

    // Invites: one accepted, one left pending, one resent (both its tokens).
    let org = app.organization(&owner, "Acme");
    let joined = app.member(&owner, &org, "joined@example.com", "technical");
    seen.push(("invitee's session".into(), joined.token.clone()));
    let accepted = app.invite_token("joined@example.com", 1);
    seen.push(("accepted invite token".into(), accepted));
    app.invite(&owner, &org, "pending@example.com", "collaborator");
    seen.push((
        "pending invite token".into(),
        app.invite_token("pending@example.com", 1),
    ));
    let resent = app.invite(&owner, &org, "resent@example.com", "collaborator");
    let first_token = app.invite_token("resent@example.com", 1);
    app.post(
        "/invite/resend",
        Some(&owner),
        json!({"inviteid": resent["inviteid"]}),
    )
    .ok();
    seen.push(("replaced invite token".into(), first_token));
    seen.push((
        "resent invite token".into(),
        app.invite_token("resent@example.com", 2),
    ));

    // An API key.
    let key = app.api_key(&owner, json!({"name": "ci"}));
    seen.push((
        "API key".into(),
        key["secret"].as_str().expect("secret").to_string(),
    ));

    let dump = dump(&app);
    assert!(dump.contains("owner@example.com"), "the dump is real");
    for (what, secret) in &seen {
        assert!(secret.len() >= 20, "{what}: {secret}");
        assert!(
            !dump.contains(secret.as_str()),
            "the database holds a {what} in clear"
        );
    }
}
