//! The rate limits of API.md §8 that are per client address or per
//! organization, as fixed windows: within one window (a minute, an hour) a
//! key may be counted `limit` times; past it, calls answer 429 with the
//! seconds left in the window as `Retry-After`, "until the minute is over".
//!
//! Memory is bounded however many keys call: each limit keeps counts for at
//! most `max_keys` keys (`COLLABD_RATE_LIMIT_KEYS`), and IPv6 addresses count
//! by their /64. A full table makes room by forgetting what matters least:
//! ended windows first, then the windows with the fewest counts, the oldest
//! of those first. It never starts over, so a flood of distinct keys, each
//! counted once, does not reset a key that has used its window: to make
//! that window forgotten, a flood would have to bring `max_keys` other keys
//! to as many counts within it.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{DomainError, DomainResult};

/// Keys each limit keeps counts for unless configured otherwise.
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// One key's window: when it started and how much of it is used.
#[derive(Clone, Copy, Debug)]
struct Count {
    started: Instant,
    used: u32,
}

/// Counts per key in fixed windows.
pub struct Window<K> {
    limit: u32,
    length: Duration,
    max_keys: usize,
    counts: Mutex<HashMap<K, Count>>,
}

impl<K: Eq + Hash + Clone> Window<K> {
    /// `limit` per `length`, keeping counts for at most `max_keys` keys (at
    /// least 16); a limit of 0 turns the limit off.
    pub fn new(limit: u32, length: Duration, max_keys: usize) -> Window<K> {
        Window {
            limit,
            length,
            max_keys: max_keys.max(16),
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn refused(&self, started: Instant, now: Instant) -> DomainError {
        let left = (started + self.length).saturating_duration_since(now);
        DomainError::RateLimited {
            retry_after_secs: left.as_secs().max(1),
        }
    }

    fn ended(&self, count: &Count, now: Instant) -> bool {
        now >= count.started + self.length
    }

    /// 429 when `key` has used up its window; counts nothing.
    pub fn check(&self, key: &K) -> DomainResult<()> {
        self.check_at(key, Instant::now())
    }

    /// Counts one for `key`; 429 (counting nothing) when its window is used up.
    pub fn hit(&self, key: &K) -> DomainResult<()> {
        self.hit_at(key, Instant::now())
    }

    fn check_at(&self, key: &K, now: Instant) -> DomainResult<()> {
        if self.limit == 0 {
            return Ok(());
        }
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        match counts.get(key) {
            Some(count) if !self.ended(count, now) && count.used >= self.limit => {
                Err(self.refused(count.started, now))
            }
            _ => Ok(()),
        }
    }

    fn hit_at(&self, key: &K, now: Instant) -> DomainResult<()> {
        if self.limit == 0 {
            return Ok(());
        }
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() >= self.max_keys && !counts.contains_key(key) {
            self.make_room(&mut counts, now);
        }
        let count = counts.entry(key.clone()).or_insert(Count {
            started: now,
            used: 0,
        });
        if self.ended(count, now) {
            *count = Count {
                started: now,
                used: 0,
            };
        }
        if count.used >= self.limit {
            return Err(self.refused(count.started, now));
        }
        count.used += 1;
        Ok(())
    }

    /// Forgets every ended window, and when that leaves the table fuller
    /// than `max_keys` less a sixteenth, the live windows that matter least
    /// (fewest counts, then oldest) down to that. The sixteenth makes each
    /// pass over the table paid for by as many inserts before the next.
    fn make_room(&self, counts: &mut HashMap<K, Count>, now: Instant) {
        counts.retain(|_, count| !self.ended(count, now));
        let room = self.max_keys - self.max_keys / 16;
        let Some(excess) = counts.len().checked_sub(room).filter(|n| *n > 0) else {
            return;
        };
        // Worth the least first: (counts used, start).
        let worth = |count: &Count| (count.used, count.started);
        let mut ranks: Vec<(u32, Instant)> = counts.values().map(worth).collect();
        let (_, last, _) = ranks.select_nth_unstable(excess - 1);
        let last = *last;
        // Everything worth less than the last one to go goes; of those worth
        // exactly as much, only as many as are still needed.
        let below = ranks.iter().filter(|rank| **rank < last).count();
        let mut ties = excess - below;
        counts.retain(|_, count| {
            let rank = worth(count);
            if rank < last {
                return false;
            }
            if rank == last && ties > 0 {
                ties -= 1;
                return false;
            }
            true
        });
        tracing::warn!(
            forgotten = excess,
            keys = counts.len(),
            "rate limits: table full; forgot the windows with the fewest counts"
        );
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.counts.lock().map(|c| c.len()).unwrap_or(0)
    }

    #[cfg(test)]
    fn used(&self, key: &K) -> Option<u32> {
        self.counts
            .lock()
            .ok()
            .and_then(|c| c.get(key).map(|count| count.used))
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
        max_keys: usize,
    ) -> Limits {
        const MINUTE: Duration = Duration::from_secs(60);
        const HOUR: Duration = Duration::from_secs(3600);
        Limits {
            logins: Window::new(logins_per_minute, MINUTE, max_keys),
            tokens: Window::new(tokens_per_minute, MINUTE, max_keys),
            signups: Window::new(signups_per_hour, HOUR, max_keys),
            invites: Window::new(invites_per_hour, HOUR, max_keys),
            mails: Window::new(mails_per_address_per_hour, HOUR, max_keys),
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
        let window = Window::new(3, Duration::from_secs(60), 100);
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
        let off = Window::new(0, Duration::from_secs(60), 100);
        for _ in 0..10 {
            off.hit(&"a").expect("in a test");
        }
    }

    #[test]
    fn windows_end() {
        let window = Window::new(1, Duration::from_millis(20), 100);
        window.hit(&1).expect("in a test");
        assert!(window.hit(&1).is_err());
        std::thread::sleep(Duration::from_millis(30));
        window.hit(&1).expect("in a test");
    }

    #[test]
    fn memory_stays_bounded_whatever_the_number_of_keys() {
        let window = Window::new(5, Duration::from_secs(60), 1000);
        for key in 0..30_000 {
            window.hit(&key).expect("in a test");
            assert!(window.keys() <= 1000);
        }
    }

    #[test]
    fn a_full_table_forgets_ended_windows_then_the_fewest_counts_oldest_first() {
        let window = Window::new(5, Duration::from_secs(60), 16);
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let hit = |key: &str, times: u32, secs: u64| {
            for _ in 0..times {
                window
                    .hit_at(&key.to_string(), at(secs))
                    .expect("in a test");
            }
        };
        let used = |key: &str| window.used(&key.to_string());
        // Two windows that end at 60 s, one used up.
        hit("ended-a", 5, 0);
        hit("ended-b", 1, 0);
        // Live windows, started in this order: one used up, two with three
        // counts, the rest with one.
        hit("victim", 5, 100);
        hit("three-old", 3, 101);
        hit("three-new", 3, 102);
        for n in 0..11 {
            hit(&format!("once-{n}"), 1, 103 + n);
        }
        assert_eq!(window.keys(), 16);
        // A new key into the full table: the ended windows go, room enough.
        hit("new-1", 1, 120);
        assert_eq!(window.keys(), 15);
        assert_eq!((used("ended-a"), used("ended-b")), (None, None));
        hit("new-2", 1, 121);
        assert_eq!(window.keys(), 16);
        // Full of live windows: of those with the fewest counts, the one
        // that started first goes (a sixteenth of 16 is one).
        hit("new-3", 1, 122);
        assert_eq!(window.keys(), 16);
        assert_eq!(used("once-0"), None);
        assert_eq!(used("once-1"), Some(1));
        // Bring the single counts to four: now the older window with three
        // counts goes, then the newer one; the used-up window stays.
        for key in (1..11).map(|n| format!("once-{n}")) {
            hit(&key, 3, 123);
        }
        for key in ["new-1", "new-2", "new-3"] {
            hit(key, 3, 123);
        }
        hit("fresh-1", 1, 124);
        assert_eq!((used("three-old"), used("three-new")), (None, Some(3)));
        hit("fresh-1", 3, 124);
        hit("fresh-2", 1, 125);
        assert_eq!(used("three-new"), None);
        hit("fresh-2", 3, 125);
        hit("fresh-3", 1, 126);
        assert_eq!(used("once-1"), None, "the oldest with four counts");
        assert_eq!(used("victim"), Some(5));
        assert!(window.check_at(&"victim".to_string(), at(126)).is_err());
        assert!(window.hit_at(&"victim".to_string(), at(126)).is_err());
        assert_eq!(window.keys(), 16);
    }

    #[test]
    fn a_flood_of_keys_counted_once_never_resets_a_used_up_window() {
        let window = Window::new(5, Duration::from_secs(3600), 1000);
        for _ in 0..5 {
            window.hit(&"victim".to_string()).expect("in a test");
        }
        for n in 0..20_000 {
            window.hit(&format!("flood-{n}")).expect("in a test");
        }
        assert!(window.hit(&"victim".to_string()).is_err());
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
