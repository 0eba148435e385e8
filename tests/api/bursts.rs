//! Bursts of password checks queue instead of failing (API.md §12): logins
//! and accepts of one invite, all at once, answer what they would one by
//! one; only past `COLLABD_HASH_QUEUE` is the answer 503 with
//! `Retry-After`, and a call that will be refused anyway is refused before
//! it waits for a hash.

use serde_json::json;

use crate::support::{in_parallel, Backend, Client, Process, Resp, TestApp};
use crate::{on_both_backends, on_postgres};

on_both_backends!(
    sixty_four_logins_answer_200_or_401,
    forty_accepts_of_one_invite_one_succeeds,
    past_the_queue_is_503_with_retry_after,
    calls_refused_anyway_never_wait_for_a_hash,
);
on_postgres!(forty_accepts_across_three_processes);

const PASSWORD: &str = "correct horse battery";

fn sixty_four_logins_answer_200_or_401(backend: Backend) {
    // The failed-login limit is not what answers here.
    let app = TestApp::start_with(backend, |c| c.login_attempts_per_minute = 0);
    let accounts: Vec<String> = (0..4).map(|i| format!("burst{i}@example.com")).collect();
    for email in &accounts {
        app.signup(email, PASSWORD, "Burst");
    }
    let answers = in_parallel(64, |i| {
        let password = if i % 2 == 0 {
            PASSWORD
        } else {
            "wrong password"
        };
        let r = app.post(
            "/user/login",
            None,
            json!({"email": accounts[i % accounts.len()], "password": password}),
        );
        (i, r.status)
    });
    for (i, status) in &answers {
        let expected = if i % 2 == 0 { 200 } else { 401 };
        assert_eq!(*status, expected, "login {i}: {answers:?}");
    }
}

/// An invite for a newcomer and its token; accepting it with a password
/// makes an account, so every accept hashes.
fn invite_for_newcomer(app: &TestApp) -> String {
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.invite(&owner, &org, "newcomer@example.com", "technical");
    app.invite_token("newcomer@example.com", 1)
}

fn accept_with_password(client: &Client, token: &str) -> Resp {
    client.post(
        "/invite/accept",
        None,
        json!({"token": token, "password": PASSWORD, "name": "Newcomer"}),
    )
}

/// One 200 and the rest 410 `accepted` or 409: none 503.
fn assert_one_accepted(answers: &[(u16, String)]) {
    assert_eq!(
        answers.iter().filter(|(s, _)| *s == 200).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .all(|(s, reason)| *s == 200 || (*s == 410 && reason == "accepted") || *s == 409),
        "{answers:?}"
    );
}

fn forty_accepts_of_one_invite_one_succeeds(backend: Backend) {
    let app = TestApp::start(backend);
    let token = invite_for_newcomer(&app);
    let answers = in_parallel(40, |_| {
        let r = accept_with_password(&app, &token);
        (r.status, r.reason().to_string())
    });
    assert_one_accepted(&answers);
    // The password given is the account's.
    app.login("newcomer@example.com", PASSWORD);
}

fn forty_accepts_across_three_processes(backend: Backend) {
    let app = TestApp::start(backend);
    let token = invite_for_newcomer(&app);
    let mail_dir = app.db.dir().join("other-mail");
    let env = [
        ("COLLABD_DATABASE_URL", app.db.url.as_str()),
        ("COLLABD_MAIL_DIR", mail_dir.to_str().expect("path")),
        ("COLLABD_DB_POOL_SIZE", "4"),
    ];
    let others = [Process::spawn(&env), Process::spawn(&env)];
    let clients = [
        app.client.clone(),
        Client::new(&others[0].base),
        Client::new(&others[1].base),
    ];
    let answers = in_parallel(40, |i| {
        let r = accept_with_password(&clients[i % 3], &token);
        (r.status, r.reason().to_string())
    });
    assert_one_accepted(&answers);
}

fn past_the_queue_is_503_with_retry_after(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.login_attempts_per_minute = 0;
        c.hash_concurrency = 1;
        c.hash_queue = 1;
    });
    app.signup("queued@example.com", PASSWORD, "Queued");
    // One hash runs and one waits; the others of a burst arrive while the
    // first still runs (an argon2id hash takes tens of milliseconds), so at
    // least one finds the queue full. A few bursts, so a slow start of the
    // threads cannot make the test pass vacuously or fail.
    let mut refused = None;
    for _ in 0..5 {
        let answers = in_parallel(24, |_| {
            app.post(
                "/user/login",
                None,
                json!({"email": "queued@example.com", "password": PASSWORD}),
            )
        });
        assert!(
            answers.iter().all(|r| [200, 503].contains(&r.status)),
            "{:?}",
            answers.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        if let Some(r) = answers.into_iter().find(|r| r.status == 503) {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("a burst past a queue of one was refused");
    r.assert_envelope();
    assert_eq!(r.error_type(), "unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    // Once the burst is over the same login passes.
    app.login("queued@example.com", PASSWORD);
}

fn calls_refused_anyway_never_wait_for_a_hash(backend: Backend) {
    // No queue at all, and one hash at a time: a call that needed a hash
    // while the logins hold it would answer 503.
    let app = TestApp::start_with(backend, |c| {
        c.login_attempts_per_minute = 0;
        c.hash_concurrency = 1;
        c.hash_queue = 0;
    });
    let token = invite_for_newcomer(&app);
    accept_with_password(&app, &token).ok();
    app.signup("busy@example.com", PASSWORD, "Busy");
    let answers = in_parallel(48, |i| {
        let r = match i % 4 {
            // Keep the one hash busy.
            0 => app.post(
                "/user/login",
                None,
                json!({"email": "busy@example.com", "password": PASSWORD}),
            ),
            // Accepted already.
            1 => accept_with_password(&app, &token),
            // An unknown token.
            2 => accept_with_password(&app, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            // A reset link that does not exist.
            _ => app.post(
                "/user/resetpassword",
                None,
                json!({"token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "password": PASSWORD}),
            ),
        };
        (i % 4, r.status, r.reason().to_string())
    });
    for (kind, status, reason) in &answers {
        match kind {
            0 => assert!([200, 503].contains(status), "{answers:?}"),
            1 => assert_eq!((*status, reason.as_str()), (410, "accepted"), "{answers:?}"),
            _ => assert_eq!(*status, 404, "{answers:?}"),
        }
    }
    // A taken address at sign-up is refused before its hash, too.
    let taken = in_parallel(8, |_| {
        app.post(
            "/user/signup",
            None,
            json!({"email": "busy@example.com", "password": PASSWORD, "name": "Again"}),
        )
        .status
    });
    assert!(taken.iter().all(|s| *s == 409), "{taken:?}");
}
