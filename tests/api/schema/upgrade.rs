//! A database filled by the previous version (every migration before
//! 000013_distribution, then rows in every table as that version wrote
//! them) comes through the migration whole: the current server starts on
//! it, every row is there, and it serves them: an old session and API key
//! work, collaborators, projects, invites, webhooks' deliveries and domains
//! list, an old invite link is accepted (a replaced one answers 410), and
//! an old domain verification link verifies.

use std::collections::BTreeMap;

use collabd::domain::sessions::SessionKeys;
use collabd::domain::tokens::hash_secret;
use collabd::store::rows::SessionRow;
use diesel::connection::SimpleConnection;
use diesel::sql_types::BigInt;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{test_config, Backend, Client, TestDatabase, TestServer, TEST_JWT_SECRET};

on_both_backends!(a_database_of_the_previous_version_is_kept_and_served);

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The migration that makes the schema distributable.
const DISTRIBUTION: &str = "000013_distribution";

const INVITE_TOKEN: &str = "an-old-invite-link-still-in-a-mailbox";
const RETIRED_TOKEN: &str = "an-invite-link-replaced-by-a-resend";
const DOMAIN_TOKEN: &str = "an-old-domain-verification-link";
const API_KEY: &str = "cdk_an-old-api-key-of-the-owner";
const DAY_MS: i64 = 86_400_000;

/// Every table the previous version had, with rows in it.
const TABLES: &[&str] = &[
    "users",
    "organizations",
    "memberships",
    "projects",
    "project_permissions",
    "invites",
    "invite_projects",
    "webhooks",
    "webhook_deliveries",
    "domains",
    "departures",
    "audit_events",
    "sessions",
    "api_keys",
    "account_tokens",
    "email_confirmations",
    "recovery_codes",
    "outbox",
    "idempotency_keys",
    "roster_versions",
];

/// Runs the migrations before [`DISTRIBUTION`], one at a time, as the
/// previous version did.
macro_rules! migrate_to_previous {
    ($conn:expr, $migrations:expr) => {{
        let pending = $conn.pending_migrations($migrations).expect("migrations");
        let mut ran = 0;
        for migration in pending {
            if migration.name().to_string().contains(DISTRIBUTION) {
                break;
            }
            $conn
                .run_migration(&*migration)
                .expect("an earlier migration");
            ran += 1;
        }
        assert!(ran >= 11, "the earlier migrations ran: {ran}");
    }};
}

/// Rows in every table, as the previous version stored them.
fn previous_rows(now: i64) -> String {
    let far = now + 10 * DAY_MS;
    let h = hash_secret;
    format!(
        "INSERT INTO users (id, email, name, password_hash, email_verified, created_at) VALUES
           ('u-owner', 'owner@old.example', 'Olive Owner', NULL, TRUE, {now}),
           ('u-member', 'member@old.example', 'Max Member', NULL, TRUE, {now}),
           ('u-left', 'left@old.example', 'Lee Left', NULL, TRUE, {now});
         INSERT INTO organizations (id, name, invite_ttl_days, created_at) VALUES
           ('o-old', 'Old Org', NULL, {now}), ('o-other', 'Other Org', 7, {now});
         INSERT INTO memberships (id, organization_id, user_id, role, can_create_projects, created_at, expires_at) VALUES
           ('m-owner', 'o-old', 'u-owner', 'owner', TRUE, {now}, NULL),
           ('m-member', 'o-old', 'u-member', 'collaborator', FALSE, {now}, NULL),
           ('m-other', 'o-other', 'u-owner', 'owner', FALSE, {now}, NULL);
         INSERT INTO projects (id, organization_id, name, created_at) VALUES
           ('p-web', 'o-old', 'Web', {now}), ('p-api', 'o-old', 'API', {now});
         INSERT INTO project_permissions (membership_id, project_id, permission) VALUES
           ('m-member', 'p-web', 'full'), ('m-member', 'p-api', 'read');
         INSERT INTO invites (id, organization_id, email, role, can_create_projects, token_hash, state,
                              invited_by, created_at, expires_at, ended_at, membership_expires_at) VALUES
           ('i-pending', 'o-old', 'invitee@old.example', 'technical', FALSE, '{invite}', 'pending',
            'u-owner', {now}, {far}, NULL, NULL),
           ('i-accepted', 'o-old', 'member@old.example', 'collaborator', FALSE, '{accepted}', 'accepted',
            'u-owner', {now}, {far}, {now}, NULL);
         INSERT INTO invite_projects (invite_id, project_id, permission) VALUES
           ('i-pending', 'p-web', 'read'), ('i-accepted', 'p-web', 'full');
         INSERT INTO retired_invite_tokens (token_hash, invite_id, retired_at) VALUES
           ('{retired}', 'i-pending', {now});
         INSERT INTO webhooks (id, organization_id, url, events, description, secret, created_at) VALUES
           ('w-old', 'o-old', 'https://93.184.216.34/hook', '[\"domain.removed\"]', NULL, 'sealed', {now});
         INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, payload, state, attempts,
                                         next_attempt_at, last_code, last_attempt_at, created_at) VALUES
           ('d-sent', 'w-old', 'e-1', 'domain.removed', '{{}}', 'delivered', 1, {now}, 200, {now}, {now}),
           ('d-later', 'w-old', 'e-2', 'domain.removed', '{{}}', 'pending', 0, {far}, NULL, NULL, {now});
         INSERT INTO domains (id, organization_id, domain, role, state, verification_email, token_hash,
                              token_expires_at, created_at, verified_at) VALUES
           ('dom-verified', 'o-old', 'verified.example', 'collaborator', 'verified', 'it@verified.example',
            '{used}', {far}, {now}, {now}),
           ('dom-pending', 'o-old', 'pending.example', 'technical', 'pending', 'it@pending.example',
            '{domain}', {far}, {now}, NULL);
         INSERT INTO departures (organization_id, email, user_id, departed_at) VALUES
           ('o-old', 'left@old.example', 'u-left', {now});
         INSERT INTO audit_events (id, organization_id, actor_user_id, actor_email, action, target, details, created_at) VALUES
           ('e-1', 'o-old', 'u-owner', 'owner@old.example', 'domain.removed', 'x', '{{}}', {now}),
           ('e-2', 'o-old', 'u-owner', 'owner@old.example', 'domain.removed', 'y', '{{}}', {now});
         INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at) VALUES
           ('s-owner', 'u-owner', {now}, {far}, NULL);
         INSERT INTO api_keys (id, user_id, organization_id, name, secret_hash, created_at, expires_at, last_used_at) VALUES
           ('k-old', 'u-owner', 'o-old', 'script', '{key}', {now}, NULL, NULL);
         INSERT INTO account_tokens (id, user_id, purpose, token_hash, created_at, expires_at, used_at) VALUES
           ('t-reset', 'u-member', 'reset', '{reset}', {now}, {far}, NULL);
         INSERT INTO email_confirmations (id, user_id, token_hash, created_at, expires_at, used_at, new_email) VALUES
           ('c-1', 'u-member', '{confirm}', {now}, {far}, NULL, NULL);
         INSERT INTO recovery_codes (id, user_id, code_hash, used_at) VALUES ('r-1', 'u-owner', '{code}', NULL);
         INSERT INTO outbox (id, recipient, subject, body_text, body_html, link, state, attempts,
                             next_attempt_at, created_at, sent_at) VALUES
           ('mail-1', 'someone@old.example', 'Hello', '', '', NULL, 'sent', 1, {now}, {now}, {now});
         INSERT INTO idempotency_keys (caller, idempotency_key, request_hash, status, body, created_at) VALUES
           ('u-owner', 'key-1', 'hash', 200, '{{}}', {now});",
        invite = h(INVITE_TOKEN),
        accepted = h("accepted-long-ago"),
        retired = h(RETIRED_TOKEN),
        used = h("a-domain-link-used-long-ago"),
        domain = h(DOMAIN_TOKEN),
        key = h(API_KEY),
        reset = h("a-reset-link"),
        confirm = h("a-confirmation-link"),
        code = h("a-recovery-code"),
    )
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Rows per table, on any connection.
fn counts<C>(conn: &mut C, tables: &[&str]) -> BTreeMap<String, i64>
where
    C: Connection,
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, Count>,
{
    tables
        .iter()
        .map(|table| {
            let rows: Vec<Count> = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                .load(conn)
                .expect("count");
            (table.to_string(), rows[0].n)
        })
        .collect()
}

/// A database as the previous version left it: its row counts.
fn filled_by_previous_version(db: &TestDatabase, now: i64) -> BTreeMap<String, i64> {
    let rows = previous_rows(now);
    match db.name() {
        None => {
            let mut conn = diesel::SqliteConnection::establish(&db.url).expect("sqlite");
            conn.batch_execute("PRAGMA foreign_keys = ON")
                .expect("pragma");
            migrate_to_previous!(conn, SQLITE);
            conn.batch_execute(&rows).expect("previous rows");
            let mut counted = counts(&mut conn, TABLES);
            counted.extend(counts(&mut conn, &["retired_invite_tokens"]));
            counted
        }
        Some(_) => {
            let mut conn = diesel::PgConnection::establish(&db.url).expect("postgres");
            migrate_to_previous!(conn, POSTGRES);
            conn.batch_execute(&rows).expect("previous rows");
            let mut counted = counts(&mut conn, TABLES);
            counted.extend(counts(&mut conn, &["retired_invite_tokens"]));
            counted
        }
    }
}

/// Row counts as the current server left them.
fn counts_now(db: &TestDatabase) -> BTreeMap<String, i64> {
    let tables: Vec<&str> = TABLES
        .iter()
        .copied()
        .chain(["link_tokens", "verified_domains"])
        .collect();
    match db.name() {
        None => counts(
            &mut diesel::SqliteConnection::establish(&db.url).expect("sqlite"),
            &tables,
        ),
        Some(_) => counts(
            &mut diesel::PgConnection::establish(&db.url).expect("postgres"),
            &tables,
        ),
    }
}

/// The owner's session of the previous version, as its token was signed.
fn old_session(now: i64) -> String {
    SessionKeys::new(TEST_JWT_SECRET.as_bytes())
        .issue(&SessionRow {
            id: "s-owner".into(),
            user_id: "u-owner".into(),
            created_at: now,
            expires_at: now + 10 * DAY_MS,
            revoked_at: None,
            method: "password".into(),
            sso_organization_id: None,
        })
        .expect("token")
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    let mut ids: Vec<String> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| item[key].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    ids
}

fn a_database_of_the_previous_version_is_kept_and_served(backend: Backend) {
    let db = TestDatabase::new(&backend);
    let now = collabd::domain::now_ms();
    let before = filled_by_previous_version(&db, now);
    let server = TestServer::start(test_config(&db));
    let app = Client::new(&server.base);

    // Every row is there: the invites' tokens, current and replaced, and the
    // domains' are in link_tokens; the verified domain in verified_domains.
    let after = counts_now(&db);
    for table in TABLES {
        assert_eq!(after[*table], before[*table], "{table}: {after:?}");
    }
    assert_eq!(
        after["link_tokens"],
        before["invites"] + before["retired_invite_tokens"] + before["domains"]
    );
    assert_eq!(after["verified_domains"], 1);

    serves_what_it_read(&app, now);
    follows_old_links(&app);
    server.stop();
}

/// The old session, API key and lists.
fn serves_what_it_read(app: &Client, now: i64) {
    let owner = old_session(now);
    let org = "o-old";
    let me = app.get("/user/details", Some(&owner)).ok();
    assert_eq!(me.get("user")["userid"], "u-owner");
    let by_key = app.get("/user/details", Some(API_KEY)).ok();
    assert_eq!(by_key.get("user")["userid"], "u-owner");
    let orgs = app.get("/user/listorganizations", Some(&owner)).ok();
    assert_eq!(
        ids(orgs.get("organizations"), "organizationid"),
        ["o-old", "o-other"]
    );

    let roster = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let collaborators = roster
        .get("collaborators")
        .as_array()
        .expect("list")
        .clone();
    assert_eq!(
        ids(roster.get("collaborators"), "collaboratorid"),
        ["m-member", "m-owner"]
    );
    let member = collaborators
        .iter()
        .find(|c| c["collaboratorid"] == "m-member")
        .expect("the member");
    assert_eq!(
        member["projectpermissions"],
        json!([{"projectid": "p-api", "projectname": "API", "permission": "read"},
               {"projectid": "p-web", "projectname": "Web", "permission": "full"}])
    );
    let projects = app
        .get(
            &format!("/customer/listprojects?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert_eq!(
        ids(projects.get("projects"), "projectid"),
        ["p-api", "p-web"]
    );

    let invites = app
        .get(&format!("/invite/list?organizationid={org}"), Some(&owner))
        .ok();
    assert_eq!(
        ids(invites.get("invites"), "inviteid"),
        ["i-accepted", "i-pending"]
    );
    for invite in invites.get("invites").as_array().expect("invites") {
        assert_eq!(invite["invitedby"]["userid"], "u-owner");
        assert_eq!(invite["invitedby"]["name"], "Olive Owner");
        assert_eq!(
            invite["projectpermissions"].as_array().map(Vec::len),
            Some(1)
        );
    }

    let events = app
        .get(
            &format!("/customer/listauditevents?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert_eq!(
        events.get("auditevents").as_array().map(Vec::len),
        Some(2),
        "{}",
        events.body
    );
    let deliveries = app
        .get(
            "/customer/listwebhookdeliveries?webhookid=w-old",
            Some(&owner),
        )
        .ok();
    assert_eq!(
        ids(deliveries.get("deliveries"), "deliveryid"),
        ["d-later", "d-sent"]
    );
    let domains = app
        .get(
            &format!("/customer/listdomains?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert_eq!(
        ids(domains.get("domains"), "domainid"),
        ["dom-pending", "dom-verified"]
    );
}

/// Links mailed by the previous version.
fn follows_old_links(app: &Client) {
    app.post("/invite/details", None, json!({"token": RETIRED_TOKEN}))
        .err(410, "gone");
    let accepted = app
        .post(
            "/invite/accept",
            None,
            json!({"token": INVITE_TOKEN, "password": "correct horse battery"}),
        )
        .ok();
    let collaborator = accepted.get("collaborator");
    assert_eq!(collaborator["role"], "technical");
    assert_eq!(collaborator["projectpermissions"][0]["projectid"], "p-web");
    app.post("/invite/details", None, json!({"token": INVITE_TOKEN}))
        .err(410, "gone");

    let verified = app
        .post(
            "/customer/verifydomain",
            None,
            json!({"token": DOMAIN_TOKEN}),
        )
        .ok();
    assert_eq!(verified.get("domain")["state"], "verified");
    assert_eq!(verified.get("domain")["domainid"], "dom-pending");
}
