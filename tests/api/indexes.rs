//! The hot lookups use indexes: an invite by the hash of its link's token, the
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
    // Each lookup with the exact index that must serve it (SQLite names the
    // indexes of UNIQUE constraints `sqlite_autoindex_<table>_<n>`).
    let cases = [
        (
            "SELECT organization_id, target_id FROM link_tokens WHERE token_hash = 'x'",
            "SEARCH link_tokens USING INDEX sqlite_autoindex_link_tokens_1 (token_hash=?)",
        ),
        (
            "SELECT * FROM invites WHERE organization_id = 'o' AND id = 'i'",
            "SEARCH invites USING INDEX sqlite_autoindex_invites_1 (organization_id=? AND id=?)",
        ),
        (
            "SELECT * FROM invites WHERE id = 'i'",
            "SEARCH invites USING INDEX invites_id (id=?)",
        ),
        (
            "SELECT * FROM memberships WHERE id = 'm'",
            "SEARCH memberships USING INDEX memberships_id (id=?)",
        ),
        (
            "SELECT organization_id, domain_id FROM verified_domains WHERE domain = 'x'",
            "SEARCH verified_domains USING INDEX sqlite_autoindex_verified_domains_1 (domain=?)",
        ),
        (
            "SELECT id FROM invites WHERE invited_by = 'u'",
            "SEARCH invites USING INDEX invites_invited_by (invited_by=?)",
        ),
        (
            "SELECT id FROM invites WHERE email = 'a@b.c' AND state = 'pending' AND expires_at > 0 ORDER BY id",
            "SEARCH invites USING INDEX invites_email_state_id (email=? AND state=?)",
        ),
        (
            "SELECT memberships.id, users.email FROM memberships INNER JOIN users ON users.id = memberships.user_id \
             WHERE memberships.organization_id = 'o' AND memberships.id > 'a' ORDER BY memberships.id LIMIT 101",
            "SEARCH memberships USING INDEX sqlite_autoindex_memberships_1 (organization_id=? AND id>?)",
        ),
        (
            "SELECT membership_id FROM project_permissions INNER JOIN projects \
             ON projects.organization_id = project_permissions.organization_id AND projects.id = project_permissions.project_id \
             WHERE project_permissions.organization_id = 'o' AND project_permissions.membership_id IN ('a', 'b')",
            "SEARCH project_permissions USING COVERING INDEX sqlite_autoindex_project_permissions_1 (organization_id=? AND membership_id=?)",
        ),
        (
            "SELECT id FROM api_keys WHERE secret_hash = 'x'",
            "SEARCH api_keys USING INDEX sqlite_autoindex_api_keys_2 (secret_hash=?)",
        ),
        (
            "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= 5",
            "SEARCH outbox USING COVERING INDEX outbox_due (state=? AND next_attempt_at<?)",
        ),
        (
            "SELECT id FROM audit_events WHERE organization_id = 'o' AND id < 'z' ORDER BY id DESC LIMIT 10",
            "SEARCH audit_events USING COVERING INDEX sqlite_autoindex_audit_events_1 (organization_id=? AND id<?)",
        ),
        (
            "SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= 5 \
             AND (claimed_until IS NULL OR claimed_until < 5) ORDER BY next_attempt_at, id LIMIT 32",
            "SEARCH webhook_deliveries USING INDEX webhook_deliveries_due (state=? AND next_attempt_at<?)",
        ),
        (
            "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= 5 \
             AND (claimed_until IS NULL OR claimed_until < 5) ORDER BY next_attempt_at, id LIMIT 32",
            "SEARCH outbox USING INDEX outbox_due (state=? AND next_attempt_at<?)",
        ),
        (
            "SELECT * FROM webhook_deliveries WHERE claim = 'round' AND state = 'pending'",
            "SEARCH webhook_deliveries USING INDEX webhook_deliveries_claim (claim=?)",
        ),
        (
            "SELECT * FROM outbox WHERE claim = 'round' AND state = 'pending'",
            "SEARCH outbox USING INDEX outbox_claim (claim=?)",
        ),
        (
            "SELECT * FROM webhook_deliveries WHERE organization_id = 'o' AND webhook_id = 'w' AND id < 'z' ORDER BY id DESC LIMIT 101",
            "SEARCH webhook_deliveries USING INDEX webhook_deliveries_webhook (organization_id=? AND webhook_id=? AND id<?)",
        ),
        (
            "SELECT id, events FROM webhooks WHERE organization_id = 'o'",
            "SEARCH webhooks USING INDEX sqlite_autoindex_webhooks_1 (organization_id=?)",
        ),
    ];
    for (sql, expected) in cases {
        let plan = plan(&app, sql);
        assert!(plan.contains(expected), "{sql}\nplan:\n{plan}");
        // A page sorted after the fact costs as much as the whole list.
        assert!(!plan.contains("TEMP B-TREE"), "{sql}\nplan:\n{plan}");
        assert!(!plan.contains("SCAN "), "{sql}\nplan:\n{plan}");
    }
}
