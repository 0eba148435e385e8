//! The server's own log, read from the real binary: one line per request
//! with its transaction id, and no secrets from URLs.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::Client;

#[test]
fn request_lines_carry_the_transaction_id_and_never_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_collabd"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--log",
            "info",
        ])
        .env("COLLABD_DATABASE_URL", dir.path().join("log.sqlite3"))
        .env("COLLABD_MAIL_DIR", dir.path().join("mail"))
        .env_remove("COLLABD_SMTP_URL")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start collabd");
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let address = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("collabd started");
        if let Some(rest) = line.split("address=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let client = Client::new(&format!("http://{address}"));
    let token = "SecretTokenValue0123456789abcdefghijklmnopq";
    let page = client.get(&format!("/invite/{token}"), None);
    assert_eq!(page.status, 404);
    let r = client.get("/api/serviceinfo", None).ok();
    let txid = r.header("x-transaction-id").unwrap().to_string();

    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
        lines.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = lines.join("\n");
    assert!(
        !log.contains(token),
        "a token from a URL reached the log:\n{log}"
    );
    assert!(
        log.contains("/invite/{token}"),
        "the route pattern is logged instead:\n{log}"
    );
    let line = lines
        .iter()
        .find(|l| l.contains(&txid))
        .unwrap_or_else(|| panic!("no log line with {txid}:\n{log}"));
    assert!(
        line.contains("/api/serviceinfo") && line.contains("status=200"),
        "{line}"
    );
}
