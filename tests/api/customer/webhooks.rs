//! Webhooks (API.md §6), received by a real HTTP server the test starts,
//! every signature checked independently of the server.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{sql, sql_strings, Backend, Receiver, Silent, TestApp, TestServer};
use crate::{on_both_backends, on_postgres};

on_both_backends!(
    a_webhook_that_fails_twice_then_succeeds_gets_one_event_three_times,
    webhook_targets_and_subscriptions_are_checked,
    only_owners_and_admins_manage_webhooks,
    a_name_that_resolves_to_a_private_address_is_not_reached,
    deliveries_page_newest_first_and_deleting_a_webhook_ends_them,
    a_dead_endpoint_does_not_hold_back_another_organizations_delivery,
    a_freed_slot_takes_the_next_delivery_at_once,
    organizations_whose_shares_fill_the_sender_leave_a_slot_for_another,
    a_dead_webhook_does_not_hold_back_its_organizations_others,
    a_record_that_fails_is_tried_again_while_the_claim_is_renewed,
);
on_postgres!(several_processes_deliver_each_event_once);

/// A receiver on this machine is a loopback target: allowed here, and
/// retries come quickly.
fn allowing_private(c: &mut collabd::config::Config) {
    c.webhook_allow_private = true;
    c.webhook_retry_base_ms = 100;
}

fn create_webhook(app: &TestApp, token: &str, org: &str, url: &str, events: Value) -> Value {
    app.post(
        "/customer/createwebhook",
        Some(token),
        json!({"organizationid": org, "url": url, "events": events, "description": "CRM sync"}),
    )
    .ok()
    .get("webhook")
    .clone()
}

fn deliveries(app: &TestApp, token: &str, webhook: &str) -> Vec<Value> {
    app.get(
        &format!("/customer/listwebhookdeliveries?webhookid={webhook}"),
        Some(token),
    )
    .ok()
    .get("deliveries")
    .as_array()
    .unwrap()
    .clone()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn a_webhook_that_fails_twice_then_succeeds_gets_one_event_three_times(backend: Backend) {
    let app = TestApp::start_with(backend, allowing_private);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let receiver = Receiver::start(&[500, 503]);
    let webhook = create_webhook(
        &app,
        &owner,
        &org,
        &receiver.url,
        json!(["project.created"]),
    );
    let secret = webhook["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(webhook["events"], json!(["project.created"]));
    assert_eq!(webhook["description"], "CRM sync");
    let webhook_id = webhook["webhookid"].as_str().unwrap().to_string();

    let project = app.project(&owner, &org, "Website");
    // Not subscribed: never sent.
    app.invite(&owner, &org, "someone@example.com", "collaborator");

    let got = receiver.wait_for(3, Duration::from_secs(20));
    let event = app
        .get(
            &format!("/customer/listauditevents?organizationid={org}"),
            Some(&owner),
        )
        .ok()
        .get("auditevents")
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "project.created")
        .cloned()
        .expect("the project.created event");
    for request in &got {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/hooks/collabd");
        assert_eq!(request.header("content-type"), "application/json");
        assert_eq!(request.header("webhook-id"), event["eventid"]);
        request.assert_signed_with(&secret);
        let body = request.json();
        assert_eq!(body["type"], "project.created");
        assert_eq!(body["timestamp"], event["createdat"]);
        assert_eq!(body["data"], event, "the data is the audit event");
        assert_eq!(body["data"]["target"], project.as_str());
    }
    assert!(
        got.iter().all(|r| r.body == got[0].body),
        "the same body on every try"
    );

    wait_for("the delivery recorded", Duration::from_secs(10), || {
        deliveries(&app, &owner, &webhook_id)[0]["state"] == "delivered"
    });
    let log = deliveries(&app, &owner, &webhook_id);
    assert_eq!(log.len(), 1, "one event, one delivery: {log:?}");
    assert_eq!(log[0]["eventid"], event["eventid"]);
    assert_eq!(log[0]["type"], "project.created");
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["lastcode"], 200);
    assert!(log[0]["lastattemptat"].is_string());
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(receiver.received().len(), 3, "nothing after the 2xx");

    // The secret was shown once: not listed, not stored as itself.
    let listed = app
        .get(
            &format!("/customer/listwebhooks?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let listed = listed.get("webhooks").as_array().unwrap().clone();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("secret").is_none(), "{:?}", listed[0]);
    let key = secret.trim_start_matches("whsec_");
    let stored = sql_strings(&app, "SELECT secret AS value FROM webhooks");
    assert!(
        !stored[0].contains(key) && !stored[0].contains(&secret),
        "sealed"
    );
    // Its creation is in the audit log.
    let created = app
        .get(
            &format!("/customer/listauditevents?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert!(created
        .get("auditevents")
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "webhook.created" && e["target"] == webhook_id.as_str()));

    // /metrics counts the deliveries by state.
    let base = &app.server.as_ref().unwrap().base;
    let metrics = ureq::get(&format!("{base}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    for line in [
        "collabd_webhook_deliveries{state=\"delivered\"} 1",
        "collabd_webhook_deliveries{state=\"pending\"} 0",
        "collabd_webhook_deliveries{state=\"failed\"} 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
}

fn webhook_targets_and_subscriptions_are_checked(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let refused = |url: &str, events: Value| {
        let r = app
            .post(
                "/customer/createwebhook",
                Some(&owner),
                json!({"organizationid": org, "url": url, "events": events}),
            )
            .err(422, "validation_failed");
        r.body["response"]["error"]["fields"].clone()
    };
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "ftp://example.com/",
        "not a url",
        "https://user:pass@93.184.216.34/",
    ] {
        let fields = refused(url, json!(["*"]));
        assert!(fields["url"].is_array(), "{url}: {fields}");
    }
    for events in [
        json!([]),
        json!(["project.exploded"]),
        json!(["*", "project.created"]),
    ] {
        let fields = refused("https://93.184.216.34/hook", events.clone());
        assert!(fields["events"].is_array(), "{events}: {fields}");
    }
    // A public address is fine; duplicates are folded.
    let webhook = create_webhook(
        &app,
        &owner,
        &org,
        "https://93.184.216.34/hook",
        json!(["invite.created", "invite.created", "collaborator.removed"]),
    );
    assert_eq!(
        webhook["events"],
        json!(["invite.created", "collaborator.removed"])
    );
    // Twenty at most.
    for i in 1..20 {
        create_webhook(
            &app,
            &owner,
            &org,
            &format!("https://93.184.216.34/hook/{i}"),
            json!(["domain.added"]),
        );
    }
    let fields = refused("https://93.184.216.34/hook/21", json!(["*"]));
    assert!(fields["organizationid"].is_array(), "{fields}");

    // Allowed by the setting, a loopback target is taken.
    let mut app = app;
    app.restart(|c| c.webhook_allow_private = true);
    let other = app.organization(&owner, "Beta");
    create_webhook(
        &app,
        &owner,
        &other,
        "http://127.0.0.1:9/hook",
        json!(["*"]),
    );
}

fn only_owners_and_admins_manage_webhooks(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let technical = app.member(&owner, &org, "tech@example.com", "technical");
    let stranger = app.user("stranger@example.com");
    let body = json!({"organizationid": org, "url": "https://93.184.216.34/h", "events": ["domain.added"]});
    let by_admin = app
        .post("/customer/createwebhook", Some(&admin.token), body.clone())
        .ok();
    let id = by_admin.get("webhook")["webhookid"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/customer/createwebhook",
        Some(&technical.token),
        body.clone(),
    )
    .err(403, "forbidden");
    app.post("/customer/createwebhook", Some(&stranger), body)
        .err(404, "not_found");
    // Who may not gets 403 or 404 before the URL is looked at: nobody else
    // learns what a name resolves to.
    let private = json!({"organizationid": org, "url": "http://localhost/h", "events": ["*"]});
    app.post(
        "/customer/createwebhook",
        Some(&technical.token),
        private.clone(),
    )
    .err(403, "forbidden");
    app.post("/customer/createwebhook", Some(&stranger), private)
        .err(404, "not_found");
    for (token, status) in [(&technical.token, 403), (&stranger, 404)] {
        let kind = if status == 403 {
            "forbidden"
        } else {
            "not_found"
        };
        app.get(
            &format!("/customer/listwebhooks?organizationid={org}"),
            Some(token),
        )
        .err(status, kind);
        app.get(
            &format!("/customer/listwebhookdeliveries?webhookid={id}"),
            Some(token),
        )
        .err(status, kind);
        app.post(
            "/customer/deletewebhook",
            Some(token),
            json!({"webhookid": id}),
        )
        .err(status, kind);
    }
    app.post(
        "/customer/deletewebhook",
        Some(&owner),
        json!({"webhookid": "no-such-webhook"}),
    )
    .err(404, "not_found");
    app.post(
        "/customer/deletewebhook",
        Some(&admin.token),
        json!({"webhookid": id}),
    )
    .ok();
    let events = app
        .get(
            &format!("/customer/listauditevents?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert!(events
        .get("auditevents")
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "webhook.deleted" && e["target"] == id.as_str()));
    app.get(
        &format!("/customer/listwebhookdeliveries?webhookid={id}"),
        Some(&owner),
    )
    .err(404, "not_found");
}

fn a_name_that_resolves_to_a_private_address_is_not_reached(backend: Backend) {
    // Registered while private targets were allowed, by a name: once they
    // are not, the name's loopback address is refused at each try.
    let mut app = TestApp::start_with(backend, allowing_private);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let receiver = Receiver::start(&[]);
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let webhook = create_webhook(&app, &owner, &org, &by_name, json!(["project.created"]));
    let webhook_id = webhook["webhookid"].as_str().unwrap().to_string();
    app.restart(|c| {
        c.webhook_allow_private = false;
        c.webhook_max_attempts = 1;
    });
    app.project(&owner, &org, "Website");
    wait_for("the delivery given up", Duration::from_secs(20), || {
        deliveries(&app, &owner, &webhook_id)
            .first()
            .is_some_and(|d| d["state"] == "failed")
    });
    let log = deliveries(&app, &owner, &webhook_id);
    assert_eq!(log[0]["attempts"], 1);
    assert_eq!(log[0]["lastcode"], Value::Null);
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
    let why = sql_strings(&app, "SELECT last_error AS value FROM webhook_deliveries");
    assert!(why[0].contains("no public address"), "{why:?}");
}

fn deliveries_page_newest_first_and_deleting_a_webhook_ends_them(backend: Backend) {
    let app = TestApp::start_with(backend, allowing_private);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let receiver = Receiver::start(&[]);
    let webhook = create_webhook(
        &app,
        &owner,
        &org,
        &receiver.url,
        json!(["project.created"]),
    );
    let webhook_id = webhook["webhookid"].as_str().unwrap().to_string();
    for i in 0..5 {
        app.project(&owner, &org, &format!("P{i}"));
    }
    receiver.wait_for(5, Duration::from_secs(20));
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/customer/listwebhookdeliveries?webhookid={webhook_id}&limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = app.get(&path, Some(&owner)).ok();
        pages += 1;
        seen.extend(page.get("deliveries").as_array().unwrap().clone());
        match page.get("nextcursor").as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!((pages, seen.len()), (3, 5));
    let ids: Vec<&str> = seen
        .iter()
        .map(|d| d["deliveryid"].as_str().unwrap())
        .collect();
    let mut newest_first = ids.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, newest_first);

    // Deleted: its log goes with it, and nothing more is sent.
    app.post(
        "/customer/deletewebhook",
        Some(&owner),
        json!({"webhookid": webhook_id}),
    )
    .ok();
    app.project(&owner, &org, "After");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(receiver.received().len(), 5);
    assert!(sql_strings(&app, "SELECT id AS value FROM webhook_deliveries").is_empty());
}

/// Ten webhooks of one organization at an endpoint that never answers take
/// only that organization's share of the sender: another organization's
/// delivery still arrives within 2 s of its event (API.md §6).
fn a_dead_endpoint_does_not_hold_back_another_organizations_delivery(backend: Backend) {
    // Bounds small enough that the slow organization's backlog alone would
    // fill the sender: only its share keeps room for the others.
    const IN_ALL: u32 = 8;
    const SHARE: u32 = 4;
    let app = TestApp::start_with(backend, |c| {
        allowing_private(c);
        c.webhook_concurrency = IN_ALL;
        c.webhook_concurrency_per_organization = SHARE;
        // Events wake the sender: its poll plays no part.
        c.mail_poll_ms = 60_000;
    });
    let owner = app.user("owner@example.com");
    let slow = app.organization(&owner, "Slow");
    let other = app.organization(&owner, "Other");
    let silent = Silent::start();
    for i in 0..10 {
        let url = format!("{}/{i}", silent.url);
        create_webhook(&app, &owner, &slow, &url, json!(["project.created"]));
    }
    let receiver = Receiver::start(&[]);
    create_webhook(
        &app,
        &owner,
        &other,
        &receiver.url,
        json!(["project.created"]),
    );
    // Thirty deliveries that will each wait out the 10 s timeout, due before
    // the other organization's.
    for i in 0..3 {
        app.project(&owner, &slow, &format!("P{i}"));
    }
    silent.wait_for_connections(SHARE as usize, Duration::from_secs(10));
    // Time for the sender to take more of them, were it going to.
    std::thread::sleep(Duration::from_millis(300));

    let event = Instant::now();
    app.project(&owner, &other, "Website");
    let got = receiver.wait_for(1, Duration::from_secs(15));
    let waited = event.elapsed();
    assert!(
        waited < Duration::from_secs(2),
        "the other organization's delivery arrived {:.1} s after its event",
        waited.as_secs_f64()
    );
    assert_eq!(got[0].json()["type"], "project.created");
    assert_eq!(got[0].json()["data"]["organizationid"], other.as_str());
    assert_eq!(
        silent.connections(),
        SHARE as usize,
        "the slow organization kept to its share"
    );
}

/// One delivery at a time: each next one goes out as the one before is
/// recorded, not at the sender's next poll.
fn a_freed_slot_takes_the_next_delivery_at_once(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        allowing_private(c);
        c.webhook_concurrency = 1;
        c.mail_poll_ms = 60_000;
    });
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let receiver = Receiver::start(&[]);
    let webhook = create_webhook(
        &app,
        &owner,
        &org,
        &receiver.url,
        json!(["project.created"]),
    );
    let webhook_id = webhook["webhookid"].as_str().unwrap().to_string();
    for i in 0..5 {
        app.project(&owner, &org, &format!("P{i}"));
    }
    // Were the poll needed, the last would come four minutes from now.
    receiver.wait_for(5, Duration::from_secs(20));
    wait_for("all recorded", Duration::from_secs(10), || {
        deliveries(&app, &owner, &webhook_id)
            .iter()
            .all(|d| d["state"] == "delivered")
    });
}

fn several_processes_deliver_each_event_once(backend: Backend) {
    let app = TestApp::start_with(backend, allowing_private);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let receiver = Receiver::start(&[]);
    let webhook = create_webhook(
        &app,
        &owner,
        &org,
        &receiver.url,
        json!(["project.created"]),
    );
    let secret = webhook["secret"].as_str().unwrap().to_string();
    let others: Vec<TestServer> = (0..3)
        .map(|_| TestServer::start(app.config.clone()))
        .collect();
    let clients: Vec<crate::support::Client> = others
        .iter()
        .map(|s| crate::support::Client::new(&s.base))
        .collect();
    const EVENTS: usize = 24;
    crate::support::in_parallel(4, |worker| {
        for i in (worker..EVENTS).step_by(4) {
            let name = format!("P{i}");
            let body = json!({"organizationid": org, "name": name});
            match worker {
                0 => app.post("/customer/createproject", Some(&owner), body).ok(),
                n => clients[n - 1]
                    .post("/customer/createproject", Some(&owner), body)
                    .ok(),
            };
        }
    });
    let got = receiver.wait_for(EVENTS, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(2));
    let got = receiver.received().len().max(got.len());
    let all = receiver.received();
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for request in &all {
        request.assert_signed_with(&secret);
        *per_event
            .entry(request.header("webhook-id").to_string())
            .or_default() += 1;
    }
    assert_eq!(got, EVENTS, "each event once");
    assert_eq!(per_event.len(), EVENTS);
    assert!(per_event.values().all(|&n| n == 1), "{per_event:?}");
    for server in others {
        server.stop();
    }
}

/// More organizations than it takes for their shares to fill the sender
/// (in all ÷ share), each with a backlog at an endpoint that never answers:
/// they hold only part of it, and another organization's delivery still
/// arrives within 2 s of its event (API.md §6).
fn organizations_whose_shares_fill_the_sender_leave_a_slot_for_another(backend: Backend) {
    const IN_ALL: u32 = 8;
    const SHARE: u32 = 4;
    const SLOW: usize = 3;
    let app = TestApp::start_with(backend, |c| {
        allowing_private(c);
        c.webhook_concurrency = IN_ALL;
        c.webhook_concurrency_per_organization = SHARE;
        c.mail_poll_ms = 60_000;
    });
    let owner = app.user("owner@example.com");
    let silent = Silent::start();
    for i in 0..SLOW {
        let org = app.organization(&owner, &format!("Slow {i}"));
        // Two webhooks each, so that each could reach its share (one
        // webhook holds at most half its organization's).
        for w in 0..2 {
            let url = format!("{}/{i}/{w}", silent.url);
            create_webhook(&app, &owner, &org, &url, json!(["project.created"]));
        }
        for p in 0..3 {
            app.project(&owner, &org, &format!("P{p}"));
        }
    }
    // Each slow organization's first delivery, and beyond those half the
    // sender: the other half is kept for first deliveries.
    let held = SLOW + IN_ALL as usize / 2;
    silent.wait_for_connections(held, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(silent.connections(), held, "the slow organizations' part");

    let other = app.organization(&owner, "Other");
    let receiver = Receiver::start(&[]);
    create_webhook(
        &app,
        &owner,
        &other,
        &receiver.url,
        json!(["project.created"]),
    );
    let event = Instant::now();
    app.project(&owner, &other, "Website");
    let got = receiver.wait_for(1, Duration::from_secs(15));
    let waited = event.elapsed();
    assert!(
        waited < Duration::from_secs(2),
        "the other organization's delivery arrived {:.1} s after its event",
        waited.as_secs_f64()
    );
    assert_eq!(got[0].json()["data"]["organizationid"], other.as_str());
    assert_eq!(silent.connections(), held);
}

/// One webhook at an endpoint that never answers, with a backlog, takes at
/// most half its organization's share: the organization's other webhook
/// still gets each delivery within 2 s of its event.
fn a_dead_webhook_does_not_hold_back_its_organizations_others(backend: Backend) {
    const SHARE: u32 = 4;
    const BACKLOG: usize = 6;
    let app = TestApp::start_with(backend, |c| {
        allowing_private(c);
        c.webhook_concurrency = 8;
        c.webhook_concurrency_per_organization = SHARE;
        c.mail_poll_ms = 60_000;
    });
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let silent = Silent::start();
    create_webhook(&app, &owner, &org, &silent.url, json!(["project.created"]));
    let receiver = Receiver::start(&[]);
    create_webhook(
        &app,
        &owner,
        &org,
        &receiver.url,
        json!(["project.created"]),
    );
    for p in 0..BACKLOG {
        app.project(&owner, &org, &format!("P{p}"));
    }
    // The healthy webhook has them all while the dead one's wait.
    receiver.wait_for(BACKLOG, Duration::from_secs(5));
    let webhook_share = SHARE as usize / 2;
    silent.wait_for_connections(webhook_share, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        silent.connections(),
        webhook_share,
        "the dead webhook's part"
    );

    let event = Instant::now();
    let project = app.project(&owner, &org, "Website");
    let got = receiver.wait_for(BACKLOG + 1, Duration::from_secs(15));
    let waited = event.elapsed();
    assert!(
        waited < Duration::from_secs(2),
        "the healthy webhook's delivery arrived {:.1} s after its event",
        waited.as_secs_f64()
    );
    assert_eq!(got[BACKLOG].json()["data"]["target"], project.as_str());
}

/// A record that fails (here a trigger refuses it) loses nothing: the
/// claim is still renewed meanwhile, and once the database takes it the
/// outcome is recorded, without the delivery being sent again.
fn a_record_that_fails_is_tried_again_while_the_claim_is_renewed(backend: Backend) {
    let postgres = matches!(backend, Backend::Postgres(_));
    let app = TestApp::start_with(backend, |c| {
        allowing_private(c);
        c.mail_poll_ms = 60_000;
    });
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let receiver = Receiver::start(&[]);
    let webhook = create_webhook(
        &app,
        &owner,
        &org,
        &receiver.url,
        json!(["project.created"]),
    );
    let webhook_id = webhook["webhookid"].as_str().unwrap().to_string();
    if postgres {
        sql(
            &app,
            "CREATE FUNCTION hold_back_records() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'held back by the test'; END $$",
        );
        sql(
            &app,
            "CREATE TRIGGER hold_back_records BEFORE UPDATE ON webhook_deliveries \
             FOR EACH ROW WHEN (NEW.state = 'delivered') EXECUTE PROCEDURE hold_back_records()",
        );
    } else {
        sql(
            &app,
            "CREATE TRIGGER hold_back_records BEFORE UPDATE OF state ON webhook_deliveries \
             WHEN NEW.state = 'delivered' BEGIN SELECT RAISE(ABORT, 'held back by the test'); END",
        );
    }
    app.project(&owner, &org, "Website");
    receiver.wait_for(1, Duration::from_secs(10));
    let claimed_until = || {
        sql_strings(
            &app,
            "SELECT CAST(claimed_until AS TEXT) AS value FROM webhook_deliveries",
        )
    };
    std::thread::sleep(Duration::from_millis(500));
    let before = claimed_until();
    // More than a heartbeat.
    std::thread::sleep(Duration::from_millis(3_500));
    let after = claimed_until();
    let [before, after] = [&before, &after].map(|v| {
        assert_eq!(v.len(), 1, "one claimed delivery: {v:?}");
        v[0].parse::<i64>().expect("a time")
    });
    assert!(
        after > before,
        "the claim is renewed while the record waits"
    );
    assert_eq!(deliveries(&app, &owner, &webhook_id)[0]["state"], "pending");

    if postgres {
        sql(&app, "DROP TRIGGER hold_back_records ON webhook_deliveries");
    } else {
        sql(&app, "DROP TRIGGER hold_back_records");
    }
    wait_for("the record", Duration::from_secs(5), || {
        deliveries(&app, &owner, &webhook_id)[0]["state"] == "delivered"
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.received().len(), 1, "sent once");
}
