//! Operations: metrics and the offline reference.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(metrics_count_requests_and_mail, docs_work_offline);

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
