//! Prometheus metrics at `GET /metrics`: requests and latency by endpoint,
//! method and status, the outbox by state, and the database pool. Written
//! in Prometheus's text format 0.0.4 by default, and as OpenMetrics 1.0 when
//! the `Accept` header asks for `application/openmetrics-text`.
//!
//! Every label takes a bounded set of values, whatever clients send: the
//! endpoint is a route pattern or `unmatched`, the method one of those HTTP
//! defines or `other`, the status one the server answers with. A label fed
//! from the request as sent (a made-up method, a path) would add a series
//! per distinct request, kept for the life of the process.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::error::ApiError;
use super::work::run;
use crate::domain::Ctx;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route pattern, or `unmatched`.
    endpoint: String,
    /// [`method_label`].
    method: &'static str,
    status: u16,
}

/// The method as a label: one of the methods HTTP defines (RFC 9110, and
/// PATCH), else `other`.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "CONNECT" => "CONNECT",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "PATCH" => "PATCH",
        _ => "other",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
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
    latency: Family<RequestLabels, Histogram, fn() -> Histogram>,
    outbox: Family<StateLabels, Gauge>,
    webhooks: Family<StateLabels, Gauge>,
    pool: Family<StateLabels, Gauge>,
    sso_signins: Family<OutcomeLabels, Counter>,
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
        let latency = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let outbox = Family::<StateLabels, Gauge>::default();
        let webhooks = Family::<StateLabels, Gauge>::default();
        let pool = Family::<StateLabels, Gauge>::default();
        let sso_signins = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "sso_signins",
            "SSO sign-ins that reached /sso/callback, by outcome: signed_in, joined (and made \
             a member), not_added (departed), bad_state, provider_error, token_invalid, \
             no_verified_email, unavailable",
            sso_signins.clone(),
        );
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
            "webhook_deliveries",
            "Webhook deliveries, by state",
            webhooks.clone(),
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
            webhooks,
            pool,
            sso_signins,
        }
    }

    /// Counts one SSO callback by its outcome.
    pub fn sso_signin(&self, outcome: &'static str) {
        self.sso_signins
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Records one answered request. `endpoint` must be a route pattern or
    /// `unmatched`, never the path as sent.
    pub fn observe(&self, endpoint: &str, method: &str, status: u16, elapsed: Duration) {
        let labels = RequestLabels {
            endpoint: endpoint.to_string(),
            method: method_label(method),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// OpenMetrics 1.0 text, as prometheus-client writes it.
    fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Prometheus text format 0.0.4 from OpenMetrics text. The two differ, for
/// what collabd exports, in three things: a counter's family is named after
/// its `_total` sample in 0.0.4 (a classic parser otherwise sees the sample
/// as untyped), 0.0.4 has no `# UNIT` lines, and no `# EOF`.
fn classic(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// True when the `Accept` header asks for OpenMetrics.
fn wants_openmetrics(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(actix_web::http::header::ACCEPT)
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("application/openmetrics-text"))
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(
    req: HttpRequest,
    ctx: web::Data<Ctx>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    let counts = run(ctx, move |ctx| {
        let mail = crate::mail::queue_depth(&ctx.store)?;
        let webhooks = crate::webhook_sender::queue_depth(&ctx.store)?;
        let (open, idle) = ctx.store.pool_state();
        Ok(((mail, webhooks), open, idle))
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
    let (mail, webhooks) = counts;
    for (family, counts) in [(&metrics.outbox, mail), (&metrics.webhooks, webhooks)] {
        for (state, count) in counts {
            family
                .get_or_create(&StateLabels {
                    state: state.into(),
                })
                .set(count);
        }
    }
    let text = metrics
        .render()
        .map_err(|e| ApiError::Internal(format!("encoding metrics: {e}")))?;
    if wants_openmetrics(&req) {
        return Ok(HttpResponse::Ok()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .body(text));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(classic(&text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classic_format_names_counters_by_their_samples_and_has_no_eof() {
        let metrics = Metrics::new();
        metrics.observe("/api/serviceinfo", "GET", 200, Duration::from_millis(3));
        let open = metrics.render().expect("render");
        assert!(open.contains("# TYPE collabd_http_requests counter"));
        assert!(open.ends_with("# EOF\n"));
        let text = classic(&open);
        assert!(
            text.contains("# TYPE collabd_http_requests_total counter"),
            "{text}"
        );
        assert!(
            text.contains("# HELP collabd_http_requests_total "),
            "{text}"
        );
        assert!(text.contains("collabd_http_requests_total{endpoint=\"/api/serviceinfo\",method=\"GET\",status=\"200\"} 1"), "{text}");
        assert!(text.contains("# TYPE collabd_http_request_duration_seconds histogram"));
        assert!(text.contains("collabd_http_request_duration_seconds_count{endpoint=\"/api/serviceinfo\",method=\"GET\",status=\"200\"} 1"), "{text}");
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"));
    }

    #[test]
    fn made_up_methods_share_one_series() {
        let metrics = Metrics::new();
        for n in 0..100 {
            metrics.observe("/user/login", &format!("MFOO{n}"), 405, Duration::ZERO);
        }
        metrics.observe("/user/login", "PATCH", 405, Duration::ZERO);
        let text = classic(&metrics.render().expect("render"));
        assert!(text.contains("collabd_http_requests_total{endpoint=\"/user/login\",method=\"other\",status=\"405\"} 100"), "{text}");
        assert!(text.contains("method=\"PATCH\""), "{text}");
        assert!(!text.contains("MFOO"), "{text}");
    }
}
