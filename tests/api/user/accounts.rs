//! `user/*` accounts: sign-up, confirmation, login, sessions, password changes.

use crate::on_both_backends;
use crate::support::{Backend, TestApp, TEST_JWT_SECRET};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::json;

on_both_backends!(
    signup_login_details,
    emails_are_one_person_whatever_their_case,
    wrong_credentials_are_401,
    logout_revokes_at_once,
    forged_none_and_expired_tokens_are_401,
    password_change_needs_current_and_ends_other_sessions,
    restart_keeps_sessions_valid,
    anonymous_calls_are_401,
    signup_confirmation_by_email,
);

fn signup_login_details(backend: Backend) {
    let app = TestApp::start(backend);
    let user = app.signup("  Alice@Example.com ", "password123", "Alice");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["emailverified"], false);
    assert_eq!(user["name"], "Alice");
    let keys: Vec<&String> = user.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "userid",
            "email",
            "name",
            "emailverified",
            "pendingemail",
            "twofactorenabled",
            "language",
            "createdat"
        ]
    );
    let r = app
        .post(
            "/user/login",
            None,
            json!({"email": "alice@example.com", "password": "password123"}),
        )
        .ok();
    let login = r.get("login");
    assert_eq!(login["user"], user);
    assert!(login["expiresat"].as_str().unwrap().ends_with('Z'));
    let token = login["token"].as_str().unwrap();
    let r = app.get("/user/details", Some(token)).ok();
    assert_eq!(r.get("user"), &user);
    let r = app
        .post("/user/edit", Some(token), json!({"name": "Alice A."}))
        .ok();
    assert_eq!(r.get("user")["name"], "Alice A.");
}

fn emails_are_one_person_whatever_their_case(backend: Backend) {
    let app = TestApp::start(backend);
    app.signup("bob@example.com", "password123", "Bob");
    let r = app
        .post(
            "/user/signup",
            None,
            json!({"email": "Bob@Example.com", "password": "password456", "name": "Bob 2"}),
        )
        .err(409, "conflict");
    assert_eq!(r.reason(), "email_taken");
    app.login("bob@example.com", "password123");
    app.login("Bob@Example.com", "password123");
    app.login(" BOB@EXAMPLE.COM ", "password123");
}

fn wrong_credentials_are_401(backend: Backend) {
    let app = TestApp::start(backend);
    app.signup("carol@example.com", "password123", "Carol");
    let wrong = app
        .post(
            "/user/login",
            None,
            json!({"email": "carol@example.com", "password": "password124"}),
        )
        .err(401, "unauthenticated");
    let unknown = app
        .post(
            "/user/login",
            None,
            json!({"email": "nobody@example.com", "password": "password123"}),
        )
        .err(401, "unauthenticated");
    assert_eq!(
        wrong.text(),
        unknown.text(),
        "the answer does not reveal whether the account exists"
    );
    assert_eq!(
        wrong.header("www-authenticate"),
        Some("Bearer, Basic realm=\"collabd\"")
    );
}

fn logout_revokes_at_once(backend: Backend) {
    let app = TestApp::start(backend);
    let token = app.user("dave@example.com");
    let other = app.login("dave@example.com", "correct horse battery");
    app.post("/user/logout", Some(&token), json!({})).ok();
    let r = app
        .get("/user/details", Some(&token))
        .err(401, "unauthenticated");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer, Basic realm=\"collabd\"")
    );
    app.post("/user/logout", Some(&token), json!({}))
        .err(401, "unauthenticated");
    // Only that session ended.
    app.get("/user/details", Some(&other)).ok();
}

fn sign(claims: serde_json::Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn forged_none_and_expired_tokens_are_401(backend: Backend) {
    let app = TestApp::start(backend);
    let token = app.user("eve@example.com");
    app.get("/user/details", Some(&token)).ok();
    let payload = token.split('.').nth(1).unwrap().to_string();
    let claims: serde_json::Value = {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    // The same claims signed with another key.
    let forged = sign(
        claims.clone(),
        "another-secret-another-secret-another-secret",
    );
    app.get("/user/details", Some(&forged))
        .err(401, "unauthenticated");
    // alg: none, no signature.
    let none_header = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#)
    };
    app.get("/user/details", Some(&format!("{none_header}.{payload}.")))
        .err(401, "unauthenticated");
    // Expired, though signed with the right key and naming a live session.
    let mut expired = claims.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 10);
    expired["iat"] = json!(chrono::Utc::now().timestamp() - 100);
    app.get("/user/details", Some(&sign(expired, TEST_JWT_SECRET)))
        .err(401, "unauthenticated");
    // A session id that does not exist.
    let mut unknown = claims.clone();
    unknown["sid"] = json!("01900000-0000-7000-8000-000000000000");
    app.get("/user/details", Some(&sign(unknown, TEST_JWT_SECRET)))
        .err(401, "unauthenticated");
    // Garbage and the wrong scheme.
    app.get("/user/details", Some("not.a.token"))
        .err(401, "unauthenticated");
    app.get_authorized_as("/user/details", &format!("Basic {token}"))
        .err(401, "unauthenticated");
    // The genuine token still works.
    app.get("/user/details", Some(&token)).ok();
}

fn password_change_needs_current_and_ends_other_sessions(backend: Backend) {
    let app = TestApp::start(backend);
    let token = app.user("frank@example.com");
    let other = app.login("frank@example.com", "correct horse battery");
    let r = app
        .post(
            "/user/edit",
            Some(&token),
            json!({"password": "new password 1"}),
        )
        .err(403, "forbidden");
    assert!(r.text().contains("currentpassword"), "{}", r.text());
    app.post(
        "/user/edit",
        Some(&token),
        json!({"password": "new password 1", "currentpassword": "wrong one"}),
    )
    .err(403, "forbidden");
    app.get("/user/details", Some(&other)).ok();
    app.post(
        "/user/edit",
        Some(&token),
        json!({"password": "new password 1", "currentpassword": "correct horse battery"}),
    )
    .ok();
    app.get("/user/details", Some(&token)).ok();
    app.get("/user/details", Some(&other))
        .err(401, "unauthenticated");
    app.post(
        "/user/login",
        None,
        json!({"email": "frank@example.com", "password": "correct horse battery"}),
    )
    .err(401, "unauthenticated");
    app.login("frank@example.com", "new password 1");
}

fn restart_keeps_sessions_valid(backend: Backend) {
    // No secret in the environment: on SQLite the generated key file beside
    // the database keeps it; PostgreSQL reads the operator's secret file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    let postgres = matches!(backend, Backend::Postgres(_));
    if postgres {
        std::fs::write(&file, "s".repeat(40)).unwrap();
    }
    let mut app = TestApp::start_with(backend, |c| {
        c.jwt_secret = None;
        c.secret_file = postgres.then_some(file.clone());
    });
    let token = app.user("grace@example.com");
    app.get("/user/details", Some(&token)).ok();
    app.restart(|_| {});
    let r = app.get("/user/details", Some(&token)).ok();
    assert_eq!(r.get("user")["email"], "grace@example.com");
}

fn anonymous_calls_are_401(backend: Backend) {
    let app = TestApp::start(backend);
    for path in [
        "/user/logout",
        "/user/edit",
        "/user/createorganization",
        "/user/createapikey",
        "/user/deleteapikey",
        "/customer/settings",
    ] {
        let r = app.post(path, None, json!({})).err(401, "unauthenticated");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer, Basic realm=\"collabd\"")
        );
    }
    for path in [
        "/user/details",
        "/user/listorganizations",
        "/user/listapikeys",
        "/customer/details",
    ] {
        app.get(path, None).err(401, "unauthenticated");
    }
    // Malformed Authorization headers.
    for value in ["Basic abc", "Bearer", "Bearer    ", "token-without-scheme"] {
        let r = app
            .get_authorized_as("/user/details", value)
            .err(401, "unauthenticated");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer, Basic realm=\"collabd\""),
            "{value}"
        );
    }
}

fn signup_confirmation_by_email(backend: Backend) {
    let app = TestApp::start(backend);
    let user = app.signup("confirm.me@example.com", "password123", "C");
    assert_eq!(user["emailverified"], false);
    let email = app.mail.wait_for("confirm.me@example.com");
    let token = email.token("confirm").expect("confirmation link");
    let page = app.send("GET", &format!("/confirm/{token}"), None, None, b"");
    assert_eq!(page.status, 200);
    let token_login = app.login("confirm.me@example.com", "password123");
    assert_eq!(
        app.get("/user/details", Some(&token_login))
            .ok()
            .get("user")["emailverified"],
        false,
        "a GET confirms nothing"
    );
    let r = app
        .post("/user/confirm", None, json!({"token": token}))
        .ok();
    assert_eq!(r.get("user")["emailverified"], true);
    app.post("/user/confirm", None, json!({"token": token}))
        .ok();
    app.post(
        "/user/confirm",
        None,
        json!({"token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
    )
    .err(404, "not_found");
}
