//! The OpenAPI document: checked in, served, printed by `collabd openapi`, complete.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use crate::support::{Backend, TestApp};

fn checked_in() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi/openapi.json is checked in");
    serde_json::from_str(&text).expect("openapi/openapi.json is JSON")
}

#[test]
fn checked_in_spec_equals_collabd_openapi() {
    let output = Command::new(env!("CARGO_BIN_EXE_collabd"))
        .arg("openapi")
        .output()
        .expect("run collabd openapi");
    assert!(output.status.success());
    let printed: Value =
        serde_json::from_slice(&output.stdout).expect("collabd openapi prints JSON");
    assert!(
        printed == checked_in(),
        "openapi/openapi.json is stale: run `cargo run -q -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn served_spec_equals_checked_in() {
    let app = TestApp::start(Backend::Sqlite);
    let r = app.get("/openapi.json", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, checked_in());
}

/// Every `$ref` in the document points at something that exists.
fn refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.insert(v.as_str().unwrap_or_default().to_string());
                } else {
                    refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_operation_is_fully_described() {
    let doc = checked_in();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut operation_ids = BTreeSet::new();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 15);
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let here = format!("{method} {path}");
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{here}: operationId"));
            assert!(
                operation_ids.insert(id.to_string()),
                "{here}: duplicate operationId {id}"
            );
            assert!(
                op["description"].as_str().is_some_and(|d| d.len() > 20),
                "{here}: description"
            );
            // The envelope's operations answer JSON; outside it, SCIM its
            // own media type, the browser side of SSO (API.md §9) a page,
            // or a redirect with its Location.
            let responses = &op["responses"];
            let described = ["200", "201"].iter().any(|code| {
                ["application/json", "application/scim+json", "text/html"]
                    .iter()
                    .any(|media| responses[code]["content"][media]["schema"].is_object())
            }) || responses["302"]["headers"]["Location"].is_object()
                || responses["204"].is_object();
            assert!(described, "{here}: 200 or 201 schema, 204, or 302 Location");
            assert!(op["responses"]["500"].is_object(), "{here}: 500");
            let public = path.starts_with("/api/")
                || path == "/healthz"
                || path == "/readyz"
                || path == "/user/signup"
                || path == "/user/login"
                || path == "/user/confirm"
                || path == "/user/requestpasswordreset"
                || path == "/user/resetpassword"
                || path == "/user/requestloginlink"
                || path == "/user/loginbylink"
                || path == "/invite/details"
                || path == "/customer/verifydomain"
                || path.starts_with("/sso/");
            if !public {
                assert!(op["security"].is_array(), "{here}: security");
                assert!(op["responses"]["401"].is_object(), "{here}: 401");
            }
            if method == "post" && op.get("requestBody").is_none() {
                panic!("{here}: requestBody");
            }
        }
    }
    let mut all = BTreeSet::new();
    refs(&doc, &mut all);
    for reference in all {
        let pointer = reference.trim_start_matches('#');
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {reference}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[test]
fn writing_endpoints_have_no_get_and_reads_have_both() {
    let doc = checked_in();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/user/signup",
        "/user/login",
        "/user/createorganization",
        "/customer/settings",
    ] {
        assert!(paths[path].get("get").is_none(), "{path}");
        assert!(paths[path].get("post").is_some(), "{path}");
    }
    for path in [
        "/user/details",
        "/user/listorganizations",
        "/customer/details",
    ] {
        assert!(paths[path].get("get").is_some(), "{path}");
        assert!(paths[path].get("post").is_some(), "{path}");
    }
    let params = paths["/customer/details"]["get"]["parameters"]
        .as_array()
        .unwrap();
    assert!(params
        .iter()
        .any(|p| p["name"] == "organizationid" && p["in"] == "query"));
}
