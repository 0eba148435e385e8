//! The server's own log, read from the real binary: one line per request
//! with its transaction id, and no secrets from URLs.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::Client;

/// The real binary with `format` logs, a client for it, and its log lines.
struct Logged {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    client: Client,
    _dir: tempfile::TempDir,
}

impl Logged {
    fn start(format: &str) -> Logged {
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
            .env("COLLABD_LOG_FORMAT", format)
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
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) {
                if let Some(address) = json["address"].as_str() {
                    break address.to_string();
                }
            }
        };
        Logged {
            child,
            lines: rx,
            client: Client::new(&format!("http://{address}")),
            _dir: dir,
        }
    }

    /// Stops the server; the lines it logged since start-up.
    fn stop(mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            lines.push(line);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        lines
    }
}

const TOKEN: &str = "SecretTokenValue0123456789abcdefghijklmnopq";

#[test]
fn request_lines_carry_the_transaction_id_and_never_a_token() {
    let server = Logged::start("text");
    let page = server.client.get(&format!("/invite/{TOKEN}"), None);
    assert_eq!(page.status, 404);
    let r = server.client.get("/api/serviceinfo", None).ok();
    let txid = r.header("x-transaction-id").unwrap().to_string();
    let lines = server.stop();
    let log = lines.join("\n");
    assert!(
        !log.contains(TOKEN),
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

#[test]
fn json_lines_are_objects_with_the_request_fields_and_never_a_token() {
    let server = Logged::start("json");
    let mut ids = Vec::new();
    for path in [
        format!("/invite/{TOKEN}"),
        format!("/reset/{TOKEN}"),
        format!("/signin/{TOKEN}"),
        format!("/no/such/{TOKEN}"),
        "/api/serviceinfo".to_string(),
    ] {
        let r = server.client.get(&path, None);
        ids.push((
            path,
            r.status,
            r.header("x-transaction-id").unwrap().to_string(),
        ));
    }
    let lines = server.stop();
    let log = lines.join("\n");
    assert!(
        !log.contains(TOKEN),
        "a token from a URL reached the log:\n{log}"
    );
    let objects: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for (path, status, txid) in ids {
        let line = objects
            .iter()
            .find(|o| o["transactionid"] == txid.as_str())
            .unwrap_or_else(|| panic!("no request line for {path} ({txid}):\n{log}"));
        assert_eq!(line["message"], "request", "{line}");
        assert_eq!(line["method"], "GET", "{line}");
        assert_eq!(line["status"], status, "{line}");
        assert!(
            line["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
            "{line}"
        );
        assert!(
            line["timestamp"].is_string() && line["level"] == "INFO",
            "{line}"
        );
        let route = line["route"].as_str().unwrap();
        match path.as_str() {
            "/api/serviceinfo" => assert_eq!(route, "/api/serviceinfo"),
            p if p.starts_with("/no/") => assert_eq!(route, "unmatched"),
            p => assert!(route.ends_with("/{token}"), "{route} for {p}"),
        }
    }
}
