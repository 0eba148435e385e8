//! The pool's connections: opened by the URL's scheme, each bounding its
//! lock waits, and dropped once a query finds the database gone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use super::connection::DbConn;
use super::target::Target;

/// Opens connections by the URL's scheme, never by trial: a PostgreSQL URL must
/// never fall back to creating an SQLite file of that name.
pub struct Manager {
    pub(super) target: Target,
    pub(super) outages: Arc<AtomicU64>,
    /// How long a statement may wait for a lock (`COLLABD_LOCK_TIMEOUT_MS`).
    pub(super) lock_timeout: Duration,
}

/// A pooled connection and whether a query on it found the server gone, so
/// the pool replaces it instead of handing it out again.
pub struct TrackedConn {
    pub(super) conn: DbConn,
    pub(super) broken: bool,
    /// The outage count when this connection last proved itself alive.
    pub(super) checked_at_outage: u64,
    /// How long its statements wait for a lock now: the store's
    /// `lock_timeout`, or a short wait while it serves a read on an HTTP
    /// worker ([`super::Store::conn`] sets it for each checkout).
    pub(super) lock_wait: Duration,
}

impl ManageConnection for Manager {
    type Connection = TrackedConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<TrackedConn, Self::Error> {
        let lock_ms = self.lock_timeout.as_millis().max(1);
        let conn = match &self.target {
            Target::Postgres(url) => {
                let mut conn = PgConnection::establish(url)?;
                // Every statement, reads included, waits at most this long
                // for a lock (another process's transaction, a migration's
                // ALTER): past it PostgreSQL cancels the statement and the
                // request answers 503 (`StoreError::Contended`).
                conn.batch_execute(&format!("SET lock_timeout = {lock_ms}"))
                    .map_err(diesel::r2d2::Error::QueryError)?;
                DbConn::Pg(conn)
            }
            Target::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)?;
                // WAL lets readers run beside the writer; busy_timeout covers
                // other processes (a `collabd migrate` next to a server), and
                // past it SQLite answers SQLITE_BUSY: 503, as on PostgreSQL.
                conn.batch_execute(&format!(
                    "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = {lock_ms}; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
                ))
                .map_err(diesel::r2d2::Error::QueryError)?;
                DbConn::Sqlite(conn)
            }
        };
        Ok(TrackedConn {
            conn,
            broken: false,
            checked_at_outage: self.outages.load(Ordering::Acquire),
            lock_wait: self.lock_timeout,
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

/// Sets how long `conn`'s statements wait for a lock before giving up.
pub(super) fn set_lock_wait(conn: &mut DbConn, wait: Duration) -> diesel::QueryResult<()> {
    let ms = wait.as_millis().max(1);
    match conn {
        DbConn::Pg(c) => c.batch_execute(&format!("SET lock_timeout = {ms}")),
        DbConn::Sqlite(c) => c.batch_execute(&format!("PRAGMA busy_timeout = {ms}")),
    }
}

/// A connection checked out of the pool; it derefs to [`DbConn`].
pub struct Conn(pub(super) PooledConnection<Manager>);

impl Conn {
    /// Makes the pool drop this connection instead of reusing it.
    pub(super) fn mark_broken(&mut self) {
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
