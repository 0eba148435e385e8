//! The `{"response": {"status": …, <payload>}}` body every answer has, and the
//! per-request transaction id it carries.

use actix_web::body::BoxBody;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, Responder};
use serde::Serialize;
use serde_json::{json, Map, Value};

tokio::task_local! {
    /// The transaction id of the request being served on this task.
    static TRANSACTION_ID: String;
}

/// The header that repeats `status.transactionid`.
pub const TRANSACTION_HEADER: &str = "x-transaction-id";

/// Runs `fut` with `id` as its transaction id.
pub async fn with_transaction_id<F: std::future::Future>(id: String, fut: F) -> F::Output {
    TRANSACTION_ID.scope(id, fut).await
}

/// The current request's transaction id (a fresh one outside a request).
pub fn transaction_id() -> String {
    TRANSACTION_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| crate::domain::new_id())
}

/// The `status` object.
pub fn status(code: StatusCode, text: &str) -> Value {
    json!({
        "code": code.as_u16(),
        "text": text,
        "timestamp": crate::domain::rfc3339(crate::domain::now_ms()),
        "transactionid": transaction_id(),
    })
}

/// Renders a whole envelope with `status` and the given members beside it.
pub fn render(
    mut builder: HttpResponseBuilder,
    code: StatusCode,
    text: &str,
    members: Map<String, Value>,
) -> HttpResponse {
    let mut response = Map::with_capacity(members.len() + 1);
    response.insert("status".into(), status(code, text));
    response.extend(members);
    builder
        .content_type("application/json")
        .body(json!({ "response": Value::Object(response) }).to_string())
}

/// A successful answer's payload: keys next to `status`.
#[derive(Default)]
pub struct Payload(Map<String, Value>);

impl Payload {
    pub fn new() -> Payload {
        Payload(Map::new())
    }

    /// Adds one payload member, such as `user` or `collaborators`.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Payload {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.0.insert(key.to_string(), value);
        self
    }
}

impl Responder for Payload {
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        render(HttpResponse::Ok(), StatusCode::OK, "OK", self.0)
    }
}
