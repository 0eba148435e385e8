//! Who may call each operation is stated once, in the endpoint table, which
//! the document is built from; the handlers' extractors must agree. Every
//! operation of `openapi/openapi.json` is called with no token: one whose
//! security demands a bearer token must answer 401 (with `WWW-Authenticate`),
//! and a public one must not. With a revoked token every non-public one
//! answers 401 too. (Every answer also passes the contract checker.)

use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(every_operation_asks_for_what_the_document_says);

/// Each documented operation: (method, path, needs a bearer token).
fn operations() -> Vec<(String, String, bool)> {
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi.json"),
    )
    .expect("JSON");
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let security = operation["security"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            // `[{}]` among the alternatives means "or no token at all".
            let needs_token = !security.is_empty() && !security.iter().any(|s| s == &json!({}));
            out.push((method.to_uppercase(), path.clone(), needs_token));
        }
    }
    out
}

fn every_operation_asks_for_what_the_document_says(backend: Backend) {
    let app = TestApp::start(backend);
    let token = app.user("owner@example.com");
    app.post("/user/logout", Some(&token), json!({})).ok();
    let operations = operations();
    assert!(operations.len() > 40, "{}", operations.len());
    for (method, path, needs_token) in operations {
        let call = |token: Option<&str>| match method.as_str() {
            "GET" => app.get(&path, token),
            "POST" => app.post(&path, token, json!({})),
            // Resources outside the envelope (SCIM): PUT, PATCH, DELETE.
            other => {
                let bearer = token.map(|t| format!("Bearer {t}"));
                let headers: Vec<(&str, &str)> = bearer
                    .iter()
                    .map(|b| ("authorization", b.as_str()))
                    .chain([("content-type", "application/json")])
                    .collect();
                app.client.request(other, &path, &headers, b"{}")
            }
        };
        let anonymous = call(None);
        if needs_token && path.starts_with("/scim/") {
            // SCIM's own error body (tests/api/scim.rs checks its shape).
            assert_eq!(anonymous.status, 401, "{method} {path}");
            assert_eq!(anonymous.body["status"], "401", "{method} {path}");
            assert!(
                anonymous.header("www-authenticate").is_some(),
                "{method} {path}"
            );
            assert_eq!(call(Some(&token)).status, 401, "{method} {path}");
        } else if needs_token {
            let r = anonymous.err(401, "unauthenticated");
            assert!(r.header("www-authenticate").is_some(), "{method} {path}");
            call(Some(&token)).err(401, "unauthenticated");
        } else {
            assert_ne!(anonymous.status, 401, "{method} {path}: {}", anonymous.body);
        }
    }
}
