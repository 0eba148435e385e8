//! Storage: one Diesel connection type over SQLite and PostgreSQL, the pool,
//! migrations and the transaction helpers every domain function goes through.
//! `store` knows tables, not rules.

pub mod kinds;
pub mod rows;
pub mod schema;

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection type over both backends; queries are written once.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Which database a URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Postgres(String),
    Sqlite(String),
}

impl Target {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; `sqlite://path`,
    /// `sqlite:path` or a bare path is an SQLite file.
    pub fn parse(url: &str) -> Target {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Target::Postgres(url.to_string());
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        Target::Sqlite(path.to_string())
    }

    /// True when the database answers from this machine: an SQLite file, or
    /// PostgreSQL over a Unix socket or a loopback address. Anything this
    /// cannot tell for sure (a URL it cannot read, several hosts of which one
    /// is remote) counts as remote.
    pub fn is_local(&self) -> bool {
        let url = match self {
            Target::Sqlite(_) => return true,
            Target::Postgres(url) => url,
        };
        let Ok(parsed) = url::Url::parse(url) else {
            return false;
        };
        // libpq's `host` and `hostaddr` parameters win over the URL's host,
        // and each may list several, comma-separated.
        let mut hosts: Vec<String> = parsed
            .query_pairs()
            .filter(|(key, _)| key == "host" || key == "hostaddr")
            .flat_map(|(_, value)| {
                value
                    .split(',')
                    .map(|h| h.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        if hosts.is_empty() {
            match parsed.host_str().filter(|h| !h.is_empty()) {
                Some(host) => hosts.push(host.to_string()),
                // No host at all: libpq takes PGHOST, else its Unix socket.
                None => hosts.extend(std::env::var("PGHOST").ok()),
            }
        }
        hosts.iter().all(|host| is_local_host(host))
    }
}

/// A Unix socket directory (or Linux's abstract namespace), `localhost`, or a
/// loopback address.
fn is_local_host(host: &str) -> bool {
    if host.is_empty() || host.starts_with('/') || host.starts_with('@') {
        return true;
    }
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

thread_local! {
    /// Set while reads run on an HTTP worker ([`Store::inline`]): there a
    /// checkout takes an idle connection or fails, and never waits.
    static INLINE: Cell<bool> = const { Cell::new(false) };
    /// Set when the running write transaction queued webhook deliveries
    /// ([`deliveries_queued`]); once it commits, the sender is woken.
    static DELIVERIES_QUEUED: Cell<bool> = const { Cell::new(false) };
}

/// Notes that the running write transaction queued webhook deliveries: the
/// webhook sender is woken when it commits (and not if it rolls back).
pub fn deliveries_queued() {
    DELIVERIES_QUEUED.set(true);
}

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached; nothing was done.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed for another reason (a bug or a broken invariant).
    #[error("database error: {0}")]
    Query(#[from] DieselError),
}

impl StoreError {
    /// True when the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StoreError::Query(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

/// Diesel errors that mean the server is gone, not that the query was wrong.
pub fn classify(err: DieselError) -> StoreError {
    match &err {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info)
        | DieselError::DatabaseError(DatabaseErrorKind::UnableToSendCommand, info) => {
            StoreError::Unavailable(info.message().to_string())
        }
        _ => StoreError::Query(err),
    }
}

/// Opens connections by the URL's scheme, never by trial: a PostgreSQL URL must
/// never fall back to creating an SQLite file of that name.
pub struct Manager {
    target: Target,
    outages: Arc<AtomicU64>,
}

/// A pooled connection and whether a query on it found the server gone, so
/// the pool replaces it instead of handing it out again.
pub struct TrackedConn {
    conn: DbConn,
    broken: bool,
    /// The outage count when this connection last proved itself alive.
    checked_at_outage: u64,
}

impl ManageConnection for Manager {
    type Connection = TrackedConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<TrackedConn, Self::Error> {
        let conn = match &self.target {
            Target::Postgres(url) => DbConn::Pg(PgConnection::establish(url)?),
            Target::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)?;
                // WAL lets readers run beside the writer; busy_timeout covers
                // other processes (a `collabd migrate` next to a server).
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
                DbConn::Sqlite(conn)
            }
        };
        Ok(TrackedConn {
            conn,
            broken: false,
            checked_at_outage: self.outages.load(Ordering::Acquire),
        })
    }

    fn is_valid(&self, conn: &mut TrackedConn) -> Result<(), Self::Error> {
        conn.conn
            .batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut TrackedConn) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.broken || conn.conn.is_broken()
    }
}

/// Errors that can say whether the database was unreachable.
pub trait Unavailability {
    fn is_unavailable(&self) -> bool;
}

impl Unavailability for StoreError {
    fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// A connection checked out of the pool; it derefs to [`DbConn`].
pub struct Conn(PooledConnection<Manager>);

impl Conn {
    /// Makes the pool drop this connection instead of reusing it.
    fn mark_broken(&mut self) {
        self.0.broken = true;
    }
}

impl std::ops::Deref for Conn {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.0.conn
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.0.conn
    }
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
    /// Notified when a committed transaction queued webhook deliveries.
    webhook_wakeup: Arc<tokio::sync::Notify>,
}

impl Store {
    /// Opens the pool without connecting; connections are made on first use.
    /// (`collabd::start` then migrates, so a server needs its database at
    /// start; once running, an outage answers 503 until the database is back.)
    pub fn open(url: &str, pool_size: u32, connect_timeout: Duration) -> Store {
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
            });
        Store {
            turns: Arc::new(tokio::sync::Semaphore::new(pool.max_size() as usize)),
            pool,
            sqlite_writer: is_sqlite.then(|| Arc::new(Mutex::new(()))),
            local,
            outages,
            webhook_wakeup: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// What the webhook sender waits on between rounds.
    pub fn webhook_wakeup(&self) -> Arc<tokio::sync::Notify> {
        self.webhook_wakeup.clone()
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
                return Ok(conn);
            }
            if conn.batch_execute("SELECT 1").is_ok() {
                conn.0.checked_at_outage = outages;
                return Ok(conn);
            }
            conn.mark_broken();
        }
        Err(StoreError::Unavailable(
            "no working database connection".into(),
        ))
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
        let applied = match &mut *conn {
            DbConn::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| e.to_string())?
                .len(),
            DbConn::Pg(c) => {
                c.batch_execute("SELECT pg_advisory_lock(7461626)")
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
    /// [`lock_organization`].
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
        DELIVERIES_QUEUED.set(false);
        let result = match &mut *conn {
            // BEGIN IMMEDIATE takes SQLite's write lock first, waiting for it
            // as busy_timeout says, whereas upgrading a read snapshot that
            // another process has outdated fails at once.
            DbConn::Sqlite(_) => sqlite_transaction::<BEGIN_IMMEDIATE, _, _>(&mut conn, f),
            DbConn::Pg(_) => run_in_transaction(&mut conn, f),
        };
        if DELIVERIES_QUEUED.replace(false) && result.is_ok() {
            self.webhook_wakeup.notify_one();
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

/// A statement without parameters that each connection prepares once:
/// `BEGIN` and `COMMIT` of every read on SQLite, which `batch_execute` would
/// parse again each time.
struct Fixed<const STATEMENT: u8>;

impl<const STATEMENT: u8> diesel::query_builder::QueryId for Fixed<STATEMENT> {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

const BEGIN: u8 = 0;
const COMMIT: u8 = 1;
const ROLLBACK: u8 = 2;
const BEGIN_IMMEDIATE: u8 = 3;

impl<const STATEMENT: u8> diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>
    for Fixed<STATEMENT>
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> diesel::QueryResult<()> {
        out.push_sql(match STATEMENT {
            BEGIN => "BEGIN",
            BEGIN_IMMEDIATE => "BEGIN IMMEDIATE",
            COMMIT => "COMMIT",
            _ => "ROLLBACK",
        });
        Ok(())
    }
}

impl<const STATEMENT: u8, C> RunQueryDsl<C> for Fixed<STATEMENT> {}

fn fixed<const STATEMENT: u8>(conn: &mut DbConn) -> Result<(), StoreError> {
    match conn {
        DbConn::Sqlite(c) => Fixed::<STATEMENT>.execute(c).map(drop).map_err(classify),
        DbConn::Pg(_) => Ok(()),
    }
}

/// Runs reads on SQLite in one read transaction: one consistent snapshot.
/// A read transaction changes nothing, so it ends with COMMIT whatever `f`
/// returned.
fn read_snapshot<T, E>(conn: &mut DbConn, f: impl Fn(&mut DbConn) -> Result<T, E>) -> Result<T, E>
where
    E: From<StoreError>,
{
    let mut result = None;
    let done = sqlite_transaction::<BEGIN, _, E>(conn, |conn| {
        result = Some(f(conn));
        Ok(())
    });
    match (done, result) {
        (Ok(()), Some(result)) => result,
        (Err(e), _) => Err(e),
        (Ok(()), None) => unreachable!("the transaction ran its body"),
    }
}

/// Runs `f` in an SQLite transaction opened by `BEGIN` (`OPEN`): committed
/// when `f` succeeds, rolled back when it fails. If `f` panics, the
/// transaction is rolled back before the panic goes on, so the connection
/// never returns to the pool inside one.
fn sqlite_transaction<const OPEN: u8, T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StoreError>,
{
    fixed::<OPEN>(conn)?;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)));
    match result {
        Ok(Ok(value)) => match fixed::<COMMIT>(conn) {
            Ok(()) => Ok(value),
            Err(e) => {
                let _ = fixed::<ROLLBACK>(conn);
                Err(e.into())
            }
        },
        Ok(Err(e)) => {
            fixed::<ROLLBACK>(conn)?;
            Err(e)
        }
        Err(panic) => {
            let _ = fixed::<ROLLBACK>(conn);
            std::panic::resume_unwind(panic)
        }
    }
}

fn run_in_transaction<T, E>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<StoreError>,
{
    let mut inner: Option<E> = None;
    let result = conn.transaction::<T, DieselError, _>(|conn| {
        f(conn).map_err(|e| {
            inner = Some(e);
            DieselError::RollbackTransaction
        })
    });
    match result {
        Ok(value) => Ok(value),
        Err(err) => match inner {
            Some(e) => Err(e),
            None => Err(E::from(classify(err))),
        },
    }
}

/// Runs an insert, update or delete straight on the backend's own
/// connection. Through the multi-backend wrapper Diesel writes a
/// statement's SQL out again on every call before finding it prepared
/// (about a tenth of a request's CPU); on the inner connection a statement
/// of fixed shape is found by its type. For the statements every invite
/// runs.
pub fn execute<Q>(conn: &mut DbConn, statement: Q) -> diesel::QueryResult<usize>
where
    Q: diesel::query_dsl::methods::ExecuteDsl<PgConnection>
        + diesel::query_dsl::methods::ExecuteDsl<SqliteConnection>,
{
    use diesel::query_dsl::methods::ExecuteDsl;
    match conn {
        DbConn::Pg(c) => ExecuteDsl::<PgConnection>::execute(statement, c),
        DbConn::Sqlite(c) => ExecuteDsl::<SqliteConnection>::execute(statement, c),
    }
}

/// Runs a query straight on the backend's own connection, as [`execute`]
/// does for writes: for the reads every audit event runs.
pub fn load<'query, Q, U>(conn: &mut DbConn, query: Q) -> diesel::QueryResult<Vec<U>>
where
    Q: RunQueryDsl<PgConnection>
        + RunQueryDsl<SqliteConnection>
        + diesel::query_dsl::LoadQuery<'query, PgConnection, U>
        + diesel::query_dsl::LoadQuery<'query, SqliteConnection, U>,
{
    match conn {
        DbConn::Pg(c) => RunQueryDsl::<PgConnection>::load(query, c),
        DbConn::Sqlite(c) => RunQueryDsl::<SqliteConnection>::load(query, c),
    }
}

/// Locks an organization's row until the transaction ends, so that rules which
/// count members (the last owner) see every concurrent change. SQLite already
/// runs one writer at a time.
pub fn lock_organization(conn: &mut DbConn, organization_id: &str) -> Result<(), StoreError> {
    lock_row(
        conn,
        "SELECT id FROM organizations WHERE id = $1 FOR UPDATE",
        organization_id,
    )
}

/// Holds an organization's row against changes until the transaction ends,
/// while letting other holders in: writes that only depend on members' roles
/// (invites) run side by side, and wait only for role changes, which take
/// [`lock_organization`].
pub fn share_organization(conn: &mut DbConn, organization_id: &str) -> Result<(), StoreError> {
    lock_row(
        conn,
        "SELECT id FROM organizations WHERE id = $1 FOR SHARE",
        organization_id,
    )
}

/// Locks a user's row until the transaction ends (per-user limits).
pub fn lock_user(conn: &mut DbConn, user_id: &str) -> Result<(), StoreError> {
    lock_row(
        conn,
        "SELECT id FROM users WHERE id = $1 FOR UPDATE",
        user_id,
    )
}

fn lock_row(conn: &mut DbConn, statement: &'static str, id: &str) -> Result<(), StoreError> {
    if let DbConn::Pg(_) = conn {
        diesel::sql_query(statement)
            .bind::<diesel::sql_types::Text, _>(id)
            .execute(conn)
            .map_err(classify)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn only_a_database_on_this_machine_counts_as_local() {
        let local = [
            "sqlite://collabd.db",
            "collabd.db",
            "postgres://postgres@127.0.0.1:5432/test",
            "postgresql://u:p@localhost/db",
            "postgres://[::1]:5432/db",
            "postgres:///db?host=/var/run/postgresql",
            "postgres://db.example.com/db?host=127.0.0.1",
        ];
        for url in local {
            assert!(Target::parse(url).is_local(), "{url} is local");
        }
        let remote = [
            "postgres://postgres@db.example.com:5432/test",
            "postgres://10.0.0.5/db",
            "postgres://127.0.0.1/db?host=127.0.0.1,db.example.com",
            "postgres://localhost/db?hostaddr=192.0.2.1",
            "postgres://%zz/db",
        ];
        for url in remote {
            assert!(!Target::parse(url).is_local(), "{url} is not local");
        }
    }
}
