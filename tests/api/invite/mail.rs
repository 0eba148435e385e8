//! Mail that is never lost: SMTP outages, several processes, files without SMTP.

use crate::on_both_backends;
use crate::smtp::{free_port, SmtpServer};
use crate::support::{
    sql_strings, test_config, Backend, Client, Process, TestApp, TestDatabase, TestServer,
};
use serde_json::json;
use std::time::{Duration, Instant};

on_both_backends!(
    a_killed_process_mail_goes_out_within_a_minute,
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

/// A process killed (SIGKILL) while delivering leaves its claimed mail
/// behind; another process on the same database sends it once the claim's
/// lease runs out, within a minute (API.md §4).
fn a_killed_process_mail_goes_out_within_a_minute(backend: Backend) {
    let db = TestDatabase::new(&backend);
    let mail_dir = db.dir().join("mail");
    let mail_dir = mail_dir.to_str().expect("path");
    // An SMTP server that accepts and never answers: the sender hangs in
    // the middle of a delivery.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = hole.local_addr().expect("addr").port();
    let (connected, delivering) = std::sync::mpsc::channel();
    let hole_thread = std::thread::spawn(move || {
        let held = hole.accept().map(|(stream, _)| stream);
        let _ = connected.send(());
        // Hold the connection (and the port) until the first process is gone.
        std::thread::sleep(Duration::from_secs(3));
        drop(held);
    });
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let env = [
        ("COLLABD_DATABASE_URL", db.url.as_str()),
        ("COLLABD_SMTP_URL", smtp_url.as_str()),
        ("COLLABD_MAIL_DIR", mail_dir),
        ("COLLABD_MAIL_POLL_MS", "100"),
    ];
    let first = Process::spawn(&env);
    let client = Client::new(&first.base);
    client
        .post(
            "/user/signup",
            None,
            json!({"email": "ada@example.com", "password": "correct horse", "name": "Ada"}),
        )
        .ok();
    delivering
        .recv_timeout(Duration::from_secs(30))
        .expect("the first process started delivering");
    let killed = Instant::now();
    first.kill();
    hole_thread.join().expect("hole");
    let smtp = SmtpServer::start_on(port);
    let _second = Process::spawn(&env);
    let email = smtp.wait_within("ada@example.com", 1, Duration::from_secs(75));
    assert!(email.token("confirm").is_some());
    eprintln!(
        "claimed mail delivered {:.1} s after the kill",
        killed.elapsed().as_secs_f64()
    );
    // Exactly once.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        smtp.messages()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == "ada@example.com"))
            .count(),
        1
    );
    assert_eq!(smtp.count(), 1, "one email in all");
}
