//! The contract checker: every answer any test receives is checked against
//! `openapi/openapi.json`. The status must be documented for that operation,
//! the body must validate against the documented schema (formats included),
//! and a 2xx must carry exactly the declared payload keys (the success
//! schemas say `additionalProperties: false`). A method the document does not
//! list for a documented path must answer 405 with `Allow`; an undocumented
//! path (pages, `/metrics`, `/docs`) is not an API operation and is checked
//! only when it answers a JSON error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Validator};
use serde_json::{json, Value};

use crate::support::Resp;

struct Contract {
    spec: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
                .expect("openapi/openapi.json");
        Contract {
            spec: serde_json::from_str(&text).expect("openapi.json is JSON"),
            validators: Mutex::new(HashMap::new()),
        }
    })
}

/// A JSON pointer segment (`/` and `~` escaped).
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Contract {
    /// A validator for the schema at `pointer` inside the document, so its
    /// `$ref`s resolve against the document's components.
    fn validator(&self, pointer: &str) -> Arc<Validator> {
        let mut cache = self.validators.lock().expect("validator cache");
        cache
            .entry(pointer.to_string())
            .or_insert_with(|| {
                let mut root = self.spec.clone();
                root["$ref"] = json!(format!("#{pointer}"));
                let validator = jsonschema::options()
                    .with_draft(Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("schema at {pointer}: {e}"));
                Arc::new(validator)
            })
            .clone()
    }

    fn validate(&self, pointer: &str, body: &Value) -> Result<(), String> {
        let validator = self.validator(pointer);
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    fn check(&self, method: &str, target: &str, resp: &Resp) -> Result<(), String> {
        let path = target.split('?').next().unwrap_or(target);
        let method = method.to_ascii_lowercase();
        let error_envelope = "/components/schemas/ErrorEnvelope";
        let Some(item) = self.spec["paths"].get(path) else {
            // Not an API operation: pages, documents, probes for scrapers, or
            // an unknown path, which answers the 404 envelope.
            let json = resp.header("content-type") == Some("application/json");
            if resp.status == 404 && json {
                return self.validate(error_envelope, &resp.body);
            }
            return Ok(());
        };
        let Some(operation) = item.get(&method) else {
            if resp.status != 405 || resp.header("allow").is_none() {
                return Err(format!(
                    "{method} is not documented for {path}, so it must answer 405 with Allow; got {}",
                    resp.status
                ));
            }
            return self.validate(error_envelope, &resp.body);
        };
        let status = resp.status.to_string();
        let Some(response) = operation["responses"].get(&status) else {
            return Err(format!(
                "{method} {path} answered {status}, which its operation does not document"
            ));
        };
        let pointer = match response["$ref"].as_str() {
            Some(reference) => format!(
                "{}/content/application~1json/schema",
                reference.trim_start_matches('#')
            ),
            None => format!(
                "/paths/{}/{method}/responses/{status}/content/application~1json/schema",
                escape(path)
            ),
        };
        self.validate(&pointer, &resp.body)
            .map_err(|e| format!("{method} {path} {status}: the body does not match: {e}"))
    }
}

/// Checks one answer against the document; `Err` says what is wrong.
pub fn check(method: &str, target: &str, resp: &Resp) -> Result<(), String> {
    contract().check(method, target, resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: Value) -> Resp {
        let mut headers = HashMap::new();
        headers.insert("content-type".to_string(), "application/json".to_string());
        Resp {
            status,
            headers,
            body,
        }
    }

    fn status(code: u16) -> Value {
        json!({"code": code, "text": "OK", "timestamp": "2026-11-23T10:00:00Z",
               "transactionid": "0193f7c2-7a1e-7c1a-9a4e-2b1f0c9d8e7f"})
    }

    fn service_info() -> Value {
        json!({"name": "collabd", "version": "0.1.0", "apiversion": "1"})
    }

    #[test]
    fn accepts_a_documented_answer() {
        let body = json!({"response": {"status": status(200), "serviceinfo": service_info()}});
        check("GET", "/api/serviceinfo", &answer(200, body)).expect("documented answer");
    }

    #[test]
    fn refuses_an_undocumented_status() {
        let body = json!({"response": {"status": status(403),
                          "error": {"type": "forbidden"}}});
        // api/serviceinfo is public and refuses nothing: 403 is not documented.
        let err = check("GET", "/api/serviceinfo", &answer(403, body)).unwrap_err();
        assert!(err.contains("does not document"), "{err}");
    }

    #[test]
    fn refuses_an_undeclared_payload_key() {
        let body = json!({"response": {"status": status(200), "serviceinfo": service_info(),
                          "nextcursor": null}});
        let err = check("GET", "/api/serviceinfo", &answer(200, body)).unwrap_err();
        assert!(err.contains("nextcursor"), "{err}");
    }

    #[test]
    fn refuses_a_missing_payload_key_and_a_wrong_type() {
        let body = json!({"response": {"status": status(200)}});
        assert!(check("POST", "/api/serviceinfo", &answer(200, body)).is_err());
        let body = json!({"response": {"status": status(200),
                          "serviceinfo": {"name": 1, "version": "0.1.0", "apiversion": "1"}}});
        assert!(check("POST", "/api/serviceinfo", &answer(200, body)).is_err());
    }

    #[test]
    fn refuses_an_undeclared_key_inside_an_object() {
        let mut info = service_info();
        info["secret"] = json!("x");
        let body = json!({"response": {"status": status(200), "serviceinfo": info}});
        assert!(check("GET", "/api/serviceinfo", &answer(200, body)).is_err());
    }

    #[test]
    fn an_undocumented_method_must_be_405() {
        let body = json!({"response": {"status": status(200), "serviceinfo": service_info()}});
        assert!(check("GET", "/user/signup", &answer(200, body)).is_err());
    }
}
