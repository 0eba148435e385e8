//! The hot lookups use indexes: an invite by the hash of its token, the
//! collaborators of an organization, the invites waiting for an address.
//! Checked on SQLite's query planner (PostgreSQL plans tiny test tables as
//! sequential scans whatever the indexes, so its plan proves nothing here).

use std::time::Duration;

use collabd::store::Store;
use diesel::RunQueryDsl;

use crate::support::{Backend, TestApp};

#[derive(diesel::QueryableByName)]
struct PlanRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

fn plan(app: &TestApp, sql: &str) -> String {
    let store = Store::open(&app.db.url, 1, Duration::from_secs(5));
    let mut conn = store.conn().unwrap();
    let rows: Vec<PlanRow> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
        .load(&mut *conn)
        .unwrap();
    rows.into_iter()
        .map(|r| r.detail)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn hot_lookups_use_indexes() {
    let app = TestApp::start(Backend::Sqlite);
    let cases = [
        ("SELECT id FROM invites WHERE token_hash = 'x'", "USING INDEX"),
        ("SELECT invite_id FROM retired_invite_tokens WHERE token_hash = 'x'", "USING"),
        (
            "SELECT id FROM invites WHERE email = 'a@b.c' AND state = 'pending' AND expires_at > 0 ORDER BY id",
            "USING INDEX invites_email_state",
        ),
        (
            "SELECT memberships.id, users.email FROM memberships INNER JOIN users ON users.id = memberships.user_id \
             WHERE memberships.organization_id = 'o' AND memberships.id > 'a' ORDER BY memberships.id LIMIT 101",
            "memberships USING",
        ),
        (
            "SELECT membership_id FROM project_permissions INNER JOIN projects ON projects.id = project_permissions.project_id \
             WHERE project_permissions.membership_id IN ('a', 'b')",
            "project_permissions USING",
        ),
        ("SELECT id FROM api_keys WHERE secret_hash = 'x'", "USING INDEX"),
        ("SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= 5", "USING INDEX outbox_due"),
        ("SELECT id FROM audit_events WHERE organization_id = 'o' AND id < 'z' ORDER BY id DESC LIMIT 10", "USING"),
    ];
    for (sql, expected) in cases {
        let plan = plan(&app, sql);
        assert!(plan.contains(expected), "{sql}\nplan:\n{plan}");
        assert!(
            !plan.contains("SCAN memberships") && !plan.contains("SCAN invites"),
            "{sql}\nplan:\n{plan}"
        );
    }
}
