//! Every keyset page is read in the order of an index, so a page costs the
//! same however long its list (API.md §1 "Lists"): on SQLite no temporary
//! B-tree sorts the rows; on PostgreSQL no Sort node sits above the scan.
//!
//! The statements are the ones collabd runs, as Diesel writes them, with the
//! bound values written in. PostgreSQL plans the few rows of a test database
//! as sequential scans whatever the indexes, so sequential scans are turned
//! off for the plan: it must then find an index that serves the order, or
//! show the Sort it would need without one.

use std::time::Duration;

use collabd::store::{Conn, DbConn, Store};
use diesel::connection::SimpleConnection;
use diesel::RunQueryDsl;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

#[derive(diesel::QueryableByName)]
struct SqlitePlanRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

#[derive(diesel::QueryableByName)]
struct PostgresPlanRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

fn plan(conn: &mut DbConn, sql: &str) -> String {
    match conn {
        DbConn::Sqlite(_) => {
            let rows: Vec<SqlitePlanRow> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                .load(conn)
                .expect("plan");
            rows.into_iter()
                .map(|r| r.detail)
                .collect::<Vec<_>>()
                .join("\n")
        }
        DbConn::Pg(_) => {
            conn.batch_execute("SET enable_seqscan = off").expect("set");
            let rows: Vec<PostgresPlanRow> = diesel::sql_query(format!("EXPLAIN {sql}"))
                .load(conn)
                .expect("plan");
            rows.into_iter()
                .map(|r| r.line)
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

/// The statement of each paginated list, a page after a cursor.
const PAGES: &[(&str, &str)] = &[
    (
        "customer/listcollaborators",
        "SELECT memberships.id, memberships.role, users.id, users.email, users.name \
         FROM (memberships INNER JOIN users ON (memberships.user_id = users.id)) \
         WHERE (memberships.organization_id = 'o') AND (memberships.id > 'a') \
         ORDER BY memberships.id ASC LIMIT 101",
    ),
    (
        "customer/listcollaborators (grants of the page)",
        "SELECT project_permissions.membership_id, projects.id, projects.name, project_permissions.permission \
         FROM (project_permissions INNER JOIN projects ON ((projects.organization_id = project_permissions.organization_id) \
         AND (projects.id = project_permissions.project_id))) \
         WHERE ((project_permissions.organization_id = 'o') AND (project_permissions.membership_id > 'a')) \
         AND (project_permissions.membership_id <= 'z')",
    ),
    (
        "customer/listprojects",
        "SELECT projects.id, projects.name FROM projects \
         WHERE (((projects.organization_id = 'o') AND (projects.name >= 'n')) \
         AND ((projects.name > 'n') OR (projects.id > 'i'))) \
         ORDER BY projects.name ASC, projects.id ASC LIMIT 101",
    ),
    (
        "invite/list",
        "SELECT invites.id, invites.email FROM invites \
         WHERE (invites.organization_id = 'o') AND (invites.id > 'a') \
         ORDER BY invites.id ASC LIMIT 101",
    ),
    (
        "invite/list state=pending",
        "SELECT invites.id, invites.email FROM invites \
         WHERE (((invites.organization_id = 'o') AND (invites.state = 'pending')) AND (invites.expires_at > 5)) \
         AND (invites.id > 'a') ORDER BY invites.id ASC LIMIT 101",
    ),
    (
        "invite/list state=accepted",
        "SELECT invites.id, invites.email FROM invites \
         WHERE ((invites.organization_id = 'o') AND (invites.state = 'accepted')) \
         AND (invites.id > 'a') ORDER BY invites.id ASC LIMIT 101",
    ),
    (
        "invite/list state=expired",
        "SELECT invites.id, invites.email FROM invites \
         WHERE ((invites.organization_id = 'o') AND ((invites.state = 'expired') \
         OR ((invites.state = 'pending') AND (invites.expires_at <= 5)))) \
         AND (invites.id > 'a') ORDER BY invites.id ASC LIMIT 101",
    ),
    (
        "customer/listauditevents",
        "SELECT audit_events.id, audit_events.action FROM audit_events \
         WHERE (audit_events.organization_id = 'o') AND (audit_events.id < 'z') \
         ORDER BY audit_events.id DESC LIMIT 101",
    ),
    (
        "customer/listwebhookdeliveries",
        "SELECT webhook_deliveries.id, webhook_deliveries.state FROM webhook_deliveries \
         WHERE ((webhook_deliveries.organization_id = 'o') AND (webhook_deliveries.webhook_id = 'w')) \
         AND (webhook_deliveries.id < 'z') \
         ORDER BY webhook_deliveries.id DESC LIMIT 101",
    ),
    (
        "user/listinvites",
        "SELECT invites.id, invites.organization_id FROM invites \
         WHERE (((invites.email = 'e@example.com') AND (invites.state = 'pending')) AND (invites.expires_at > 5)) \
         AND (invites.id > 'a') ORDER BY invites.id ASC LIMIT 101",
    ),
    (
        "user/listinvites with a bound key",
        "SELECT invites.id, invites.organization_id FROM invites \
         WHERE ((((invites.email = 'e@example.com') AND (invites.state = 'pending')) AND (invites.expires_at > 5)) \
         AND (invites.organization_id = 'o')) AND (invites.id > 'a') ORDER BY invites.id ASC LIMIT 101",
    ),
];

/// A server's fresh, migrated database, and one connection to it.
fn migrated(backend: Backend) -> (TestApp, Conn) {
    let app = TestApp::start(backend);
    let store = Store::open(&app.db.url, 1, Duration::from_secs(5));
    let conn = store.conn().expect("connection");
    (app, conn)
}

fn every_page_follows_an_index(backend: Backend) {
    let (_app, mut conn) = migrated(backend);
    for (list, sql) in PAGES {
        let plan = plan(&mut conn, sql);
        match &*conn {
            DbConn::Sqlite(_) => {
                assert!(
                    !plan.contains("TEMP B-TREE"),
                    "{list} sorts its rows:\n{plan}"
                );
                assert!(!plan.contains("SCAN "), "{list} scans a table:\n{plan}");
            }
            DbConn::Pg(_) => {
                assert!(!plan.contains("Sort"), "{list} sorts its rows:\n{plan}");
                assert!(!plan.contains("Seq Scan"), "{list} scans a table:\n{plan}");
            }
        }
    }
}

/// The test can fail: without the index that serves the projects' order,
/// both planners sort.
fn a_missing_index_shows(backend: Backend) {
    let (_app, mut conn) = migrated(backend);
    conn.batch_execute("DROP INDEX projects_org_name_id")
        .expect("drop the index");
    let (_, sql) = PAGES
        .iter()
        .find(|(list, _)| *list == "customer/listprojects")
        .expect("projects");
    let plan = plan(&mut conn, sql);
    assert!(
        plan.contains("TEMP B-TREE") || plan.contains("Sort"),
        "without its index the page sorts:\n{plan}"
    );
}

/// The plan of `condition` on invites (organization and address bound as
/// parameters) as the server runs it: on PostgreSQL the generic plan a
/// prepared statement settles on, which cannot know a bound value.
fn pending_plan(conn: &mut DbConn, condition: &str, state: Option<&str>) -> String {
    let select = format!(
        "SELECT expires_at FROM invites WHERE organization_id = $1 AND email = $2 AND {condition}"
    );
    match conn {
        DbConn::Sqlite(_) => plan(conn, &select),
        DbConn::Pg(_) => {
            let (types, state) = match state {
                Some(state) => ("text, text, text", format!(", '{state}'")),
                None => ("text, text", String::new()),
            };
            conn.batch_execute(&format!(
                "SET plan_cache_mode = force_generic_plan; DEALLOCATE ALL; \
                 PREPARE check_pending({types}) AS {select}"
            ))
            .expect("prepare");
            plan(
                conn,
                &format!("EXECUTE check_pending('o', 'e@example.com'{state})"),
            )
        }
    }
}

/// `invite/create` asks whether the address has a pending invite with the
/// state written out, so both planners use the partial unique index on
/// pending invites; with the state bound as a parameter, neither may (on
/// PostgreSQL the generic plan then walked every pending invite of the
/// organization), which the second plan shows.
fn the_pending_check_uses_its_partial_index(backend: Backend) {
    let (_app, mut conn) = migrated(backend);
    let written = pending_plan(&mut conn, "state = 'pending'", None);
    assert!(
        written.contains("invites_one_pending"),
        "the check uses the partial index:\n{written}"
    );
    let bound = pending_plan(&mut conn, "state = $3", Some("pending"));
    assert!(
        !bound.contains("invites_one_pending"),
        "a bound state cannot use it:\n{bound}"
    );
}

on_both_backends!(
    every_page_follows_an_index,
    a_missing_index_shows,
    the_pending_check_uses_its_partial_index,
);
