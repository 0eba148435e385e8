//! What the limits keep in the database: counts under keyed hashes, never
//! the addresses counted, and only while their window lasts.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::on_both_backends;
use crate::support::{sql, sql_strings, Backend, TestApp};

on_both_backends!(counts_rest_as_keyed_hashes_and_ended_windows_are_swept);

fn counts_rest_as_keyed_hashes_and_ended_windows_are_swept(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.mails_per_address_per_hour = 1;
        c.signups_per_hour = 10;
        c.token_attempts_per_minute = 10;
        c.retention_interval_secs = 1;
    });
    // The confirmation uses the hour's one mail; a resend is refused.
    let token = app.user("ada@example.com");
    app.post("/user/resendconfirmation", Some(&token), json!({}))
        .err(429, "rate_limited");
    app.post(
        "/invite/details",
        None,
        json!({"token": "UnknownToken0000abcdefghijklmnopqrstuvwxyz"}),
    )
    .err(404, "not_found");
    let stored = sql_strings(
        &app,
        "SELECT bucket || ' ' || key_hash AS value FROM rate_limits ORDER BY bucket",
    );
    // Mails and logins of ada, sign-ups and tokens of 127.0.0.1.
    assert_eq!(stored.len(), 4, "{stored:?}");
    for row in &stored {
        assert!(
            !row.contains("ada") && !row.contains("127.0.0.1") && !row.contains('@'),
            "{row}"
        );
    }
    // Once their windows have ended, the retention sweep deletes them, and
    // the address may be mailed again.
    sql(&app, "UPDATE rate_limits SET ends_at = 1");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sql_strings(&app, "SELECT key_hash AS value FROM rate_limits").is_empty() {
        assert!(Instant::now() < deadline, "ended windows were not swept");
        std::thread::sleep(Duration::from_millis(200));
    }
    app.post("/user/resendconfirmation", Some(&token), json!({}))
        .ok();
    // A live window stays through later sweeps.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        sql_strings(&app, "SELECT bucket AS value FROM rate_limits"),
        ["mails"]
    );
}
