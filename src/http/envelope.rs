//! The `{"response": {"status": …, <payload>}}` body every answer has, and the
//! per-request transaction id it carries.

use actix_web::body::BoxBody;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, Responder};
use serde::Serialize;

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
#[derive(Serialize)]
struct Status<'a> {
    code: u16,
    text: &'a str,
    timestamp: String,
    transactionid: String,
}

#[derive(Serialize)]
struct Body<'a, P> {
    response: Response<'a, P>,
}

#[derive(Serialize)]
struct Response<'a, P> {
    status: Status<'a>,
    #[serde(flatten)]
    payload: &'a P,
}

/// Renders a whole envelope: `status`, and the members of `payload` beside it.
pub fn render<P: Serialize>(
    mut builder: HttpResponseBuilder,
    code: StatusCode,
    text: &str,
    payload: &P,
) -> HttpResponse {
    let body = Body {
        response: Response {
            status: Status {
                code: code.as_u16(),
                text,
                timestamp: crate::domain::rfc3339(crate::domain::now_ms()),
                transactionid: transaction_id(),
            },
            payload,
        },
    };
    match serde_json::to_vec(&body) {
        Ok(bytes) => builder.content_type("application/json").body(bytes),
        Err(e) => {
            tracing::error!(transactionid = %transaction_id(), cause = %e, "serializing an answer");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// A successful answer: the endpoint's answer type, in the envelope.
pub struct Answer<A>(pub A);

impl<A: Serialize> Responder for Answer<A> {
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        render(HttpResponse::Ok(), StatusCode::OK, "OK", &self.0)
    }
}
