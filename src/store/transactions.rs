//! Transactions on both backends, and statements run straight on the
//! backend's own connection.
//!
//! A transaction whose statement waited too long for a lock, or that the
//! database ended for a deadlock or a serialization failure, is rolled back
//! and reported as `StoreError::Contended` (503 with `Retry-After`); it is
//! not run again here. Its body is `FnOnce` and may have moved what it
//! wrote (a new session's row, a password's hash), so it cannot safely run
//! twice, and a retry after a lock timeout would double the wait the
//! timeout bounds; the client retries, and an `Idempotency-Key` keeps no
//! 503, so its retry runs afresh. collabd's transactions run at READ
//! COMMITTED, where PostgreSQL raises no serialization failure, and take
//! their locks in one order (organization, then rows), so deadlocks are
//! not expected either.

use diesel::pg::PgConnection;
use diesel::result::Error as DieselError;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};

use super::connection::{classify, DbConn, StoreError};

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
pub(super) const BEGIN_IMMEDIATE: u8 = 3;

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
pub(super) fn read_snapshot<T, E>(
    conn: &mut DbConn,
    f: impl Fn(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
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
pub(super) fn sqlite_transaction<const OPEN: u8, T, E>(
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

pub(super) fn run_in_transaction<T, E>(
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
