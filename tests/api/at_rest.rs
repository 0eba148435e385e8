//! Nothing usable rests in the database (API.md §8 "Data at rest"): after a
//! whole flow, a full dump of the database holds none of the tokens, keys or
//! session tokens the clients saw: not in the tables of record (hashes only),
//! not in queued or sent mail (sealed, then erased).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::support::{sql, sql_strings, Backend, Receiver, TestApp};
use crate::{on_both_backends, on_postgres};

on_both_backends!(
    a_database_dump_holds_no_working_secret,
    a_token_signed_with_anything_a_dump_holds_is_401,
    an_earlier_versions_stored_secret_is_moved_out_and_erased,
    a_rotated_secret_keeps_sessions_second_factors_and_webhooks,
);
on_postgres!(postgresql_without_a_secret_refuses_to_start);

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

/// A server given no `COLLABD_JWT_SECRET`, as an operator would run it: on
/// SQLite the key file beside its database, made at start; on PostgreSQL a
/// secret file the operator wrote (it must be given one). Returns the app and
/// where its secret lives.
fn start_without_a_configured_secret(
    backend: Backend,
    dir: &std::path::Path,
) -> (TestApp, PathBuf) {
    let file = dir.join("secret");
    let postgres = matches!(backend, Backend::Postgres(_));
    if postgres {
        std::fs::write(
            &file,
            format!("{}\n", "k".repeat(20) + "operator-chosen-secret"),
        )
        .unwrap();
    }
    let app = TestApp::start_with(backend, |c| {
        c.jwt_secret = None;
        if postgres {
            c.secret_file = Some(file.clone());
        }
    });
    let path = if postgres {
        file
    } else {
        PathBuf::from(format!("{}.key", app.db.url))
    };
    (app, path)
}

/// The claims of a session token the server issued.
fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

fn forge(claims: &Value, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("signing")
}

fn a_token_signed_with_anything_a_dump_holds_is_401(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (app, secret_path) = start_without_a_configured_secret(backend, dir.path());
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.invite(&owner, &org, "invitee@example.com", "admin");
    let claims = claims_of(&owner);

    // The forgery itself is sound: signed with the real secret, it works.
    let real = std::fs::read_to_string(&secret_path).expect("the secret file");
    let forged = forge(&claims, real.trim().as_bytes());
    app.get(
        &format!("/customer/listcollaborators?organizationid={org}"),
        Some(&forged),
    )
    .ok();

    // Everything the database holds that could be a secret: every run of
    // secret-like characters of 16 or more, and every whole value.
    let dump = dump(&app);
    assert!(dump.contains("owner@example.com"), "the dump is real");
    assert!(
        !dump.contains(real.trim()),
        "the secret rests in the database"
    );
    let mut candidates: BTreeSet<String> = dump
        .split(|c: char| !(c.is_ascii_alphanumeric() || "_-+/=:.$".contains(c)))
        .filter(|run| run.len() >= 16)
        .map(str::to_string)
        .collect();
    candidates.extend(
        dump.split(['\'', '\t', '\n', ','])
            .filter(|value| value.len() >= 16)
            .map(str::to_string),
    );
    assert!(candidates.len() > 20, "{} candidates", candidates.len());
    for candidate in &candidates {
        let forged = forge(&claims, candidate.as_bytes());
        app.get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&forged),
        )
        .err(401, "unauthenticated");
    }
}

fn an_earlier_versions_stored_secret_is_moved_out_and_erased(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (mut app, secret_path) = start_without_a_configured_secret(backend, dir.path());
    let token = app.user("kept@example.com");
    let claims = claims_of(&token);
    // As an earlier version left it: the secret in the settings table, and no
    // file (a PostgreSQL operator names where it should go).
    let old = "an-earlier-versions-secret-kept-in-the-database";
    std::fs::remove_file(&secret_path).unwrap();
    sql(
        &app,
        &format!("INSERT INTO settings (key, value) VALUES ('jwt_secret', '{old}')"),
    );
    app.restart(|_| {});

    assert_eq!(
        std::fs::read_to_string(&secret_path).unwrap().trim(),
        old,
        "moved into the file"
    );
    assert!(
        sql_strings(&app, "SELECT value FROM settings WHERE key = 'jwt_secret'").is_empty(),
        "erased from the database"
    );
    assert!(!dump(&app).contains(old), "no copy left in the database");
    if app.db.name().is_none() {
        let file = std::fs::read(&app.db.url).unwrap();
        assert!(
            !file.windows(old.len()).any(|w| w == old.as_bytes()),
            "no copy left in the SQLite file's free pages"
        );
    }
    // Sessions it signed stay valid: it is the server's secret still.
    let forged = forge(&claims, old.as_bytes());
    app.get("/user/details", Some(&forged)).ok();
    app.restart(|_| {});
    app.get("/user/details", Some(&forged)).ok();
}

fn postgresql_without_a_secret_refuses_to_start(backend: Backend) {
    let db = crate::support::TestDatabase::new(&backend);
    let mut config = crate::support::test_config(&db);
    config.jwt_secret = None;
    let refusal = collabd::build_context(&config)
        .err()
        .expect("a PostgreSQL server with no secret refuses to start");
    assert!(
        refusal.contains("COLLABD_JWT_SECRET") && refusal.contains("COLLABD_SECRET_FILE"),
        "{refusal}"
    );
    // An operator's secret file it cannot find is refused too, naming it.
    config.secret_file = Some(db.dir().join("missing"));
    let refusal = collabd::build_context(&config)
        .err()
        .expect("a missing secret file is refused");
    assert!(refusal.contains("missing"), "{refusal}");
}

/// The code of a base32 TOTP `secret`, `steps` 30-second steps from now.
fn totp(secret: &str, steps: u64) -> String {
    use totp_rs::{Algorithm as TotpAlgorithm, Secret, TOTP};
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    TOTP::new_unchecked(TotpAlgorithm::SHA1, 6, 1, 30, bytes, None, String::new())
        .generate(now + 30 * steps)
}

fn a_rotated_secret_keeps_sessions_second_factors_and_webhooks(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    let old = "the-secret-before-rotation-0123456789";
    let new = "the-secret-after-rotation-9876543210";
    std::fs::write(&file, format!("{old}\n")).unwrap();
    let mut app = TestApp::start_with(backend, |c| {
        c.jwt_secret = None;
        c.secret_file = Some(file.clone());
        c.webhook_allow_private = true;
    });
    let token = app.user("rotate@example.com");
    let setup = app
        .post(
            "/user/enabletwofactor",
            Some(&token),
            json!({"currentpassword": "correct horse battery"}),
        )
        .ok();
    let seed = setup.get("twofactor")["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let enabled = app
        .post(
            "/user/confirmtwofactor",
            Some(&token),
            json!({"otp": totp(&seed, 0)}),
        )
        .ok();
    let recovery = enabled.get("twofactor")["recoverycodes"][0]
        .as_str()
        .unwrap()
        .to_string();
    let org = app.organization(&token, "Acme");
    let receiver = Receiver::start(&[]);
    let webhook = app
        .post(
            "/customer/createwebhook",
            Some(&token),
            json!({"organizationid": org, "url": receiver.url, "events": ["project.created"]}),
        )
        .ok();
    let webhook_secret = webhook.get("webhook")["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let sealed_before = sql_strings(&app, "SELECT totp_secret AS value FROM users");

    // Rotation, step one: the new secret first, the old one after it.
    std::fs::write(&file, format!("{new}\n{old}\n")).unwrap();
    app.restart(|_| {});
    app.get("/user/details", Some(&token)).ok();
    let sealed_after = sql_strings(&app, "SELECT totp_secret AS value FROM users");
    assert_ne!(
        sealed_before, sealed_after,
        "sealed again under the new secret"
    );
    // A recovery code hashed under the old secret still matches meanwhile.
    app.post(
        "/user/login",
        None,
        json!({"email": "rotate@example.com", "password": "correct horse battery", "otp": recovery}),
    )
    .ok();
    // Step two, once sessions of the old secret have run out: it goes.
    std::fs::write(&file, format!("{new}\n")).unwrap();
    app.restart(|_| {});
    app.get("/user/details", Some(&token))
        .err(401, "unauthenticated");
    // The second factor and the webhook secret survived the rotation (the
    // next step's code: this step's was used to turn it on).
    let session = app
        .post(
            "/user/login",
            None,
            json!({"email": "rotate@example.com", "password": "correct horse battery", "otp": totp(&seed, 1)}),
        )
        .ok()
        .get("login")["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/customer/createproject",
        Some(&session),
        json!({"organizationid": org, "name": "After rotation"}),
    )
    .ok();
    let delivered = receiver.wait_for(1, std::time::Duration::from_secs(20));
    delivered[0].assert_signed_with(&webhook_secret);
    // And a token signed with the old secret is 401 now.
    let forged = forge(&claims_of(&session), old.as_bytes());
    app.get("/user/details", Some(&forged))
        .err(401, "unauthenticated");
}
