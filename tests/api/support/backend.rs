//! Which database a test runs on, and a fresh one per test.

use diesel::{Connection, RunQueryDsl};

/// Which database a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The admin URL from `COLLABD_TEST_POSTGRES_URL`.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `COLLABD_TEST_POSTGRES_URL` is set. Under CI (`CI`
    /// set) its absence fails the test: CI must run both halves.
    pub fn postgres() -> Option<Backend> {
        let url = std::env::var("COLLABD_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty());
        if url.is_none() && std::env::var_os("CI").is_some() {
            panic!("CI is set but COLLABD_TEST_POSTGRES_URL is not: the PostgreSQL half cannot be skipped in CI");
        }
        url.map(Backend::Postgres)
    }
}

/// Runs each named test function once per backend: `name::sqlite` and
/// `name::postgres` (which says it is skipped when no PostgreSQL is configured).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name($crate::support::Backend::Sqlite)
                }

                #[test]
                fn postgres() {
                    match $crate::support::Backend::postgres() {
                        Some(backend) => super::$name(backend),
                        None => eprintln!("skipped: COLLABD_TEST_POSTGRES_URL is not set"),
                    }
                }
            }
        )*
    };
}

/// Runs each named test function on PostgreSQL only: `name::postgres`, for
/// what an embedded SQLite file cannot show (an unreachable server).
#[macro_export]
macro_rules! on_postgres {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn postgres() {
                    match $crate::support::Backend::postgres() {
                        Some(backend) => super::$name(backend),
                        None => eprintln!("skipped: COLLABD_TEST_POSTGRES_URL is not set"),
                    }
                }
            }
        )*
    };
}

/// A database made for one test and dropped after it.
pub struct TestDatabase {
    pub url: String,
    admin: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl TestDatabase {
    pub fn new(backend: &Backend) -> TestDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => TestDatabase {
                url: dir.path().join("collabd.sqlite3").display().to_string(),
                admin: None,
                _dir: dir,
            },
            Backend::Postgres(admin_url) => {
                let name = format!("collabd_test_{}", uuid::Uuid::now_v7().simple());
                let mut admin = diesel::PgConnection::establish(admin_url)
                    .expect("connect to COLLABD_TEST_POSTGRES_URL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("create test database");
                TestDatabase {
                    url: replace_database(admin_url, &name),
                    admin: Some((admin_url.clone(), name)),
                    _dir: dir,
                }
            }
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Runs SQL as the test database's administrator (PostgreSQL only).
    pub fn admin_sql(&self, sql: &str) {
        if let Some((admin_url, _)) = &self.admin {
            let mut admin = diesel::PgConnection::establish(admin_url).expect("admin connection");
            diesel::sql_query(sql)
                .execute(&mut admin)
                .expect("admin sql");
        }
    }

    pub fn name(&self) -> Option<&str> {
        self.admin.as_ref().map(|(_, n)| n.as_str())
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.admin {
            if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..host_end], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}
