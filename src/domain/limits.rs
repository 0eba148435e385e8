//! The rate limits of API.md §8 that are per client address or per
//! organization, as fixed windows: within one window (a minute, an hour) a
//! key may be counted `limit` times; past it, calls answer 429 with the
//! seconds left in the window as `Retry-After`, "until the minute is over".
//! Memory is bounded however many addresses call: ended windows are dropped
//! when the table grows, IPv6 addresses count by their /64, and past a hard
//! cap the table starts over (forgetting counts rather than growing).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{DomainError, DomainResult};

/// Keys at which ended windows are dropped; when more than half of them are
/// still live, the table starts over. Either way each tidy is paid for by
/// that many inserts before it.
const MAX_KEYS: usize = 100_000;

/// Counts per key in fixed windows.
pub struct Window<K> {
    limit: u32,
    length: Duration,
    max_keys: usize,
    counts: Mutex<HashMap<K, (Instant, u32)>>,
}

impl<K: Eq + Hash + Clone> Window<K> {
    /// `limit` per `length`; a limit of 0 turns the limit off.
    pub fn new(limit: u32, length: Duration) -> Window<K> {
        Window {
            limit,
            length,
            max_keys: MAX_KEYS,
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn refused(&self, started: Instant, now: Instant) -> DomainError {
        let left = (started + self.length).saturating_duration_since(now);
        DomainError::RateLimited {
            retry_after_secs: left.as_secs().max(1),
        }
    }

    /// 429 when `key` has used up its window; counts nothing.
    pub fn check(&self, key: &K) -> DomainResult<()> {
        if self.limit == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        match counts.get(key) {
            Some(&(started, count)) if now < started + self.length && count >= self.limit => {
                Err(self.refused(started, now))
            }
            _ => Ok(()),
        }
    }

    /// Counts one for `key`; 429 (counting nothing) when its window is used up.
    pub fn hit(&self, key: &K) -> DomainResult<()> {
        if self.limit == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= self.max_keys && !counts.contains_key(key) {
            counts.retain(|_, (started, _)| now < *started + self.length);
            if counts.len() > self.max_keys / 2 {
                tracing::warn!(
                    keys = counts.len(),
                    "rate limits: too many keys; starting over"
                );
                counts.clear();
            }
        }
        let entry = counts.entry(key.clone()).or_insert((now, 0));
        if now >= entry.0 + self.length {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            return Err(self.refused(entry.0, now));
        }
        entry.1 += 1;
        Ok(())
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.counts.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// The key a client address counts under: itself, or its /64 for IPv6, where
/// one host easily holds a whole prefix.
pub fn address_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        v4 @ IpAddr::V4(_) => v4,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

/// The limits of one process.
pub struct Limits {
    /// Failed logins per account (email address) per minute.
    pub logins: Window<String>,
    /// Unknown tokens per client address per minute.
    pub tokens: Window<IpAddr>,
    /// Sign-ups per client address per hour.
    pub signups: Window<IpAddr>,
    /// Invites created or resent per organization per hour.
    pub invites: Window<String>,
    /// Reset, sign-in and confirmation mails per address per hour.
    pub mails: Window<String>,
}

impl Limits {
    pub fn new(
        logins_per_minute: u32,
        tokens_per_minute: u32,
        signups_per_hour: u32,
        invites_per_hour: u32,
        mails_per_address_per_hour: u32,
    ) -> Limits {
        const MINUTE: Duration = Duration::from_secs(60);
        const HOUR: Duration = Duration::from_secs(3600);
        Limits {
            logins: Window::new(logins_per_minute, MINUTE),
            tokens: Window::new(tokens_per_minute, MINUTE),
            signups: Window::new(signups_per_hour, HOUR),
            invites: Window::new(invites_per_hour, HOUR),
            mails: Window::new(mails_per_address_per_hour, HOUR),
        }
    }

    /// Runs a public call that takes an emailed token for `client`: refused
    /// while the address is past its unknown-token limit; an unknown token
    /// (404) counts against it.
    pub fn token_call<T>(
        &self,
        client: IpAddr,
        call: impl FnOnce() -> DomainResult<T>,
    ) -> DomainResult<T> {
        let key = address_key(client);
        self.tokens.check(&key)?;
        let result = call();
        if matches!(result, Err(DomainError::NotFound(_))) {
            // The 404 is the answer; the count only shapes the next calls.
            let _ = self.tokens.hit(&key);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_its_limit_then_refuses_with_the_time_left() {
        let window = Window::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            window.hit(&"a").expect("in a test");
        }
        match window.hit(&"a") {
            Err(DomainError::RateLimited { retry_after_secs }) => {
                assert!((1..=60).contains(&retry_after_secs))
            }
            other => panic!("{other:?}"),
        }
        assert!(window.check(&"a").is_err());
        window.hit(&"b").expect("in a test");
        let off = Window::new(0, Duration::from_secs(60));
        for _ in 0..10 {
            off.hit(&"a").expect("in a test");
        }
    }

    #[test]
    fn windows_end() {
        let window = Window::new(1, Duration::from_millis(20));
        window.hit(&1).expect("in a test");
        assert!(window.hit(&1).is_err());
        std::thread::sleep(Duration::from_millis(30));
        window.hit(&1).expect("in a test");
    }

    #[test]
    fn memory_stays_bounded_whatever_the_number_of_keys() {
        let window = Window::new(5, Duration::from_secs(60));
        for key in 0..(3 * MAX_KEYS) {
            window.hit(&key).expect("in a test");
            assert!(window.keys() <= MAX_KEYS);
        }
    }

    #[test]
    fn ipv6_counts_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("in a test");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("in a test");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("in a test");
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let v4: IpAddr = "203.0.113.5".parse().expect("in a test");
        assert_eq!(address_key(v4), v4);
        let mapped: IpAddr = "::ffff:203.0.113.5".parse().expect("in a test");
        assert_eq!(address_key(mapped), v4);
    }
}
