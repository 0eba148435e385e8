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

/// Errors that can say whether the database was unreachable.
pub trait Unavailability {
    fn is_unavailable(&self) -> bool;
}

impl Unavailability for StoreError {
    fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
