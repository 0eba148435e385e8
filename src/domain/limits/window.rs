//! One limit's counters, in the database (`rate_limits`), so that every
//! process on one store counts the same (API.md §12).
//!
//! A key's window is one row: how much of it is used and when it ends. Each
//! decision is one statement, atomic on both backends: [`COUNT`] inserts
//! the row or, on conflict, starts an ended window over, adds one while the
//! limit allows it (else leaves the count at the limit plus one), and
//! returns the count and the window's end. Whatever several processes do at
//! once, each count sees the others', so exactly `limit` pass per window.
//! The seconds left in the window are the refusal's `Retry-After`.
//!
//! Keys rest as a keyed hash (HMAC-SHA256 under a key derived from the
//! server's secret), never as the email or client address counted.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::net::IpAddr;

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::RunQueryDsl;

use crate::clock::now_ms;
use crate::domain::{DomainError, DomainResult};
use crate::secrets::Sealer;
use crate::store::{classify, DbConn, MultiBackend, Store};

/// Counts one for a key: a new window, an ended one started over, or one
/// more in the current one, never past the limit plus one. `$5` is the
/// limit. (Parameters first appear in order: SQLite numbers `$n` by first
/// appearance, PostgreSQL by `n`.)
const COUNT: &str = "INSERT INTO rate_limits (bucket, key_hash, used, ends_at) \
     VALUES ($1, $2, 1, $3 + $4) \
     ON CONFLICT (bucket, key_hash) DO UPDATE SET \
     used = CASE WHEN rate_limits.ends_at <= $3 THEN 1 \
     WHEN rate_limits.used > $5 THEN rate_limits.used \
     ELSE rate_limits.used + 1 END, \
     ends_at = CASE WHEN rate_limits.ends_at <= $3 THEN $3 + $4 \
     ELSE rate_limits.ends_at END \
     RETURNING used, ends_at";

/// A key's window as it stands.
const LOAD: &str = "SELECT used, ends_at FROM rate_limits WHERE bucket = $1 AND key_hash = $2";

/// Takes back one count of the window that ends at `$4`, once it turned out
/// not to be what the limit counts (`$1` is the limit: a count past it
/// stands for the refused calls, which took nothing).
const GIVE_BACK: &str = "UPDATE rate_limits \
     SET used = CASE WHEN used > $1 THEN $1 - 1 ELSE used - 1 END \
     WHERE bucket = $2 AND key_hash = $3 AND ends_at = $4 AND used > 0";

thread_local! {
    /// Counts [`Window::hit_after`] left for the end of the request's work:
    /// (limit, keyed hash).
    static DEFERRED: RefCell<Vec<(&'static str, String)>> = const { RefCell::new(Vec::new()) };
}

/// The counts [`Window::hit_after`] left on this thread, taken off it.
pub(super) fn take_deferred() -> Vec<(&'static str, String)> {
    DEFERRED.with(|d| std::mem::take(&mut *d.borrow_mut()))
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

/// What a limit counts by: the bytes its keyed hash is taken of.
pub trait LimitKey {
    fn key_bytes(&self) -> Vec<u8>;
}

impl LimitKey for String {
    fn key_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

/// A client address counts as itself, or its /64 for IPv6.
impl LimitKey for IpAddr {
    fn key_bytes(&self) -> Vec<u8> {
        address_key(*self).to_string().into_bytes()
    }
}

/// A key's window as stored.
#[derive(diesel::QueryableByName, Debug, Clone, Copy)]
struct Count {
    #[diesel(sql_type = Integer)]
    used: i32,
    #[diesel(sql_type = BigInt)]
    ends_at: i64,
}

/// One count taken by [`Window::take`], to give back when what was counted
/// turns out not to be what the limit counts (a right password, a known
/// token).
#[derive(Debug)]
pub struct Taken {
    key_hash: String,
    ends_at: i64,
}

/// One limit: `limit` counts per key in fixed windows of `length_ms`.
pub struct Window<K> {
    bucket: &'static str,
    limit: u32,
    length_ms: i64,
    store: Store,
    sealer: Sealer,
    key: PhantomData<fn(&K)>,
}

impl<K: LimitKey> Window<K> {
    /// The limit `bucket` (its name in `rate_limits`): `limit` per
    /// `length_ms`, 0 turning it off.
    pub(super) fn new(
        (bucket, limit, length_ms, store, sealer): (&'static str, u32, i64, Store, Sealer),
    ) -> Window<K> {
        Window {
            bucket,
            limit,
            length_ms,
            store,
            sealer,
            key: PhantomData,
        }
    }

    pub(super) fn bucket(&self) -> &'static str {
        self.bucket
    }

    pub(super) fn hash(&self, key: &K) -> String {
        self.sealer
            .fingerprint(&[self.bucket.as_bytes(), &key.key_bytes()])
    }

    fn off(&self) -> bool {
        self.limit == 0
    }

    /// 429 with the seconds left in the window that ends at `ends_at`.
    fn refused(&self, ends_at: i64, now: i64) -> DomainError {
        let left_ms = (ends_at - now).clamp(1, self.length_ms);
        DomainError::RateLimited {
            retry_after_secs: u64::try_from((left_ms + 999) / 1000).unwrap_or(1),
        }
    }

    fn judge_used(&self, count: Option<Count>, now: i64) -> DomainResult<()> {
        match count {
            Some(c) if c.ends_at > now && i64::from(c.used) >= i64::from(self.limit) => {
                Err(self.refused(c.ends_at, now))
            }
            _ => Ok(()),
        }
    }

    /// 429 when `key` has used up its window; counts nothing. On a
    /// connection of its own: never inside a transaction.
    pub fn check(&self, key: &K) -> DomainResult<()> {
        if self.off() {
            return Ok(());
        }
        let hash = self.hash(key);
        let count = self.store.read_one(|conn| load(conn, self.bucket, &hash))?;
        self.judge_used(count, now_ms())
    }

    /// As [`Window::check`], on `conn`, inside its transaction (a read: the
    /// transaction's fate changes nothing).
    pub fn check_on(&self, conn: &mut DbConn, key: &K) -> DomainResult<()> {
        if self.off() {
            return Ok(());
        }
        let count = load(conn, self.bucket, &self.hash(key))?;
        self.judge_used(count, now_ms())
    }

    /// Counts one for `key`; 429 (counting nothing) when its window is used
    /// up. On a connection of its own, committed at once: the count stands
    /// whatever the request does next.
    pub fn hit(&self, key: &K) -> DomainResult<()> {
        self.take(key).map(drop)
    }

    /// As [`Window::hit`], and what to give back should the call counted
    /// not be what the limit counts after all.
    pub fn take(&self, key: &K) -> DomainResult<Option<Taken>> {
        if self.off() {
            return Ok(None);
        }
        let hash = self.hash(key);
        let now = now_ms();
        let count = self
            .store
            .write(|conn| self.count(conn, &hash, now).map_err(DomainError::from))?;
        self.allowed(count, now)?;
        Ok(Some(Taken {
            key_hash: hash,
            ends_at: count.ends_at,
        }))
    }

    /// Counts one for `key` on `conn`, in its transaction: the count commits
    /// or rolls back with what it counts (an invite, a mail queued). 429
    /// when the window is used up.
    pub fn hit_on(&self, conn: &mut DbConn, key: &K) -> DomainResult<()> {
        if self.off() {
            return Ok(());
        }
        let now = now_ms();
        let count = self.count(conn, &self.hash(key), now)?;
        self.allowed(count, now)
    }

    /// As [`Window::hit_on`] for what is done whatever the limit says (a
    /// sign-up's own confirmation mail): counted, never refused.
    pub fn note_on(&self, conn: &mut DbConn, key: &K) -> DomainResult<()> {
        match self.hit_on(conn, key) {
            Err(DomainError::RateLimited { .. }) => Ok(()),
            other => other,
        }
    }

    /// Counts one for `key` once the request's work is done
    /// (`Limits::settle`): for a guess judged inside a transaction
    /// that its refusal rolls back, where the count must still stand and a
    /// second connection must not be taken.
    pub fn hit_after(&self, key: &K) {
        if !self.off() {
            let hash = self.hash(key);
            DEFERRED.with(|d| d.borrow_mut().push((self.bucket, hash)));
        }
    }

    /// Counts one for an already hashed key, on a connection of its own.
    pub(super) fn hit_hashed(&self, hash: &str) -> DomainResult<()> {
        let now = now_ms();
        let count = self
            .store
            .write(|conn| self.count(conn, hash, now).map_err(DomainError::from))?;
        self.allowed(count, now)
    }

    /// Gives back a count [`Window::take`] took. A failure only leaves the
    /// count standing, so it is logged, not returned.
    pub fn give_back(&self, taken: Option<Taken>) {
        let Some(taken) = taken else {
            return;
        };
        let limit = i32::try_from(self.limit).unwrap_or(i32::MAX);
        let given = self.store.write(|conn| {
            diesel::sql_query(GIVE_BACK)
                .into_boxed::<MultiBackend>()
                .bind::<Integer, _>(limit)
                .bind::<Text, _>(self.bucket)
                .bind::<Text, _>(&taken.key_hash)
                .bind::<BigInt, _>(taken.ends_at)
                .execute(conn)
                .map_err(|e| DomainError::from(classify(e)))
        });
        if let Err(e) = given {
            tracing::warn!(limit = self.bucket, error = %e, "rate limits: a count was not given back");
        }
    }

    fn allowed(&self, count: Count, now: i64) -> DomainResult<()> {
        if i64::from(count.used) > i64::from(self.limit) {
            return Err(self.refused(count.ends_at, now));
        }
        Ok(())
    }

    /// The one statement of a decision ([`COUNT`]).
    fn count(
        &self,
        conn: &mut DbConn,
        hash: &str,
        now: i64,
    ) -> Result<Count, crate::store::StoreError> {
        let limit = i32::try_from(self.limit).unwrap_or(i32::MAX - 1);
        let counted: Vec<Count> = diesel::sql_query(COUNT)
            .into_boxed::<MultiBackend>()
            .bind::<Text, _>(self.bucket)
            .bind::<Text, _>(hash)
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(self.length_ms)
            .bind::<Integer, _>(limit)
            .load(conn)
            .map_err(classify)?;
        counted
            .into_iter()
            .next()
            .ok_or_else(|| crate::store::StoreError::Query(diesel::result::Error::NotFound))
    }
}

fn load(
    conn: &mut DbConn,
    bucket: &str,
    hash: &str,
) -> Result<Option<Count>, crate::store::StoreError> {
    let found: Vec<Count> = diesel::sql_query(LOAD)
        .into_boxed::<MultiBackend>()
        .bind::<Text, _>(bucket)
        .bind::<Text, _>(hash)
        .load(conn)
        .map_err(classify)?;
    Ok(found.into_iter().next())
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::QueryDsl;
    use std::time::Duration;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("in a test");
        let path = dir.path().join("limits.sqlite3");
        let store = Store::open(&path.display().to_string(), 2, Duration::from_secs(5));
        store.migrate().expect("in a test");
        (dir, store)
    }

    fn window(store: &Store, limit: u32, length_ms: i64) -> Window<String> {
        let sealer = Sealer::new(b"a test secret", "rate limit keys");
        Window::new(("mails", limit, length_ms, store.clone(), sealer))
    }

    fn window_off(store: &Store) -> Window<String> {
        let sealer = Sealer::new(b"a test secret", "rate limit keys");
        Window::new(("mails", 0, 60_000, store.clone(), sealer))
    }

    fn retry_after(result: DomainResult<()>) -> u64 {
        match result {
            Err(DomainError::RateLimited { retry_after_secs }) => retry_after_secs,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_window_allows_its_limit_then_refuses_with_the_time_left() {
        let (_dir, store) = store();
        let window = window(&store, 3, 60_000);
        let a = "a@example.com".to_string();
        for _ in 0..3 {
            window.check(&a).expect("in a test");
            window.hit(&a).expect("in a test");
        }
        assert!((1..=60).contains(&retry_after(window.hit(&a))));
        assert!((1..=60).contains(&retry_after(window.check(&a))));
        window.hit(&"b@example.com".to_string()).expect("in a test");
        // The key rests as a keyed hash, never as the address.
        let hashes: Vec<String> = store
            .read_one(|conn| {
                crate::store::schema::rate_limits::table
                    .select(crate::store::schema::rate_limits::key_hash)
                    .load(conn)
                    .map_err(|e| DomainError::from(classify(e)))
            })
            .expect("in a test");
        assert_eq!(hashes.len(), 2);
        assert!(hashes.iter().all(|h| !h.contains('@') && h.len() == 64));
        let off = window_off(&store);
        for _ in 0..10 {
            off.hit(&a).expect("in a test");
        }
    }

    #[test]
    fn retry_after_is_what_is_left_of_the_keys_window() {
        let (_dir, store) = store();
        let window = window(&store, 1, 3_000);
        let a = "a@example.com".to_string();
        window.hit(&a).expect("in a test");
        std::thread::sleep(Duration::from_millis(1_200));
        // 1.8 s or a little less are left: not the whole window of 3 s.
        assert!((1..=2).contains(&retry_after(window.hit(&a))));
    }

    #[test]
    fn windows_end_and_start_over() {
        let (_dir, store) = store();
        let window = window(&store, 1, 300);
        let a = "a@example.com".to_string();
        window.hit(&a).expect("in a test");
        assert_eq!(retry_after(window.hit(&a)), 1);
        std::thread::sleep(Duration::from_millis(350));
        window.check(&a).expect("in a test");
        window.hit(&a).expect("in a test");
        assert!(window.hit(&a).is_err());
    }

    #[test]
    fn a_count_given_back_frees_its_place_once() {
        let (_dir, store) = store();
        let window = window(&store, 2, 60_000);
        let a = "a@example.com".to_string();
        let first = window.take(&a).expect("in a test");
        window.take(&a).expect("in a test");
        // Refused calls push the count past the limit; a count given back
        // still frees exactly one place.
        assert!(window.take(&a).is_err());
        assert!(window.take(&a).is_err());
        window.give_back(first);
        window.take(&a).expect("in a test");
        assert!(window.take(&a).is_err());
    }

    #[test]
    fn a_count_in_a_transaction_goes_with_it() {
        let (_dir, store) = store();
        let window = window(&store, 1, 60_000);
        let a = "a@example.com".to_string();
        let rolled_back: DomainResult<()> = store.write(|conn| {
            window.hit_on(conn, &a)?;
            Err(DomainError::not_found("rolled back"))
        });
        assert!(rolled_back.is_err());
        store
            .write(|conn| window.hit_on(conn, &a))
            .expect("in a test");
        assert!(store.write(|conn| window.hit_on(conn, &a)).is_err());
        store
            .write(|conn| window.note_on(conn, &a))
            .expect("in a test");
    }
}
