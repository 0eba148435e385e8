//! Mail that is never lost: SMTP outages, several processes, files without SMTP.

use crate::on_both_backends;
use crate::smtp::{free_port, SmtpServer};
use crate::support::{sql_strings, test_config, Backend, TestApp, TestServer};
use serde_json::json;
use std::time::{Duration, Instant};

on_both_backends!(
    smtp_outage_delays_but_never_loses_mail,
    several_processes_send_each_email_once,
    without_smtp_mail_goes_to_files,
);

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn smtp_outage_delays_but_never_loses_mail(backend: Backend) {
    let port = free_port();
    let app = TestApp::start_with(backend, |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))
    });
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    // Mail flows while SMTP is up...
    let smtp = SmtpServer::start_on(port);
    app.invite(&owner, &org, "before@example.com", "collaborator");
    smtp.wait_for("before@example.com");
    // ...then the SMTP server goes away.
    smtp.stop();
    let addresses: Vec<String> = (0..8).map(|i| format!("queued{i}@example.com")).collect();
    for address in &addresses {
        // The SMTP server is down, and the call still succeeds.
        app.invite(&owner, &org, address, "collaborator");
    }
    // Let the sender fail a few times.
    std::thread::sleep(Duration::from_millis(700));
    let failed = sql_strings(
        &app,
        "SELECT CAST(attempts AS TEXT) AS value FROM outbox WHERE state = 'pending'",
    );
    assert!(
        failed.iter().any(|a| a != "0"),
        "deliveries were attempted and failed: {failed:?}"
    );
    // SMTP comes back on the same port.
    let smtp = SmtpServer::start_on(port);
    wait_until("every queued email", || {
        addresses
            .iter()
            .all(|a| smtp.messages().iter().any(|m| m.to.contains(a)))
    });
    std::thread::sleep(Duration::from_millis(800));
    for address in &addresses {
        let count = smtp
            .messages()
            .iter()
            .filter(|m| m.to.contains(address))
            .count();
        assert_eq!(count, 1, "{address} got {count} emails");
        let mail = smtp
            .messages()
            .into_iter()
            .find(|m| m.to.contains(address))
            .unwrap();
        assert!(mail.token("invite").is_some());
    }
    let pending = sql_strings(&app, "SELECT id AS value FROM outbox WHERE state <> 'sent'");
    assert!(pending.is_empty(), "unsent rows: {pending:?}");
}

fn several_processes_send_each_email_once(backend: Backend) {
    let app = TestApp::start(backend);
    // Two more collabd servers on the same database and SMTP server.
    let mut config = test_config(&app.db);
    config.smtp_url = Some(app.mail.url());
    config.database_url = app.db.url.clone();
    let second = TestServer::start(config.clone());
    let third = TestServer::start(config);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let addresses: Vec<String> = (0..15).map(|i| format!("many{i}@example.com")).collect();
    let clients = [
        app.client.clone(),
        crate::support::Client::new(&second.base),
        crate::support::Client::new(&third.base),
    ];
    for (i, address) in addresses.iter().enumerate() {
        clients[i % 3]
            .post(
                "/invite/create",
                Some(&owner),
                json!({"organizationid": org, "email": address}),
            )
            .ok();
    }
    wait_until("every email", || {
        addresses
            .iter()
            .all(|a| app.mail.messages().iter().any(|m| m.to.contains(a)))
    });
    std::thread::sleep(Duration::from_millis(800));
    for address in &addresses {
        let count = app
            .mail
            .messages()
            .iter()
            .filter(|m| m.to.contains(address))
            .count();
        assert_eq!(count, 1, "{address} got {count} emails");
    }
    drop(second);
    drop(third);
}

fn without_smtp_mail_goes_to_files(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.smtp_url = None);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.invite(&owner, &org, "file@example.com", "collaborator");
    let dir = app.config.mail_dir.clone();
    let find = || -> Option<String> {
        std::fs::read_dir(&dir)
            .ok()?
            .filter_map(|e| e.ok())
            .find_map(|e| {
                let text = std::fs::read_to_string(e.path()).ok()?;
                (e.path().extension()? == "eml" && text.contains("file@example.com"))
                    .then_some(text)
            })
    };
    wait_until(".eml file", || find().is_some());
    let email = crate::smtp::Email {
        to: vec!["file@example.com".into()],
        raw: find().unwrap(),
    };
    let token = email.token("invite").expect("link in the file");
    app.post("/invite/accept", None, json!({"token": token}))
        .ok();
}
