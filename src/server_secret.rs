//! Where the server's secret comes from (API.md §8 "Data at rest"). It signs
//! session tokens and keys every sealer, so it never rests in the database:
//! a copy of the database alone must open nothing and sign nothing.
//!
//! In order: `COLLABD_JWT_SECRET`; the file `COLLABD_SECRET_FILE` names; for
//! an SQLite database, a key file beside it (`<database>.key`, mode 0600),
//! made at first start. A PostgreSQL server has no "beside": its processes
//! must share one secret the operator gives them, so without one it refuses
//! to start. A secret an earlier version kept in the `settings` table is
//! moved into the file (when the file does not exist yet) and erased.
//!
//! A secret file may hold several secrets, one per line: the first signs and
//! seals; the others are previous secrets, which still verify the sessions
//! they signed, and what they sealed is sealed again under the first at
//! start ([`reseal_under_current`]). That is how a secret is rotated without
//! ending sessions or losing second factors and webhook secrets (README,
//! "The server's secret").

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use diesel::prelude::*;

use crate::config::Config;
use crate::domain::tokens::new_secret;
use crate::domain::Ctx;
use crate::secrets::Sealer;
use crate::store::schema::{idempotency_keys, outbox, settings, sso_connections, users, webhooks};
use crate::store::{DbConn, Store, StoreError, Target};

/// The `settings` key under which earlier versions kept the secret.
const LEGACY_SETTING: &str = "jwt_secret";
/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// Where this server's secret lives, as the settings say.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// `COLLABD_JWT_SECRET`.
    Setting(String),
    /// A file: named by `COLLABD_SECRET_FILE`, or beside an SQLite database.
    /// `may_create`: a missing file is made with a new secret (never for a
    /// store that several processes share).
    File { path: PathBuf, may_create: bool },
    /// An SQLite database in memory: nothing outlives the process anyway.
    Ephemeral,
}

fn source(config: &Config) -> Result<Source, String> {
    let target = Target::parse(&config.database_url);
    if let Some(secret) = &config.jwt_secret {
        return Ok(Source::Setting(secret.clone()));
    }
    let sqlite_path = match &target {
        Target::Sqlite(path) => Some(path.as_str()),
        Target::Postgres(_) => None,
    };
    if let Some(path) = &config.secret_file {
        return Ok(Source::File {
            path: path.clone(),
            may_create: sqlite_path.is_some(),
        });
    }
    match sqlite_path {
        Some(":memory:") | Some("") => Ok(Source::Ephemeral),
        Some(path) => Ok(Source::File {
            path: key_file_beside(Path::new(path)),
            may_create: true,
        }),
        None => Err(
            "PostgreSQL needs the server's secret from COLLABD_JWT_SECRET or COLLABD_SECRET_FILE \
             (the same for every collabd process on this database); it is never kept in the database"
                .into(),
        ),
    }
}

/// `<database>.key` beside an SQLite file.
pub fn key_file_beside(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_os_string();
    name.push(".key");
    PathBuf::from(name)
}

/// The server's secret, and the previous ones still accepted while it is
/// rotated (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets {
    pub current: Vec<u8>,
    pub previous: Vec<Vec<u8>>,
}

/// The server's secrets, after moving an earlier version's stored secret out
/// of the database and erasing it there.
pub fn load(config: &Config, store: &Store) -> Result<Secrets, String> {
    let source = source(config)?;
    let stored = store
        .read(legacy_secret)
        .map_err(|e| format!("reading the settings table: {e}"))?;
    let secret = match &source {
        Source::Setting(secret) => secret.clone(),
        Source::Ephemeral => new_secret(),
        Source::File { path, may_create } => match read_file(path)? {
            Some(secret) => secret,
            None => match &stored {
                Some(old) => write_new_file(path, old)?,
                None if *may_create => write_new_file(path, &new_secret())?,
                None => {
                    return Err(format!(
                        "the secret file {} does not exist; every collabd process on this \
                         PostgreSQL database must read the same secret (at least {MIN_SECRET_BYTES} bytes)",
                        path.display()
                    ))
                }
            },
        },
    };
    if let Some(old) = stored {
        if old != secret {
            tracing::warn!(
                "the database held a secret an earlier version made, unlike the configured one; \
                 it is erased (anything sealed under it no longer opens)"
            );
        }
        store
            .write(erase_legacy_secret)
            .and_then(|()| truncate_sqlite_log(store))
            .map_err(|e| format!("erasing the secret kept in the database: {e}"))?;
        tracing::info!(
            "the secret an earlier version kept in the database was moved out and erased"
        );
    }
    let mut lines = secret
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty());
    let current = lines.next().unwrap_or_default().as_bytes().to_vec();
    let previous: Vec<Vec<u8>> = lines.map(|line| line.as_bytes().to_vec()).collect();
    if std::iter::once(&current)
        .chain(&previous)
        .any(|s| s.len() < MIN_SECRET_BYTES)
    {
        return Err(format!(
            "the server's secret must be at least {MIN_SECRET_BYTES} bytes (each line of a secret file)"
        ));
    }
    Ok(Secrets { current, previous })
}

/// Seals again, under the current secret, every value a previous secret
/// sealed: queued mail, second-factor seeds, webhook and SSO client secrets
/// and kept answers. Run at start while previous secrets are configured; once it has
/// run (and the sessions they signed have expired) they may be removed.
/// Each row is rewritten only if it still holds what was read, so a
/// concurrent change by another process wins. Returns how many were
/// sealed again.
pub fn reseal_under_current(ctx: &Ctx) -> Result<usize, StoreError> {
    let mut count = 0;
    count += reseal_column(
        &ctx.store,
        &ctx.totp_sealer,
        |conn| {
            users::table
                .filter(users::totp_secret.is_not_null())
                .select((users::id, users::totp_secret.assume_not_null()))
                .load::<(String, String)>(conn)
        },
        |conn, id, old, new| {
            diesel::update(users::table.find(id).filter(users::totp_secret.eq(old)))
                .set(users::totp_secret.eq(new))
                .execute(conn)
        },
    )?;
    count += reseal_signing_secrets(ctx)?;
    for column in [OutboxColumn::Text, OutboxColumn::Html, OutboxColumn::Link] {
        count += reseal_column(
            &ctx.store,
            &ctx.outbox_sealer,
            |conn| column.load(conn),
            |conn, id, old, new| column.store(conn, id, old, new),
        )?;
    }
    count += reseal_column(
        &ctx.store,
        &ctx.answer_sealer,
        |conn| {
            idempotency_keys::table
                .filter(idempotency_keys::body.is_not_null())
                .select((
                    idempotency_keys::caller
                        .concat("\n")
                        .concat(idempotency_keys::idempotency_key),
                    idempotency_keys::body.assume_not_null(),
                ))
                .load::<(String, String)>(conn)
        },
        |conn, id, old, new| {
            let (caller, key) = id.split_once('\n').unwrap_or((id, ""));
            diesel::update(
                idempotency_keys::table
                    .find((caller, key))
                    .filter(idempotency_keys::body.eq(old)),
            )
            .set(idempotency_keys::body.eq(new))
            .execute(conn)
        },
    )?;
    Ok(count)
}

/// Seals again what signs or authenticates collabd elsewhere: webhook
/// signing secrets and SSO client secrets.
fn reseal_signing_secrets(ctx: &Ctx) -> Result<usize, StoreError> {
    let mut count = 0;
    count += reseal_column(
        &ctx.store,
        &ctx.webhook_sealer,
        |conn| {
            webhooks::table
                .select((webhooks::id, webhooks::secret))
                .load::<(String, String)>(conn)
        },
        |conn, id, old, new| {
            diesel::update(
                webhooks::table
                    .filter(webhooks::id.eq(id))
                    .filter(webhooks::secret.eq(old)),
            )
            .set(webhooks::secret.eq(new))
            .execute(conn)
        },
    )?;
    count += reseal_column(
        &ctx.store,
        &ctx.sso_sealer,
        |conn| {
            sso_connections::table
                .select((
                    sso_connections::organization_id,
                    sso_connections::client_secret_sealed,
                ))
                .load::<(String, String)>(conn)
        },
        |conn, id, old, new| {
            diesel::update(
                sso_connections::table
                    .filter(sso_connections::organization_id.eq(id))
                    .filter(sso_connections::client_secret_sealed.eq(old)),
            )
            .set(sso_connections::client_secret_sealed.eq(new))
            .execute(conn)
        },
    )?;
    Ok(count)
}

#[derive(Clone, Copy)]
enum OutboxColumn {
    Text,
    Html,
    Link,
}

impl OutboxColumn {
    fn load(self, conn: &mut DbConn) -> diesel::QueryResult<Vec<(String, String)>> {
        // Sent and dead mail has its bodies erased (empty), and no link.
        let rows = outbox::table.filter(outbox::body_text.ne(""));
        match self {
            OutboxColumn::Text => rows.select((outbox::id, outbox::body_text)).load(conn),
            OutboxColumn::Html => rows.select((outbox::id, outbox::body_html)).load(conn),
            OutboxColumn::Link => outbox::table
                .filter(outbox::link.is_not_null())
                .select((outbox::id, outbox::link.assume_not_null()))
                .load(conn),
        }
    }

    fn store(
        self,
        conn: &mut DbConn,
        id: &str,
        old: &str,
        new: &str,
    ) -> diesel::QueryResult<usize> {
        let row = outbox::table.find(id);
        match self {
            OutboxColumn::Text => diesel::update(row.filter(outbox::body_text.eq(old)))
                .set(outbox::body_text.eq(new))
                .execute(conn),
            OutboxColumn::Html => diesel::update(row.filter(outbox::body_html.eq(old)))
                .set(outbox::body_html.eq(new))
                .execute(conn),
            OutboxColumn::Link => diesel::update(row.filter(outbox::link.eq(old)))
                .set(outbox::link.eq(new))
                .execute(conn),
        }
    }
}

/// Reads `(id, sealed)` pairs with `load` and writes back, with `store`,
/// each one a previous secret sealed, sealed under the current one.
fn reseal_column(
    store: &Store,
    sealer: &Sealer,
    load: impl Fn(&mut DbConn) -> diesel::QueryResult<Vec<(String, String)>>,
    write: impl Fn(&mut DbConn, &str, &str, &str) -> diesel::QueryResult<usize>,
) -> Result<usize, StoreError> {
    let rows = store.read(|conn| Ok::<_, StoreError>(load(conn)?))?;
    let stale: Vec<(String, String, String)> = rows
        .into_iter()
        .filter_map(|(id, old)| sealer.reseal(&old).map(|new| (id, old, new)))
        .collect();
    if stale.is_empty() {
        return Ok(0);
    }
    store.write(|conn| {
        let mut written = 0;
        for (id, old, new) in &stale {
            written += write(conn, id, old, new)?;
        }
        Ok::<_, StoreError>(written)
    })
}

fn legacy_secret(conn: &mut DbConn) -> Result<Option<String>, StoreError> {
    Ok(settings::table
        .find(LEGACY_SETTING)
        .select(settings::value)
        .first::<String>(conn)
        .optional()?)
}

/// Deletes the stored secret so that no copy of the database holds it: on
/// SQLite its page is zeroed (`secure_delete`) and the write-ahead log, which
/// still holds the old page, is checkpointed and truncated afterwards.
fn erase_legacy_secret(conn: &mut DbConn) -> Result<(), StoreError> {
    if let DbConn::Sqlite(_) = conn {
        diesel::sql_query("PRAGMA secure_delete = ON").execute(conn)?;
    }
    diesel::delete(settings::table.find(LEGACY_SETTING)).execute(conn)?;
    Ok(())
}

/// After [`erase_legacy_secret`] committed: fold SQLite's log into the file.
fn truncate_sqlite_log(store: &Store) -> Result<(), StoreError> {
    let mut conn = store.conn()?;
    if let DbConn::Sqlite(_) = &mut *conn {
        diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn)?;
    }
    Ok(())
}

/// The secret in `path`, trimmed; `None` when there is no such file.
fn read_file(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            if let Ok(meta) = std::fs::metadata(path) {
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(
                        file = %path.display(),
                        "the secret file can be read by others than its owner; chmod 600 it"
                    );
                }
            }
            let secret = text.trim().to_string();
            if secret.is_empty() {
                return Err(format!("the secret file {} is empty", path.display()));
            }
            Ok(Some(secret))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("reading the secret file {}: {e}", path.display())),
    }
}

/// Writes `secret` to a new file at `path` (mode 0600) all at once: written
/// beside it and linked into place, so another process starting at the same
/// moment either finds no file or a whole one. When it lost that race, the
/// winner's secret is the one.
fn write_new_file(path: &Path, secret: &str) -> Result<String, String> {
    let fail = |e: std::io::Error| format!("writing the secret file {}: {e}", path.display());
    let mut temporary = path.as_os_str().to_os_string();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(fail)?;
    file.write_all(format!("{secret}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(fail)?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => {
            tracing::info!(file = %path.display(), "the server's secret is kept in this file");
            Ok(secret.to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_file(path)?.ok_or_else(|| format!("the secret file {} vanished", path.display()))
        }
        Err(e) => Err(fail(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(database_url: &str) -> Config {
        let mut config = Config::defaults();
        config.database_url = database_url.into();
        config
    }

    #[test]
    fn the_source_follows_the_settings_and_the_backend() {
        assert_eq!(
            source(&config("/var/lib/collabd/db.sqlite3")),
            Ok(Source::File {
                path: "/var/lib/collabd/db.sqlite3.key".into(),
                may_create: true
            })
        );
        assert_eq!(source(&config(":memory:")), Ok(Source::Ephemeral));
        let refused = source(&config("postgres://db/collabd")).unwrap_err();
        assert!(refused.contains("COLLABD_JWT_SECRET") && refused.contains("COLLABD_SECRET_FILE"));
        let mut shared = config("postgres://db/collabd");
        shared.secret_file = Some("/run/secrets/collabd".into());
        assert_eq!(
            source(&shared),
            Ok(Source::File {
                path: "/run/secrets/collabd".into(),
                may_create: false
            })
        );
        shared.jwt_secret = Some("x".repeat(40));
        assert_eq!(source(&shared), Ok(Source::Setting("x".repeat(40))));
    }

    #[test]
    fn a_new_file_is_private_and_a_second_writer_takes_the_first_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        assert_eq!(write_new_file(&path, "first").unwrap(), "first");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(write_new_file(&path, "second").unwrap(), "first");
        assert_eq!(read_file(&path).unwrap().as_deref(), Some("first"));
        assert_eq!(read_file(&dir.path().join("none")).unwrap(), None);
    }
}
