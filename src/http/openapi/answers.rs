//! An operation's answers in the document, in the envelope or outside it:
//! its success, its errors, and the parameters its path names.

use actix_web::http::{Method, StatusCode};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
use utoipa::openapi::{Ref, RefOr, Required, Schema};

use super::{error_response, ERRORS};
use crate::http::{endpoint::Answers, endpoint::Documented, route::SchemaFn};

type Schemas = Vec<(String, RefOr<Schema>)>;

/// The success response and its status: the envelope around the answer's
/// members, or the endpoint's own reply. Either carries `X-Transaction-Id`.
pub(super) fn success(
    endpoint: &Documented,
    status: &RefOr<Schema>,
    schemas: &mut Schemas,
) -> (String, Response) {
    let (code, mut response) = match &endpoint.answer {
        Answers::Envelope(answer) => {
            let envelope = ResponseBuilder::new().description("OK").content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(envelope(*answer, status, schemas)))
                    .build(),
            );
            (StatusCode::OK, envelope.build())
        }
        Answers::Own(own) => (own.success)(own.media_type, schemas),
    };
    response.headers.insert(
        "X-Transaction-Id".into(),
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String).build())
            .description(Some("The request's transaction id."))
            .build(),
    );
    (code.as_u16().to_string(), response)
}

/// The success envelope: `status` and exactly the answer type's members.
fn envelope(answer: SchemaFn, status: &RefOr<Schema>, schemas: &mut Schemas) -> Schema {
    let mut inner = ObjectBuilder::new()
        .property("status", status.clone())
        .required("status")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    if let RefOr::T(Schema::Object(answer)) = answer(schemas) {
        for (key, schema) in answer.properties {
            inner = inner.property(key, schema);
        }
        for key in answer.required {
            inner = inner.required(key);
        }
    }
    Schema::Object(
        ObjectBuilder::new()
            .property("response", inner)
            .required("response")
            .build(),
    )
}

/// The error responses for `codes` (collabd's statuses, API.md §1): the
/// shared envelope responses, or, outside the envelope, the statuses the
/// endpoint's wire answers them with, each with its error body.
pub(super) fn errors(
    endpoint: &Documented,
    codes: Vec<u16>,
    schemas: &mut Schemas,
) -> Vec<(String, RefOr<Response>)> {
    match &endpoint.answer {
        Answers::Envelope(_) => codes
            .iter()
            .filter_map(|code| ERRORS.iter().find(|(c, _, _)| c == code))
            .map(|(code, name, _)| (code.to_string(), Ref::from_response_name(*name).into()))
            .collect(),
        Answers::Own(own) => {
            let body = (own.error)(schemas);
            let mut statuses: Vec<StatusCode> = codes
                .into_iter()
                .filter_map(|code| StatusCode::from_u16(code).ok())
                .map(own.status)
                .collect();
            statuses.sort_unstable();
            statuses.dedup();
            statuses
                .into_iter()
                .map(|status| {
                    let code = status.as_u16();
                    let response =
                        error_response(code, (own.describe)(status), own.media_type, body.clone());
                    (code.to_string(), RefOr::T(response))
                })
                .collect()
        }
    }
}

/// The parameters `path` names (`/scim/v2/Users/{id}`): each a required
/// string of one path segment.
pub(super) fn path_parameters(path: &str) -> Vec<Parameter> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(1))
                        .build(),
                ))
                .build()
        })
        .collect()
}

/// The document's name for an HTTP method the table serves.
pub(super) fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::GET => HttpMethod::Get,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        _ => HttpMethod::Post,
    }
}
