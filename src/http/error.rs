//! `ApiError`: every refusal, rendered as the envelope with `response.error`.

use std::collections::BTreeMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use serde::Serialize;

use super::envelope::{render, transaction_id};
use crate::domain::DomainError;
use crate::store::StoreError;

/// One error answer of API.md §1.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    Unauthenticated(String),
    /// 401 with `error.reason` `otp_required` or `otp_invalid`.
    #[error("{message}")]
    SecondFactor {
        reason: &'static str,
        message: String,
    },
    #[error("{0}")]
    Forbidden(String),
    /// 403 with `error.reason` `sso_required` (API.md §9).
    #[error("{0}")]
    SsoRequired(String),
    #[error("{0}")]
    NotFound(String),
    #[error("this endpoint does not accept {method}; it takes {allow}")]
    MethodNotAllowed { method: String, allow: String },
    #[error("{message}")]
    Conflict {
        reason: &'static str,
        message: String,
    },
    #[error("{message}")]
    Gone {
        reason: &'static str,
        message: String,
    },
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 412: `If-Match` names another version than the resource's (SCIM,
    /// RFC 7644 §3.14); nothing was done.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 501: a request of a standard collabd does not implement (SCIM's
    /// `POST /.search`, RFC 7644 §3.4.3); nothing was done.
    #[error("{0}")]
    NotImplemented(String),
    /// 408: the body did not all arrive within the body timeout (in
    /// seconds). API.md §1 has no row for it; `error.type` is
    /// `invalid_request` (the request never became whole), and the
    /// connection is closed after the answer.
    #[error("the body did not arrive within {0} s")]
    RequestTimeout(u64),
    #[error("{}", validation_text(.0))]
    Validation(BTreeMap<String, Vec<String>>),
    #[error("too many attempts; retry in {0} s")]
    RateLimited(u64),
    #[error("the database is unavailable; nothing was done")]
    Unavailable(String),
    /// The server is at its bound for some work; nothing was done.
    #[error("{0}")]
    Busy(String),
    /// The cause is logged with the transaction id; the client sees none of it.
    #[error("internal error")]
    Internal(String),
}

fn validation_text(fields: &BTreeMap<String, Vec<String>>) -> String {
    fields
        .iter()
        .map(|(field, messages)| format!("{field}: {}", messages.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    /// The `error.type` of API.md §1.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest(_) | ApiError::RequestTimeout(_) => "invalid_request",
            ApiError::Unauthenticated(_) | ApiError::SecondFactor { .. } => "unauthenticated",
            ApiError::Forbidden(_) | ApiError::SsoRequired(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Conflict { .. } => "conflict",
            ApiError::Gone { .. } => "gone",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::PreconditionFailed(_) => "precondition_failed",
            ApiError::NotImplemented(_) => "not_implemented",
            ApiError::Validation(_) => "validation_failed",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::Unavailable(_) | ApiError::Busy(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// `error` of this refusal, owned: for answers that carry several (the
    /// rows of `invite/createbulk`).
    pub fn to_row_error(&self) -> super::answers::RowError {
        let object = self.error_object();
        super::answers::RowError {
            kind: object.kind.to_string(),
            reason: object.reason.map(str::to_string),
            fields: object.fields.cloned(),
        }
    }

    fn error_object(&self) -> ErrorObject<'_> {
        let (reason, fields) = match self {
            ApiError::Conflict { reason, .. }
            | ApiError::Gone { reason, .. }
            | ApiError::SecondFactor { reason, .. } => (Some(*reason), None),
            ApiError::SsoRequired(_) => (Some("sso_required"), None),
            ApiError::Validation(fields) => (None, Some(fields)),
            _ => (None, None),
        };
        ErrorObject {
            kind: self.kind(),
            reason,
            fields,
        }
    }
}

/// `response.error`.
#[derive(Serialize)]
struct ErrorObject<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a BTreeMap<String, Vec<String>>>,
}

#[derive(Serialize)]
struct ErrorPayload<'a> {
    error: ErrorObject<'a>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) | ApiError::SecondFactor { .. } => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) | ApiError::SsoRequired(_) => StatusCode::FORBIDDEN,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Gone { .. } => StatusCode::GONE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => {
                tracing::error!(transactionid = %transaction_id(), cause = %cause, "internal error")
            }
            ApiError::Unavailable(cause) => {
                tracing::warn!(transactionid = %transaction_id(), cause = %cause, "database unavailable")
            }
            _ => {}
        }
        let code = self.status_code();
        let payload = ErrorPayload {
            error: self.error_object(),
        };
        render(self.builder(code), code, &self.to_string(), &payload)
    }
}

impl ApiError {
    /// A response with `status` and the headers this refusal carries
    /// (`WWW-Authenticate`, `Retry-After`, `Allow`), for a body of any shape:
    /// the envelope's, or the error body of an endpoint outside it.
    pub fn builder(&self, status: StatusCode) -> HttpResponseBuilder {
        let mut builder = HttpResponse::build(status);
        match self {
            ApiError::Unauthenticated(_) | ApiError::SecondFactor { .. } => {
                // Both schemes this server takes (API.md §2).
                builder.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer, Basic realm=\"collabd\""),
                ));
            }
            ApiError::RateLimited(seconds) => {
                builder.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            ApiError::Busy(_) => {
                builder.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                builder.insert_header((header::ALLOW, allow.as_str()));
            }
            ApiError::RequestTimeout(_) => {
                // The rest of the body may still be on its way: the
                // connection cannot carry another request.
                builder.force_close();
            }
            _ => {}
        }
        builder
    }

    /// `error.reason`, when the refusal has one.
    pub fn reason(&self) -> Option<&'static str> {
        self.error_object().reason
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> ApiError {
        match e {
            DomainError::Invalid(fields) => ApiError::Validation(fields),
            DomainError::Unauthenticated(m) => ApiError::Unauthenticated(m),
            DomainError::SecondFactor { reason, message } => ApiError::SecondFactor {
                reason: reason.as_str(),
                message,
            },
            DomainError::Forbidden(m) => ApiError::Forbidden(m),
            DomainError::SsoRequired(m) => ApiError::SsoRequired(m),
            DomainError::NotFound(m) => ApiError::NotFound(m),
            DomainError::PreconditionFailed(m) => ApiError::PreconditionFailed(m),
            DomainError::Conflict { reason, message } => ApiError::Conflict {
                reason: reason.as_str(),
                message,
            },
            DomainError::Gone { reason, message } => ApiError::Gone {
                reason: reason.as_str(),
                message,
            },
            DomainError::RateLimited { retry_after_secs } => {
                ApiError::RateLimited(retry_after_secs)
            }
            DomainError::Busy(message) => ApiError::Busy(message),
            DomainError::Store(StoreError::Unavailable(cause)) => ApiError::Unavailable(cause),
            DomainError::Store(StoreError::Contended(cause)) => {
                // Rolled back: nothing was done, and a retry may pass.
                tracing::warn!(cause = %cause, "a database lock was not had in time");
                ApiError::Busy(
                    "the data is locked by other work; nothing was done; retry in a moment".into(),
                )
            }
            DomainError::Store(StoreError::Query(e)) => ApiError::Internal(e.to_string()),
            DomainError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}
