//! The endpoint table beyond RPC, with a resource served only here:
//! `/test/v1/things` and `/test/v1/things/{id}` with POST, GET, PUT, PATCH
//! and DELETE, answering outside the envelope in `application/scim+json`
//! with SCIM's error body (as API.md §11 asks of SCIM), and
//! `/test/v1/signin/{id}`, a redirect (as §9's `GET /sso/{organizationid}`);
//! any other path under `/test/v1` answers SCIM's 404 (as §11 asks under
//! `/scim/v2`).
//! The app serves them from the same table as collabd's own endpoints, so
//! its `/openapi.json` documents them, and the client checks every answer
//! against that document. The production document has none of them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use actix_web::http::StatusCode;
use actix_web::web::Path;
use collabd::http::auth::SignedIn;
use collabd::http::error::ApiError;
use collabd::http::params::Params;
use collabd::http::wire::{Body, Created, NoContent, Redirect, Wire};
use collabd::http::{schema_ref, Access, Api, Endpoint, Methods, Operation, Refusal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use validator::Validate;

use crate::contract::{check_against, Contract};
use crate::on_both_backends;
use crate::support::{Backend, Resp, TestApp};

on_both_backends!(
    a_resource_outside_the_envelope_takes_each_method_on_its_path,
    refusals_come_in_the_resources_own_error_body,
    a_redirect_answers_302_with_location,
    the_served_document_states_methods_path_parameters_and_media_types,
);

const SCIM: &str = "application/scim+json";
const SCIM_ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A family of endpoints answering as SCIM does (RFC 7644 §3.12).
struct ScimLike;

/// A SCIM error.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ScimError {
    schemas: Vec<String>,
    /// The HTTP status, as a string.
    status: String,
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none")]
    scim_type: Option<String>,
    detail: String,
}

impl Wire for ScimLike {
    const MEDIA_TYPE: &'static str = SCIM;
    type Error = ScimError;

    /// A value SCIM cannot take is its 400 `invalidValue`, not 422.
    fn status(collabd: StatusCode) -> StatusCode {
        match collabd {
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            other => other,
        }
    }

    fn error(error: &ApiError, status: StatusCode, _: &actix_web::HttpRequest) -> ScimError {
        let scim_type = match error {
            ApiError::Validation(_) => Some("invalidValue"),
            ApiError::InvalidRequest(_) => Some("invalidSyntax"),
            ApiError::Conflict { .. } => Some("uniqueness"),
            _ => None,
        };
        ScimError {
            schemas: vec![SCIM_ERROR.into()],
            status: status.as_u16().to_string(),
            scim_type: scim_type.map(str::to_string),
            detail: error.to_string(),
        }
    }
}

/// A thing.
#[derive(Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Thing {
    id: String,
    name: String,
    tags: Vec<String>,
}

/// A thing's name, given whole.
#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
struct ThingParams {
    #[validate(length(min = 1, max = 40))]
    #[schema(min_length = 1, max_length = 40)]
    name: String,
}

/// A thing changed in part.
#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
struct ThingPatch {
    #[validate(length(min = 1, max = 40))]
    #[schema(min_length = 1, max_length = 40)]
    name: Option<String>,
    tags: Option<Vec<String>>,
}

/// The things, by id (ids are random, so tests running at once share it).
static THINGS: Mutex<BTreeMap<String, Thing>> = Mutex::new(BTreeMap::new());

const THINGS_PATH: &str = "/test/v1/things";
const THING_PATH: &str = "/test/v1/things/{id}";

const fn thing_operation(
    path: &'static str,
    operation_id: &'static str,
    methods: Methods,
    params: Option<collabd::http::SchemaFn>,
    refusals: &'static [Refusal],
) -> Operation {
    Operation {
        path,
        operation_id,
        tag: "test",
        methods,
        access: Access::User,
        summary: "A thing (tests only)",
        description: "A resource the tests serve outside the envelope, in application/scim+json.",
        params,
        refusals,
    }
}

static CREATE: Endpoint<Created<Thing>, ScimLike> = Endpoint::new(thing_operation(
    THINGS_PATH,
    "testCreateThing",
    Methods::Post,
    Some(schema_ref::<ThingParams>),
    &[],
));
static GET: Endpoint<Body<Thing>, ScimLike> = Endpoint::new(thing_operation(
    THING_PATH,
    "testGetThing",
    Methods::Get,
    None,
    &[Refusal::NotFound],
));
static PUT: Endpoint<Body<Thing>, ScimLike> = Endpoint::new(thing_operation(
    THING_PATH,
    "testReplaceThing",
    Methods::Put,
    Some(schema_ref::<ThingParams>),
    &[Refusal::NotFound],
));
static PATCH: Endpoint<Body<Thing>, ScimLike> = Endpoint::new(thing_operation(
    THING_PATH,
    "testPatchThing",
    Methods::Patch,
    Some(schema_ref::<ThingPatch>),
    &[Refusal::NotFound],
));
static DELETE: Endpoint<NoContent, ScimLike> = Endpoint::new(thing_operation(
    THING_PATH,
    "testDeleteThing",
    Methods::Delete,
    None,
    &[Refusal::NotFound],
));
static SIGN_IN: Endpoint<Redirect, ScimLike> = Endpoint::new(Operation {
    path: "/test/v1/signin/{id}",
    operation_id: "testSignIn",
    tag: "test",
    methods: Methods::Get,
    access: Access::Public,
    summary: "Sign in for a thing (tests only)",
    description: "Sends the browser on to the thing's identity provider, as SSO's sign-in does.",
    params: None,
    refusals: &[Refusal::NotFound],
});

/// Serves the things besides collabd's endpoints.
fn things(api: &mut Api<'_>) {
    api.add_own(&CREATE, create);
    api.add_own(&GET, get);
    api.add_own(&PUT, put);
    api.add_own(&PATCH, patch);
    api.add_own(&DELETE, delete);
    api.add_own(&SIGN_IN, sign_in);
    api.fallback::<ScimLike>("/test/v1");
}

fn unknown(id: &str) -> ApiError {
    ApiError::NotFound(format!("no thing {id}"))
}

fn with_thing<T>(id: &str, change: impl FnOnce(&mut Thing) -> T) -> Result<T, ApiError> {
    let mut things = THINGS.lock().expect("things");
    things.get_mut(id).map(change).ok_or_else(|| unknown(id))
}

async fn create(_: SignedIn, Params(p): Params<ThingParams>) -> Result<Created<Thing>, ApiError> {
    let thing = Thing {
        id: uuid::Uuid::now_v7().to_string(),
        name: p.name,
        tags: Vec::new(),
    };
    THINGS
        .lock()
        .expect("things")
        .insert(thing.id.clone(), thing.clone());
    Ok(Created {
        location: format!("{THINGS_PATH}/{}", thing.id),
        body: thing,
    })
}

async fn get(_: SignedIn, id: Path<String>) -> Result<Body<Thing>, ApiError> {
    with_thing(&id, |thing| Body(thing.clone()))
}

async fn put(
    _: SignedIn,
    id: Path<String>,
    Params(p): Params<ThingParams>,
) -> Result<Body<Thing>, ApiError> {
    with_thing(&id, |thing| {
        thing.name = p.name;
        thing.tags.clear();
        Body(thing.clone())
    })
}

async fn patch(
    _: SignedIn,
    id: Path<String>,
    Params(p): Params<ThingPatch>,
) -> Result<Body<Thing>, ApiError> {
    with_thing(&id, |thing| {
        if let Some(name) = p.name {
            thing.name = name;
        }
        if let Some(tags) = p.tags {
            thing.tags = tags;
        }
        Body(thing.clone())
    })
}

async fn delete(_: SignedIn, id: Path<String>) -> Result<NoContent, ApiError> {
    THINGS
        .lock()
        .expect("things")
        .remove(id.as_str())
        .map(|_| NoContent)
        .ok_or_else(|| unknown(&id))
}

async fn sign_in(id: Path<String>) -> Result<Redirect, ApiError> {
    with_thing(&id, |thing| {
        Redirect(format!(
            "https://idp.example.com/authorize?client_id={}",
            thing.id
        ))
    })
}

fn start(backend: Backend) -> TestApp {
    TestApp::start_serving(backend, Some(things), |_| {})
}

/// A request with a SCIM body.
fn send(app: &TestApp, method: &str, path: &str, token: Option<&str>, body: Value) -> Resp {
    app.send(method, path, token, Some(SCIM), body.to_string().as_bytes())
}

/// Asserts a SCIM error with this status, and none of the envelope.
#[track_caller]
fn assert_scim_error(r: &Resp, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.header("content-type"), Some(SCIM), "{}", r.body);
    assert_eq!(r.body["schemas"], json!([SCIM_ERROR]), "{}", r.body);
    assert_eq!(r.body["status"], json!(status.to_string()), "{}", r.body);
    assert_eq!(r.body["scimType"].as_str(), scim_type, "{}", r.body);
    assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert!(r.body.get("response").is_none(), "{}", r.body);
}

fn a_resource_outside_the_envelope_takes_each_method_on_its_path(backend: Backend) {
    let app = start(backend);
    let token = app.user("things@example.com");

    let created = send(
        &app,
        "POST",
        THINGS_PATH,
        Some(&token),
        json!({"name": "one"}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("content-type"), Some(SCIM));
    let id = created.body["id"].as_str().expect("id").to_string();
    let path = format!("{THINGS_PATH}/{id}");
    assert_eq!(created.header("location"), Some(path.as_str()));
    assert_eq!(created.body["name"], "one");

    let read = app.get(&path, Some(&token));
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body, created.body);
    assert!(read.header("x-transaction-id").is_some());

    let replaced = send(&app, "PUT", &path, Some(&token), json!({"name": "two"}));
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    assert_eq!(replaced.body["name"], "two");

    let patched = send(
        &app,
        "PATCH",
        &path,
        Some(&token),
        json!({"tags": ["a", "b"]}),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(
        patched.body,
        json!({"id": id, "name": "two", "tags": ["a", "b"]})
    );
    // Plain JSON is taken too.
    let patched = app.send(
        "PATCH",
        &path,
        Some(&token),
        Some("application/json"),
        json!({"name": "three"}).to_string().as_bytes(),
    );
    assert_eq!(patched.body["name"], "three", "{}", patched.body);

    let deleted = app.send("DELETE", &path, Some(&token), None, b"");
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(deleted.body, json!({"raw": ""}));
    assert_scim_error(&app.get(&path, Some(&token)), 404, None);

    // The envelope endpoints of the same app are as they were.
    app.get("/api/serviceinfo", None).ok();
}

fn refusals_come_in_the_resources_own_error_body(backend: Backend) {
    let app = start(backend);
    let token = app.user("refusals@example.com");
    let created = send(
        &app,
        "POST",
        THINGS_PATH,
        Some(&token),
        json!({"name": "one"}),
    );
    let path = format!("{THINGS_PATH}/{}", created.body["id"].as_str().expect("id"));

    // An unknown id, by each method that names one.
    let unknown = format!("{THINGS_PATH}/{}", uuid::Uuid::now_v7());
    assert_scim_error(&app.get(&unknown, Some(&token)), 404, None);
    let body = json!({"name": "x"});
    for method in ["PUT", "PATCH"] {
        let r = send(&app, method, &unknown, Some(&token), body.clone());
        assert_scim_error(&r, 404, None);
    }
    let r = app.send("DELETE", &unknown, Some(&token), None, b"");
    assert_scim_error(&r, 404, None);

    // A method the path does not take: 405 listing exactly those it takes.
    for method in ["POST", "HEAD", "OPTIONS"] {
        let r = app.send(method, &path, Some(&token), None, b"");
        assert_eq!(r.status, 405, "{method}: {}", r.body);
        assert_eq!(
            r.header("allow"),
            Some("GET, PUT, PATCH, DELETE"),
            "{method}"
        );
        if method != "HEAD" {
            assert_scim_error(&r, 405, None);
        }
    }
    let r = app.get(THINGS_PATH, Some(&token));
    assert_eq!(r.header("allow"), Some("POST"));
    assert_scim_error(&r, 405, None);

    // No token: 401 with its challenge, in SCIM's shape.
    let r = app.get(&path, None);
    assert_scim_error(&r, 401, None);
    assert!(r.header("www-authenticate").is_some());

    // A value out of range: SCIM's 400 invalidValue (collabd's 422);
    // an unknown member or a body that is not JSON: 400 invalidSyntax.
    let r = send(&app, "PUT", &path, Some(&token), json!({"name": ""}));
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = send(&app, "PATCH", &path, Some(&token), json!({"colour": "red"}));
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    let r = app.send("PUT", &path, Some(&token), Some(SCIM), b"{not json");
    assert_scim_error(&r, 400, Some("invalidSyntax"));
    let r = app.send("PUT", &path, Some(&token), Some("text/plain"), b"name=x");
    assert_scim_error(&r, 400, Some("invalidSyntax"));

    // A path under the family's prefix that nothing takes: its 404, too;
    // elsewhere, the envelope's.
    for method in ["GET", "PUT"] {
        let r = app.send(method, "/test/v1/nothing/here", Some(&token), None, b"");
        assert_scim_error(&r, 404, None);
    }
    app.get("/test/v2/things", None).err(404, "not_found");

    // collabd's own endpoints still refuse in the envelope, even in that
    // media type.
    let r = app.send("POST", "/user/details", Some(&token), Some(SCIM), b"{}");
    r.err(400, "invalid_request");
}

fn a_redirect_answers_302_with_location(backend: Backend) {
    let app = start(backend);
    let token = app.user("redirect@example.com");
    let created = send(
        &app,
        "POST",
        THINGS_PATH,
        Some(&token),
        json!({"name": "one"}),
    );
    let id = created.body["id"].as_str().expect("id");

    let r = app.get(&format!("/test/v1/signin/{id}"), None);
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("https://idp.example.com/authorize?client_id={id}").as_str())
    );
    assert_eq!(r.body, json!({"raw": ""}));
    let r = app.get("/test/v1/signin/nobody", None);
    assert_scim_error(&r, 404, None);
    let r = app.send("DELETE", &format!("/test/v1/signin/{id}"), None, None, b"");
    assert_eq!(r.header("allow"), Some("GET"));
    assert_scim_error(&r, 405, None);
}

fn the_served_document_states_methods_path_parameters_and_media_types(backend: Backend) {
    let app = start(backend);
    let doc = app.get("/openapi.json", None).body;
    let item = &doc["paths"][THING_PATH];
    let methods: Vec<&str> = item
        .as_object()
        .expect("the things' path")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(methods.len(), 4, "{methods:?}");
    for method in ["get", "put", "patch", "delete"] {
        let op = &item[method];
        assert_eq!(
            op["parameters"][0],
            json!({"name": "id", "in": "path", "required": true,
                   "schema": {"type": "string", "minLength": 1}}),
            "{method}"
        );
        let not_found = &op["responses"]["404"]["content"][SCIM]["schema"];
        assert_eq!(
            not_found["$ref"], "#/components/schemas/ScimError",
            "{method}"
        );
        assert!(
            op["responses"]["422"].is_null(),
            "{method}: SCIM answers 400"
        );
    }
    assert!(item["get"]["responses"]["200"]["content"][SCIM]["schema"].is_object());
    assert!(item["delete"]["responses"]["204"]["content"].is_null());
    for method in ["put", "patch"] {
        let body = &item[method]["requestBody"];
        assert!(body["content"][SCIM]["schema"].is_object(), "{method}");
        assert_eq!(
            body["x-also-accepts"],
            json!(["application/json", "application/x-www-form-urlencoded"])
        );
        assert!(item[method]["responses"]["400"]["content"][SCIM].is_object());
    }
    let created = &doc["paths"][THINGS_PATH]["post"]["responses"]["201"];
    assert!(created["headers"]["Location"].is_object(), "{created}");
    let found = &doc["paths"]["/test/v1/signin/{id}"]["get"]["responses"]["302"];
    assert!(found["headers"]["Location"].is_object(), "{found}");
    assert!(found["content"].is_null(), "{found}");
    // collabd's own endpoints are documented as they are without the extra
    // ones; the checked-in document has none of the extra ones.
    let checked_in: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/openapi/openapi.json"
    )))
    .expect("JSON");
    for (path, item) in checked_in["paths"].as_object().expect("paths") {
        assert_eq!(&doc["paths"][path], item, "{path}");
    }
    let paths = checked_in["paths"].as_object().expect("paths");
    assert!(paths.keys().all(|p| !p.starts_with("/test/")));

    // The checker holds these answers to that document.
    let contract = Contract::new(doc);
    let answer = |status: u16, headers: &[(&str, &str)], body: Value| Resp {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body,
    };
    let thing = json!({"id": "t1", "name": "one", "tags": []});
    let scim = [("content-type", SCIM)];
    let path = "/test/v1/things/t1";
    check_against(&contract, "GET", path, &answer(200, &scim, thing.clone()))
        .expect("a documented answer");
    let json_typed = [("content-type", "application/json")];
    let wrong_media = answer(200, &json_typed, thing.clone());
    assert!(check_against(&contract, "GET", path, &wrong_media).is_err());
    let enveloped = answer(
        404,
        &scim,
        json!({"response": {"error": {"type": "not_found"}}}),
    );
    assert!(check_against(&contract, "GET", path, &enveloped).is_err());
    let undocumented = answer(409, &scim, json!({}));
    assert!(check_against(&contract, "PUT", path, &undocumented).is_err());
    let error = json!({"schemas": [SCIM_ERROR], "status": "405", "detail": "no"});
    let wrong_allow = answer(405, &[("content-type", SCIM), ("allow", "GET")], error);
    assert!(check_against(&contract, "POST", path, &wrong_allow).is_err());
    let with_body = answer(204, &scim, thing);
    assert!(check_against(&contract, "DELETE", path, &with_body).is_err());
    let nowhere = answer(302, &[], json!({"raw": ""}));
    let signin = "/test/v1/signin/t1";
    assert!(check_against(&contract, "GET", signin, &nowhere).is_err());
    let somewhere = answer(
        302,
        &[("location", "https://x.example/")],
        json!({"raw": ""}),
    );
    check_against(&contract, "GET", signin, &somewhere).expect("a documented redirect");
}
