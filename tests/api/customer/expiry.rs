//! Time-limited memberships (API.md §6): a membership past its end is a
//! non-member's from that instant, swept later with `collaborator.expired`
//! and an email, once whatever the number of processes.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::support::{sql, sql_strings, Backend, TestApp, TestServer};
use crate::{on_both_backends, on_postgres};

on_both_backends!(
    a_membership_ends_at_its_time_and_is_swept_with_its_event_and_email,
    ends_are_in_the_future_within_five_years_and_never_for_owners,
    a_membership_that_cannot_be_swept_holds_up_no_other,
);
on_postgres!(several_processes_sweep_each_ended_membership_once);

/// RFC 3339, `seconds` from now.
fn from_now(seconds: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn emails(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_string())
        .collect()
}

fn expired_events(app: &TestApp, owner: &str, org: &str) -> Vec<Value> {
    app.get(
        &format!("/customer/listauditevents?organizationid={org}"),
        Some(owner),
    )
    .ok()
    .get("auditevents")
    .as_array()
    .unwrap()
    .iter()
    .filter(|e| e["action"] == "collaborator.expired")
    .cloned()
    .collect()
}

fn a_membership_ends_at_its_time_and_is_swept_with_its_event_and_email(backend: Backend) {
    let mut app = TestApp::start_with(backend, |c| c.membership_sweep_secs = 3600);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let end = from_now(3);
    let invite = app
        .post(
            "/invite/create",
            Some(&owner),
            json!({"organizationid": org, "email": "guest@example.com", "role": "technical",
                   "membershipexpiresat": end}),
        )
        .ok();
    assert_eq!(invite.get("invite")["membershipexpiresat"], end.as_str());
    let token = app.invite_token("guest@example.com", 1);
    let accepted = app
        .post("/invite/accept", None, json!({"token": token}))
        .ok();
    assert_eq!(accepted.get("collaborator")["expiresat"], end.as_str());
    let guest = accepted.get("login")["token"].as_str().unwrap().to_string();
    let details = format!("/customer/details?organizationid={org}");
    let list = format!("/customer/listcollaborators?organizationid={org}");
    app.get(&details, Some(&guest)).ok();
    let before = app.get(&list, Some(&owner)).ok();
    assert_eq!(
        emails(before.get("collaborators")),
        ["owner@example.com", "guest@example.com"]
    );

    // Past the end: a non-member at once, though no sweep has run.
    wait_for("the end of the membership", Duration::from_secs(10), || {
        app.get(&details, Some(&guest)).status == 404
    });
    app.get(&list, Some(&guest)).err(404, "not_found");
    let after = app.get(&list, Some(&owner)).ok();
    assert_eq!(emails(after.get("collaborators")), ["owner@example.com"]);
    let organization = app.get(&details, Some(&owner)).ok();
    assert_eq!(organization.get("organization")["membercount"], 1);
    let rows = sql_strings(
        &app,
        &format!("SELECT id AS value FROM memberships WHERE organization_id = '{org}'"),
    );
    assert_eq!(rows.len(), 2, "the row waits for the sweep");
    assert!(expired_events(&app, &owner, &org).is_empty());

    // The sweep: the row goes, with its event and email, once.
    app.restart(|c| c.membership_sweep_secs = 1);
    wait_for("the sweep", Duration::from_secs(15), || {
        !expired_events(&app, &owner, &org).is_empty()
    });
    let events = expired_events(&app, &owner, &org);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"], Value::Null);
    assert_eq!(events[0]["details"]["email"], "guest@example.com");
    let mail = app
        .mail
        .wait_for_matching("guest@example.com", |m| m.subject().contains("has ended"));
    assert!(
        mail.subject().contains("Your membership in Acme has ended"),
        "{}",
        mail.subject()
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(expired_events(&app, &owner, &org).len(), 1, "swept once");
    // Not a member any more: invited again, as anyone.
    app.invite(&owner, &org, "guest@example.com", "collaborator");
}

/// A time-limited member of `org` at `email`, ending `seconds` from now.
fn member_until(app: &TestApp, owner: &str, org: &str, email: &str, seconds: i64) {
    app.post(
        "/invite/create",
        Some(owner),
        json!({"organizationid": org, "email": email, "role": "technical",
               "membershipexpiresat": from_now(seconds)}),
    )
    .ok();
    let token = app.invite_token(email, 1);
    app.post("/invite/accept", None, json!({"token": token}))
        .ok();
}

fn a_membership_that_cannot_be_swept_holds_up_no_other(backend: Backend) {
    let postgres = matches!(backend, Backend::Postgres(_));
    let mut app = TestApp::start_with(backend, |c| c.membership_sweep_secs = 3600);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    // The first to end cannot be removed: the database refuses (a trigger,
    // as a fault would); the second ends later.
    member_until(&app, &owner, &org, "stuck@example.com", 2);
    member_until(&app, &owner, &org, "later@example.com", 3);
    let stuck = sql_strings(
        &app,
        "SELECT id AS value FROM users WHERE email = 'stuck@example.com'",
    );
    let stuck = &stuck[0];
    if postgres {
        sql(
            &app,
            "CREATE FUNCTION hold() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'held'; END $$ \
             LANGUAGE plpgsql",
        );
        sql(
            &app,
            &format!(
                "CREATE TRIGGER hold BEFORE DELETE ON memberships FOR EACH ROW \
                 WHEN (OLD.user_id = '{stuck}') EXECUTE FUNCTION hold()"
            ),
        );
    } else {
        sql(
            &app,
            &format!(
                "CREATE TRIGGER hold BEFORE DELETE ON memberships WHEN OLD.user_id = '{stuck}' \
                 BEGIN SELECT RAISE(ABORT, 'held'); END"
            ),
        );
    }
    std::thread::sleep(Duration::from_secs(4));
    app.restart(|c| c.membership_sweep_secs = 1);
    // The later one is swept, with its event and email, past the stuck one.
    let swept = |email: &str| {
        wait_for(email, Duration::from_secs(15), || {
            expired_events(&app, &owner, &org)
                .iter()
                .any(|e| e["details"]["email"] == email)
        })
    };
    swept("later@example.com");
    app.mail
        .wait_for_matching("later@example.com", |m| m.subject().contains("has ended"));
    let events = expired_events(&app, &owner, &org);
    assert!(
        events
            .iter()
            .all(|e| e["details"]["email"] != "stuck@example.com"),
        "{events:?}"
    );
    // Once the database lets it, the next sweep takes the stuck one too.
    let drop = match postgres {
        true => "DROP TRIGGER hold ON memberships",
        false => "DROP TRIGGER hold",
    };
    sql(&app, drop);
    swept("stuck@example.com");
}

fn ends_are_in_the_future_within_five_years_and_never_for_owners(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    for (role, end) in [
        ("owner", from_now(3600)),
        ("admin", from_now(-60)),
        ("admin", from_now(6 * 366 * 86_400)),
        ("admin", "next tuesday".to_string()),
    ] {
        let r = app
            .post(
                "/invite/create",
                Some(&owner),
                json!({"organizationid": org, "email": "x@example.com", "role": role,
                       "membershipexpiresat": end}),
            )
            .err(422, "validation_failed");
        assert!(
            r.body["response"]["error"]["fields"]["membershipexpiresat"].is_array(),
            "{role} {end}"
        );
    }
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let edit = |body: Value| app.post("/customer/editcollaborator", Some(&owner), body);
    let end = from_now(86_400);
    let r = edit(json!({"collaboratorid": admin.collaboratorid, "expiresat": end})).ok();
    assert_eq!(r.get("collaborator")["expiresat"], end.as_str());
    // Made an owner while time-limited: refused unless made lasting too.
    edit(json!({"collaboratorid": admin.collaboratorid, "role": "owner"}))
        .err(422, "validation_failed");
    edit(json!({"collaboratorid": admin.collaboratorid, "expiresat": from_now(-5)}))
        .err(422, "validation_failed");
    let r = edit(json!({"collaboratorid": admin.collaboratorid, "expiresat": null})).ok();
    assert_eq!(r.get("collaborator")["expiresat"], Value::Null);
    edit(
        json!({"collaboratorid": admin.collaboratorid, "role": "owner", "expiresat": from_now(60)}),
    )
    .err(422, "validation_failed");
    // Nobody moves their own end, not even an admin.
    edit(json!({"collaboratorid": admin.collaboratorid, "expiresat": from_now(3600)})).ok();
    app.post(
        "/customer/editcollaborator",
        Some(&admin.token),
        json!({"collaboratorid": admin.collaboratorid, "expiresat": null}),
    )
    .err(403, "forbidden");
    edit(json!({"collaboratorid": admin.collaboratorid, "expiresat": null})).ok();
    let r = edit(json!({"collaboratorid": admin.collaboratorid, "role": "owner"})).ok();
    assert_eq!(r.get("collaborator")["role"], "owner");
    let me = app.first_collaborator(&owner, &org);
    let r = app
        .post(
            "/customer/editcollaborator",
            Some(&admin.token),
            json!({"collaboratorid": me, "expiresat": from_now(60)}),
        )
        .err(422, "validation_failed");
    assert!(r.body["response"]["error"]["fields"]["expiresat"].is_array());
}

fn several_processes_sweep_each_ended_membership_once(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.membership_sweep_secs = 3600);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    // Far enough ahead that six invites are made and accepted before it,
    // however loaded the machine.
    let ends = Instant::now() + Duration::from_secs(10);
    let end = from_now(10);
    let guests: Vec<String> = (0..6).map(|i| format!("guest{i}@example.com")).collect();
    for guest in &guests {
        app.post(
            "/invite/create",
            Some(&owner),
            json!({"organizationid": org, "email": guest, "membershipexpiresat": end}),
        )
        .ok();
        let token = app.invite_token(guest, 1);
        app.post("/invite/accept", None, json!({"token": token}))
            .ok();
    }
    std::thread::sleep(
        (ends + Duration::from_millis(500)).saturating_duration_since(Instant::now()),
    );
    let mut config = app.config.clone();
    config.membership_sweep_secs = 1;
    let others: Vec<TestServer> = (0..3).map(|_| TestServer::start(config.clone())).collect();
    wait_for(
        "every ended membership swept",
        Duration::from_secs(20),
        || {
            sql_strings(
                &app,
                &format!("SELECT id AS value FROM memberships WHERE organization_id = '{org}'"),
            )
            .len()
                == 1
        },
    );
    std::thread::sleep(Duration::from_secs(2));
    let events = expired_events(&app, &owner, &org);
    assert_eq!(events.len(), guests.len(), "one event per membership");
    for guest in &guests {
        let ended = app
            .mail
            .messages()
            .iter()
            .filter(|m| {
                m.to.iter().any(|t| t.contains(guest.as_str())) && m.subject().contains("has ended")
            })
            .count();
        assert_eq!(ended, 1, "{guest} told once");
    }
    for server in others {
        server.stop();
    }
}
