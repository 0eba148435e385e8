//! The rate limits of API.md §8, counted in the database so that every
//! process on one store shares each count (API.md §12): five mails per
//! address per hour means five, whichever processes take the requests.
//! Within one window (a minute, an hour) a key may be counted `limit`
//! times; past it, calls answer 429 with the seconds left in that key's
//! window as `Retry-After`, "until the minute is over". Each limit is a
//! [`Window`] (`window.rs`: the statements, and why each decision is one).
//!
//! Where a count is taken decides what it survives:
//! - on a connection of its own, committed at once ([`Window::hit`],
//!   [`Window::take`]), before or after the request's transaction, for what
//!   must stand whatever that transaction does (an unknown token's 404 and
//!   a wrong password roll back; their counts must not);
//! - inside the request's transaction ([`Window::hit_on`]) for what counts
//!   only if it is done (an invite made, a mail queued);
//! - deferred to the end of the request's work ([`Window::hit_after`],
//!   [`Limits::settle`]) for a guess judged inside a transaction that its
//!   refusal rolls back: a request never holds one pooled connection in a
//!   transaction while it waits for a second.
//!
//! No count is ever cleared early: a key's row goes only once its window has
//! ended (the retention sweep deletes those), however many other keys call.

mod window;

use std::net::IpAddr;

use super::{DomainError, DomainResult};
use crate::secrets::Sealer;
use crate::store::Store;

pub use window::{address_key, LimitKey, Taken, Window};

/// The purpose the keyed hashes of the limits' keys are derived for.
pub const HASHING_PURPOSE: &str = "rate limit keys";

const MINUTE_MS: i64 = 60 * 1000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// The limits, shared by every process on the store.
pub struct Limits {
    /// Failed logins and second-factor codes per account (email address)
    /// per minute.
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

/// Each limit per its window, as configured (0 turns one off).
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    pub logins_per_minute: u32,
    pub tokens_per_minute: u32,
    pub signups_per_hour: u32,
    pub invites_per_hour: u32,
    pub mails_per_address_per_hour: u32,
}

impl Limits {
    /// The limits counted in `store`, their keys hashed by `sealer`.
    pub fn new(store: &Store, sealer: &Sealer, settings: LimitSettings) -> Limits {
        let window = |bucket, limit, length| (bucket, limit, length, store.clone(), sealer.clone());
        Limits {
            logins: Window::new(window("logins", settings.logins_per_minute, MINUTE_MS)),
            tokens: Window::new(window("tokens", settings.tokens_per_minute, MINUTE_MS)),
            signups: Window::new(window("signups", settings.signups_per_hour, HOUR_MS)),
            invites: Window::new(window("invites", settings.invites_per_hour, HOUR_MS)),
            mails: Window::new(window(
                "mails",
                settings.mails_per_address_per_hour,
                HOUR_MS,
            )),
        }
    }

    /// Runs a public call that takes an emailed token for `client`: refused
    /// while the address is past its unknown-token limit. The call is
    /// counted before it runs, so that a burst from one address, across
    /// processes, gets no more than the limit through; the count is given
    /// back unless the token was unknown (404), which is what is limited.
    pub fn token_call<T>(
        &self,
        client: IpAddr,
        call: impl FnOnce() -> DomainResult<T>,
    ) -> DomainResult<T> {
        let taken = self.tokens.take(&client)?;
        let result = call();
        if !matches!(result, Err(DomainError::NotFound(_))) {
            self.tokens.give_back(taken);
        }
        result
    }

    /// Takes the counts [`Window::hit_after`] left on this thread, once the
    /// request's work (and every transaction of it) is over. A count that
    /// fails is logged: the answer is decided already.
    pub fn settle(&self) {
        let deferred = window::take_deferred();
        for (bucket, hash) in deferred {
            let counted = match bucket {
                b if b == self.logins.bucket() => self.logins.hit_hashed(&hash),
                b if b == self.mails.bucket() => self.mails.hit_hashed(&hash),
                b if b == self.invites.bucket() => self.invites.hit_hashed(&hash),
                b if b == self.tokens.bucket() => self.tokens.hit_hashed(&hash),
                _ => self.signups.hit_hashed(&hash),
            };
            match counted {
                Ok(()) | Err(DomainError::RateLimited { .. }) => {}
                Err(e) => {
                    tracing::warn!(limit = bucket, error = %e, "rate limits: a count was lost")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
