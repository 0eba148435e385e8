//! The test harness: starts the real server (what `collabd serve` runs) on a
//! free port with a fresh database, SQLite or PostgreSQL, and talks HTTP to it.

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use collabd::config::Config;
use diesel::{Connection, RunQueryDsl};
use serde_json::{json, Value};

/// Which database a test runs on.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The admin URL from `COLLABD_TEST_POSTGRES_URL`.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `COLLABD_TEST_POSTGRES_URL` is set.
    pub fn postgres() -> Option<Backend> {
        std::env::var("COLLABD_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .map(Backend::Postgres)
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Backend::Postgres(_))
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

/// A JWT secret the tests know, to sign tokens of their own.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// The configuration tests start with.
pub fn test_config(db: &TestDatabase) -> Config {
    let mut config = Config::defaults();
    config.listen = "127.0.0.1:0".into();
    config.database_url = db.url.clone();
    config.workers = Some(2);
    config.db_pool_size = 4;
    config.db_timeout_secs = 2;
    config.jwt_secret = Some(TEST_JWT_SECRET.into());
    config.mail_dir = db.dir().join("mail");
    config.log = "warn".into();
    config.mail_poll_ms = 50;
    config.mail_retry_base_ms = 100;
    config
}

/// A running server.
pub struct TestServer {
    pub base: String,
    system: actix_web::rt::System,
    handle: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(config: Config) -> TestServer {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                match collabd::start(&config) {
                    Ok((server, addr)) => {
                        let _ = tx.send(Ok((
                            addr,
                            server.handle(),
                            actix_web::rt::System::current(),
                        )));
                        let _ = server.await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        });
        let (addr, handle, system) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server start timed out")
            .expect("server failed to start");
        TestServer {
            base: format!("http://{addr}"),
            system,
            handle,
            thread: Some(thread),
        }
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let handle = self.handle.clone();
        self.system.arbiter().spawn(async move {
            handle.stop(false).await;
            actix_web::rt::System::current().stop();
        });
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.shutdown();
        }
    }
}

/// One answer: status, headers and the JSON body.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// `response.<key>`.
    pub fn get(&self, key: &str) -> &Value {
        &self.body["response"][key]
    }

    pub fn error_type(&self) -> &str {
        self.body["response"]["error"]["type"]
            .as_str()
            .unwrap_or("")
    }

    pub fn reason(&self) -> &str {
        self.body["response"]["error"]["reason"]
            .as_str()
            .unwrap_or("")
    }

    pub fn text(&self) -> &str {
        self.body["response"]["status"]["text"]
            .as_str()
            .unwrap_or("")
    }

    /// Asserts a 200 envelope and returns self.
    #[track_caller]
    pub fn ok(self) -> Resp {
        assert_eq!(
            self.status, 200,
            "expected 200, got {}: {}",
            self.status, self.body
        );
        self.assert_envelope();
        self
    }

    /// Asserts an error envelope with this status and `error.type`.
    #[track_caller]
    pub fn err(self, status: u16, kind: &str) -> Resp {
        assert_eq!(
            self.status, status,
            "expected {status} {kind}, got {}: {}",
            self.status, self.body
        );
        assert_eq!(self.error_type(), kind, "{}", self.body);
        self.assert_envelope();
        self
    }

    /// The envelope of API.md §1: status.code equals the HTTP status, the
    /// transaction id is the header's, the timestamp is RFC 3339 UTC.
    #[track_caller]
    pub fn assert_envelope(&self) {
        let status = &self.body["response"]["status"];
        assert_eq!(
            status["code"].as_u64(),
            Some(u64::from(self.status)),
            "{}",
            self.body
        );
        let txid = status["transactionid"].as_str().expect("transactionid");
        assert_eq!(self.header("x-transaction-id"), Some(txid));
        let timestamp = status["timestamp"].as_str().expect("timestamp");
        assert!(
            timestamp.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(),
            "{timestamp}"
        );
        assert!(status["text"].is_string());
        assert_eq!(self.header("content-type"), Some("application/json"));
    }
}

/// A client for one server.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_string(),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .build(),
        }
    }

    /// Any request; `body` with its content type.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Resp {
        let authorization = token.map(|t| format!("Bearer {t}"));
        self.send_raw(method, path, authorization.as_deref(), content_type, body)
    }

    /// GET with this exact `Authorization` header value.
    pub fn get_authorized_as(&self, path: &str, authorization: &str) -> Resp {
        self.send_raw("GET", path, Some(authorization), None, b"")
    }

    fn send_raw(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Resp {
        let mut request = self
            .agent
            .request(method, &format!("{}{}", self.base, path));
        if let Some(value) = authorization {
            request = request.set("Authorization", value);
        }
        if let Some(ct) = content_type {
            request = request.set("Content-Type", ct);
        }
        let result = if body.is_empty() && method == "GET" {
            request.call()
        } else {
            request.send_bytes(body)
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        let status = response.status();
        let headers = response
            .headers_names()
            .into_iter()
            .filter_map(|n| {
                response
                    .header(&n)
                    .map(|v| (n.to_ascii_lowercase(), v.to_string()))
            })
            .collect();
        let text = response.into_string().expect("body");
        let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }));
        Resp {
            status,
            headers,
            body,
        }
    }

    /// POST with a JSON body.
    pub fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.send(
            "POST",
            path,
            token,
            Some("application/json"),
            body.to_string().as_bytes(),
        )
    }

    /// POST with a form body.
    pub fn post_form(&self, path: &str, token: Option<&str>, form: &str) -> Resp {
        self.send(
            "POST",
            path,
            token,
            Some("application/x-www-form-urlencoded"),
            form.as_bytes(),
        )
    }

    /// GET with a query string (`path` may carry it).
    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.send("GET", path, token, None, b"")
    }
}

/// A server with its own database, and a client for it.
pub struct TestApp {
    /// The SMTP server the app sends to.
    pub mail: crate::smtp::SmtpServer,
    pub client: Client,
    pub server: Option<TestServer>,
    pub db: TestDatabase,
    pub config: Config,
}

impl std::ops::Deref for TestApp {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl TestApp {
    pub fn start(backend: Backend) -> TestApp {
        TestApp::start_with(backend, |_| {})
    }

    pub fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDatabase::new(&backend);
        let mail = crate::smtp::SmtpServer::start();
        let mut config = test_config(&db);
        config.smtp_url = Some(mail.url());
        adjust(&mut config);
        let server = TestServer::start(config.clone());
        TestApp {
            mail,
            client: Client::new(&server.base),
            server: Some(server),
            db,
            config,
        }
    }

    /// Stops the server and starts a new one on the same database.
    pub fn restart(&mut self, adjust: impl FnOnce(&mut Config)) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
        adjust(&mut self.config);
        let server = TestServer::start(self.config.clone());
        self.client = Client::new(&server.base);
        self.server = Some(server);
    }

    /// Signs up; returns the `user` object.
    pub fn signup(&self, email: &str, password: &str, name: &str) -> Value {
        self.post(
            "/user/signup",
            None,
            json!({"email": email, "password": password, "name": name}),
        )
        .ok()
        .get("user")
        .clone()
    }

    /// Logs in; returns the session token.
    pub fn login(&self, email: &str, password: &str) -> String {
        self.post(
            "/user/login",
            None,
            json!({"email": email, "password": password}),
        )
        .ok()
        .get("login")["token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    /// A new account, signed in: its token.
    pub fn user(&self, email: &str) -> String {
        self.signup(email, "correct horse battery", "Test User");
        self.login(email, "correct horse battery")
    }

    /// A new organization owned by `token`'s user: its id.
    pub fn organization(&self, token: &str, name: &str) -> String {
        self.post(
            "/user/createorganization",
            Some(token),
            json!({"name": name}),
        )
        .ok()
        .get("organization")["organizationid"]
            .as_str()
            .expect("organizationid")
            .to_string()
    }
}

/// Runs SQL on the app's own database (to age rows or read what is stored).
pub fn sql(app: &TestApp, statement: &str) {
    use collabd::store::Store;
    let store = Store::open(&app.db.url, 1, Duration::from_secs(5));
    let mut conn = store.conn().expect("connection");
    diesel::sql_query(statement)
        .execute(&mut *conn)
        .expect("sql");
}

/// Reads one text column of a query on the app's own database.
pub fn sql_strings(app: &TestApp, query: &str) -> Vec<String> {
    use collabd::store::Store;
    use diesel::sql_types::Text;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        value: String,
    }
    let store = Store::open(&app.db.url, 1, Duration::from_secs(5));
    let mut conn = store.conn().expect("connection");
    let rows: Vec<Row> = diesel::sql_query(query).load(&mut *conn).expect("sql");
    rows.into_iter().map(|r| r.value).collect()
}

/// A member of a test organization.
#[derive(Debug, Clone)]
pub struct Member {
    pub email: String,
    pub token: String,
    pub collaboratorid: String,
}

impl TestApp {
    /// Invites `email` into `org` as `role` (by `inviter`); returns the `invite`.
    pub fn invite(&self, inviter: &str, org: &str, email: &str, role: &str) -> Value {
        self.post(
            "/invite/create",
            Some(inviter),
            json!({"organizationid": org, "email": email, "role": role}),
        )
        .ok()
        .get("invite")
        .clone()
    }

    /// The token of the latest invitation emailed to `email` (the n-th one).
    pub fn invite_token(&self, email: &str, nth: usize) -> String {
        self.mail
            .wait_for_nth(email, nth)
            .token("invite")
            .expect("invite link in the email")
    }

    /// Brings a new person into `org` with `role`: invite, email, accept by
    /// token without an account (which makes one and signs in).
    pub fn member(&self, owner: &str, org: &str, email: &str, role: &str) -> Member {
        self.invite(owner, org, email, role);
        let token = self
            .mail
            .wait_for(email)
            .token("invite")
            .expect("invite link");
        let r = self
            .post(
                "/invite/accept",
                None,
                json!({"token": token, "password": "correct horse battery"}),
            )
            .ok();
        Member {
            email: email.to_string(),
            token: r.get("login")["token"]
                .as_str()
                .expect("login token")
                .to_string(),
            collaboratorid: r.get("collaborator")["collaboratorid"]
                .as_str()
                .unwrap()
                .to_string(),
        }
    }

    /// Creates an API key with `params`; returns the `apikey` (with `secret`).
    pub fn api_key(&self, token: &str, params: Value) -> Value {
        self.post("/user/createapikey", Some(token), params)
            .ok()
            .get("apikey")
            .clone()
    }

    /// The `collaboratorid` of the first member listed (the organization's
    /// creator, who joined first).
    pub fn first_collaborator(&self, token: &str, org: &str) -> String {
        self.get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(token),
        )
        .ok()
        .get("collaborators")[0]["collaboratorid"]
            .as_str()
            .expect("collaboratorid")
            .to_string()
    }

    /// `customer/removecollaborator` as `token`.
    pub fn remove(&self, token: &str, collaboratorid: &str) -> Resp {
        self.post(
            "/customer/removecollaborator",
            Some(token),
            json!({"collaboratorid": collaboratorid}),
        )
    }

    /// A project in `org`: its id.
    pub fn project(&self, token: &str, org: &str, name: &str) -> String {
        self.post(
            "/customer/createproject",
            Some(token),
            json!({"organizationid": org, "name": name}),
        )
        .ok()
        .get("project")["projectid"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// Runs `work(i)` for each i in 0..n, all at once on n threads; the results
/// in order of i.
pub fn in_parallel<T: Send>(n: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    std::thread::scope(|s| {
        let work = &work;
        let handles: Vec<_> = (0..n).map(|i| s.spawn(move || work(i))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker thread"))
            .collect()
    })
}
