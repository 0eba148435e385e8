//! The webhook courier: signs each pending delivery as the Standard Webhooks
//! specification says and POSTs it, through the delivery queue mail uses
//! ([`crate::queue`]: claims across processes, leases, backoff). Each
//! delivery goes out on its own as soon as it is claimed, and each
//! organization has a fair share of the sender ([`Concurrency`]), each of its
//! webhooks half of that, so a slow or dead endpoint holds back only its own
//! deliveries.
//!
//! Every connection goes only to an address that passed the private-address
//! check: names are resolved by [`Guarded`], which drops private addresses
//! before the client sees them, so a name that changes its answer after
//! registration (DNS rebinding) reaches nothing private; an address written
//! in the URL is checked at each try. Redirects are not followed and no
//! proxy from the environment is used.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::queue::{self, Courier, Next, Outcome, Retry};
use crate::secrets::Sealer;
use crate::store::kinds::DeliveryState;
use crate::store::rows::DeliveryRow;
use crate::store::schema::{webhook_deliveries, webhooks};
use crate::store::{classify, DbConn, Outbox, Store, StoreError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sha2::Sha256;

/// What every signing secret starts with (Standard Webhooks).
pub const SECRET_PREFIX: &str = "whsec_";

/// True for an address no webhook may reach unless private targets are
/// allowed: loopback, private, link-local, unspecified, and the other ranges
/// that are not the public internet (shared, multicast, broadcast, reserved,
/// documentation; IPv6 unique-local and site-local; an IPv4 address mapped
/// or translated into IPv6 is judged as itself).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared, RFC 6598
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240 // reserved
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let segments = v6.segments();
            let v4_in = |hi: u16, lo: u16| {
                IpAddr::V4(std::net::Ipv4Addr::from(
                    (u32::from(hi) << 16) | u32::from(lo),
                ))
            };
            // Forms that reach the IPv4 address inside them: NAT64
            // (64:ff9b::/96), IPv4-translated (::ffff:0:0:0/96), 6to4
            // (2002::/16, the address in bits 16–47).
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                || segments[..6] == [0, 0, 0, 0, 0xffff, 0]
            {
                return is_private(v4_in(segments[6], segments[7]));
            }
            if segments[0] == 0x2002 {
                return is_private(v4_in(segments[1], segments[2]));
            }
            // Local-use NAT64 (64:ff9b:1::/48) and Teredo (2001::/32) reach
            // addresses no check here can see.
            if segments[..3] == [0x64, 0xff9b, 1] || segments[..2] == [0x2001, 0] {
                return true;
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local
                || (segments[0] & 0xffc0) == 0xfe80 // link-local
                || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
                || segments[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
        }
    }
}

/// The longest one delivery may take, connecting included (API.md §6).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an error a delivery row keeps.
const MAX_ERROR_LEN: usize = 500;

/// How many deliveries go out at once: in all, and of one organization (its
/// fair share, so one organization's slow endpoints never hold the others'
/// deliveries back; one webhook takes at most half of it).
#[derive(Debug, Clone, Copy)]
pub struct Concurrency {
    pub in_all: usize,
    pub per_organization: usize,
}

/// A claimed delivery with where it goes and the sealed secret it is signed
/// with.
#[derive(Clone)]
pub struct Outgoing {
    pub row: DeliveryRow,
    pub url: String,
    pub secret: String,
}

/// How webhooks are sent.
pub struct WebhookCourier {
    /// Built at the first delivery: a server with no webhooks never loads
    /// the TLS roots and connection pool a client holds.
    client: Mutex<Option<reqwest::Client>>,
    sealer: Sealer,
    retry: Retry,
    poll: Duration,
    allow_private: bool,
    /// Deliveries in flight at once, and of one organization.
    parallel: usize,
    share: usize,
}

impl WebhookCourier {
    pub fn new(
        sealer: Sealer,
        retry: Retry,
        poll: Duration,
        allow_private: bool,
        concurrency: Concurrency,
    ) -> WebhookCourier {
        WebhookCourier {
            client: Mutex::new(None),
            sealer,
            retry,
            poll,
            allow_private,
            parallel: concurrency.in_all.max(1),
            share: concurrency.per_organization.max(1),
        }
    }

    /// The client, built at the first delivery (a failure to build is not
    /// kept: the next delivery tries again).
    fn client(&self) -> Result<reqwest::Client, String> {
        let mut slot = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .connect_timeout(SEND_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!(
                "collabd/",
                env!("CARGO_PKG_VERSION"),
                " (webhooks)"
            ))
            .dns_resolver(Arc::new(Guarded {
                allow_private: self.allow_private,
            }))
            .build()
            .map_err(|e| format!("building the webhook client: {e}"))?;
        *slot = Some(client.clone());
        Ok(client)
    }
}

/// Delivers due webhooks until the runtime stops; the store wakes it when a
/// committed transaction queued some.
pub async fn run(store: Store, courier: Arc<WebhookCourier>) {
    let wakeup = store.wakeup(Outbox::Webhooks);
    queue::run(store, courier, wakeup).await
}

/// How many deliveries are in each state, for `/metrics`.
pub fn queue_depth(store: &Store) -> Result<Vec<(&'static str, i64)>, StoreError> {
    let states: Vec<&'static str> = DeliveryState::ALL.iter().map(|s| s.as_str()).collect();
    queue::depth::<WebhookCourier>(store, &states)
}

/// Resolves a host and keeps only the addresses a webhook may reach (and
/// an organization's OpenID issuer, API.md §9).
pub struct Guarded {
    pub allow_private: bool,
}

/// The address written in `url` as its host, when it is one no webhook may
/// reach (see [`is_private`]); names are [`Guarded`]'s to judge.
pub fn private_literal(url: &reqwest::Url, allow_private: bool) -> Option<IpAddr> {
    let literal = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<IpAddr>().ok())?;
    (!allow_private && is_private(literal)).then_some(literal)
}

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || !is_private(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// The `webhook-signature` value for one try: `v1,` and base64 of
/// HMAC-SHA256 over `{id}.{timestamp}.{body}`, keyed with the decoded part
/// of `secret` after `whsec_`. `None` for a secret that is not one.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix(SECRET_PREFIX)?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

fn shortened(mut error: String) -> String {
    if error.len() > MAX_ERROR_LEN {
        let mut end = MAX_ERROR_LEN;
        while !error.is_char_boundary(end) {
            end -= 1;
        }
        error.truncate(end);
    }
    error
}

impl Courier for WebhookCourier {
    type Item = Outgoing;
    /// The status of the answer, if one came.
    type Report = Option<i32>;
    const NAME: &'static str = "webhooks";
    const TABLE: &'static str = "webhook_deliveries";
    /// The organization of the delivery's webhook.
    const GROUP: Option<&'static str> =
        Some("(SELECT w.organization_id FROM webhooks w WHERE w.id = q.webhook_id)");
    /// The delivery's webhook.
    const TARGET: Option<&'static str> = Some("q.webhook_id");
    const SEND_TIMEOUT: Duration = SEND_TIMEOUT;
    const LEASE_MS: i64 = 30_000;

    fn parallel(&self) -> usize {
        self.parallel
    }

    fn share(&self) -> usize {
        self.share
    }

    fn poll(&self) -> Duration {
        self.poll
    }

    fn retry(&self) -> Retry {
        self.retry
    }

    fn id(item: &Outgoing) -> &str {
        &item.row.id
    }

    fn attempts(item: &Outgoing) -> i32 {
        item.row.attempts
    }

    fn load(conn: &mut DbConn, token: &str) -> Result<Vec<Outgoing>, StoreError> {
        let rows: Vec<(DeliveryRow, String, String)> = webhook_deliveries::table
            .inner_join(
                webhooks::table.on(webhooks::organization_id
                    .eq(webhook_deliveries::organization_id)
                    .and(webhooks::id.eq(webhook_deliveries::webhook_id))),
            )
            .filter(webhook_deliveries::claim.eq(token))
            .filter(webhook_deliveries::state.eq(DeliveryState::Pending))
            .order(webhook_deliveries::id.asc())
            .select((DeliveryRow::as_select(), webhooks::url, webhooks::secret))
            .load(conn)
            .map_err(classify)?;
        Ok(rows
            .into_iter()
            .map(|(row, url, secret)| Outgoing { row, url, secret })
            .collect())
    }

    async fn deliver(&self, item: &Outgoing) -> (Outcome, Option<i32>) {
        let url = match reqwest::Url::parse(&item.url) {
            Ok(url) => url,
            Err(e) => return (Outcome::Rejected(format!("the URL: {e}")), None),
        };
        if let Some(ip) = private_literal(&url, self.allow_private) {
            return (
                Outcome::Rejected(format!("{ip} is not a public address")),
                None,
            );
        }
        let Some(secret) = self.sealer.open(&item.secret) else {
            return (
                Outcome::Rejected(
                    "the signing secret cannot be opened: it was sealed under another server \
                     secret"
                        .into(),
                ),
                None,
            );
        };
        let timestamp = chrono::Utc::now().timestamp();
        let Some(signature) = sign(&secret, &item.row.event_id, timestamp, &item.row.payload)
        else {
            return (
                Outcome::Rejected("the signing secret is malformed".into()),
                None,
            );
        };
        let client = match self.client() {
            Ok(client) => client,
            Err(e) => return (Outcome::Failed(e), None),
        };
        let sent = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &item.row.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(item.row.payload.clone())
            .send()
            .await;
        match sent {
            Ok(answer) => {
                let code = i32::from(answer.status().as_u16());
                if answer.status().is_success() {
                    (Outcome::Delivered, Some(code))
                } else {
                    (Outcome::Failed(format!("answered {code}")), Some(code))
                }
            }
            // The error's chain says why (timeout, refused, no public
            // address); not the URL, which may carry a secret of its own.
            Err(e) => {
                let e = e.without_url();
                let mut why = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    why.push_str(": ");
                    why.push_str(&cause.to_string());
                    source = cause.source();
                }
                (Outcome::Failed(shortened(why)), None)
            }
        }
    }

    fn record(
        conn: &mut DbConn,
        token: &str,
        item: &Outgoing,
        outcome: &Outcome,
        code: &Option<i32>,
        attempts: i32,
        next: Next,
        now: i64,
    ) -> Result<usize, StoreError> {
        let target = webhook_deliveries::table
            .find((&item.row.organization_id, &item.row.id))
            .filter(webhook_deliveries::claim.eq(token))
            .filter(webhook_deliveries::state.eq(DeliveryState::Pending));
        let error = match outcome {
            Outcome::Delivered => None,
            Outcome::Failed(e) | Outcome::Rejected(e) => Some(shortened(e.clone())),
        };
        let (state, next_attempt_at) = match next {
            Next::Done => (DeliveryState::Delivered, item.row.next_attempt_at),
            Next::RetryAt(at) => (DeliveryState::Pending, at),
            Next::GiveUp => (DeliveryState::Failed, item.row.next_attempt_at),
        };
        diesel::update(target)
            .set((
                webhook_deliveries::state.eq(state),
                webhook_deliveries::attempts.eq(attempts),
                webhook_deliveries::next_attempt_at.eq(next_attempt_at),
                webhook_deliveries::last_code.eq(*code),
                webhook_deliveries::last_error.eq(error),
                webhook_deliveries::last_attempt_at.eq(now),
                webhook_deliveries::claimed_until.eq(None::<i64>),
                webhook_deliveries::claim.eq(None::<String>),
            ))
            .execute(conn)
            .map_err(classify)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference
    /// libraries.
    #[test]
    fn signs_as_the_specification_does() {
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signature.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(sign("not-a-secret", "id", 1, "{}"), None);
    }

    #[test]
    fn private_addresses_are_recognised() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "::ffff:0:7f00:1",
            "2002:a00:1::1",
            "2002:7f00:1::",
            "64:ff9b:1::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            let ip: IpAddr = private.parse().expect(private);
            assert!(is_private(ip), "{private} is private");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
            "2001:4860:4860::8888",
        ] {
            let ip: IpAddr = public.parse().expect(public);
            assert!(!is_private(ip), "{public} is public");
        }
    }
}
