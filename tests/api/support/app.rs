//! A server with its own database and SMTP server, and the steps tests share.

use std::time::Duration;

use collabd::config::Config;
use collabd::http::Extra;
use diesel::RunQueryDsl;
use serde_json::{json, Value};

use super::{test_config, Backend, Client, Resp, TestDatabase, TestServer};
use crate::contract::Contract;

/// A server with its own database, and a client for it.
pub struct TestApp {
    /// The SMTP server the app sends to.
    pub mail: crate::smtp::SmtpServer,
    pub client: Client,
    pub server: Option<TestServer>,
    pub db: TestDatabase,
    pub config: Config,
    /// Endpoints of the test's own that the server serves besides collabd's.
    extra: Option<Extra>,
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
        TestApp::start_serving(backend, None, adjust)
    }

    /// A server that also serves the endpoints `extra` adds, routed and
    /// documented from the table as collabd's own are; its client checks
    /// every answer against the document that server serves.
    pub fn start_serving(
        backend: Backend,
        extra: Option<Extra>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let db = TestDatabase::new(&backend);
        let mail = crate::smtp::SmtpServer::start();
        let mut config = test_config(&db);
        config.smtp_url = Some(mail.url());
        adjust(&mut config);
        let server = TestServer::start_with(config.clone(), extra);
        TestApp {
            mail,
            client: client_for(&server, extra),
            server: Some(server),
            db,
            config,
            extra,
        }
    }

    /// Stops the server and starts a new one on the same database.
    pub fn restart(&mut self, adjust: impl FnOnce(&mut Config)) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
        adjust(&mut self.config);
        let server = TestServer::start_with(self.config.clone(), self.extra);
        self.client = client_for(&server, self.extra);
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

    /// Confirms `email`'s address with the link its sign-up mailed.
    pub fn confirm(&self, email: &str) {
        let token = self
            .mail
            .wait_for_matching(email, |m| m.token("confirm").is_some())
            .token("confirm")
            .expect("confirmation link");
        self.post("/user/confirm", None, json!({"token": token}))
            .ok();
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

/// The client of `server`: checked against the checked-in document, or,
/// when it serves endpoints of a test's own, against the one it serves.
fn client_for(server: &TestServer, extra: Option<Extra>) -> Client {
    let client = Client::new(&server.base);
    if extra.is_none() {
        return client;
    }
    let served = client.get("/openapi.json", None);
    assert_eq!(served.status, 200, "{}", served.body);
    client.checked_against(Contract::new(served.body))
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
