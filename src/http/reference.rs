//! The reference as it is served: `GET /openapi.json` and the interactive
//! `GET /docs`. Apart from the endpoints (`api.rs`), since the document is
//! built from them: serving it from their module would make the two import
//! each other.

use actix_web::{web, HttpResponse};

use super::openapi::Served;

/// `GET /openapi.json`: the document `collabd openapi` prints, built on
/// the first request rather than at start (a process that is never asked
/// for it does not keep it, nor the code that builds it, in memory).
pub async fn openapi_json(document: web::Data<Served>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.json())
}

/// `GET /docs`: an interactive reference built from `/openapi.json` by a page
/// that is compiled in, so it works with no internet.
pub async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
        ))
        .body(include_str!("docs.html"))
}
