//! The contract checker: every answer any test receives is checked against
//! `openapi/openapi.json`. The status must be documented for that operation,
//! the body must be in a documented media type and validate against that
//! type's schema (formats included; no documented content, no body), a
//! documented header marked required must be there, and a 2xx must carry
//! exactly the declared payload keys (the success schemas say
//! `additionalProperties: false`). Paths match the document's templates
//! (`/scim/v2/Users/{id}`). A method the document does not list for a
//! documented path must answer 405 with an `Allow` naming exactly the methods
//! it lists, and the path's own error body; an undocumented path (pages,
//! `/metrics`, `/docs`) is not an API operation and is checked only when it
//! answers a JSON error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Validator};
use serde_json::{json, Value};

use crate::support::Resp;

/// A document to check answers against.
pub struct Contract {
    spec: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

/// The checked-in document, which collabd serves.
fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
                .expect("openapi/openapi.json");
        Contract::new(serde_json::from_str(&text).expect("openapi.json is JSON"))
    })
}

/// A JSON pointer segment (`/` and `~` escaped).
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A JSON pointer as a URI fragment: what a fragment cannot hold (the
/// braces of `/things/{id}`) percent-encoded.
fn fragment(pointer: &str) -> String {
    pointer
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            b'-' | b'.' | b'_' | b'~' | b'/' | b'+' | b'!' | b'$' | b'&' | b'\'' => {
                (b as char).to_string()
            }
            b'(' | b')' | b'*' | b',' | b';' | b'=' | b':' | b'@' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The media type of a `Content-Type` value, without its parameters.
fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// True for JSON and `+json` media types (`application/scim+json`).
fn is_json(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

impl Contract {
    /// Checks answers against `spec` (an app's own document).
    pub fn new(spec: Value) -> Contract {
        Contract {
            spec,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// A validator for the schema at `pointer` inside the document, so its
    /// `$ref`s resolve against the document's components.
    fn validator(&self, pointer: &str) -> Arc<Validator> {
        let mut cache = self.validators.lock().expect("validator cache");
        cache
            .entry(pointer.to_string())
            .or_insert_with(|| {
                let mut root = self.spec.clone();
                root["$ref"] = json!(format!("#{}", fragment(pointer)));
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

    /// The documented path `path` is an instance of, and its path item:
    /// itself, or a template whose `{name}` segments each stand for one
    /// segment.
    fn path_item(&self, path: &str) -> Option<(String, &Value)> {
        let paths = self.spec["paths"].as_object()?;
        if let Some(item) = paths.get(path) {
            return Some((path.to_string(), item));
        }
        let segments: Vec<&str> = path.split('/').collect();
        paths.iter().find_map(|(template, item)| {
            let pattern: Vec<&str> = template.split('/').collect();
            let matches = pattern.len() == segments.len()
                && pattern.iter().zip(&segments).all(|(p, s)| {
                    p == s || (p.starts_with('{') && p.ends_with('}') && !s.is_empty())
                });
            matches.then(|| (template.clone(), item))
        })
    }

    /// The response object at `pointer` (following a `$ref`), and the
    /// pointer it was found at.
    fn response(&self, pointer: String) -> (String, &Value) {
        let found = self.spec.pointer(&pointer).unwrap_or(&Value::Null);
        match found["$ref"].as_str() {
            Some(reference) => {
                let pointer = reference.trim_start_matches('#').to_string();
                let response = self.spec.pointer(&pointer).unwrap_or(&Value::Null);
                (pointer, response)
            }
            None => (pointer, found),
        }
    }

    /// Checks `resp` against the response at `pointer`: its documented
    /// headers that are required are there, and its body is in a documented
    /// media type and matches that type's schema (no content documented:
    /// no body).
    fn check_response(&self, pointer: String, resp: &Resp) -> Result<(), String> {
        let (pointer, response) = self.response(pointer);
        if let Some(headers) = response["headers"].as_object() {
            for (name, header) in headers {
                if header["required"] == json!(true) && resp.header(name).is_none() {
                    return Err(format!("the required header {name} is missing"));
                }
            }
        }
        let Some(content) = response["content"].as_object() else {
            return match &resp.body {
                Value::Object(o) if o.len() == 1 && o["raw"] == json!("") => Ok(()),
                body => Err(format!("no body is documented, got {body}")),
            };
        };
        let media = media_type(resp.header("content-type").unwrap_or(""));
        if !content.contains_key(media) {
            return Err(format!(
                "answered {media:?}, documented {:?}",
                content.keys().collect::<Vec<_>>()
            ));
        }
        let body = match (is_json(media), &resp.body) {
            (true, body) => body.clone(),
            (false, Value::Object(o)) => o.get("raw").cloned().unwrap_or(Value::Null),
            (false, body) => body.clone(),
        };
        self.validate(
            &format!("{pointer}/content/{}/schema", escape(media)),
            &body,
        )
    }

    fn check(&self, method: &str, target: &str, resp: &Resp) -> Result<(), String> {
        let path = target.split('?').next().unwrap_or(target);
        let method = method.to_ascii_lowercase();
        let error_envelope = "/components/schemas/ErrorEnvelope";
        let Some((template, item)) = self.path_item(path) else {
            // Not an API operation: pages, documents, probes for scrapers, or
            // an unknown path, which answers the 404 envelope.
            let json = resp.header("content-type") == Some("application/json");
            if resp.status == 404 && json {
                return self.validate(error_envelope, &resp.body);
            }
            return Ok(());
        };
        let item_pointer = format!("/paths/{}", escape(&template));
        let Some(_) = item.get(&method) else {
            return self.check_not_allowed(&item_pointer, item, &method, resp);
        };
        let status = resp.status.to_string();
        if item[&method]["responses"].get(&status).is_none() {
            return Err(format!(
                "{method} {template} answered {status}, which its operation does not document"
            ));
        }
        self.check_response(format!("{item_pointer}/{method}/responses/{status}"), resp)
            .map_err(|e| format!("{method} {template} {status}: {e}"))
    }

    /// A method the path item does not list: 405, `Allow` naming exactly
    /// the methods it lists, and the error body its operations document
    /// (for a 500) in the answer's media type.
    fn check_not_allowed(
        &self,
        item_pointer: &str,
        item: &Value,
        method: &str,
        resp: &Resp,
    ) -> Result<(), String> {
        const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
        let Some(allow) = resp.header("allow").filter(|_| resp.status == 405) else {
            return Err(format!(
                "{method} is not documented for {item_pointer}, so it must answer 405 with Allow; got {}",
                resp.status
            ));
        };
        let mut allowed: Vec<String> = allow
            .split(',')
            .map(|m| m.trim().to_ascii_lowercase())
            .collect();
        allowed.sort();
        let mut documented: Vec<String> = METHODS
            .iter()
            .filter(|m| item.get(**m).is_some())
            .map(|m| m.to_string())
            .collect();
        documented.sort();
        if allowed != documented {
            return Err(format!(
                "405 from {item_pointer} allows {allow:?}; the document lists {documented:?}"
            ));
        }
        let Some(listed) = METHODS.iter().find(|m| item.get(**m).is_some()) else {
            return Err(format!("{item_pointer} lists no operation"));
        };
        if method == "head" {
            // No body to check.
            return Ok(());
        }
        let mut errors = resp.clone();
        errors.headers.remove("allow");
        self.check_response(format!("{item_pointer}/{listed}/responses/500"), &errors)
            .map_err(|e| format!("405 from {item_pointer}: {e}"))
    }
}

/// Checks one answer against the checked-in document; `Err` says what is
/// wrong.
pub fn check(method: &str, target: &str, resp: &Resp) -> Result<(), String> {
    contract().check(method, target, resp)
}

/// Checks one answer against `contract`.
pub fn check_against(
    contract: &Contract,
    method: &str,
    target: &str,
    resp: &Resp,
) -> Result<(), String> {
    contract.check(method, target, resp)
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
