//! Every limit of API.md §8 holds exactly whichever process takes the
//! requests (API.md §12): the same calls, spread over three collabd
//! processes on one PostgreSQL, meet the same limits as on one process (on
//! both databases); a burst split across the processes gets no more through
//! than the limit. Each 429 carries `Retry-After` within its window.

use serde_json::json;

use crate::smtp::SmtpServer;
use crate::support::{in_parallel, Backend, Client, Process, Resp, TestApp, TestDatabase};
use crate::{on_both_backends, on_postgres};

on_both_backends!(
    each_limit_holds_on_one_process,
    a_burst_on_one_process_never_over_counts,
    the_signups_own_confirmation_counts_toward_the_mail_limit,
);

on_postgres!(
    each_limit_holds_across_three_processes,
    a_burst_across_three_processes_never_over_counts,
);

const MAILS: usize = 5;
const SIGNUPS: usize = 4;
const LOGINS: usize = 3;
const TOKENS: usize = 6;
const INVITES: usize = 4;
const MINUTE: u64 = 60;
const HOUR: u64 = 3600;
/// Where the accounts a test needs sign up from (three at most, within
/// the sign-ups per address).
const SETUP: &str = "198.51.100.1";
const PASSWORD: &str = "correct horse battery";

fn one_process(backend: Backend) -> TestApp {
    TestApp::start_with(backend, |c| {
        c.mails_per_address_per_hour = MAILS as u32;
        c.signups_per_hour = SIGNUPS as u32;
        c.login_attempts_per_minute = LOGINS as u32;
        c.token_attempts_per_minute = TOKENS as u32;
        c.invites_per_hour = INVITES as u32;
        c.trusted_proxies = "127.0.0.1".into();
        // As many hashes at once as a burst lets through: the burst meets
        // the limits, not the hashing queue.
        c.hash_concurrency = SIGNUPS;
    })
}

/// Three collabd processes on one database, mailing to one SMTP server.
struct Cluster {
    clients: Vec<Client>,
    mail: SmtpServer,
    _processes: Vec<Process>,
    _db: TestDatabase,
}

fn three_processes(backend: Backend) -> Cluster {
    let db = TestDatabase::new(&backend);
    let mail = SmtpServer::start();
    let smtp = mail.url();
    let (mails, signups, logins, tokens, invites) = (
        MAILS.to_string(),
        SIGNUPS.to_string(),
        LOGINS.to_string(),
        TOKENS.to_string(),
        INVITES.to_string(),
    );
    let env = [
        ("COLLABD_DATABASE_URL", db.url.as_str()),
        ("COLLABD_SMTP_URL", smtp.as_str()),
        ("COLLABD_MAIL_POLL_MS", "50"),
        ("COLLABD_MAILS_PER_ADDRESS_PER_HOUR", mails.as_str()),
        ("COLLABD_SIGNUPS_PER_HOUR", signups.as_str()),
        ("COLLABD_LOGIN_ATTEMPTS_PER_MINUTE", logins.as_str()),
        ("COLLABD_TOKEN_ATTEMPTS_PER_MINUTE", tokens.as_str()),
        ("COLLABD_INVITES_PER_HOUR", invites.as_str()),
        ("COLLABD_TRUSTED_PROXIES", "127.0.0.1"),
        ("COLLABD_HASH_CONCURRENCY", signups.as_str()),
    ];
    let processes: Vec<Process> = (0..3).map(|_| Process::spawn(&env)).collect();
    Cluster {
        clients: processes.iter().map(|p| Client::new(&p.base)).collect(),
        mail,
        _processes: processes,
        _db: db,
    }
}

/// The calls of these tests, each the `n`-th, taken by process `n` mod the
/// number of processes.
struct Calls<'a> {
    clients: &'a [Client],
    mail: &'a SmtpServer,
}

impl Calls<'_> {
    fn on(&self, n: usize) -> &Client {
        &self.clients[n % self.clients.len()]
    }

    fn signup(&self, n: usize, email: &str, from: &str) -> Resp {
        self.on(n).post_with(
            "/user/signup",
            None,
            &[("X-Forwarded-For", from)],
            json!({"email": email, "password": PASSWORD, "name": "N"}),
        )
    }

    fn login(&self, n: usize, email: &str, password: &str) -> Resp {
        self.on(n).post(
            "/user/login",
            None,
            json!({"email": email, "password": password}),
        )
    }

    fn session(&self, email: &str) -> String {
        self.login(0, email, PASSWORD).ok().get("login")["token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    fn login_link(&self, n: usize, email: &str) -> Resp {
        self.on(n)
            .post("/user/requestloginlink", None, json!({"email": email}))
    }

    fn unknown_token(&self, n: usize, from: &str) -> Resp {
        let token = format!("UnknownToken{n:04}abcdefghijklmnopqrstuvwxyz");
        self.on(n).post_with(
            "/invite/details",
            None,
            &[("X-Forwarded-For", from)],
            json!({"token": token}),
        )
    }

    fn organization(&self, owner: &str) -> String {
        self.on(0)
            .post(
                "/user/createorganization",
                Some(owner),
                json!({"name": "Acme"}),
            )
            .ok()
            .get("organization")["organizationid"]
            .as_str()
            .expect("organizationid")
            .to_string()
    }

    fn invite(&self, n: usize, owner: &str, org: &str, email: &str) -> Resp {
        self.on(n).post(
            "/invite/create",
            Some(owner),
            json!({"organizationid": org, "email": email}),
        )
    }

    /// How many mails `address` got, once the senders are done: waits for
    /// `expected`, then a little longer for any one too many.
    fn mails_to(&self, address: &str, expected: usize) -> usize {
        self.mail.wait_for_nth(address, expected);
        std::thread::sleep(std::time::Duration::from_millis(700));
        self.mail
            .messages()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == address))
            .count()
    }
}

/// A 429 `rate_limited` whose `Retry-After` is within (0, `window`] seconds.
fn limited(r: Resp, window: u64) {
    let r = r.err(429, "rate_limited");
    let secs: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!(
        (1..=window).contains(&secs),
        "Retry-After {secs} not in (0, {window}]"
    );
}

fn statuses(responses: &[Resp]) -> (usize, usize, Vec<u16>) {
    let all: Vec<u16> = responses.iter().map(|r| r.status).collect();
    let limited = all.iter().filter(|s| **s == 429).count();
    (all.len() - limited, limited, all)
}

fn each_limit_holds_on_one_process(backend: Backend) {
    let app = one_process(backend);
    each_limit_holds(&Calls {
        clients: std::slice::from_ref(&app.client),
        mail: &app.mail,
    });
}

fn each_limit_holds_across_three_processes(backend: Backend) {
    let cluster = three_processes(backend);
    each_limit_holds(&Calls {
        clients: &cluster.clients,
        mail: &cluster.mail,
    });
}

/// The limits, met by calls taken in turn by each process.
fn each_limit_holds(calls: &Calls<'_>) {
    // Mails per address: the sign-up's confirmation, then nine sign-in
    // links asked for: five mails in all; every ask answers 200.
    calls.signup(0, "mailee@example.com", SETUP).ok();
    for n in 0..9 {
        calls.login_link(n, "mailee@example.com").ok();
    }
    assert_eq!(calls.mails_to("mailee@example.com", MAILS), MAILS);

    // Sign-ups per client address: four, then 429 on every process.
    for n in 0..SIGNUPS {
        calls
            .signup(n, &format!("new{n}@example.com"), "203.0.113.10")
            .ok();
    }
    for n in SIGNUPS..SIGNUPS + 3 {
        limited(
            calls.signup(n, &format!("new{n}@example.com"), "203.0.113.10"),
            HOUR,
        );
    }
    calls
        .signup(0, "elsewhere@example.com", "203.0.113.11")
        .ok();

    // Failed logins per account: three wrong passwords, then one more on
    // each process is 429, and so is the right one until the minute ends.
    calls.signup(1, "guessed@example.com", SETUP).ok();
    for n in 0..LOGINS {
        calls
            .login(n, "guessed@example.com", "wrong password")
            .err(401, "unauthenticated");
    }
    for n in 0..3 {
        limited(
            calls.login(n, "guessed@example.com", "wrong password"),
            MINUTE,
        );
    }
    limited(calls.login(1, "guessed@example.com", PASSWORD), MINUTE);

    // Unknown tokens per client address: six 404s, then 429 everywhere.
    for n in 0..TOKENS {
        calls.unknown_token(n, "203.0.113.20").err(404, "not_found");
    }
    for n in TOKENS..TOKENS + 3 {
        limited(calls.unknown_token(n, "203.0.113.20"), MINUTE);
    }
    calls.unknown_token(0, "203.0.113.21").err(404, "not_found");

    // Invites per organization: four, then neither a fifth nor a resend.
    calls.signup(2, "owner@example.com", SETUP).ok();
    let owner = calls.session("owner@example.com");
    let org = calls.organization(&owner);
    let first = calls
        .invite(0, &owner, &org, "i0@example.com")
        .ok()
        .get("invite")["inviteid"]
        .clone();
    for n in 1..INVITES {
        calls
            .invite(n, &owner, &org, &format!("i{n}@example.com"))
            .ok();
    }
    for n in 0..3 {
        limited(
            calls.invite(n, &owner, &org, &format!("late{n}@example.com")),
            HOUR,
        );
        limited(
            calls
                .on(n)
                .post("/invite/resend", Some(&owner), json!({"inviteid": first})),
            HOUR,
        );
    }
}

fn a_burst_on_one_process_never_over_counts(backend: Backend) {
    let app = one_process(backend);
    a_burst_never_over_counts(&Calls {
        clients: std::slice::from_ref(&app.client),
        mail: &app.mail,
    });
}

fn a_burst_across_three_processes_never_over_counts(backend: Backend) {
    let cluster = three_processes(backend);
    a_burst_never_over_counts(&Calls {
        clients: &cluster.clients,
        mail: &cluster.mail,
    });
}

/// Concurrent calls, spread over the processes, pass exactly as many times
/// as the limit allows.
fn a_burst_never_over_counts(calls: &Calls<'_>) {
    const BURST: usize = 12;
    calls.signup(0, "burst@example.com", SETUP).ok();
    let asked = in_parallel(BURST, |n| calls.login_link(n, "burst@example.com"));
    assert!(asked.iter().all(|r| r.status == 200));
    assert_eq!(calls.mails_to("burst@example.com", MAILS), MAILS);

    let signups = in_parallel(BURST, |n| {
        calls.signup(n, &format!("b{n}@example.com"), "203.0.113.30")
    });
    let (passed, refused, all) = statuses(&signups);
    assert_eq!((passed, refused), (SIGNUPS, BURST - SIGNUPS), "{all:?}");
    assert!(all.iter().all(|s| [200, 429].contains(s)), "{all:?}");

    calls.signup(1, "target@example.com", SETUP).ok();
    let guesses = in_parallel(BURST, |n| {
        calls.login(n, "target@example.com", "wrong password")
    });
    let (passed, refused, all) = statuses(&guesses);
    assert_eq!((passed, refused), (LOGINS, BURST - LOGINS), "{all:?}");
    assert!(all.iter().all(|s| [401, 429].contains(s)), "{all:?}");

    let tokens = in_parallel(BURST, |n| calls.unknown_token(n, "203.0.113.40"));
    let (passed, refused, all) = statuses(&tokens);
    assert_eq!((passed, refused), (TOKENS, BURST - TOKENS), "{all:?}");

    calls.signup(2, "owner@example.com", SETUP).ok();
    let owner = calls.session("owner@example.com");
    let org = calls.organization(&owner);
    let invites = in_parallel(BURST, |n| {
        calls.invite(n, &owner, &org, &format!("i{n}@example.com"))
    });
    let (passed, refused, all) = statuses(&invites);
    assert_eq!((passed, refused), (INVITES, BURST - INVITES), "{all:?}");
    assert!(all.iter().all(|s| [200, 429].contains(s)), "{all:?}");
}

/// The sign-up's own confirmation is a mail to the address like the others:
/// with two per hour, a sign-up and one resend use them, and a second resend
/// is 429 and sends nothing.
fn the_signups_own_confirmation_counts_toward_the_mail_limit(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.mails_per_address_per_hour = 2);
    let token = app.user("ada@example.com");
    app.post("/user/resendconfirmation", Some(&token), json!({}))
        .ok();
    limited(
        app.post("/user/resendconfirmation", Some(&token), json!({})),
        HOUR,
    );
    let calls = Calls {
        clients: std::slice::from_ref(&app.client),
        mail: &app.mail,
    };
    assert_eq!(calls.mails_to("ada@example.com", 2), 2);
}
