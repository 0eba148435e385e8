//! The endpoint table's registration: [`Api`] collects the endpoints, for
//! the document and for the routes, and registers each path's routes
//! together, with the 405 that names all its methods.

use std::marker::PhantomData;

use actix_web::dev::Handler;
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{web, FromRequest, Responder};
use futures_util::future::{FutureExt, Map};
use serde::Serialize;
use utoipa::ToSchema;

use super::envelope::Answer;
use super::error::ApiError;
use super::{
    auth, endpoint::Answers, endpoint::Documented, endpoint::Endpoint, endpoint::Operation,
    route::allow, route::inline_schema, route::method_not_allowed, wire,
};

/// The routes of one path, registered together so that its 405 names
/// every method the path takes.
struct Resource {
    path: &'static str,
    routes: Vec<actix_web::Route>,
    methods: Vec<Method>,
    /// The 405 for the other methods, in the path's answer shape.
    not_allowed: fn(String) -> actix_web::Route,
}

/// The 404 of the paths under `prefix` that no endpoint takes.
struct Fallback {
    prefix: &'static str,
    not_found: fn() -> actix_web::Route,
}

/// Collects endpoints, and registers their routes when building the app:
/// each path's routes once the `Api` is dropped, after every endpoint of
/// the path was added.
pub struct Api<'a> {
    config: Option<&'a mut web::ServiceConfig>,
    pub endpoints: Vec<Documented>,
    resources: Vec<Resource>,
    /// Path prefixes whose unknown paths answer in a family's own shape.
    fallbacks: Vec<Fallback>,
}

/// Endpoints added to collabd's own, to the routes and to the document
/// alike: what a test serves besides them (see [`crate::start_with`]).
pub type Extra = fn(&mut Api<'_>);

impl<'a> Api<'a> {
    /// Collects only the reference entries (for the OpenAPI document).
    pub fn document() -> Api<'static> {
        Api {
            config: None,
            endpoints: Vec::new(),
            resources: Vec::new(),
            fallbacks: Vec::new(),
        }
    }

    /// Registers routes into `config` as well.
    pub fn routes(config: &'a mut web::ServiceConfig) -> Api<'a> {
        Api {
            config: Some(config),
            endpoints: Vec::new(),
            resources: Vec::new(),
            fallbacks: Vec::new(),
        }
    }

    /// Adds `endpoint`, served by `handler`, which must answer its `A`.
    pub fn add<A, F, Args>(&mut self, endpoint: &'static Endpoint<A>, handler: F)
    where
        A: Serialize + ToSchema + 'static,
        F: Handler<Args, Output = Result<A, ApiError>>,
        Args: FromRequest + 'static,
    {
        self.add_with(endpoint, handler, auth::Lookup::First);
    }

    /// Adds a hot read whose handler looks a session token's session up in
    /// its own first statement (its parameter is [`auth::Credentials`]), as
    /// [`auth::Lookup::InHandler`] describes.
    pub fn add_looking_up<A, F, Args>(&mut self, endpoint: &'static Endpoint<A>, handler: F)
    where
        A: Serialize + ToSchema + 'static,
        F: Handler<Args, Output = Result<A, ApiError>>,
        Args: FromRequest + 'static,
    {
        self.add_with(endpoint, handler, auth::Lookup::InHandler);
    }

    fn add_with<A, F, Args>(
        &mut self,
        endpoint: &'static Endpoint<A>,
        handler: F,
        lookup: auth::Lookup,
    ) where
        A: Serialize + ToSchema + 'static,
        F: Handler<Args, Output = Result<A, ApiError>>,
        Args: FromRequest + 'static,
    {
        let endpoint = &endpoint.operation;
        self.endpoints.push(Documented {
            operation: endpoint,
            answer: Answers::Envelope(inline_schema::<A>),
        });
        if self.config.is_some() {
            self.route(
                endpoint,
                Enveloped(handler),
                lookup,
                |r| r,
                method_not_allowed,
            );
        }
    }

    /// Adds `endpoint`, outside the envelope: served by `handler`, which
    /// must answer its [`wire::Reply`] `R`; its answers and refusals go out
    /// as `W` says, and are documented so.
    pub fn add_own<R, W, F, Args>(&mut self, endpoint: &'static Endpoint<R, W>, handler: F)
    where
        R: wire::Reply,
        W: wire::Wire,
        F: Handler<Args, Output = Result<R, ApiError>>,
        Args: FromRequest + 'static,
    {
        let endpoint = &endpoint.operation;
        self.endpoints.push(Documented {
            operation: endpoint,
            answer: Answers::Own(wire::Own::of::<W, R>()),
        });
        if self.config.is_some() {
            let handler = wire::Replying::<W, F> {
                handler,
                wire: PhantomData,
            };
            self.route(
                endpoint,
                handler,
                auth::Lookup::First,
                wire::wrap_route::<W>,
                wire::method_not_allowed::<W>,
            );
        }
    }

    /// Answers every path under `prefix` that no endpoint takes with a 404
    /// in `W`'s shape rather than the envelope's (SCIM's unknown paths under
    /// `/scim/v2`).
    pub fn fallback<W: wire::Wire>(&mut self, prefix: &'static str) {
        self.fallbacks.push(Fallback {
            prefix,
            not_found: wire::not_found::<W>,
        });
    }

    /// Adds the routes of `endpoint` to its path's resource: each
    /// authenticated as its table entry says, then shaped by `shape`.
    fn route<H, Args>(
        &mut self,
        endpoint: &'static Operation,
        handler: H,
        lookup: auth::Lookup,
        shape: fn(actix_web::Route) -> actix_web::Route,
        not_allowed: fn(String) -> actix_web::Route,
    ) where
        H: Handler<Args> + Clone,
        H::Output: Responder + 'static,
        Args: FromRequest + 'static,
    {
        let index = match self.resources.iter().position(|r| r.path == endpoint.path) {
            Some(index) => index,
            None => {
                self.resources.push(Resource {
                    path: endpoint.path,
                    routes: Vec::new(),
                    methods: Vec::new(),
                    not_allowed,
                });
                self.resources.len() - 1
            }
        };
        let resource = &mut self.resources[index];
        let (access, methods) = (endpoint.access, endpoint.methods);
        for method in methods.list() {
            let route = web::route()
                .method(method.clone())
                .to(handler.clone())
                .wrap(from_fn(move |req, next| {
                    auth::authenticate_first(access, methods, lookup, req, next)
                }));
            resource.routes.push(shape(route));
            resource.methods.push(method.clone());
        }
    }
}

impl Drop for Api<'_> {
    /// Registers each path's routes, with the 405 that lists them all.
    fn drop(&mut self) {
        let Some(config) = self.config.as_deref_mut() else {
            return;
        };
        for resource in self.resources.drain(..) {
            let allow = allow(&resource.methods);
            let mut served = web::resource(resource.path);
            for route in resource.routes {
                served = served.route(route);
            }
            config.service(served.default_service((resource.not_allowed)(allow)));
        }
        // After the resources, which take their paths first.
        for fallback in self.fallbacks.drain(..) {
            let not_found = (fallback.not_found)();
            config.service(web::scope(fallback.prefix).default_service(not_found));
        }
    }
}

/// A handler whose typed answer is put into the envelope.
#[derive(Clone)]
struct Enveloped<F>(F);

type Wrap<A> = fn(Result<A, ApiError>) -> Result<Answer<A>, ApiError>;

impl<F, Args, A> Handler<Args> for Enveloped<F>
where
    F: Handler<Args, Output = Result<A, ApiError>>,
    A: Serialize + 'static,
{
    type Output = Result<Answer<A>, ApiError>;
    type Future = Map<F::Future, Wrap<A>>;

    fn call(&self, args: Args) -> Self::Future {
        let wrap: Wrap<A> = |result| result.map(Answer);
        self.0.call(args).map(wrap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::register_all;

    /// Two entries for one method of one path would leave the second
    /// unreachable (and document only one of them).
    #[test]
    fn each_path_takes_each_method_from_one_entry() {
        let mut api = Api::document();
        register_all(&mut api);
        let mut seen: Vec<(&str, &Method)> = Vec::new();
        for endpoint in &api.endpoints {
            for method in endpoint.methods.list() {
                let entry = (endpoint.path, method);
                assert!(!seen.contains(&entry), "{method} {} twice", endpoint.path);
                seen.push(entry);
            }
        }
        assert!(seen.len() > 60);
    }
}
