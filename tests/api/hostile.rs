//! Hostile load on the real binary: a flood of wrong-password logins, half
//! for addresses with no account, cannot take the machine's memory (every
//! argon2id check holds ~19 MiB; they are bounded), every answer is an
//! envelope, and the server signs people in right after.

use serde_json::json;

use crate::on_both_backends;
use crate::support::{in_parallel, Backend, Client, Process, TestDatabase};

on_both_backends!(a_login_flood_stays_within_bounds);

fn a_login_flood_stays_within_bounds(backend: Backend) {
    let db = TestDatabase::new(&backend);
    let mail_dir = db.dir().join("mail");
    let server = Process::spawn(&[
        ("COLLABD_DATABASE_URL", db.url.as_str()),
        ("COLLABD_MAIL_DIR", mail_dir.to_str().expect("path")),
    ]);
    let client = Client::new(&server.base);
    for email in ["victim@example.com", "bystander@example.com"] {
        client
            .post(
                "/user/signup",
                None,
                json!({"email": email, "password": "correct horse battery", "name": "X"}),
            )
            .ok();
    }
    let before = server.peak_rss();
    let mut statuses = Vec::new();
    for round in 0..2 {
        statuses.extend(in_parallel(96, |i| {
            // Half for an account that exists, half for addresses with none.
            let email = if i % 2 == 0 {
                "victim@example.com".to_string()
            } else {
                format!("nobody{round}-{i}@example.com")
            };
            let r = client.post(
                "/user/login",
                None,
                json!({"email": email, "password": "wrong password"}),
            );
            r.assert_envelope();
            if r.status == 503 {
                // Busy, not broken: the client is told when to come back.
                assert_eq!(r.error_type(), "unavailable");
                assert_eq!(r.header("retry-after"), Some("1"));
            }
            r.status
        }));
    }
    assert_eq!(statuses.len(), 192);
    let refused = |code: u16| statuses.iter().filter(|s| **s == code).count();
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{statuses:?}"
    );
    let peak = server.peak_rss();
    eprintln!(
        "login flood: {} × 401, {} × 429, {} × 503; peak RSS {} MB (before {} MB)",
        refused(401),
        refused(429),
        refused(503),
        peak / 1_000_000,
        before / 1_000_000
    );
    assert!(peak < 300_000_000, "peak RSS {} MB", peak / 1_000_000);
    // Someone else signs in at once.
    let r = client
        .post(
            "/user/login",
            None,
            json!({"email": "bystander@example.com", "password": "correct horse battery"}),
        )
        .ok();
    assert!(r.get("login")["token"].is_string());
}
