//! `api/serviceinfo`, the health probes and the OpenAPI document.

use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::error::ApiError;
use super::params::Params;
use super::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    table::Api, work::run,
};
use crate::domain::Ctx;

/// The version of the API contract this server implements.
pub const API_VERSION: &str = "1";

/// What this server is.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceInfo {
    pub name: String,
    /// The collabd release.
    pub version: String,
    /// The API contract version.
    pub apiversion: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceInfoAnswer {
    pub serviceinfo: ServiceInfo,
}

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthAnswer {
    pub health: Health,
}

/// The state of a probe.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// No parameters.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

pub fn register(api: &mut Api<'_>) {
    api.add(&SERVICE_INFO, service_info);
    api.add(&HEALTHZ, healthz);
    api.add(&READYZ, readyz);
}

const SERVICE_INFO: Endpoint<ServiceInfoAnswer> = Endpoint::new(Operation {
    path: "/api/serviceinfo",
    operation_id: "apiServiceinfo",
    tag: "api",
    methods: Methods::GetPost,
    access: Access::Public,
    summary: "What this server is",
    description: "The service name, its release and the API version it implements.",
    params: Some(schema_ref::<NoParams>),
    refusals: &[],
});

async fn service_info(_: Params<NoParams>) -> Result<ServiceInfoAnswer, ApiError> {
    Ok(ServiceInfoAnswer {
        serviceinfo: ServiceInfo {
            name: "collabd".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            apiversion: API_VERSION.into(),
        },
    })
}

fn healthy() -> HealthAnswer {
    HealthAnswer {
        health: Health {
            status: "ok".into(),
        },
    }
}

const HEALTHZ: Endpoint<HealthAnswer> = Endpoint::new(Operation {
    path: "/healthz",
    operation_id: "healthz",
    tag: "operations",
    methods: Methods::Get,
    access: Access::Public,
    summary: "Liveness",
    description: "Answers 200 while the process serves requests; it does not touch the database.",
    params: None,
    refusals: &[],
});

async fn healthz() -> Result<HealthAnswer, ApiError> {
    Ok(healthy())
}

const READYZ: Endpoint<HealthAnswer> = Endpoint::new(Operation {
    path: "/readyz",
    operation_id: "readyz",
    tag: "operations",
    methods: Methods::Get,
    access: Access::Public,
    summary: "Readiness",
    description: "Answers 200 when the database answers a query, and 503 `unavailable` when it cannot be reached.",
    params: None,
    refusals: &[],
});

async fn readyz(ctx: web::Data<Ctx>) -> Result<HealthAnswer, ApiError> {
    let ready = run(ctx, move |ctx| Ok(ctx.store.ping())).await?;
    if !ready {
        return Err(ApiError::Unavailable("readiness probe failed".into()));
    }
    Ok(healthy())
}
