//! The tests' HTTP client. Every answer it receives is checked against
//! `openapi/openapi.json` by [`crate::contract`]; a violation fails the test.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::contract::Contract;

/// One answer: status, headers and the JSON body.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// `response.<key>`.
    pub fn get(&self, key: &str) -> &Value {
        &self.body["response"][key]
    }

    pub fn error_type(&self) -> &str {
        self.body["response"]["error"]["type"]
            .as_str()
            .unwrap_or("")
    }

    pub fn reason(&self) -> &str {
        self.body["response"]["error"]["reason"]
            .as_str()
            .unwrap_or("")
    }

    pub fn text(&self) -> &str {
        self.body["response"]["status"]["text"]
            .as_str()
            .unwrap_or("")
    }

    /// Asserts a 200 envelope and returns self.
    #[track_caller]
    pub fn ok(self) -> Resp {
        assert_eq!(
            self.status, 200,
            "expected 200, got {}: {}",
            self.status, self.body
        );
        self.assert_envelope();
        self
    }

    /// Asserts an error envelope with this status and `error.type`.
    #[track_caller]
    pub fn err(self, status: u16, kind: &str) -> Resp {
        assert_eq!(
            self.status, status,
            "expected {status} {kind}, got {}: {}",
            self.status, self.body
        );
        assert_eq!(self.error_type(), kind, "{}", self.body);
        self.assert_envelope();
        self
    }

    /// The envelope of API.md §1: status.code equals the HTTP status, the
    /// transaction id is the header's, the timestamp is RFC 3339 UTC.
    #[track_caller]
    pub fn assert_envelope(&self) {
        let status = &self.body["response"]["status"];
        assert_eq!(
            status["code"].as_u64(),
            Some(u64::from(self.status)),
            "{}",
            self.body
        );
        let txid = status["transactionid"].as_str().expect("transactionid");
        assert_eq!(self.header("x-transaction-id"), Some(txid));
        let timestamp = status["timestamp"].as_str().expect("timestamp");
        assert!(
            timestamp.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(),
            "{timestamp}"
        );
        assert!(status["text"].is_string());
        assert_eq!(self.header("content-type"), Some("application/json"));
    }
}

/// A client for one server.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    agent: ureq::Agent,
    /// The document answers are checked against: the checked-in one
    /// unless the server serves endpoints of a test's own.
    contract: Option<Arc<Contract>>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_string(),
            // A redirect is an answer to check, not to follow.
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .redirects(0)
                .build(),
            contract: None,
        }
    }

    /// A client that checks every answer against `contract` instead.
    pub fn checked_against(mut self, contract: Contract) -> Client {
        self.contract = Some(Arc::new(contract));
        self
    }

    /// Any request; `body` with its content type.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Resp {
        let authorization = token.map(|t| format!("Bearer {t}"));
        self.send_raw(method, path, authorization.as_deref(), content_type, body)
    }

    /// POST a JSON body with extra request headers.
    pub fn post_with(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Value,
    ) -> Resp {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let mut all: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
        if let Some(value) = authorization.as_deref() {
            all.push(("Authorization", value));
        }
        all.extend_from_slice(headers);
        self.request("POST", path, &all, body.to_string().as_bytes())
    }

    /// GET with this exact `Authorization` header value.
    pub fn get_authorized_as(&self, path: &str, authorization: &str) -> Resp {
        self.send_raw("GET", path, Some(authorization), None, b"")
    }

    fn send_raw(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Resp {
        let mut headers = Vec::new();
        if let Some(value) = authorization {
            headers.push(("Authorization", value));
        }
        if let Some(ct) = content_type {
            headers.push(("Content-Type", ct));
        }
        self.request(method, path, &headers, body)
    }

    /// Any request with these headers.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut request = self
            .agent
            .request(method, &format!("{}{}", self.base, path));
        for (name, value) in headers {
            request = request.set(name, value);
        }
        let result = if body.is_empty() && method == "GET" {
            request.call()
        } else {
            request.send_bytes(body)
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = response.status();
        let headers = response
            .headers_names()
            .into_iter()
            .filter_map(|n| {
                response
                    .header(&n)
                    .map(|v| (n.to_ascii_lowercase(), v.to_string()))
            })
            .collect();
        let text = response.into_string().expect("body");
        let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }));
        let resp = Resp {
            status,
            headers,
            body,
        };
        let checked = match &self.contract {
            Some(contract) => crate::contract::check_against(contract, method, path, &resp),
            None => crate::contract::check(method, path, &resp),
        };
        if let Err(violation) = checked {
            panic!("contract: {violation}\nbody: {}", resp.body);
        }
        resp
    }

    /// POST with a JSON body.
    pub fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.send(
            "POST",
            path,
            token,
            Some("application/json"),
            body.to_string().as_bytes(),
        )
    }

    /// POST with a form body.
    pub fn post_form(&self, path: &str, token: Option<&str>, form: &str) -> Resp {
        self.send(
            "POST",
            path,
            token,
            Some("application/x-www-form-urlencoded"),
            form.as_bytes(),
        )
    }

    /// GET with a query string (`path` may carry it).
    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.send("GET", path, token, None, b"")
    }
}
