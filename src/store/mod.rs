//! Storage: one Diesel connection type over SQLite and PostgreSQL
//! (`connection.rs`, with the store's errors), the pool (`pool.rs` its
//! connections, `target.rs` which database a URL names), migrations, the
//! transaction helpers every domain function goes through
//! (`transactions.rs`), the loads and locks of the rows rules start from
//! (`lookups.rs`: `conn.user(id)`, `conn.lock_organization(id)`, …), the
//! tokens of emailed links, found across organizations (`link_tokens.rs`),
//! and the commit hook that wakes the outboxes' senders (`outbox.rs`). `store`
//! knows tables, not rules.

mod connection;
pub mod json_lists;
pub mod kinds;
pub mod link_tokens;
pub mod lookups;
mod outbox;
mod pool;
pub mod rows;
pub mod schema;
mod target;
mod transactions;

// `DbConn` and what its derive makes beside it (`MultiBackend`, …).
pub use connection::*;
pub use lookups::{LookupError, Lookups};
pub use outbox::{filled, Outbox};
pub use pool::{Conn, Manager, TrackedConn};
pub use target::Target;
pub use transactions::{execute, load};
use transactions::{read_snapshot, run_in_transaction, sqlite_transaction, BEGIN_IMMEDIATE};

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::Pool;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A statement's longest wait for a lock unless set (`COLLABD_LOCK_TIMEOUT_MS`).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// A read on an HTTP worker waits at most this long for a lock (a
/// migration's, another process's table lock): past it the read moves to the
/// blocking pool, which waits the full `lock_timeout`, so a lock held
/// elsewhere never stalls a worker and every request it serves.
pub const INLINE_LOCK_WAIT: Duration = Duration::from_millis(50);

thread_local! {
    /// Set while reads run on an HTTP worker ([`Store::inline`]): there a
    /// checkout takes an idle connection or fails, and never waits.
    static INLINE: Cell<bool> = const { Cell::new(false) };
}

/// The pool and the rules for using it.
#[derive(Clone)]
pub struct Store {
    pool: Pool<Manager>,
    /// SQLite allows one writer; serializing writers in the process means a
    /// transaction that reads then writes never meets `SQLITE_BUSY` on upgrade.
    sqlite_writer: Option<Arc<Mutex<()>>>,
    /// True when the database answers from this machine, so that a read may
    /// wait on it in place ([`Store::reads_inline`]).
    local: bool,
    /// One permit per pooled connection: the fair queue of [`Store::turn`].
    turns: Arc<tokio::sync::Semaphore>,
    /// Counts the times a query found the database unreachable. Connections
    /// older than the last outage are tested once before they are used again;
    /// otherwise checkouts cost no extra round trip.
    outages: Arc<AtomicU64>,
    /// One per outbox ([`Outbox::ALL`]), notified when a committed
    /// transaction queued rows in it.
    wakeups: [Arc<tokio::sync::Notify>; 2],
    /// How long a statement waits for a lock (`COLLABD_LOCK_TIMEOUT_MS`).
    lock_timeout: Duration,
}

impl Store {
    /// Opens the pool without connecting; connections are made on first use.
    /// (`collabd::start` then migrates, so a server needs its database at
    /// start; once running, an outage answers 503 until the database is back.)
    pub fn open(url: &str, pool_size: u32, connect_timeout: Duration) -> Store {
        Store::open_with(url, pool_size, connect_timeout, DEFAULT_LOCK_TIMEOUT)
    }

    /// As [`Store::open`], with every statement's lock wait bounded by
    /// `lock_timeout` (`COLLABD_LOCK_TIMEOUT_MS`).
    pub fn open_with(
        url: &str,
        pool_size: u32,
        connect_timeout: Duration,
        lock_timeout: Duration,
    ) -> Store {
        let target = Target::parse(url);
        let is_sqlite = matches!(target, Target::Sqlite(_));
        let local = target.is_local();
        let outages = Arc::new(AtomicU64::new(0));
        let pool = Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(connect_timeout)
            .test_on_check_out(false)
            .build_unchecked(Manager {
                target,
                outages: outages.clone(),
                lock_timeout,
            });
        Store {
            turns: Arc::new(tokio::sync::Semaphore::new(pool.max_size() as usize)),
            pool,
            sqlite_writer: is_sqlite.then(|| Arc::new(Mutex::new(()))),
            local,
            outages,
            wakeups: Default::default(),
            lock_timeout,
        }
    }

    /// What the sender of `outbox` waits on between rounds: notified once a
    /// transaction that queued rows there has committed.
    pub fn wakeup(&self, outbox: Outbox) -> Arc<tokio::sync::Notify> {
        self.wakeups[outbox.index()].clone()
    }

    /// Waits, first come first served, until fewer tasks than the pool has
    /// connections hold a turn, and holds one until the guard drops. Work
    /// run on the blocking pool takes a turn first, so it finds a connection
    /// (or, on SQLite, the writer's lock) with at most as many rivals as
    /// there are connections.
    pub async fn turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        // The semaphore is never closed; `None` would only mean no queue.
        self.turns.clone().acquire_owned().await.ok()
    }

    /// A pooled connection, or `Unavailable` when none can be had in time.
    pub fn conn(&self) -> Result<Conn, StoreError> {
        let outages = self.outages.load(Ordering::Acquire);
        for _ in 0..=self.pool.max_size() {
            let mut conn = if INLINE.get() {
                self.pool.try_get().map(Conn).ok_or_else(|| {
                    StoreError::Unavailable("no idle connection for an inline read".into())
                })?
            } else {
                self.pool
                    .get()
                    .map(Conn)
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?
            };
            if conn.0.checked_at_outage >= outages {
                return self.fit_lock_wait(conn);
            }
            if conn.batch_execute("SELECT 1").is_ok() {
                conn.0.checked_at_outage = outages;
                return self.fit_lock_wait(conn);
            }
            conn.mark_broken();
        }
        Err(StoreError::Unavailable(
            "no working database connection".into(),
        ))
    }

    /// Gives a checked-out connection the lock wait of where it is used: short
    /// on an HTTP worker ([`INLINE_LOCK_WAIT`]), `lock_timeout` elsewhere. A
    /// statement is spent only when the connection last served the other
    /// kind of use.
    fn fit_lock_wait(&self, mut conn: Conn) -> Result<Conn, StoreError> {
        let wait = if INLINE.get() {
            INLINE_LOCK_WAIT.min(self.lock_timeout)
        } else {
            self.lock_timeout
        };
        if conn.0.lock_wait != wait {
            if let Err(e) = pool::set_lock_wait(&mut conn.0.conn, wait) {
                conn.mark_broken();
                return Err(connection::classify(e));
            }
            conn.0.lock_wait = wait;
        }
        Ok(conn)
    }

    /// Drops a connection that found the database unreachable, and has the
    /// others tested before their next use.
    fn forget(&self, conn: &mut Conn) {
        conn.mark_broken();
        self.outages.fetch_add(1, Ordering::AcqRel);
    }

    /// Applies pending migrations for this backend. On PostgreSQL an advisory
    /// lock keeps several processes starting at once from racing.
    pub fn migrate(&self) -> Result<usize, String> {
        let mut conn = self.conn().map_err(|e| e.to_string())?;
        if matches!(*conn, DbConn::Pg(_)) {
            // A migration waits for its locks as long as it must (the pool's
            // connections give up after `lock_timeout`); the connection is
            // not reused with that setting.
            conn.mark_broken();
        }
        let applied = match &mut *conn {
            DbConn::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| e.to_string())?
                .len(),
            DbConn::Pg(c) => {
                c.batch_execute("SET lock_timeout = 0; SELECT pg_advisory_lock(7461626)")
                    .map_err(|e| e.to_string())?;
                let result = c
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|v| v.len())
                    .map_err(|e| e.to_string());
                let unlocked = c.batch_execute("SELECT pg_advisory_unlock(7461626)");
                if let Err(e) = unlocked {
                    // Never hand back a connection that may still hold the lock.
                    self.forget(&mut conn);
                    return Err(e.to_string());
                }
                result?
            }
        };
        Ok(applied)
    }

    /// Runs reads. On SQLite they share one transaction, a consistent
    /// snapshot at no cost; on PostgreSQL (READ COMMITTED, where a transaction
    /// would not give one snapshot anyway) they run without one, saving two
    /// round trips per request.
    ///
    /// A read that meets a dead connection (the database restarted since it
    /// was opened) is tried once more on a tested one: reads change nothing,
    /// so the retry is safe, and the caller never sees the stale connection.
    pub fn read<T, E>(&self, f: impl Fn(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError> + Unavailability,
    {
        self.read_one(|conn| match conn {
            DbConn::Sqlite(_) => read_snapshot(conn, &f),
            DbConn::Pg(_) => f(conn),
        })
    }

    /// Runs one statement that reads: as [`Store::read`], without the
    /// transaction, since a lone statement reads one snapshot anyway (this is
    /// the bearer-token check of every request, so two statements fewer each).
    pub fn read_one<T, E>(&self, f: impl Fn(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError> + Unavailability,
    {
        let mut conn = self.conn()?;
        match f(&mut conn) {
            Err(e) if e.is_unavailable() => {
                self.forget(&mut conn);
                drop(conn);
                let mut conn = self.conn()?;
                let result = f(&mut conn);
                self.forget_if_unreachable(&mut conn, result)
            }
            other => other,
        }
    }

    /// Runs `f` in a write transaction. Writers are serialized on SQLite; on
    /// PostgreSQL, rules that read before they write lock their rows with
    /// [`Lookups::lock_organization`]. When it commits, the senders of the
    /// outboxes it [`filled`] are woken.
    pub fn write<T, E>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError> + Unavailability,
    {
        debug_assert!(!INLINE.get(), "a write ran on an HTTP worker");
        // The writer lock comes before the connection: writers queueing for
        // SQLite's one write slot must not hold pooled connections that
        // readers need meanwhile.
        let _guard = self
            .sqlite_writer
            .as_ref()
            .map(|lock| lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        let mut conn = self.conn()?;
        outbox::forget_filled();
        let result = match &mut *conn {
            // BEGIN IMMEDIATE takes SQLite's write lock first, waiting for it
            // as busy_timeout says, whereas upgrading a read snapshot that
            // another process has outdated fails at once.
            DbConn::Sqlite(_) => sqlite_transaction::<BEGIN_IMMEDIATE, _, _>(&mut conn, f),
            DbConn::Pg(_) => run_in_transaction(&mut conn, f),
        };
        let filled = outbox::take_filled();
        if result.is_ok() {
            for outbox in filled {
                self.wakeups[outbox.index()].notify_one();
            }
        }
        self.forget_if_unreachable(&mut conn, result)
    }

    /// True when reads may run on the calling thread rather than the
    /// blocking pool: the database answers from this machine (an SQLite file
    /// in WAL mode, whose reads never wait on a writer, or PostgreSQL on a
    /// Unix socket or loopback, where a read's round trip costs less than the
    /// two thread hand-offs of the blocking pool), and a connection is idle.
    pub fn reads_inline(&self) -> bool {
        self.local && self.pool.state().idle_connections > 0
    }

    /// Runs `f` on this thread with every checkout made without waiting: an
    /// idle connection or, at once, `Unavailable` (the caller then moves the
    /// work to the blocking pool). A connection is never opened here.
    pub fn inline<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Reset(bool);
        impl Drop for Reset {
            fn drop(&mut self) {
                INLINE.set(self.0);
            }
        }
        let _reset = Reset(INLINE.replace(true));
        f()
    }

    /// True when a connection can be had and answers a query.
    pub fn ping(&self) -> bool {
        match self.conn() {
            Ok(mut conn) => {
                let alive = conn.batch_execute("SELECT 1").is_ok();
                if !alive {
                    self.forget(&mut conn);
                }
                alive
            }
            Err(_) => false,
        }
    }

    fn forget_if_unreachable<T, E: Unavailability>(
        &self,
        conn: &mut Conn,
        result: Result<T, E>,
    ) -> Result<T, E> {
        if let Err(e) = &result {
            if e.is_unavailable() {
                self.forget(conn);
            }
        }
        result
    }

    /// Counts of the pool's connections: (open, idle).
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }
}
