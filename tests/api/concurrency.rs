//! Races: many accepts of one invite, two owners demoting each other.

use serde_json::json;

use crate::on_both_backends;
use crate::support::{in_parallel, Backend, TestApp};

on_both_backends!(
    twenty_accepts_one_success,
    owners_demoting_each_other_leave_an_owner,
    mixed_load_on_a_small_pool,
    two_servers_write_at_once,
);

fn twenty_accepts_one_success(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    // A newcomer without an account, and an existing, confirmed user.
    app.invite(&owner, &org, "racer@example.com", "technical");
    let token = app.invite_token("racer@example.com", 1);
    let statuses = in_parallel(20, |_| {
        let r = app.post("/invite/accept", None, json!({"token": token}));
        (r.status, r.reason().to_string())
    });
    let ok = statuses.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|(s, reason)| *s == 200 || (*s == 410 && reason == "accepted")),
        "{statuses:?}"
    );
    let list = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert_eq!(
        list.get("collaborators").as_array().unwrap().len(),
        2,
        "one membership, not more"
    );
    // Exactly one account-created email.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let made = app
        .mail
        .messages()
        .iter()
        .filter(|m| {
            m.to.iter().any(|t| t == "racer@example.com") && m.subject().contains("account")
        })
        .count();
    assert_eq!(made, 1);
}

fn owners_demoting_each_other_leave_an_owner(backend: Backend) {
    let app = TestApp::start(backend);
    for round in 0..5 {
        let first_email = format!("first{round}@example.com");
        let first = app.user(&first_email);
        let org = app.organization(&first, &format!("Race {round}"));
        let second = app.member(&first, &org, &format!("second{round}@example.com"), "owner");
        let first_id = app.first_collaborator(&first, &org);
        // Each owner demotes the other at the same instant.
        let moves = [(&first, &second.collaboratorid), (&second.token, &first_id)];
        let results: Vec<u16> = in_parallel(2, |i| {
            let (token, target) = moves[i];
            app.post(
                "/customer/editcollaborator",
                Some(token),
                json!({"collaboratorid": target, "role": "admin"}),
            )
            .status
        });
        // One demotion wins; the loser is an admin by the time its own
        // demotion is judged, and admins do not touch owners.
        assert_eq!(
            results.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {results:?}"
        );
        // Whoever is still an owner can read the list; count the owners.
        let reader = if results[0] == 200 {
            &first
        } else {
            &second.token
        };
        let list = app
            .get(
                &format!("/customer/listcollaborators?organizationid={org}"),
                Some(reader),
            )
            .ok();
        let owners = list
            .get("collaborators")
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["role"] == "owner")
            .count();
        assert!(owners >= 1, "round {round}: no owner left ({results:?})");
    }
}

/// Many writers and readers at once on a small pool: nothing is refused,
/// nothing is lost, every invite is listed once.
fn mixed_load_on_a_small_pool(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.db_pool_size = Some(2));
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let statuses: Vec<u16> = in_parallel(8, |t| {
        (0..15)
            .map(|i| {
                let r = if i % 2 == 0 {
                    app.post(
                        "/invite/create",
                        Some(&owner),
                        json!({"organizationid": org, "email": format!("load{t}-{i}@example.com")}),
                    )
                } else {
                    app.get(
                        &format!("/customer/listcollaborators?organizationid={org}"),
                        Some(&owner),
                    )
                };
                r.status
            })
            .collect::<Vec<_>>()
    })
    .concat();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let r = app
        .get(&format!("/invite/list?organizationid={org}"), Some(&owner))
        .ok();
    assert_eq!(r.get("invites").as_array().unwrap().len(), 8 * 8);
}

/// Two servers on one database (two processes in production), writing at
/// once: SQLite's write lock is taken up front, so neither fails.
fn two_servers_write_at_once(backend: Backend) {
    let app = TestApp::start(backend);
    let mut config = crate::support::test_config(&app.db);
    config.smtp_url = Some(app.mail.url());
    let second = crate::support::TestServer::start(config);
    let other = crate::support::Client::new(&second.base);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let statuses: Vec<u16> = in_parallel(8, |t| {
        let client = if t % 2 == 0 { &app.client } else { &other };
        (0..10)
            .map(|i| {
                client
                    .post(
                        "/invite/create",
                        Some(&owner),
                        json!({"organizationid": org, "email": format!("two{t}-{i}@example.com")}),
                    )
                    .status
            })
            .collect::<Vec<_>>()
    })
    .concat();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let r = app
        .get(&format!("/invite/list?organizationid={org}"), Some(&owner))
        .ok();
    assert_eq!(r.get("invites").as_array().unwrap().len(), 80);
}
