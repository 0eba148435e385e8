//! Idempotency keys (API.md §1 "Retries"): the first answer to a caller's key
//! is kept for 24 hours in the database, so it holds across processes and
//! restarts. The first request claims the key (a row without a status);
//! a repeat meanwhile is told it is in progress; once answered, repeats with
//! the same request get the kept answer and change nothing; another request
//! under the same key is refused. Answers of 500 and 503 are not kept. A kept
//! answer may hold a session token (`user/login`), so it rests sealed.

use diesel::prelude::*;

use super::{ConflictReason, DomainError, DomainResult, MS_PER_HOUR};
use crate::secrets::Sealer;
use crate::store::schema::idempotency_keys;
use crate::store::{DbConn, Store};

/// The purpose the kept answers' sealing key is derived for.
pub const SEALING_PURPOSE: &str = "collabd idempotency v1";

/// How long an unanswered claim holds its key: a process that died while
/// running the request leaves one, and a retry after this runs again.
pub const CLAIM_MS: i64 = 60_000;

/// How long a key's answer is kept.
pub const KEPT_MS: i64 = 24 * MS_PER_HOUR;

/// What to do with a request that carries a key.
#[derive(Debug, PartialEq, Eq)]
pub enum Begin {
    /// The key is now this request's: run it, then [`finish`] or [`abandon`].
    Run,
    /// The kept answer: status and body.
    Replay(u16, String),
}

/// Claims `key` for `caller`'s request whose fingerprints are
/// `request_hashes` (the current secret's first, then those of previous
/// secrets while one is rotated), or says how it was already used.
pub fn begin(
    store: &Store,
    sealer: &Sealer,
    caller: &str,
    key: &str,
    request_hashes: &[String],
    now: i64,
) -> DomainResult<Begin> {
    let request_hash = request_hashes.first().map_or("", String::as_str);
    let result = store.write(|conn| {
        let kept: Option<(String, Option<i32>, Option<String>, i64)> = idempotency_keys::table
            .find((caller, key))
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::status,
                idempotency_keys::body,
                idempotency_keys::created_at,
            ))
            .first(conn)
            .optional()?;
        match kept {
            Some((hash, status, body, created_at)) if created_at > now - KEPT_MS => {
                if !request_hashes.contains(&hash) {
                    return Err(DomainError::invalid(
                        "Idempotency-Key",
                        "was used with other parameters; use a new key for a new request",
                    ));
                }
                match (status, body.map(|body| sealer.open(&body))) {
                    (Some(status), Some(Some(body))) => {
                        return Ok(Begin::Replay(status as u16, body))
                    }
                    (None, _) if created_at > now - CLAIM_MS => return Err(in_progress()),
                    // A claim left by a process that died, or an answer sealed
                    // under a secret since changed: run it again.
                    _ => {}
                }
                diesel::delete(idempotency_keys::table.find((caller, key))).execute(conn)?;
                claim(conn, caller, key, request_hash, now)
            }
            stale => {
                if stale.is_some() {
                    diesel::delete(idempotency_keys::table.find((caller, key))).execute(conn)?;
                }
                claim(conn, caller, key, request_hash, now)
            }
        }
    });
    match result {
        // Another process claimed the key between our read and our insert.
        Err(DomainError::Store(e)) if e.is_unique_violation() => Err(in_progress()),
        other => other,
    }
}

fn claim(
    conn: &mut DbConn,
    caller: &str,
    key: &str,
    request_hash: &str,
    now: i64,
) -> DomainResult<Begin> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::caller.eq(caller),
            idempotency_keys::idempotency_key.eq(key),
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(Begin::Run)
}

fn in_progress() -> DomainError {
    DomainError::conflict(
        ConflictReason::RequestInProgress,
        "a request with this Idempotency-Key is still running; retry when it has answered",
    )
}

/// Keeps the answer to the request that claimed `key`.
pub fn finish(
    store: &Store,
    sealer: &Sealer,
    caller: &str,
    key: &str,
    status: u16,
    body: &str,
) -> DomainResult<()> {
    let sealed = sealer.seal(body);
    store.write(|conn| {
        diesel::update(idempotency_keys::table.find((caller, key)))
            .set((
                idempotency_keys::status.eq(Some(i32::from(status))),
                idempotency_keys::body.eq(Some(sealed)),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Lets `key` go: the request failed in a way a retry should run again.
pub fn abandon(store: &Store, caller: &str, key: &str) -> DomainResult<()> {
    store.write(|conn| {
        diesel::delete(idempotency_keys::table.find((caller, key))).execute(conn)?;
        Ok(())
    })
}
