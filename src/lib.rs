//! collabd: organizations, collaborators, projects and invitations over
//! JSON/HTTP. `start` builds exactly what `collabd serve` runs, so the tests
//! exercise the real server.

pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod issuers;
pub mod logs;
pub mod mail;
pub mod queue;
pub mod secrets;
pub mod server_secret;
pub mod store;
pub mod texts;
pub mod webhook_sender;

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, App, HttpMessage};

use config::Config;
use domain::passwords::PasswordHashing;
use domain::sessions::SessionKeys;
use domain::{Ctx, Policy};
use http::envelope::{with_transaction_id, TRANSACTION_HEADER};
use http::params::{Arrival, BodyLimit, BodyTimeout};
use secrets::Sealer;
use store::Store;

/// Applies the pending migrations, then the rewrites of stored data they
/// mark for Rust to do; returns how many migrations were applied.
pub fn migrate(store: &Store) -> Result<usize, String> {
    let applied = store
        .migrate()
        .map_err(|e| format!("applying migrations: {e}"))?;
    domain::emails::rewrite_stored_forms(store)
        .map_err(|e| format!("rewriting stored addresses: {e}"))?;
    Ok(applied)
}

/// Opens the store, applies migrations and loads the signing secret.
pub fn build_context(config: &Config) -> Result<Ctx, String> {
    config.check()?;
    let store = Store::open_with(
        &config.database_url,
        config.pool_size(),
        Duration::from_secs(config.db_timeout_secs.max(1)),
        Duration::from_millis(config.lock_timeout_ms),
    );
    wait_for_database(&store, Duration::from_secs(config.db_wait_secs));
    migrate(&store)?;
    let secrets = server_secret::load(config, &store)?;
    let (secret, previous) = (&secrets.current, &secrets.previous);
    let sealer = |purpose: &str| Sealer::rotating(secret, previous, purpose);
    /// Rendered collaborator pages kept per process.
    const ROSTER_CACHE_BYTES: usize = 8 << 20;
    /// People, grants and projects the permission checks keep per process
    /// (a few hundred bytes each: some tens of MB at most).
    const CHECK_MEMORY_ENTRIES: usize = 100_000;
    if config.rate_limit_keys.is_some() {
        tracing::warn!(
            "COLLABD_RATE_LIMIT_KEYS is retired and has no effect: the rate limits are counted in the database"
        );
    }
    let limits = domain::limits::Limits::new(
        &store,
        &sealer(domain::limits::HASHING_PURPOSE),
        domain::limits::LimitSettings {
            logins_per_minute: config.login_attempts_per_minute,
            tokens_per_minute: config.token_attempts_per_minute,
            signups_per_hour: config.signups_per_hour,
            invites_per_hour: config.invites_per_hour,
            mails_per_address_per_hour: config.mails_per_address_per_hour,
        },
    );
    let ctx = Ctx {
        store,
        keys: SessionKeys::rotating(secret, previous),
        outbox_sealer: sealer(mail::SEALING_PURPOSE),
        answer_sealer: sealer(domain::idempotency::SEALING_PURPOSE),
        totp_sealer: sealer(domain::twofactor::SEALING_PURPOSE),
        webhook_sealer: sealer(domain::webhooks::SEALING_PURPOSE),
        sso_sealer: sealer(domain::sso::SEALING_PURPOSE),
        policy: Policy {
            invite_ttl_days: config.invite_ttl_days,
            max_orgs_per_user: config.max_orgs_per_user,
            session_ttl_hours: config.session_ttl_hours,
            public_url: config.public_url(),
            confirm_ttl_hours: config.confirm_ttl_hours,
            reset_ttl_minutes: config.reset_ttl_minutes,
            login_link_ttl_minutes: config.login_link_ttl_minutes,
            webhook_allow_private: config.webhook_allow_private,
            link_url: config.link_url()?,
        },
        limits,
        passwords: PasswordHashing::new(
            match config.hash_concurrency {
                0 => std::thread::available_parallelism().map_or(2, usize::from),
                n => n,
            },
            config.hash_queue,
            domain::passwords::HASH_WAIT,
        ),
        rosters: domain::rosters::RosterCache::new(ROSTER_CACHE_BYTES),
        checks: domain::effective::CheckMemory::new(CHECK_MEMORY_ENTRIES),
        issuers: issuers::Issuers::from_config(config)?,
        texts: texts::Texts::from_config(config)?,
    };
    if !previous.is_empty() {
        let count = server_secret::reseal_under_current(&ctx)
            .map_err(|e| format!("sealing again under the current secret: {e}"))?;
        tracing::info!(
            resealed = count,
            previous = previous.len(),
            "previous secrets still verify the sessions they signed; what they sealed is sealed under the current one"
        );
    }
    Ok(ctx)
}

/// Waits until the database answers, or `limit` has passed, retrying once a
/// second and logging each retry, so an orchestrator may start collabd before
/// its database. What follows reports the error if it never came.
fn wait_for_database(store: &Store, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    let mut attempt = 1;
    while !store.ping() {
        if std::time::Instant::now() >= deadline {
            tracing::error!(attempts = attempt, "the database did not answer in time");
            return;
        }
        tracing::warn!(attempt, "the database does not answer yet; retrying in 1 s");
        std::thread::sleep(Duration::from_secs(1));
        attempt += 1;
    }
}

/// Binds the listener and builds the server; await the `Server` (inside an
/// actix system) to serve. Returns the bound address (useful with port 0).
pub fn start(config: &Config) -> Result<(Server, SocketAddr), String> {
    start_with(config, None)
}

/// As [`start`], serving the endpoints `extra` adds besides collabd's own,
/// routed and documented (in `/openapi.json`) from the same table: how a
/// test serves endpoints of its own.
pub fn start_with(
    config: &Config,
    extra: Option<http::Extra>,
) -> Result<(Server, SocketAddr), String> {
    let ctx = web::Data::new(build_context(config)?);
    let blocking_threads = blocking_threads(config, &ctx);
    let expiry_ctx = ctx.clone();
    let sender = mail::sender::SenderSettings::new(
        config.smtp_url.as_deref(),
        config.mail_dir.clone(),
        &config.mail_from(),
        config.mail_retry_base_ms,
        config.mail_max_attempts,
        Duration::from_millis(config.mail_poll_ms.max(10)),
        ctx.outbox_sealer.clone(),
    )?;
    let webhook_courier = webhook_sender::WebhookCourier::new(
        ctx.webhook_sealer.clone(),
        queue::Retry {
            base_ms: config.webhook_retry_base_ms,
            max_attempts: config.webhook_max_attempts.max(1),
        },
        Duration::from_millis(config.mail_poll_ms.max(10)),
        config.webhook_allow_private,
        webhook_sender::Concurrency {
            in_all: config.webhook_concurrency as usize,
            per_organization: config.webhook_concurrency_per_organization as usize,
        },
    );
    let listener =
        TcpListener::bind(&config.listen).map_err(|e| format!("binding {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let sender_store = ctx.store.clone();
    let limit = BodyLimit(config.max_body_bytes);
    let proxies = http::client_address::TrustedProxies::parse(&config.trusted_proxies)?;
    let metrics = web::Data::new(http::metrics::Metrics::new());
    let body_timeout = BodyTimeout(Duration::from_secs(config.body_timeout_secs.max(1)));
    let document = web::Data::new(http::openapi::Served::new(extra));
    let app = move || {
        App::new()
            .app_data(ctx.clone())
            .app_data(document.clone())
            .app_data(limit)
            .app_data(body_timeout)
            .app_data(proxies.clone())
            .app_data(metrics.clone())
            .wrap_fn(observed)
            .configure(|cfg| routes(cfg, extra))
            .default_service(web::to(http::unknown_path))
    };
    let server = http::slow::serve(listener, config.workers, blocking_threads, app)
        .map_err(|e| format!("listening: {e}"))?;
    actix_web::rt::spawn(sweep_now_and_then(
        sender_store.clone(),
        domain::retention::Retention {
            days: config.retention_days,
            audit_days: config.audit_retention_days,
        },
        Duration::from_secs(config.retention_interval_secs.max(1)),
    ));
    actix_web::rt::spawn(expire_now_and_then(
        expiry_ctx,
        Duration::from_secs(config.membership_sweep_secs.max(1)),
    ));
    actix_web::rt::spawn(webhook_sender::run(
        sender_store.clone(),
        Arc::new(webhook_courier),
    ));
    actix_web::rt::spawn(mail::sender::run(sender_store, Arc::new(sender)));
    Ok((server, addr))
}

/// Blocking threads each HTTP worker may start: every password check that
/// may run or wait (all on one worker, at worst) beside as many database
/// calls as there are connections, and room for the rest; never fewer than
/// actix's default (512 shared by the CPUs). Threads start only when work
/// needs them, and a waiting one is parked (`domain::passwords`).
fn blocking_threads(config: &Config, ctx: &Ctx) -> usize {
    let cpus = std::thread::available_parallelism().map_or(2, usize::from);
    let needed = ctx.passwords.capacity() + config.pool_size() as usize + 64;
    needed.max(512 / cpus)
}

/// Every route: the endpoint table's (and `extra`'s), then the documents,
/// probes and pages that are not API operations.
fn routes(cfg: &mut web::ServiceConfig, extra: Option<http::Extra>) {
    http::register_served(&mut http::Api::routes(cfg), extra);
    http::get_only(cfg, "/openapi.json", http::reference::openapi_json);
    http::get_only(cfg, "/metrics", http::metrics::metrics);
    http::get_only(cfg, "/docs", http::reference::docs);
    http::get_only(cfg, "/invite/{token}", http::pages::invite_page);
    http::get_only(cfg, "/confirm/{token}", http::pages::confirm_page);
    http::get_only(cfg, "/reset/{token}", http::pages::reset_page);
    http::get_only(cfg, "/signin/{token}", http::pages::signin_page);
    http::get_only(cfg, "/domain/{token}", http::verified_domains::domain_page);
}

/// Gives each request its transaction id (its header, its log line's
/// field), times it, counts it in the metrics by route pattern, and logs
/// one line when it is answered.
fn observed<S, B>(
    req: ServiceRequest,
    srv: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let serving = http::slow::arrived(req.request());
    req.extensions_mut()
        .insert(Arrival(tokio::time::Instant::now()));
    let id = domain::new_id();
    let method = req.method().to_string();
    // The route pattern, never the path: paths such as
    // /invite/{token} carry secrets that must not reach the log,
    // and a path that matched no route may carry one too.
    let endpoint = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let recorder = req.app_data::<web::Data<http::metrics::Metrics>>().cloned();
    let started = Instant::now();
    let call = srv.call(req);
    with_transaction_id(id.clone(), async move {
        let mut response = call.await?;
        // Answered: the connection's next request is timed
        // from its first byte.
        drop(serving);
        if let Ok(value) = HeaderValue::from_str(&id) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(TRANSACTION_HEADER), value);
        }
        let elapsed = started.elapsed();
        if let Some(recorder) = recorder {
            recorder.observe(&endpoint, &method, response.status().as_u16(), elapsed);
        }
        tracing::info!(
            transactionid = %id,
            method = %method,
            route = %endpoint,
            status = response.status().as_u16(),
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
        Ok(response)
    })
}

/// Removes ended memberships every `every` for the life of the server.
async fn expire_now_and_then(ctx: web::Data<domain::Ctx>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let ctx = ctx.clone();
        match web::block(move || domain::kernel::expiry::sweep(&ctx)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => tracing::info!(removed, "memberships past their end removed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "membership sweep failed; next time"),
            Err(e) => tracing::warn!(error = %e, "membership sweep did not run"),
        }
    }
}

/// Runs a retention sweep every `interval` for the life of the server.
async fn sweep_now_and_then(
    store: Store,
    retention: domain::retention::Retention,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let store = store.clone();
        let swept =
            web::block(move || domain::retention::sweep(&store, retention, domain::now_ms())).await;
        match swept {
            Ok(Ok(swept)) if swept != domain::retention::Swept::default() => {
                tracing::info!(?swept, "retention: deleted what has ended")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "retention: sweep failed; next time"),
            Err(e) => tracing::warn!(error = %e, "retention: sweep did not run"),
        }
    }
}
