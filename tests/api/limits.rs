//! The rate limits of API.md §8 over real HTTP: unknown tokens per client
//! address (and whose address that is behind a proxy), sign-ups per address,
//! invites per organization. Each answers 429 with `Retry-After`. A flood of
//! distinct keys does not reset another key's window. `shared` holds each
//! limit across processes; `kept` says what the counts leave at rest.

mod kept;
mod shared;

use serde_json::json;

use crate::on_both_backends;
use crate::support::{in_parallel, Backend, TestApp};

on_both_backends!(
    guessing_tokens_meets_429_per_address,
    behind_an_untrusted_peer_the_header_is_ignored,
    signups_and_invites_meet_their_limits,
    a_flood_of_addresses_does_not_reset_anothers_mail_limit,
);

fn unknown_token(app: &TestApp, from: &str, n: usize) -> crate::support::Resp {
    let token = format!("UnknownToken{n:04}abcdefghijklmnopqrstuvwxyz");
    app.post_with(
        "/invite/details",
        None,
        &[("X-Forwarded-For", from)],
        json!({"token": token}),
    )
}

fn retry_after(r: &crate::support::Resp) -> u64 {
    r.header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds")
}

fn guessing_tokens_meets_429_per_address(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.token_attempts_per_minute = 30;
        c.trusted_proxies = "127.0.0.1".into();
    });
    let statuses: Vec<u16> = (0..40)
        .map(|n| unknown_token(&app, "203.0.113.5", n).status)
        .collect();
    assert!(statuses[..30].iter().all(|s| *s == 404), "{statuses:?}");
    assert!(statuses[30..].iter().all(|s| *s == 429), "{statuses:?}");
    let r = unknown_token(&app, "203.0.113.5", 99).err(429, "rate_limited");
    assert!((1..=60).contains(&retry_after(&r)));
    // Every token call from that address waits, whichever endpoint.
    app.post_with(
        "/user/confirm",
        None,
        &[("X-Forwarded-For", "203.0.113.5")],
        json!({"token": "AnotherUnknownToken0123456789"}),
    )
    .err(429, "rate_limited");
    // The page the emailed link opens counts and waits the same way.
    let page = app.request(
        "GET",
        "/invite/UnknownToken0123456789abcdefghijklmnop",
        &[("X-Forwarded-For", "203.0.113.5")],
        b"",
    );
    assert_eq!(page.status, 429);
    // Another client behind the same proxy is not affected; the proxy's own
    // address in front of it is skipped.
    unknown_token(&app, "203.0.113.6, 127.0.0.1", 0).err(404, "not_found");
}

fn behind_an_untrusted_peer_the_header_is_ignored(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.token_attempts_per_minute = 5);
    // Each request claims another address; the peer is what counts.
    let statuses: Vec<u16> = (0..8)
        .map(|n| unknown_token(&app, &format!("198.51.100.{n}"), n).status)
        .collect();
    assert_eq!(&statuses[..5], &[404; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
}

fn signups_and_invites_meet_their_limits(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.signups_per_hour = 3;
        c.invites_per_hour = 2;
        c.trusted_proxies = "127.0.0.0/8".into();
    });
    let signup = |email: &str, from: &str| {
        app.post_with(
            "/user/signup",
            None,
            &[("X-Forwarded-For", from)],
            json!({"email": email, "password": "correct horse battery", "name": "N"}),
        )
    };
    for n in 0..3 {
        signup(&format!("s{n}@example.com"), "203.0.113.7").ok();
    }
    let r = signup("s3@example.com", "203.0.113.7").err(429, "rate_limited");
    assert!(retry_after(&r) <= 3600);
    signup("s3@example.com", "203.0.113.8").ok();

    let owner = app.login("s0@example.com", "correct horse battery");
    let org = app.organization(&owner, "Acme");
    let first = app.invite(&owner, &org, "a@example.com", "collaborator");
    app.invite(&owner, &org, "b@example.com", "collaborator");
    app.post(
        "/invite/create",
        Some(&owner),
        json!({"organizationid": org, "email": "c@example.com"}),
    )
    .err(429, "rate_limited");
    // A resend counts too.
    app.post(
        "/invite/resend",
        Some(&owner),
        json!({"inviteid": first["inviteid"]}),
    )
    .err(429, "rate_limited");
    // Another organization has its own hour.
    let other = app.organization(&owner, "Other");
    app.invite(&owner, &other, "c@example.com", "collaborator");
}

/// The mails per address per hour hold through a flood of other addresses
/// (more than the limits once kept counts for in memory): the victim gets
/// no further mail.
fn a_flood_of_addresses_does_not_reset_anothers_mail_limit(backend: Backend) {
    const KEYS: usize = 1000;
    let app = TestApp::start_with(backend, |c| c.mails_per_address_per_hour = 5);
    app.signup("victim@example.com", "correct horse battery", "Victim");
    app.signup(
        "bystander@example.com",
        "correct horse battery",
        "Bystander",
    );
    let reset = |email: &str| {
        app.post("/user/requestpasswordreset", None, json!({"email": email}))
            .ok();
    };
    let to = |address: &str| {
        app.mail
            .messages()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == address))
            .count()
    };
    // The confirmation and four resets: the hour's limit.
    for _ in 0..6 {
        reset("victim@example.com");
    }
    app.mail.wait_for_nth("victim@example.com", 5);
    // Many distinct addresses.
    in_parallel(24, |t| {
        for n in (t..KEYS + 200).step_by(24) {
            reset(&format!("flood{n}@example.com"));
        }
    });
    for _ in 0..3 {
        reset("victim@example.com");
    }
    // A mail asked for after those is delivered; none came to the victim.
    reset("bystander@example.com");
    app.mail.wait_for_nth("bystander@example.com", 2);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(to("victim@example.com"), 5, "no mail past the limit");
}
