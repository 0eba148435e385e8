//! What an operation is, before any handler: the methods it answers, who may
//! call it, what its rules may refuse, its schemas, and the 405 of a path.
//! A leaf of the edge that the table, the wires, the gate and every handler
//! module import, so none of them imports `http` itself.

use actix_web::dev::Handler;
use actix_web::http::Method;
use actix_web::{web, FromRequest, Responder};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

use super::error::ApiError;

/// Which methods an endpoint answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Methods {
    /// Writes: POST only; GET answers 405.
    Post,
    /// Reads: GET with a query string, or POST.
    GetPost,
    /// Probes, and reads of a resource: GET only.
    Get,
    /// A resource replaced (outside the envelope, as SCIM's are).
    Put,
    /// A resource changed in part.
    Patch,
    /// A resource removed.
    Delete,
}

impl Methods {
    /// The HTTP methods, in `Allow`'s order.
    pub fn list(self) -> &'static [Method] {
        const GET: &[Method] = &[Method::GET];
        const POST: &[Method] = &[Method::POST];
        const GET_POST: &[Method] = &[Method::GET, Method::POST];
        const PUT: &[Method] = &[Method::PUT];
        const PATCH: &[Method] = &[Method::PATCH];
        const DELETE: &[Method] = &[Method::DELETE];
        match self {
            Methods::Post => POST,
            Methods::GetPost => GET_POST,
            Methods::Get => GET,
            Methods::Put => PUT,
            Methods::Patch => PATCH,
            Methods::Delete => DELETE,
        }
    }

    /// True when a request with `method` reaches a handler.
    pub fn takes(self, method: &Method) -> bool {
        self.list().contains(method)
    }

    /// The `Allow` header of a 405.
    pub fn allow(self) -> String {
        allow(self.list())
    }
}

/// `Allow`: the methods `taken`, in a fixed order.
pub(super) fn allow(taken: &[Method]) -> String {
    const ORDER: [Method; 5] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    ORDER
        .iter()
        .filter(|m| taken.contains(m))
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who may call an endpoint. The document derives 401 from it, so a handler
/// whose extractor demands a session on a `Public` endpoint would answer an
/// undocumented 401, which the tests' contract checker refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Any signed-in user.
    User,
    /// A member of the organization who meets the [`Need`] (a permission of
    /// their role's set, API.md §10): the gate refuses others with 403. An
    /// endpoint cannot be declared without it.
    Member(crate::domain::permissions::Need),
    /// Signed in, or public with a token from an email.
    Optional,
    /// The permission checks (API.md §10): a service key, or an API key
    /// bound to the organization whose holder has `members:read` there.
    /// The only access a service key has; every other non-public endpoint
    /// refuses it with 403.
    Service,
}

/// The statuses an endpoint's rules can answer. Everything else is derived:
/// 400, 408, 413 and 422 from taking parameters, 401 from [`Access`], 500 and 503
/// everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 401 on a public endpoint (wrong credentials, a second factor).
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    Gone,
    /// 412: a resource's `If-Match` names another version (SCIM).
    PreconditionFailed,
    RateLimited,
}

impl Refusal {
    pub fn status(self) -> u16 {
        match self {
            Refusal::Unauthenticated => 401,
            Refusal::Forbidden => 403,
            Refusal::NotFound => 404,
            Refusal::Conflict => 409,
            Refusal::Gone => 410,
            Refusal::PreconditionFailed => 412,
            Refusal::RateLimited => 429,
        }
    }
}

/// Registers a schema (and those it refers to) and returns a reference to it.
pub type SchemaFn = fn(&mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema>;

/// A reference to `T`'s schema, registering it.
pub fn schema_ref<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    T::schemas(out);
    out.push((T::name().into_owned(), T::schema()));
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name()))
}

/// `T`'s own schema, inline; only what it refers to is registered.
pub(super) fn inline_schema<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    T::schemas(out);
    T::schema()
}

/// Answers 405 naming the methods the resource takes.
pub(super) fn method_not_allowed(allow: String) -> actix_web::Route {
    web::to(move |req: actix_web::HttpRequest| {
        let allow = allow.clone();
        async move {
            Err::<actix_web::HttpResponse, ApiError>(ApiError::MethodNotAllowed {
                method: req.method().to_string(),
                allow,
            })
        }
    })
}

/// A GET-only resource that is not an API operation (documents, probes for
/// scrapers, the pages email links open).
pub fn get_only<F, Args>(config: &mut web::ServiceConfig, path: &str, handler: F)
where
    F: Handler<Args> + Clone + 'static,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    config.service(
        web::resource(path)
            .route(web::get().to(handler))
            .default_service(method_not_allowed(Methods::Get.allow())),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_methods_in_one_order() {
        assert_eq!(Methods::GetPost.allow(), "GET, POST");
        assert_eq!(
            allow(&[Method::DELETE, Method::PATCH, Method::GET, Method::PUT]),
            "GET, PUT, PATCH, DELETE"
        );
    }
}
