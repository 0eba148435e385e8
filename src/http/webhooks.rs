//! The webhook endpoints of the `customer` module (API.md §6).

use crate::domain::permissions::{Need, Permission};
use actix_web::web::Data;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use validator::Validate;

use super::auth::SignedIn;
use super::customer::OrganizationParams;
use super::error::ApiError;
use super::params::{text, whole_number, Params};
use super::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read, work::run, work::run_hashing,
};
use crate::domain::audit::AuditAction;
use crate::domain::paging::PageRequest;
use crate::domain::webhooks::{self, Delivery, NewWebhook, Webhook, ALL_EVENTS, MAX_URL_LEN};
use crate::domain::Ctx;

pub fn register(api: &mut Api<'_>) {
    api.add(&CREATE, create);
    api.add(&LIST, list);
    api.add(&DELETE, delete);
    api.add(&DELIVERIES, deliveries);
}

/// A webhook's subscription: audit actions, or `["*"]`.
pub struct Events;

impl PartialSchema for Events {
    fn schema() -> RefOr<Schema> {
        let every = ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([ALL_EVENTS])),
            )
            .min_items(Some(1))
            .max_items(Some(1))
            .description(Some("Every action, now and to come."));
        let actions = ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(AuditAction::ALL.iter().map(|a| a.as_str()))),
            )
            .min_items(Some(1))
            .description(Some("These actions; a repeated one counts once."));
        OneOfBuilder::new()
            .item(every)
            .item(actions)
            .description(Some(
                "Audit actions to deliver (each once: repeats are folded), or `[\"*\"]` alone \
                 for every action.",
            ))
            .into()
    }
}

impl ToSchema for Events {}

/// A webhook URL: http or https, a host name (a literal address is taken
/// too, but private ones never, so the document leaves addresses out), an
/// optional port, path and query; no credentials, no fragment.
pub struct HookUrl;

/// The pattern of an http(s) URL with a host name, an optional port and
/// path, and (with `query`) an optional query; no credentials, no fragment.
pub fn http_url_pattern(query: bool) -> String {
    const LABEL: &str = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    const TOP: &str = "[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    const PORT: &str = "(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}\
        |655[0-2][0-9]|6553[0-5]))?";
    const PATH: &str = "(?:/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)?";
    const QUERY: &str = "(?:\\?[A-Za-z0-9._~!$&'()*+,;=:@/?-]*)?";
    let query = if query { QUERY } else { "" };
    format!("^[Hh][Tt][Tt][Pp][Ss]?://(?:{LABEL}\\.)*{TOP}\\.?{PORT}{PATH}{query}$")
}

impl PartialSchema for HookUrl {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom("uri".into())))
            .max_length(Some(MAX_URL_LEN))
            .pattern(Some(http_url_pattern(true)))
            .description(Some(
                "An http or https URL, without credentials or fragment. Unless the server \
                 allows private targets, its host must be, and resolve only to, public \
                 addresses (422 otherwise).",
            ))
            .into()
    }
}

impl ToSchema for HookUrl {}

/// A webhook's description.
pub struct Description;

impl PartialSchema for Description {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(MAX_DESCRIPTION))
            .pattern(Some("^[^\\u0000-\\u001f\\u007f-\\u009f]*$"))
            .description(Some(
                "Up to 500 characters, no control characters; empty is none.",
            ))
            .into()
    }
}

impl ToSchema for Description {}

const MAX_DESCRIPTION: usize = 500;

fn valid_description(description: &str) -> Result<(), validator::ValidationError> {
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(validator::ValidationError::new("length")
            .with_message("must be at most 500 characters".into()));
    }
    if description.chars().any(char::is_control) {
        return Err(validator::ValidationError::new("control")
            .with_message("must not contain control characters".into()));
    }
    Ok(())
}

/// Parameters of `customer/createwebhook`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookParams {
    /// Optional with an API key bound to the organization.
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    #[schema(value_type = HookUrl, inline)]
    pub url: String,
    #[schema(value_type = Events, inline)]
    pub events: Vec<String>,
    #[validate(custom(function = "valid_description"))]
    #[schema(value_type = Option<Description>, inline)]
    pub description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookAnswer {
    pub webhook: Webhook,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhooksAnswer {
    pub webhooks: Vec<Webhook>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesPage {
    pub deliveries: Vec<Delivery>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true)]
    pub nextcursor: Option<String>,
}

const CREATE: Endpoint<WebhookAnswer> = Endpoint::new(Operation {
    path: "/customer/createwebhook",
    operation_id: "customerCreatewebhook",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::WebhooksManage)),
    summary: "Register a webhook",
    description: "Every later audit event of the organization whose action \
        is in `events` is POSTed to `url` as `{\"type\", \"timestamp\", \"data\": auditevent}`, \
        signed per Standard Webhooks (`webhook-id` = the event id on every try, \
        `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of \
        id.timestamp.body>` keyed with the base64-decoded part of `secret` after `whsec_`). \
        A 2xx within 10 s is delivered; anything else is retried with backoff up to \
        `COLLABD_WEBHOOK_MAX_ATTEMPTS` attempts, and redirects are not followed. `secret` is \
        in this answer only. An organization has at most 20 webhooks (422 naming \
        `organizationid`). The call's own `webhook.created` event is delivered to the new \
        webhook when it subscribes to it.",
    params: Some(schema_ref::<CreateWebhookParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn create(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<CreateWebhookParams>,
) -> Result<WebhookAnswer, ApiError> {
    let events = webhooks::check_events(&p.events)?;
    let (gate_caller, organization) = (caller.clone(), p.organizationid.clone());
    read(ctx.clone(), move |ctx| {
        webhooks::authorize(ctx, &gate_caller, organization.as_deref())
    })
    .await?;
    // Resolving the host may take seconds: done without a database turn.
    let allow_private = ctx.policy.webhook_allow_private;
    let url = p.url.clone();
    let url = run_hashing(ctx.clone(), move |_| {
        webhooks::check_url(&url, allow_private)
    })
    .await?;
    let new = NewWebhook {
        url,
        events,
        description: p.description.filter(|d| !d.trim().is_empty()),
    };
    let webhook = run(ctx, move |ctx| {
        webhooks::create(ctx, &caller, p.organizationid.as_deref(), new)
    })
    .await?;
    Ok(WebhookAnswer { webhook })
}

const LIST: Endpoint<WebhooksAnswer> = Endpoint::new(Operation {
    path: "/customer/listwebhooks",
    operation_id: "customerListwebhooks",
    tag: "customer",
    methods: Methods::GetPost,
    access: Access::Member(Need::Permission(Permission::WebhooksManage)),
    summary: "The organization's webhooks",
    description: "Oldest first, at most 20, without secrets.",
    params: Some(schema_ref::<OrganizationParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn list(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<OrganizationParams>,
) -> Result<WebhooksAnswer, ApiError> {
    let list = read(ctx, move |ctx| {
        webhooks::list(ctx, &caller, p.organizationid.as_deref())
    })
    .await?;
    Ok(WebhooksAnswer { webhooks: list })
}

/// Names a webhook.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookParams {
    #[schema(value_type = text::Id, inline)]
    pub webhookid: String,
}

const DELETE: Endpoint<super::answers::Nothing> = Endpoint::new(Operation {
    path: "/customer/deletewebhook",
    operation_id: "customerDeletewebhook",
    tag: "customer",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::WebhooksManage)),
    summary: "Delete a webhook",
    description: "Deletes the webhook and its delivery log; deliveries not yet made are \
        dropped. Anyone who is not a member of its organization gets \
        404.",
    params: Some(schema_ref::<WebhookParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn delete(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<WebhookParams>,
) -> Result<super::answers::Nothing, ApiError> {
    run(ctx, move |ctx| webhooks::delete(ctx, &caller, &p.webhookid)).await?;
    Ok(super::answers::Nothing {})
}

/// A webhook and a page of its deliveries.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesParams {
    #[schema(value_type = text::Id, inline)]
    pub webhookid: String,
    /// Rows per page, 1 to 1000 (default 100).
    #[validate(range(min = 1, max = 1000, message = "must be 1 to 1000"))]
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub limit: Option<u32>,
    /// `nextcursor` of the previous page.
    #[schema(value_type = Option<text::Cursor>, inline)]
    pub cursor: Option<String>,
}

const DELIVERIES: Endpoint<DeliveriesPage> = Endpoint::new(Operation {
    path: "/customer/listwebhookdeliveries",
    operation_id: "customerListwebhookdeliveries",
    tag: "customer",
    methods: Methods::GetPost,
    access: Access::Member(Need::Permission(Permission::WebhooksManage)),
    summary: "A webhook's delivery log",
    description: "One delivery per event sent to the webhook, newest first, a page at a time \
        (`limit`, `cursor`; `nextcursor` is null on the last page): its state (`pending`, \
        `delivered`, `failed`), attempts so far, and the last answer's status. Delivered and \
        failed deliveries are kept for `COLLABD_RETENTION_DAYS`. Anyone who is not a member of \
        its organization gets 404.",
    params: Some(schema_ref::<DeliveriesParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn deliveries(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<DeliveriesParams>,
) -> Result<DeliveriesPage, ApiError> {
    let (list, next) = read(ctx, move |ctx| {
        let page = PageRequest::parse(p.limit, p.cursor.as_deref())?;
        webhooks::deliveries(ctx, &caller, &p.webhookid, &page)
    })
    .await?;
    Ok(DeliveriesPage {
        deliveries: list,
        nextcursor: next,
    })
}
