//! Operations: metrics and the offline reference.

use crate::on_both_backends;
use crate::support::{in_parallel, Backend, Client, Process, RawConnection, TestApp, TestDatabase};

on_both_backends!(
    metrics_count_requests_and_mail,
    docs_work_offline,
    made_up_methods_grow_neither_metrics_nor_memory,
);

fn raw(app: &TestApp, path: &str) -> (u16, String, Option<String>) {
    let r = app.get(path, None);
    let content_type = r.header("content-type").map(str::to_string);
    (
        r.status,
        r.body["raw"].as_str().unwrap_or_default().to_string(),
        content_type,
    )
}

fn metrics_count_requests_and_mail(backend: Backend) {
    let app = TestApp::start(backend);
    app.get("/api/serviceinfo", None).ok();
    app.get("/api/serviceinfo", None).ok();
    app.get("/no/such/path", None).err(404, "not_found");
    app.user("metrics@example.com");
    app.mail.wait_for("metrics@example.com");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (status, text, content_type) = raw(&app, "/metrics");
    assert_eq!(status, 200);
    assert_eq!(
        content_type.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8"),
        "Prometheus text 0.0.4 unless OpenMetrics is asked for"
    );
    assert!(
        text.contains("# TYPE collabd_http_requests_total counter"),
        "{text}"
    );
    assert!(!text.contains("# EOF"));
    assert!(
        text.contains(r#"collabd_http_requests_total{endpoint="/api/serviceinfo",method="GET",status="200"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"endpoint="unmatched""#),
        "unknown paths share one label: {text}"
    );
    assert!(!text.contains("/no/such/path"));
    assert!(
        text.contains(r#"collabd_outbox_messages{state="sent"} 1"#),
        "{text}"
    );
    assert!(text.contains("collabd_db_pool_connections"));
    assert!(
        text.contains(r#"collabd_http_request_duration_seconds_count{endpoint="/api/serviceinfo",method="GET",status="200"} 2"#),
        "latency by endpoint and status: {text}"
    );

    let open = app.request(
        "GET",
        "/metrics",
        &[("Accept", "application/openmetrics-text; version=1.0.0")],
        b"",
    );
    assert!(open
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let open = open.body["raw"].as_str().unwrap();
    assert!(
        open.contains("# TYPE collabd_http_requests counter"),
        "{open}"
    );
    assert!(open.ends_with("# EOF\n"));
}

fn docs_work_offline(backend: Backend) {
    let app = TestApp::start(backend);
    let (status, html, content_type) = raw(&app, "/docs");
    assert_eq!(status, 200);
    assert!(content_type.unwrap().starts_with("text/html"));
    assert!(html.contains("/openapi.json"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page loads nothing from elsewhere"
    );
}

/// Every metrics label takes a bounded set of values (API.md §8): requests
/// with 50 000 made-up methods (each answered 405) leave `/metrics` small
/// and the server's memory where it was. Each used to add a series, never
/// freed.
fn made_up_methods_grow_neither_metrics_nor_memory(backend: Backend) {
    let db = TestDatabase::new(&backend);
    let mail_dir = db.dir().join("mail");
    let server = Process::spawn(&[
        ("COLLABD_DATABASE_URL", db.url.as_str()),
        ("COLLABD_MAIL_DIR", mail_dir.to_str().expect("path")),
    ]);
    // `connections` kept-alive connections, each sending `each` requests
    // with methods never sent before.
    let made_up = |connections: usize, each: usize, first: usize| {
        in_parallel(connections, |c| {
            let mut connection = RawConnection::open(&server.base);
            for i in 0..each {
                let n = first + c * each + i;
                let request = format!(
                    "MFOO{n:07} /user/login HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
                );
                assert!(connection.send(request.as_bytes()), "closed at {n}");
                let answer = connection.answer();
                assert_eq!(answer.status, 405, "{}", answer.head);
            }
        });
    };
    // Warmed up first, so the allocator's first growth is not counted.
    made_up(4, 1_250, 0);
    let before = server.rss();
    made_up(4, 12_500, 1_000_000);
    let after = server.rss();
    let metrics = Client::new(&server.base).get("/metrics", None);
    assert_eq!(metrics.status, 200);
    let text = metrics.body["raw"].as_str().expect("text");
    eprintln!(
        "made-up methods: /metrics {} bytes; RSS {} kB before, {} kB after",
        text.len(),
        before / 1024,
        after / 1024
    );
    assert!(
        text.contains(r#"collabd_http_requests_total{endpoint="/user/login",method="other",status="405"} 55000"#),
        "{text}"
    );
    assert!(!text.contains("MFOO"), "no made-up method is a label");
    assert!(text.len() < 64 * 1024, "/metrics is {} bytes", text.len());
    assert!(
        after < before + 10 * 1024 * 1024,
        "RSS grew from {} kB to {} kB",
        before / 1024,
        after / 1024
    );
}
