//! Service keys (API.md §10): the credential of the provider's own services,
//! which ask collabd "may this person do this here?" before they act. A key
//! is made on the server (`collabd servicekey create NAME`), shown once and
//! kept only as a hash, like an API key; it belongs to no account and no
//! organization (a reference table, API.md §12), may call the permission
//! checks for any organization, and nothing else: the HTTP layer refuses it
//! everywhere else with 403. Revoking deletes it, so its next use is 401.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use diesel::prelude::*;

use super::kernel::error::{DomainError, DomainResult};
use super::tokens::{hash_secret, new_secret};
use crate::clock::{new_id, now_ms, rfc3339};
use crate::store::rows::ServiceKeyRow;
use crate::store::schema::service_keys;
use crate::store::{DbConn, Store};

/// The prefix of every service key's secret, so a token says what it is
/// (API keys have `cdk_`).
pub const SERVICE_KEY_PREFIX: &str = "cds_";

/// `lastusedat` is kept to the minute, so a busy key does not write per check.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

/// The longest name a key may have.
pub const MAX_NAME_CHARS: usize = 64;

/// A service key as `collabd servicekey list` shows it (never its secret).
#[derive(Debug, Clone)]
pub struct ServiceKey {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl From<ServiceKeyRow> for ServiceKey {
    fn from(row: ServiceKeyRow) -> ServiceKey {
        ServiceKey {
            id: row.id,
            name: row.name,
            created_at: rfc3339(row.created_at),
            last_used_at: row.last_used_at.map(rfc3339),
        }
    }
}

/// The service key a request presented, once it checked out.
#[derive(Debug, Clone)]
pub struct ServiceCaller {
    pub key_id: String,
    /// True when its `lastusedat` is due a write ([`note_use`]).
    pub use_due: bool,
}

/// True for a token that is meant as a service key (whether or not it is one).
pub fn is_service_key(token: &str) -> bool {
    token.starts_with(SERVICE_KEY_PREFIX)
}

/// A name: 1–64 characters of `A-Z a-z 0-9 . _ -`, so it reads back in a
/// terminal exactly as typed and never looks like a key's id.
fn valid_name(name: &str) -> DomainResult<&str> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(name)
    } else {
        Err(DomainError::invalid(
            "name",
            "must be 1 to 64 of the characters A-Z a-z 0-9 . _ -",
        ))
    }
}

/// Makes a key named `name` (unique: 409 when taken); returns it and its
/// secret, which is never shown again.
pub fn create(store: &Store, name: &str) -> DomainResult<(ServiceKey, String)> {
    let name = valid_name(name.trim())?;
    let secret = format!("{SERVICE_KEY_PREFIX}{}", new_secret());
    let row = ServiceKeyRow {
        id: new_id(),
        name: name.to_string(),
        secret_hash: hash_secret(&secret),
        created_at: now_ms(),
        last_used_at: None,
    };
    store.write(|conn| {
        let taken: i64 = service_keys::table
            .filter(service_keys::name.eq(&row.name))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(DomainError::invalid(
                "name",
                "a service key with this name exists",
            ));
        }
        diesel::insert_into(service_keys::table)
            .values(&row)
            .execute(conn)?;
        Ok(())
    })?;
    Ok((ServiceKey::from(row), secret))
}

/// Every key, oldest first.
pub fn list(store: &Store) -> DomainResult<Vec<ServiceKey>> {
    store.read(|conn| {
        let rows = service_keys::table
            .order(service_keys::id.asc())
            .select(ServiceKeyRow::as_select())
            .load(conn)?;
        Ok(rows.into_iter().map(ServiceKey::from).collect())
    })
}

/// Revokes the key named or with the id `name_or_id` (404 when there is
/// none); returns it. Its next use answers 401.
pub fn revoke(store: &Store, name_or_id: &str) -> DomainResult<ServiceKey> {
    let wanted = name_or_id.trim();
    store.write(|conn| {
        let row: ServiceKeyRow = service_keys::table
            .filter(
                service_keys::name
                    .eq(wanted)
                    .or(service_keys::id.eq(wanted)),
            )
            .select(ServiceKeyRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| DomainError::not_found(format!("no service key {wanted}")))?;
        diesel::delete(service_keys::table.find(&row.id)).execute(conn)?;
        Ok(ServiceKey::from(row))
    })
}

fn unknown() -> DomainError {
    DomainError::Unauthenticated("the service key is unknown or revoked".into())
}

/// The key `key_id`, last used at `last_used_at`, as a caller: its
/// `lastusedat` is due a write when it is a minute old or never set.
fn caller(key_id: String, last_used_at: Option<i64>) -> ServiceCaller {
    let use_due = last_used_at.is_none_or(|at| now_ms() - at >= LAST_USED_GRANULARITY_MS);
    ServiceCaller { key_id, use_due }
}

/// The key whose secret hashes to `hash`; 401 when no key has it (unknown
/// or revoked).
fn find(conn: &mut DbConn, hash: &str) -> DomainResult<ServiceCaller> {
    let found: Option<(String, Option<i64>)> = service_keys::table
        .filter(service_keys::secret_hash.eq(hash))
        .select((service_keys::id, service_keys::last_used_at))
        .first(conn)
        .optional()?;
    let (key_id, last_used_at) = found.ok_or_else(unknown)?;
    Ok(caller(key_id, last_used_at))
}

/// Turns a service key's secret into its key, or refuses it (401), in a
/// statement of its own.
pub fn authenticate(store: &Store, secret: &str) -> DomainResult<ServiceCaller> {
    let hash = hash_secret(secret);
    store.read_one(|conn| find(conn, &hash))
}

/// A service key presented on a check, looked up by the check itself in
/// the statements it runs anyway ([`ServiceClaim::confirm`]), so that a
/// check costs no connection and no round trip of its own for its key.
/// Whoever holds the claim learns afterwards whether it was looked up (a
/// request refused before its work never looked: its key is then judged on
/// its own, and 401 wins), and whether the key is due a `lastusedat` write.
#[derive(Debug, Clone)]
pub struct ServiceClaim {
    hash: String,
    found: Arc<Mutex<Option<ServiceCaller>>>,
    looked_up: Arc<AtomicBool>,
}

impl ServiceClaim {
    pub fn new(secret: &str) -> ServiceClaim {
        ServiceClaim {
            hash: hash_secret(secret),
            found: Arc::default(),
            looked_up: Arc::default(),
        }
    }

    /// Looks the key up on `conn`: 401 when it is unknown or revoked.
    pub fn confirm(&self, conn: &mut DbConn) -> DomainResult<()> {
        self.looked_up.store(true, Ordering::Release);
        let key = find(conn, &self.hash)?;
        self.keep(key);
        Ok(())
    }

    /// The hash a statement of the caller's own looks the key up by, for
    /// [`ServiceClaim::settle`].
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// What a statement of the caller's own found by [`ServiceClaim::hash`]:
    /// the key's id and when it was last used, or nothing (401).
    pub fn settle(&self, found: Option<(String, Option<i64>)>) -> DomainResult<()> {
        self.looked_up.store(true, Ordering::Release);
        let (key_id, last_used_at) = found.ok_or_else(unknown)?;
        self.keep(caller(key_id, last_used_at));
        Ok(())
    }

    fn keep(&self, key: ServiceCaller) {
        if let Ok(mut found) = self.found.lock() {
            *found = Some(key);
        }
    }

    pub fn was_looked_up(&self) -> bool {
        self.looked_up.load(Ordering::Acquire)
    }

    /// The key's id, when it was found and its `lastusedat` is due a write.
    pub fn use_due(&self) -> Option<String> {
        let found = self.found.lock().ok()?;
        found
            .as_ref()
            .filter(|key| key.use_due)
            .map(|key| key.key_id.clone())
    }
}

/// Records that the key `key_id` was used now.
pub fn note_use(store: &Store, key_id: &str) -> DomainResult<()> {
    let now = now_ms();
    store.write(|conn| {
        diesel::update(service_keys::table.find(key_id))
            .set(service_keys::last_used_at.eq(now))
            .execute(conn)
            .map(drop)
            .map_err(DomainError::from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_and_plain() {
        assert!(valid_name("billing-service.prod_1").is_ok());
        assert!(valid_name("").is_err());
        assert!(valid_name("has space").is_err());
        assert!(valid_name(&"x".repeat(65)).is_err());
        assert!(valid_name(&"x".repeat(64)).is_ok());
    }
}
