//! What SCIM clients read first (RFC 7644 §4, RFC 7643 §5–§7): the service
//! provider's configuration, its resource types and their schemas, each
//! list and each by id, saying exactly what collabd supports (API.md §11):
//! patch yes, filter yes (`maxResults` 200), ETag yes, bulk, sort and
//! password changes no.

use actix_web::web::{Data, Path};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use super::super::auth::SignedIn;
use super::super::error::ApiError;
use super::super::wire::Body;
use super::super::{
    endpoint::Endpoint, endpoint::Operation, route::Access, route::Methods, route::Refusal,
    table::Api, work::read,
};
use super::{base, Scim};
use crate::domain::scim as scim_rules;
use crate::domain::Ctx;

pub(super) fn register(api: &mut Api<'_>) {
    api.add_own(&CONFIG, config);
    api.add_own(&RESOURCE_TYPES, resource_types);
    api.add_own(&RESOURCE_TYPE, resource_type);
    api.add_own(&SCHEMAS, schemas);
    api.add_own(&SCHEMA, schema);
}

/// A SCIM document: a JSON object whose attributes RFC 7643 names.
#[derive(Debug, Serialize)]
pub struct Document(pub Value);

impl PartialSchema for Document {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "schemas",
                ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some("The URNs of the schemas the document follows.")),
            )
            .required("schemas")
            .description(Some(
                "A SCIM resource (RFC 7643): `schemas` names what it holds; its attributes are \
                 those the schemas describe (`GET /scim/v2/Schemas`).",
            ))
            .into()
    }
}

impl ToSchema for Document {}

const fn operation(
    path: &'static str,
    operation_id: &'static str,
    summary: &'static str,
    description: &'static str,
    refusals: &'static [Refusal],
) -> Operation {
    Operation {
        path,
        operation_id,
        tag: "scim",
        methods: Methods::Get,
        access: Access::User,
        summary,
        description,
        params: None,
        refusals,
    }
}

/// `$text`, then who may call: an API key bound to an organization whose
/// holder may manage its members and teams (as every SCIM call).
macro_rules! who {
    ($text:literal) => {
        concat!(
            $text,
            " Needs `Authorization: Bearer <API key>` of a key bound to the organization, \
             whose holder has `members:manage` and `teams:manage` there (401 and 403 as SCIM \
             errors otherwise)."
        )
    };
}

static CONFIG: Endpoint<Body<Document>, Scim> = Endpoint::new(operation(
    "/scim/v2/ServiceProviderConfig",
    "scimServiceProviderConfig",
    "What this SCIM service supports",
    who!(
        "RFC 7643 §5: patch yes; filter yes (`eq` joined by `and`, at most 200 results a page); \
     ETag yes; bulk, sort and password changes no; authentication by an API key as a bearer \
     token."
    ),
    &[Refusal::Forbidden],
));

static RESOURCE_TYPES: Endpoint<Body<Document>, Scim> = Endpoint::new(operation(
    "/scim/v2/ResourceTypes",
    "scimResourceTypes",
    "The resource types: User",
    who!("RFC 7643 §6, as a ListResponse: `User` (the organization's members)."),
    &[Refusal::Forbidden],
));

static RESOURCE_TYPE: Endpoint<Body<Document>, Scim> = Endpoint::new(operation(
    "/scim/v2/ResourceTypes/{id}",
    "scimResourceType",
    "One resource type",
    who!("`User`; another id answers a SCIM 404."),
    &[Refusal::Forbidden, Refusal::NotFound],
));

static SCHEMAS: Endpoint<Body<Document>, Scim> = Endpoint::new(operation(
    "/scim/v2/Schemas",
    "scimSchemas",
    "The schema of User",
    who!(
        "RFC 7643 §7, as a ListResponse: the attributes collabd keeps and reads back, with their \
     types, mutability and uniqueness."
    ),
    &[Refusal::Forbidden],
));

static SCHEMA: Endpoint<Body<Document>, Scim> = Endpoint::new(operation(
    "/scim/v2/Schemas/{id}",
    "scimSchema",
    "One schema",
    who!("By its URN; another answers a SCIM 404."),
    &[Refusal::Forbidden, Refusal::NotFound],
));

/// The SCIM caller rule (see [`scim_rules::authorize`]), read at every call.
async fn allowed(ctx: &Data<Ctx>, caller: crate::domain::sessions::Caller) -> Result<(), ApiError> {
    read(ctx.clone(), move |ctx| {
        scim_rules::authorize(ctx, &caller).map(drop)
    })
    .await
}

fn list(resources: Vec<Value>) -> Document {
    Document(json!({
        "schemas": [scim_rules::LIST_RESPONSE],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    }))
}

async fn config(ctx: Data<Ctx>, SignedIn(caller): SignedIn) -> Result<Body<Document>, ApiError> {
    allowed(&ctx, caller).await?;
    let base = base(&ctx);
    Ok(Body(Document(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": format!("{}/docs", ctx.policy.public_url.trim_end_matches('/')),
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": scim_rules::MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "API key",
            "description": "An API key bound to the organization (user/createapikey), sent as \
                Authorization: Bearer <key>; its holder needs members:manage and teams:manage.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    }))))
}

async fn resource_types(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
) -> Result<Body<Document>, ApiError> {
    allowed(&ctx, caller).await?;
    let base = base(&ctx);
    Ok(Body(list(
        scim_rules::RESOURCE_TYPES
            .iter()
            .map(|kind| scim_rules::resource_type(kind, &base))
            .collect(),
    )))
}

async fn resource_type(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    id: Path<String>,
) -> Result<Body<Document>, ApiError> {
    allowed(&ctx, caller).await?;
    let kind = scim_rules::RESOURCE_TYPES
        .iter()
        .find(|kind| **kind == id.as_str())
        .ok_or_else(|| ApiError::NotFound(format!("no resource type {:?}", id.as_str())))?;
    Ok(Body(Document(scim_rules::resource_type(kind, &base(&ctx)))))
}

async fn schemas(ctx: Data<Ctx>, SignedIn(caller): SignedIn) -> Result<Body<Document>, ApiError> {
    allowed(&ctx, caller).await?;
    let base = base(&ctx);
    Ok(Body(list(
        scim_rules::SCHEMAS
            .iter()
            .filter_map(|id| scim_rules::schema(id, &base))
            .collect(),
    )))
}

async fn schema(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    id: Path<String>,
) -> Result<Body<Document>, ApiError> {
    allowed(&ctx, caller).await?;
    scim_rules::schema(id.as_str(), &base(&ctx))
        .map(|s| Body(Document(s)))
        .ok_or_else(|| ApiError::NotFound(format!("no schema {:?}", id.as_str())))
}
