//! Prometheus metrics at `GET /metrics`: requests and latency by endpoint and
//! status, the outbox by state, and the database pool.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::error::ApiError;
use super::run;
use crate::domain::Ctx;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route pattern, so unknown paths cannot blow up the label set.
    endpoint: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 8 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// Every metric collabd exports; one per process, shared by all workers.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    outbox: Family<StateLabels, Gauge>,
    pool: Family<StateLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("collabd");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<EndpointLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let outbox = Family::<StateLabels, Gauge>::default();
        let pool = Family::<StateLabels, Gauge>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request",
            latency.clone(),
        );
        registry.register(
            "outbox_messages",
            "Emails in the outbox, by state",
            outbox.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database pool connections, by state",
            pool.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            outbox,
            pool,
        }
    }

    /// Records one answered request.
    pub fn observe(&self, endpoint: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.to_string(),
                method: method.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(
    ctx: web::Data<Ctx>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    let counts = run(ctx, move |ctx| {
        let counts = crate::mail::queue_depth(&ctx.store)?;
        let (open, idle) = ctx.store.pool_state();
        Ok((counts, open, idle))
    })
    .await
    .map(|(counts, open, idle)| {
        metrics
            .pool
            .get_or_create(&StateLabels {
                state: "open".into(),
            })
            .set(i64::from(open));
        metrics
            .pool
            .get_or_create(&StateLabels {
                state: "idle".into(),
            })
            .set(i64::from(idle));
        counts
    })?;
    for (state, count) in counts {
        metrics
            .outbox
            .get_or_create(&StateLabels {
                state: state.as_str().into(),
            })
            .set(count);
    }
    let text = metrics
        .render()
        .map_err(|e| ApiError::Internal(format!("encoding metrics: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text))
}
