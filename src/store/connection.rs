//! The one connection type over both backends, and the store's errors.

use diesel::pg::PgConnection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;

/// One connection type over both backends; queries are written once.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached; nothing was done.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A lock was not granted in time (PostgreSQL's `lock_timeout`, SQLite's
    /// busy timeout), or the database gave up the transaction for a
    /// deadlock or a serialization failure; it was rolled back, so nothing
    /// was done, and the same call may succeed in a moment.
    #[error("database contended: {0}")]
    Contended(String),
    /// A query failed for another reason (a bug or a broken invariant).
    #[error("database error: {0}")]
    Query(DieselError),
}

/// Every Diesel error is sorted by [`classify`], also through `?`.
impl From<DieselError> for StoreError {
    fn from(err: DieselError) -> StoreError {
        classify(err)
    }
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

/// Diesel errors that mean the server is gone, or that a lock was not had in
/// time, not that the query was wrong.
pub fn classify(err: DieselError) -> StoreError {
    match &err {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info)
        | DieselError::DatabaseError(DatabaseErrorKind::UnableToSendCommand, info) => {
            StoreError::Unavailable(info.message().to_string())
        }
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, info) => {
            StoreError::Contended(info.message().to_string())
        }
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
            if is_lock_wait(info.message()) =>
        {
            StoreError::Contended(info.message().to_string())
        }
        _ => StoreError::Query(err),
    }
}

/// True for the messages of a lock not had in time.
///
/// By SQLSTATE this would be 55P03 (`lock_not_available`: `lock_timeout`,
/// or `NOWAIT`) and 40P01 (`deadlock_detected`), but Diesel 2.3 maps only a
/// few SQLSTATEs to a [`DatabaseErrorKind`] (40001 becomes
/// `SerializationFailure`, matched above; these two become `Unknown`) and
/// does not expose the code itself: its `DatabaseErrorInformation` has the
/// message, detail, hint, table, column, constraint and position, and
/// libpq's result is private. So the primary message is matched, as
/// PostgreSQL words it in English (its default `lc_messages`; only a
/// superuser may change that per session, so a server set to another
/// language would answer 500 here, not hang). SQLite's messages are
/// fixed: `database is locked` (SQLITE_BUSY, the busy timeout passed) and
/// `database table is locked` (SQLITE_LOCKED).
fn is_lock_wait(message: &str) -> bool {
    const LOCK_WAITS: [&str; 5] = [
        "canceling statement due to lock timeout",
        "could not obtain lock",
        "deadlock detected",
        "database is locked",
        "database table is locked",
    ];
    LOCK_WAITS.iter().any(|wait| message.contains(wait))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn unknown(message: &str) -> DieselError {
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, Box::new(message.to_string()))
    }

    #[test]
    fn lock_waits_are_contended_and_other_errors_are_not() {
        for message in [
            "canceling statement due to lock timeout",
            "deadlock detected",
            "could not obtain lock on row in relation \"invites\"",
            "database is locked",
        ] {
            assert!(
                matches!(classify(unknown(message)), StoreError::Contended(_)),
                "{message}"
            );
        }
        assert!(matches!(
            classify(unknown("syntax error at or near \"SELEC\"")),
            StoreError::Query(_)
        ));
        let serialization = DieselError::DatabaseError(
            DatabaseErrorKind::SerializationFailure,
            Box::new("could not serialize access".to_string()),
        );
        assert!(matches!(classify(serialization), StoreError::Contended(_)));
    }
}
