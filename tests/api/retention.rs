//! Retention (API.md §8): a periodic sweep deletes what has ended and is
//! older than `COLLABD_RETENTION_DAYS`, and nothing still needed: a pending
//! invite, a live session, queued mail. Rows are aged by SQL; the sweep runs
//! every second here.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::on_both_backends;
use crate::support::{sql, sql_strings, Backend, TestApp};

on_both_backends!(the_sweep_deletes_what_ended_and_keeps_what_is_needed);

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn count(app: &TestApp, query: &str) -> usize {
    sql_strings(app, query).len()
}

fn the_sweep_deletes_what_ended_and_keeps_what_is_needed(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.retention_days = 1;
        c.retention_interval_secs = 1;
    });
    let owner = app.user("owner@example.com");
    let confirm = app.mail.wait_for("owner@example.com").token("confirm");
    app.post("/user/confirm", None, json!({"token": confirm}))
        .ok();
    let ended = app.login("owner@example.com", "correct horse battery");
    app.post("/user/logout", Some(&ended), json!({})).ok();
    let org = app.organization(&owner, "Acme");
    let pending = app.invite(&owner, &org, "pending@example.com", "collaborator");
    let revoked = app.invite(&owner, &org, "revoked@example.com", "collaborator");
    app.post(
        "/invite/revoke",
        Some(&owner),
        json!({"inviteid": revoked["inviteid"]}),
    )
    .ok();
    app.mail.wait_for("revoked@example.com");
    let two_days_ago = collabd::domain::now_ms() - 2 * DAY_MS;
    let far_ahead = collabd::domain::now_ms() + DAY_MS;
    // Webhook deliveries: finished ones long ago, and one still pending.
    let webhook = app
        .post(
            "/customer/createwebhook",
            Some(&owner),
            json!({"organizationid": org, "url": "https://93.184.216.34/h", "events": ["domain.removed"]}),
        )
        .ok();
    let webhook = webhook.get("webhook")["webhookid"]
        .as_str()
        .unwrap()
        .to_string();
    for (id, state, next) in [
        ("d-delivered", "delivered", two_days_ago),
        ("d-failed", "failed", two_days_ago),
        ("d-pending", "pending", far_ahead),
    ] {
        sql(&app, &format!(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload, state, \
             attempts, next_attempt_at, last_attempt_at, created_at, organization_id) SELECT '{id}', '{webhook}', \
             'e-{id}', 'domain.removed', '{{}}', '{state}', 1, {next}, {two_days_ago}, {two_days_ago}, \
             organization_id FROM webhooks WHERE id = '{webhook}'"
        ));
    }

    // Age what has ended, and one queued email (held back, so it stays queued).
    // The queued email first: once sent mail is aged, a sweep (every second)
    // may delete it before it is held back. It is held back once its first
    // send is recorded, so that the sender's outcome cannot overwrite it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while sql_strings(
        &app,
        "SELECT id AS value FROM outbox WHERE recipient = 'pending@example.com' AND state = 'sent'",
    )
    .is_empty()
    {
        assert!(Instant::now() < deadline, "the invitation was never sent");
        std::thread::sleep(Duration::from_millis(50));
    }
    let queued = sql_strings(
        &app,
        "SELECT id AS value FROM outbox WHERE recipient = 'pending@example.com'",
    );
    sql(&app, &format!(
        "UPDATE outbox SET state = 'pending', created_at = {two_days_ago}, next_attempt_at = {far_ahead} \
         WHERE id = '{}'", queued[0]
    ));
    sql(
        &app,
        &format!("UPDATE sessions SET revoked_at = {two_days_ago} WHERE revoked_at IS NOT NULL"),
    );
    sql(
        &app,
        &format!("UPDATE invites SET ended_at = {two_days_ago} WHERE state = 'revoked'"),
    );
    sql(&app, &format!("UPDATE outbox SET sent_at = {two_days_ago}, created_at = {two_days_ago} WHERE state = 'sent'"));
    sql(
        &app,
        &format!("UPDATE email_confirmations SET used_at = {two_days_ago}"),
    );
    // The pending invite is old too, but not past its expiry: it is kept.
    sql(
        &app,
        &format!(
            "UPDATE invites SET created_at = {two_days_ago} WHERE id = '{}'",
            pending["inviteid"].as_str().unwrap()
        ),
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    while count(
        &app,
        "SELECT id AS value FROM invites WHERE state = 'revoked'",
    ) > 0
    {
        assert!(Instant::now() < deadline, "no sweep within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    // One more sweep's worth of time, so every table has been swept.
    std::thread::sleep(Duration::from_millis(1500));

    assert_eq!(
        count(
            &app,
            "SELECT id AS value FROM sessions WHERE revoked_at IS NOT NULL"
        ),
        0
    );
    assert_eq!(
        count(&app, "SELECT id AS value FROM outbox WHERE state = 'sent'"),
        0
    );
    assert_eq!(
        count(&app, "SELECT id AS value FROM email_confirmations"),
        0
    );
    // Still needed: the live session, the pending invite, the queued email.
    app.get("/user/details", Some(&owner)).ok();
    let list = app
        .get(
            &format!("/invite/list?organizationid={org}&state=pending"),
            Some(&owner),
        )
        .ok();
    assert_eq!(list.get("invites")[0]["inviteid"], pending["inviteid"]);
    assert_eq!(
        sql_strings(
            &app,
            "SELECT id AS value FROM outbox WHERE state = 'pending'"
        ),
        queued
    );
    assert_eq!(
        sql_strings(&app, "SELECT id AS value FROM webhook_deliveries"),
        ["d-pending"],
        "finished deliveries go, a pending one stays"
    );
    // The audit log is kept (COLLABD_AUDIT_RETENTION_DAYS is 0).
    assert!(count(&app, "SELECT id AS value FROM audit_events") >= 3);
}
