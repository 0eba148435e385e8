//! API.md §1 "Text": U+0000 in any string parameter answers 422 naming the
//! field, on every backend, for every endpoint: a table-driven walk over
//! every operation of the document and every string parameter it takes, as
//! JSON and (for reads) as a query string.

use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(nul_in_every_string_parameter_is_422);

fn spec() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi.json"),
    )
    .expect("JSON")
}

/// Whether a property schema admits a string.
fn is_string(schema: &Value) -> bool {
    let admits = |s: &Value| {
        s["type"] == "string"
            || s["type"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "string"))
    };
    admits(schema)
        || schema["oneOf"]
            .as_array()
            .is_some_and(|alternatives| alternatives.iter().any(admits))
}

fn nul_in_every_string_parameter_is_422(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let spec = spec();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let names: Vec<String> = if method == "get" {
                operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| is_string(&p["schema"]))
                    .map(|p| p["name"].as_str().expect("name").to_string())
                    .collect()
            } else {
                let Some(reference) = operation["requestBody"]["content"]["application/json"]
                    ["schema"]["$ref"]
                    .as_str()
                else {
                    continue;
                };
                let name = reference.rsplit('/').next().expect("schema name");
                spec["components"]["schemas"][name]["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(_, schema)| is_string(schema))
                    .map(|(name, _)| name.clone())
                    .collect()
            };
            for name in names {
                let r = if method == "get" {
                    app.get(&format!("{path}?{name}=a%00b"), Some(&owner))
                } else {
                    app.post(path, Some(&owner), json!({ name.clone(): "a\u{0}b" }))
                };
                let r = r.err(422, "validation_failed");
                assert!(
                    r.body["response"]["error"]["fields"][&name].is_array(),
                    "{method} {path} {name}: {}",
                    r.body
                );
                checked += 1;
            }
        }
    }
    // Every endpoint with text parameters, both forms of the reads.
    assert!(checked >= 50, "only {checked} parameters checked");
}
