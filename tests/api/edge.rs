//! The HTTP edge of API.md §1: the envelope and every error row, on real requests.

use serde_json::json;

use crate::support::{Backend, Client, Process, TestApp, TestDatabase};
use crate::{on_both_backends, on_postgres};
use std::time::Duration;

on_both_backends!(
    success_envelope,
    unknown_path_is_404,
    get_on_a_writing_endpoint_is_405,
    malformed_bodies_are_400,
    unknown_and_mistyped_parameters_are_400,
    missing_and_invalid_values_are_422,
    oversized_bodies_are_413,
    get_with_query_and_form_bodies_work,
    login_attempts_are_rate_limited,
    nul_is_422_on_every_backend,
);

on_postgres!(unreachable_database_is_503, serve_waits_for_the_database);

fn success_envelope(backend: Backend) {
    let app = TestApp::start(backend);
    let r = app.get("/api/serviceinfo", None).ok();
    assert_eq!(r.get("serviceinfo")["name"], "collabd");
    assert_eq!(r.text(), "OK");
    let keys: Vec<&String> = r.body["response"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["status", "serviceinfo"]);
    let again = app.post("/api/serviceinfo", None, json!({})).ok();
    assert_ne!(
        r.body["response"]["status"]["transactionid"],
        again.body["response"]["status"]["transactionid"],
        "transaction ids are unique per request"
    );
    app.get("/healthz", None).ok();
    assert_eq!(app.get("/readyz", None).ok().get("health")["status"], "ok");
}

fn unknown_path_is_404(backend: Backend) {
    let app = TestApp::start(backend);
    let r = app.get("/user/nosuchthing", None).err(404, "not_found");
    assert!(r.body["response"]["error"].get("fields").is_none());
    app.post("/", None, json!({})).err(404, "not_found");
    app.post("/User/Login", None, json!({}))
        .err(404, "not_found");
}

fn get_on_a_writing_endpoint_is_405(backend: Backend) {
    let app = TestApp::start(backend);
    for path in [
        "/user/signup",
        "/user/login",
        "/user/logout",
        "/user/edit",
        "/user/createorganization",
        "/customer/settings",
    ] {
        let r = app.get(path, None).err(405, "method_not_allowed");
        assert_eq!(r.header("allow"), Some("POST"));
    }
    let r = app
        .send("DELETE", "/user/details", None, None, b"")
        .err(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET, POST"));
    for path in ["/metrics", "/docs", "/openapi.json", "/healthz"] {
        let r = app
            .post(path, None, serde_json::json!({}))
            .err(405, "method_not_allowed");
        assert_eq!(r.header("allow"), Some("GET"), "{path}");
    }
}

fn malformed_bodies_are_400(backend: Backend) {
    let app = TestApp::start(backend);
    let cases: [(&str, &[u8]); 5] = [
        ("application/json", b"{\"email\": "),
        ("application/json", b"[1, 2]"),
        ("application/json", b"\"text\""),
        ("text/plain", b"email=a@b.c"),
        ("application/json; charset=utf-8", b"{not json}"),
    ];
    for (content_type, body) in cases {
        let r = app
            .send("POST", "/user/signup", None, Some(content_type), body)
            .err(400, "invalid_request");
        assert!(!r.text().is_empty());
    }
    // A body without a content type.
    app.send("POST", "/user/login", None, None, b"{\"email\":\"a@b.c\"}")
        .err(400, "invalid_request");
}

fn unknown_and_mistyped_parameters_are_400(backend: Backend) {
    let app = TestApp::start(backend);
    let r = app
        .post(
            "/user/signup",
            None,
            json!({"email": "a@example.com", "password": "password1", "name": "A", "admin": true}),
        )
        .err(400, "invalid_request");
    assert!(r.text().contains("admin"), "{}", r.text());
    app.post(
        "/user/signup",
        None,
        json!({"email": 5, "password": "password1", "name": "A"}),
    )
    .err(400, "invalid_request");
    app.post_form(
        "/user/signup",
        None,
        "email=a%40example.com&password=password1&name=A&extra=1",
    )
    .err(400, "invalid_request");
    app.get("/api/serviceinfo?surprise=1", None)
        .err(400, "invalid_request");
    let token = app.user("owner@example.com");
    app.post(
        "/customer/settings",
        Some(&token),
        json!({"organizationid": "x", "invitettldays": "seven"}),
    )
    .err(400, "invalid_request");
    app.post_form(
        "/customer/settings",
        Some(&token),
        "organizationid=x&invitettldays=seven",
    )
    .err(400, "invalid_request");
}

fn missing_and_invalid_values_are_422(backend: Backend) {
    let app = TestApp::start(backend);
    let r = app
        .post(
            "/user/signup",
            None,
            json!({"email": "not-an-email", "password": "short", "name": "  "}),
        )
        .err(422, "validation_failed");
    let fields = &r.body["response"]["error"]["fields"];
    assert_eq!(fields["email"], json!(["not a valid email address"]));
    assert_eq!(fields["password"], json!(["must be 8 to 128 characters"]));
    assert!(fields["name"].is_array());
    assert!(
        r.text().starts_with("email: not a valid email address"),
        "{}",
        r.text()
    );

    let r = app
        .post("/user/signup", None, json!({"email": "a@example.com"}))
        .err(422, "validation_failed");
    assert_eq!(
        r.body["response"]["error"]["fields"]["password"],
        json!(["required"])
    );

    let long = "x".repeat(129);
    app.post(
        "/user/signup",
        None,
        json!({"email": "a@example.com", "password": long, "name": "A"}),
    )
    .err(422, "validation_failed");

    let token = app.user("owner@example.com");
    let org = app.organization(&token, "Acme");
    let r = app
        .post(
            "/customer/settings",
            Some(&token),
            json!({"organizationid": org, "invitettldays": 31}),
        )
        .err(422, "validation_failed");
    assert_eq!(
        r.body["response"]["error"]["fields"]["invitettldays"],
        json!(["must be 1 to 30"])
    );
    app.post(
        "/customer/settings",
        Some(&token),
        json!({"organizationid": org, "invitettldays": 0}),
    )
    .err(422, "validation_failed");
    app.post("/customer/details", Some(&token), json!({}))
        .err(422, "validation_failed");
}

fn oversized_bodies_are_413(backend: Backend) {
    let app = TestApp::start(backend);
    let big =
        json!({"email": "a@example.com", "password": "password1", "name": "x".repeat(70 * 1024)});
    let r = app
        .post("/user/signup", None, big)
        .err(413, "payload_too_large");
    assert!(r.text().contains("65536"), "{}", r.text());
    // No account was made.
    app.post(
        "/user/login",
        None,
        json!({"email": "a@example.com", "password": "password1"}),
    )
    .err(401, "unauthenticated");
}

fn get_with_query_and_form_bodies_work(backend: Backend) {
    let app = TestApp::start(backend);
    app.post_form(
        "/user/signup",
        None,
        "email=Form%40Example.com&password=password12&name=Form+User",
    )
    .ok();
    let r = app
        .post_form(
            "/user/login",
            None,
            "email=form%40example.com&password=password12",
        )
        .ok();
    let token = r.get("login")["token"].as_str().unwrap().to_string();
    let org = app.organization(&token, "Acme");
    let r = app
        .get(
            &format!("/customer/details?organizationid={org}"),
            Some(&token),
        )
        .ok();
    assert_eq!(r.get("organization")["name"], "Acme");
    let r = app
        .post_form(
            "/customer/settings",
            Some(&token),
            &format!("organizationid={org}&invitettldays=3"),
        )
        .ok();
    assert_eq!(r.get("organization")["invitettldays"], 3);
    // A POST takes its parameters in the body only: a query string could
    // carry passwords and tokens into logs.
    let r = app
        .send(
            "POST",
            &format!("/customer/details?organizationid={org}"),
            Some(&token),
            None,
            b"",
        )
        .err(400, "invalid_request");
    assert!(r.text().contains("body"), "{}", r.text());
    // A POST with an empty body is a call without parameters.
    app.send("POST", "/user/details", Some(&token), None, b"")
        .ok();
}

fn login_attempts_are_rate_limited(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.login_attempts_per_minute = 3);
    app.signup("limited@example.com", "password123", "L");
    // Only failures count: signing in often is no attack.
    for _ in 0..5 {
        app.login("limited@example.com", "password123");
    }
    for _ in 0..3 {
        app.post(
            "/user/login",
            None,
            json!({"email": "limited@example.com", "password": "wrong-password"}),
        )
        .err(401, "unauthenticated");
    }
    let r = app
        .post(
            "/user/login",
            None,
            json!({"email": "LIMITED@example.com", "password": "password123"}),
        )
        .err(429, "rate_limited");
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    // Other addresses are not affected.
    app.signup("other@example.com", "password123", "O");
    app.login("other@example.com", "password123");
}

/// An embedded SQLite file cannot be made unreachable, so this runs on
/// PostgreSQL only.
fn unreachable_database_is_503(backend: Backend) {
    let app = TestApp::start(backend);
    let token = app.user("owner@example.com");
    let name = app.db.name().unwrap().to_string();
    app.db
        .admin_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
    app.db.admin_sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    app.get("/readyz", None).err(503, "unavailable");
    let r = app.post(
        "/user/createorganization",
        Some(&token),
        json!({"name": "Lost"}),
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.error_type(), "unavailable");
    app.get("/healthz", None).ok();
    app.db
        .admin_sql(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    app.get("/readyz", None).ok();
    // The failed request did nothing; the next one works.
    let r = app.get("/user/listorganizations", Some(&token)).ok();
    assert_eq!(r.get("organizations"), &json!([]));
    app.organization(&token, "Found");

    // A database restart while idle: the pooled connections die. A read that
    // meets a dead connection is retried on a tested one, so no request fails.
    app.db.admin_sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    let statuses: Vec<u16> = (0..6)
        .map(|_| app.get("/user/listorganizations", Some(&token)).status)
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

/// U+0000 is refused at the edge, naming the parameter, whatever the body's
/// form and the backend (PostgreSQL cannot store it as text); a cursor that
/// decodes to it is still a position, never an error.
fn nul_is_422_on_every_backend(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let field = |r: crate::support::Resp, name: &str| {
        let r = r.err(422, "validation_failed");
        assert!(
            r.body["response"]["error"]["fields"][name].is_array(),
            "{}",
            r.body
        );
    };
    field(
        app.post(
            "/customer/details",
            Some(&owner),
            json!({"organizationid": "a\u{0}b"}),
        ),
        "organizationid",
    );
    field(
        app.get("/invite/list?organizationid=%00", Some(&owner)),
        "organizationid",
    );
    field(
        app.post_form("/invite/resend", Some(&owner), "inviteid=%00"),
        "inviteid",
    );
    field(
        app.post(
            "/user/login",
            None,
            json!({"email": "o\u{0}@example.com", "password": "x"}),
        ),
        "email",
    );
    field(
        app.post(
            "/invite/create",
            Some(&owner),
            json!({"organizationid": org, "email": "a@example.com",
                   "projectpermissions": [{"projectid": "p\u{0}", "permission": "read"}]}),
        ),
        "projectpermissions.0.projectid",
    );
    // base64url of "a\0b": a position like any other.
    let r = app
        .get(
            &format!("/customer/listauditevents?organizationid={org}&cursor=YQBi"),
            Some(&owner),
        )
        .ok();
    assert!(r.get("auditevents").is_array());
}

/// `serve` started before its database answers retries until it does
/// (`COLLABD_DB_WAIT_SECS`), then serves. The database here is reached through
/// a port nobody listens on until a forwarder to PostgreSQL opens it.
fn serve_waits_for_the_database(backend: Backend) {
    use std::io::copy;
    use std::net::{TcpListener, TcpStream};

    let db = TestDatabase::new(&backend);
    let (host_port, late_url) = {
        let rest = db.url.split("://").nth(1).expect("url");
        let after_at = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let host_port = after_at.split('/').next().expect("host").to_string();
        let port = crate::smtp::free_port();
        let late = db.url.replacen(&host_port, &format!("127.0.0.1:{port}"), 1);
        (host_port, (late, port))
    };
    let (late_url, port) = late_url;
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(3));
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind forwarder");
        for client in listener.incoming().map_while(Result::ok) {
            let Ok(upstream) = TcpStream::connect(&host_port) else {
                continue;
            };
            let (mut c_read, mut u_write) =
                (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            let (mut u_read, mut c_write) = (upstream, client);
            std::thread::spawn(move || copy(&mut c_read, &mut u_write));
            std::thread::spawn(move || copy(&mut u_read, &mut c_write));
        }
    });
    let mail_dir = db.dir().join("mail");
    let process = Process::spawn(&[
        ("COLLABD_DATABASE_URL", late_url.as_str()),
        ("COLLABD_DB_WAIT_SECS", "30"),
        ("COLLABD_MAIL_DIR", mail_dir.to_str().expect("path")),
    ]);
    Client::new(&process.base).get("/readyz", None).ok();
    drop(opener); // the forwarder thread serves until the test process ends
}
