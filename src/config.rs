//! One typed configuration, from flags or `COLLABD_*` variables, checked at start.

use std::path::PathBuf;

/// Every setting of collabd. Each is a flag or its `COLLABD_*` variable.
#[derive(clap::Args, Debug, Clone)]
pub struct Config {
    /// Address to serve on.
    #[arg(
        long,
        env = "COLLABD_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: String,

    /// `postgres://…` for PostgreSQL; otherwise an SQLite file (`sqlite://path` or a path).
    #[arg(
        long,
        env = "COLLABD_DATABASE_URL",
        default_value = "collabd.sqlite3",
        global = true
    )]
    pub database_url: String,

    /// Base of the links in emails; `http://<listen>` when unset.
    #[arg(long, env = "COLLABD_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// SMTP server for outgoing mail (`smtp://host:port`, `smtps://user:pass@host`);
    /// when unset, mail is written as .eml files to the mail directory.
    #[arg(long, env = "COLLABD_SMTP_URL", global = true)]
    pub smtp_url: Option<String>,

    /// The From address of outgoing mail, with a display name if wanted
    /// (`GleSYS Cloud <no-reply@glesys.example>`); unset, the product's
    /// name at collabd@localhost.
    #[arg(long, env = "COLLABD_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,

    /// The name every email and page uses for the service (API.md §13).
    #[arg(
        long,
        env = "COLLABD_PRODUCT_NAME",
        default_value = "collabd",
        global = true
    )]
    pub product_name: String,

    /// The template of every emailed link, with `{kind}` (invite, confirm,
    /// reset, signin, domain) and `{token}`, and `{public_url}` if wanted;
    /// unset, `{public_url}/{kind}/{token}`: collabd's own pages.
    #[arg(long, env = "COLLABD_LINK_URL", global = true)]
    pub link_url: Option<String>,

    /// A directory of templates (and `locales/<language>.ftl` messages)
    /// that override the built-in ones by name (API.md §13).
    #[arg(long, env = "COLLABD_TEMPLATES_DIR", global = true)]
    pub templates_dir: Option<PathBuf>,

    /// The language of emails and pages for someone whose language nothing
    /// says (`en`, `sv`, or one a templates directory adds).
    #[arg(
        long,
        env = "COLLABD_DEFAULT_LANGUAGE",
        default_value = "en",
        global = true
    )]
    pub default_language: String,

    /// Where .eml files go when no SMTP server is configured.
    #[arg(
        long,
        env = "COLLABD_MAIL_DIR",
        default_value = "./mail",
        global = true
    )]
    pub mail_dir: PathBuf,

    /// The first retry of a failed delivery waits this long (ms); each further one twice as long.
    #[arg(
        long,
        env = "COLLABD_MAIL_RETRY_BASE_MS",
        default_value_t = 5000,
        global = true
    )]
    pub mail_retry_base_ms: i64,

    /// Delivery attempts before a message is marked dead; 0 (the default) retries
    /// through an outage however long it lasts.
    #[arg(
        long,
        env = "COLLABD_MAIL_MAX_ATTEMPTS",
        default_value_t = 0,
        global = true
    )]
    pub mail_max_attempts: i32,

    /// How often the senders look for due mail and webhook deliveries when
    /// nothing wakes them (ms).
    #[arg(
        long,
        env = "COLLABD_MAIL_POLL_MS",
        default_value_t = 1000,
        global = true
    )]
    pub mail_poll_ms: u64,

    /// Days an invite stays valid unless its organization sets its own (1–30).
    #[arg(long, env = "COLLABD_INVITE_TTL_DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u32).range(1..=30), global = true)]
    pub invite_ttl_days: u32,

    /// Organizations one user may own; 0 means unlimited.
    #[arg(
        long,
        env = "COLLABD_MAX_ORGS_PER_USER",
        default_value_t = 0,
        global = true
    )]
    pub max_orgs_per_user: u32,

    /// The server's secret (at least 32 bytes): it signs session tokens and
    /// keys what is sealed in the database, and never rests there. When
    /// neither this nor COLLABD_SECRET_FILE is set, an SQLite server keeps a
    /// generated one in `<database>.key` (mode 0600) and a PostgreSQL server
    /// refuses to start.
    #[arg(
        long,
        env = "COLLABD_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub jwt_secret: Option<String>,

    /// A file holding the server's secret (at least 32 bytes; surrounding
    /// white space ignored), for when it should not sit in the environment.
    /// With SQLite a missing file is made with a new secret; with PostgreSQL
    /// it must exist, the same for every process.
    #[arg(long, env = "COLLABD_SECRET_FILE", global = true)]
    pub secret_file: Option<std::path::PathBuf>,

    /// Hours a session lasts.
    #[arg(long, env = "COLLABD_SESSION_TTL_HOURS", default_value_t = 24,
          value_parser = clap::value_parser!(u32).range(1..=8760), global = true)]
    pub session_ttl_hours: u32,

    /// Hours a link to confirm an address works.
    #[arg(long, env = "COLLABD_CONFIRM_TTL_HOURS", default_value_t = 48,
          value_parser = clap::value_parser!(u32).range(1..=8760), global = true)]
    pub confirm_ttl_hours: u32,

    /// Minutes a password-reset link works.
    #[arg(long, env = "COLLABD_RESET_TTL_MINUTES", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=10080), global = true)]
    pub reset_ttl_minutes: u32,

    /// Minutes a sign-in link works.
    #[arg(long, env = "COLLABD_LOGIN_LINK_TTL_MINUTES", default_value_t = 15,
          value_parser = clap::value_parser!(u32).range(1..=10080), global = true)]
    pub login_link_ttl_minutes: u32,

    /// Largest request body accepted, in bytes.
    #[arg(
        long,
        env = "COLLABD_MAX_BODY_BYTES",
        default_value_t = 65536,
        global = true
    )]
    pub max_body_bytes: usize,

    /// Database connections in the pool; twice the CPUs plus one when unset
    /// (more connections than that only make the database's processes take
    /// turns on the CPUs: on two cores, ten connections tripled the list's
    /// p99 on PostgreSQL without adding throughput).
    #[arg(long, env = "COLLABD_DB_POOL_SIZE", global = true)]
    pub db_pool_size: Option<u32>,

    /// Seconds to wait for a database connection before answering 503.
    #[arg(
        long,
        env = "COLLABD_DB_TIMEOUT_SECS",
        default_value_t = 5,
        global = true
    )]
    pub db_timeout_secs: u64,

    /// Milliseconds a statement may wait for a database lock (PostgreSQL's
    /// `lock_timeout` on every pooled connection; SQLite's busy timeout);
    /// past it the request answers 503 with `Retry-After` and has done
    /// nothing. Migrations wait as long as they must.
    #[arg(
        long,
        env = "COLLABD_LOCK_TIMEOUT_MS",
        default_value_t = 5000,
        value_parser = clap::value_parser!(u64).range(1..=3_600_000),
        global = true
    )]
    pub lock_timeout_ms: u64,

    /// Seconds `serve` waits for the database to answer at start, retrying,
    /// before it gives up.
    #[arg(
        long,
        env = "COLLABD_DB_WAIT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub db_wait_secs: u64,

    /// Failed logins allowed per email address per minute; past it logins for
    /// that address answer 429 until the minute is over. 0 turns it off.
    #[arg(
        long,
        env = "COLLABD_LOGIN_ATTEMPTS_PER_MINUTE",
        default_value_t = 10,
        global = true
    )]
    pub login_attempts_per_minute: u32,

    /// Password hashes (argon2id, ~19 MiB each) computed at once; 0 means the
    /// number of CPUs.
    #[arg(
        long,
        env = "COLLABD_HASH_CONCURRENCY",
        default_value_t = 0,
        global = true
    )]
    pub hash_concurrency: usize,

    /// Password checks that may wait for a turn, first come first served, each
    /// for up to 10 s; more, or a longer wait, answer 503 with `Retry-After`.
    /// A waiter holds no database connection.
    #[arg(long, env = "COLLABD_HASH_QUEUE", default_value_t = 256, global = true)]
    pub hash_queue: usize,

    /// Days sent and dead mail, ended sessions, used or expired tokens and
    /// ended invites are kept before a sweep deletes them.
    #[arg(
        long,
        env = "COLLABD_RETENTION_DAYS",
        default_value_t = 30,
        global = true
    )]
    pub retention_days: u32,

    /// Days audit events are kept; 0 keeps them forever.
    #[arg(
        long,
        env = "COLLABD_AUDIT_RETENTION_DAYS",
        default_value_t = 0,
        global = true
    )]
    pub audit_retention_days: u32,

    /// Seconds between two retention sweeps.
    #[arg(
        long,
        env = "COLLABD_RETENTION_INTERVAL_SECS",
        default_value_t = 3600,
        global = true
    )]
    pub retention_interval_secs: u64,

    /// Seconds between sweeps of memberships past their end (they count as
    /// ended at once either way; the sweep records and mails it).
    #[arg(
        long,
        env = "COLLABD_MEMBERSHIP_SWEEP_SECS",
        default_value_t = 30,
        global = true
    )]
    pub membership_sweep_secs: u64,

    /// Attempts at one webhook delivery before it is marked failed.
    #[arg(
        long,
        env = "COLLABD_WEBHOOK_MAX_ATTEMPTS",
        default_value_t = 10,
        global = true
    )]
    pub webhook_max_attempts: i32,

    /// The first retry of a failed webhook delivery waits this long (ms); each
    /// further one twice as long, at most an hour (10 attempts span about 3 h).
    #[arg(
        long,
        env = "COLLABD_WEBHOOK_RETRY_BASE_MS",
        default_value_t = 30000,
        global = true
    )]
    pub webhook_retry_base_ms: i64,

    /// Lets webhooks target loopback, private, link-local and unspecified
    /// addresses (for a receiver on the same machine or network).
    #[arg(
        long,
        env = "COLLABD_WEBHOOK_ALLOW_PRIVATE",
        default_value_t = false,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub webhook_allow_private: bool,

    /// OpenID Connect issuers whose JWTs are taken as bearer tokens (API.md
    /// §9), comma-separated (`https://id.provider.example,…`); none when unset.
    #[arg(long, env = "COLLABD_TRUSTED_ISSUERS", global = true)]
    pub trusted_issuers: Option<String>,

    /// The audience the trusted issuers mint tokens for collabd with (their
    /// `aud` must contain it); required when issuers are set.
    #[arg(long, env = "COLLABD_TRUSTED_AUDIENCE", global = true)]
    pub trusted_audience: Option<String>,

    /// Webhook deliveries in flight at once in one process, each on its own
    /// (none waits for another).
    #[arg(
        long,
        env = "COLLABD_WEBHOOK_CONCURRENCY",
        default_value_t = 64,
        value_parser = clap::value_parser!(u32).range(1..=1024),
        global = true
    )]
    pub webhook_concurrency: u32,

    /// Of those, the most one organization's deliveries may take: its fair
    /// share, so while its endpoints are slow or dead the other
    /// organizations' deliveries still go out at once. One webhook takes at
    /// most half of it, so a dead endpoint leaves its organization's other
    /// webhooks the rest.
    #[arg(
        long,
        env = "COLLABD_WEBHOOK_CONCURRENCY_PER_ORGANIZATION",
        default_value_t = 8,
        value_parser = clap::value_parser!(u32).range(1..=1024),
        global = true
    )]
    pub webhook_concurrency_per_organization: u32,

    /// Unknown tokens per client address per minute on the public calls that
    /// take an emailed token; past it they answer 429 until the minute is
    /// over. 0 turns the limit off.
    #[arg(
        long,
        env = "COLLABD_TOKEN_ATTEMPTS_PER_MINUTE",
        default_value_t = 30,
        global = true
    )]
    pub token_attempts_per_minute: u32,

    /// Sign-ups per client address per hour; 0 turns the limit off.
    #[arg(
        long,
        env = "COLLABD_SIGNUPS_PER_HOUR",
        default_value_t = 20,
        global = true
    )]
    pub signups_per_hour: u32,

    /// Invites created or resent per organization per hour; 0 turns the
    /// limit off.
    #[arg(
        long,
        env = "COLLABD_INVITES_PER_HOUR",
        default_value_t = 1000,
        global = true
    )]
    pub invites_per_hour: u32,

    /// Reset, sign-in and confirmation mails to one address per hour; 0
    /// turns the limit off.
    #[arg(
        long,
        env = "COLLABD_MAILS_PER_ADDRESS_PER_HOUR",
        default_value_t = 5,
        global = true
    )]
    pub mails_per_address_per_hour: u32,

    /// Retired: has no effect. The rate limits are counted in the database,
    /// shared by every process, one row per key while its window lasts, so
    /// there is no per-process table to bound; still accepted so that
    /// earlier configurations start.
    #[arg(long, env = "COLLABD_RATE_LIMIT_KEYS", global = true)]
    pub rate_limit_keys: Option<usize>,

    /// Seconds a request's body may take to arrive once its headers have;
    /// a slower one answers 408 and its connection is closed.
    #[arg(
        long,
        env = "COLLABD_BODY_TIMEOUT_SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    pub body_timeout_secs: u64,

    /// Proxies whose `X-Forwarded-For` names the client: a comma-separated
    /// list of addresses and CIDR ranges. Empty: the peer is the client.
    #[arg(
        long,
        env = "COLLABD_TRUSTED_PROXIES",
        default_value = "",
        global = true
    )]
    pub trusted_proxies: String,

    /// HTTP worker threads; the number of CPUs when unset.
    #[arg(long, env = "COLLABD_WORKERS", global = true)]
    pub workers: Option<usize>,

    /// Log filter (tracing's env-filter syntax).
    #[arg(long, env = "COLLABD_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log lines as text, or as one JSON object per line.
    #[arg(long, env = "COLLABD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

impl Config {
    /// The defaults, as `collabd serve` with no flags or variables would run.
    pub fn defaults() -> Config {
        use clap::{Args, Command, FromArgMatches};
        let command = Config::augment_args(Command::new("collabd"));
        let matches = command.get_matches_from(["collabd"]);
        // Start-up code: the defaults above always parse.
        Config::from_arg_matches(&matches).expect("default configuration")
    }

    /// Refuses settings that cannot work, with a message for the operator.
    pub fn check(&self) -> Result<(), String> {
        if let Some(secret) = &self.jwt_secret {
            if secret.len() < 32 {
                return Err("COLLABD_JWT_SECRET must be at least 32 bytes".into());
            }
        }
        if self.max_body_bytes < 1024 {
            return Err("COLLABD_MAX_BODY_BYTES must be at least 1024".into());
        }
        let product = self.product_name.trim();
        if product.is_empty()
            || product.chars().count() > 100
            || product.chars().any(char::is_control)
        {
            return Err(
                "COLLABD_PRODUCT_NAME must be 1 to 100 characters, no control characters".into(),
            );
        }
        self.link_url()?;
        if self.db_pool_size == Some(0) {
            return Err("COLLABD_DB_POOL_SIZE must be at least 1".into());
        }
        let issuers = self.issuers()?;
        let audience = self.trusted_audience.as_deref().map(str::trim);
        if !issuers.is_empty() && audience.is_none_or(str::is_empty) {
            return Err("COLLABD_TRUSTED_AUDIENCE must be set with COLLABD_TRUSTED_ISSUERS".into());
        }
        Ok(())
    }

    /// The trusted issuers, each an http(s) URL, as their tokens' `iss` says it.
    pub fn issuers(&self) -> Result<Vec<String>, String> {
        let Some(list) = &self.trusted_issuers else {
            return Ok(Vec::new());
        };
        list.split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(|issuer| match url::Url::parse(issuer) {
                Ok(url) if matches!(url.scheme(), "https" | "http") && url.host().is_some() => {
                    Ok(issuer.to_string())
                }
                _ => Err(format!(
                    "COLLABD_TRUSTED_ISSUERS: {issuer:?} is not an http(s) URL"
                )),
            })
            .collect()
    }

    /// Connections in the database pool: as set, or twice the CPUs plus one.
    pub fn pool_size(&self) -> u32 {
        self.db_pool_size.unwrap_or_else(|| {
            let cpus = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
            2 * cpus + 1
        })
    }

    /// The From address: as set, else the product's name at
    /// collabd@localhost.
    pub fn mail_from(&self) -> String {
        match &self.mail_from {
            Some(from) => from.clone(),
            None => lettre::message::Mailbox::new(
                Some(self.product_name.trim().to_string()),
                "collabd@localhost"
                    .parse()
                    .expect("collabd@localhost is an address"),
            )
            .to_string(),
        }
    }

    /// The template of emailed links with the public URL put in: `{kind}`
    /// and `{token}` remain.
    pub fn link_url(&self) -> Result<String, String> {
        let public = self.public_url();
        let template = self
            .link_url
            .clone()
            .unwrap_or_else(|| "{public_url}/{kind}/{token}".to_string())
            .replace("{public_url}", &public);
        if !template.contains("{token}") {
            return Err("COLLABD_LINK_URL must hold {token}".into());
        }
        let sample = template.replace("{kind}", "invite").replace("{token}", "t");
        match url::Url::parse(&sample) {
            Ok(url) if matches!(url.scheme(), "https" | "http") && url.host().is_some() => Ok(template),
            _ => Err(format!(
                "COLLABD_LINK_URL {template:?} is not an http(s) URL once {{kind}} and {{token}} are put in"
            )),
        }
    }

    /// The base of links in emails, without a trailing slash.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_string()
    }
}

/// How log lines are written (`COLLABD_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-11-24T10:00:00Z  INFO request transactionid=… method=GET …`
    Text,
    /// One JSON object per line, the event's fields at the top level.
    Json,
}

#[cfg(test)]
mod tests {
    use super::Config;

    #[test]
    fn trusted_issuers_need_an_audience_and_urls() {
        let mut config = Config::defaults();
        config.check().expect("defaults");
        config.trusted_issuers = Some("https://id.example, http://127.0.0.1:9000/".into());
        let refused = config.check().expect_err("no audience");
        assert!(refused.contains("COLLABD_TRUSTED_AUDIENCE"), "{refused}");
        config.trusted_audience = Some("  ".into());
        assert!(config.check().is_err(), "a blank audience is none");
        config.trusted_audience = Some("collabd".into());
        config.check().expect("issuers with an audience");
        // Kept as the tokens' `iss` says it, trailing slash and all.
        assert_eq!(
            config.issuers().expect("issuers"),
            vec!["https://id.example", "http://127.0.0.1:9000/"]
        );
        config.trusted_issuers = Some("ftp://id.example".into());
        let refused = config.check().expect_err("not http");
        assert!(refused.contains("ftp://id.example"), "{refused}");
    }
}
