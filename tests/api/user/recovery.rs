//! Accounts that can always get back in (API.md §5): password reset, sign-in
//! links, address change, two-factor, closing an account, and confirmation
//! links resent. Mail is read from the test's SMTP server.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::on_both_backends;
use crate::support::{sql, sql_strings, Backend, TestApp};

on_both_backends!(
    a_forgotten_password_is_reset_and_every_session_ends,
    reset_links_work_once_expire_and_are_replaced,
    a_newcomer_without_a_password_signs_in_by_link,
    an_address_change_is_confirmed_on_the_new_address,
    an_address_of_another_account_is_refused_at_request_and_confirmation,
    two_factor_needs_a_fresh_code_or_an_unused_recovery_code,
    wrong_codes_count_toward_the_login_limit,
    a_closed_account_and_its_tokens_are_gone,
    the_last_owner_cannot_close_the_account,
    confirmation_links_are_resent_and_replace_older_ones,
    link_requests_answer_the_same_for_unknown_addresses,
    a_squatters_address_change_dies_when_the_owner_takes_the_account_back,
    second_factor_guesses_on_invite_acceptance_meet_the_login_limit,
    a_squatter_loses_everything_when_the_owner_resets_the_password,
    a_squatter_loses_everything_when_the_owner_signs_in_by_link,
);

const PASSWORD: &str = "correct horse battery";

fn details(app: &TestApp, token: &str) -> crate::support::Resp {
    app.get("/user/details", Some(token))
}

fn login(app: &TestApp, email: &str, password: &str, otp: Option<&str>) -> crate::support::Resp {
    let mut body = json!({"email": email, "password": password});
    if let Some(otp) = otp {
        body["otp"] = json!(otp);
    }
    app.post("/user/login", None, body)
}

fn a_forgotten_password_is_reset_and_every_session_ends(backend: Backend) {
    let app = TestApp::start(backend);
    let first = app.user("alice@example.com");
    // A confirmed account: its holder is its owner, whose keys a reset keeps
    // (an unconfirmed one is taken over, see the squatter tests below).
    let confirm = app
        .mail
        .wait_for("alice@example.com")
        .token("confirm")
        .expect("confirmation link");
    app.post("/user/confirm", None, json!({"token": confirm}))
        .ok();
    let second = app.login("alice@example.com", PASSWORD);
    let key = app.api_key(&first, json!({"name": "ci"}));
    let secret = key["secret"].as_str().unwrap().to_string();

    let r = app
        .post(
            "/user/requestpasswordreset",
            None,
            json!({"email": "Alice@Example.com"}),
        )
        .ok();
    assert_eq!(
        r.body["response"].as_object().unwrap().len(),
        1,
        "nothing but status"
    );
    // Mail 1 is the sign-up's confirmation.
    let mail = app
        .mail
        .wait_for_matching("alice@example.com", |m| m.token("reset").is_some());
    assert!(mail.subject().contains("Reset your collabd password"));
    let token = mail.token("reset").expect("reset link");

    // The page asks; it changes nothing by itself.
    let page = app.get(&format!("/reset/{token}"), None);
    assert_eq!(page.status, 200);
    let html = page.body["raw"].as_str().unwrap();
    assert!(html.contains("alice@example.com") && html.contains("/user/resetpassword"));
    details(&app, &first).ok();

    let user = app
        .post(
            "/user/resetpassword",
            None,
            json!({"token": token, "password": "a brand new password"}),
        )
        .ok();
    assert_eq!(user.get("user")["email"], "alice@example.com");
    assert_eq!(user.get("user")["emailverified"], true);
    assert!(user.body["response"].get("login").is_none(), "no session");

    for token in [&first, &second] {
        details(&app, token).err(401, "unauthenticated");
    }
    login(&app, "alice@example.com", PASSWORD, None).err(401, "unauthenticated");
    login(&app, "alice@example.com", "a brand new password", None).ok();
    // API keys stay.
    details(&app, &secret).ok();
}

fn reset_links_work_once_expire_and_are_replaced(backend: Backend) {
    let app = TestApp::start(backend);
    let mut taken = std::collections::HashSet::new();
    app.signup("bob@example.com", PASSWORD, "Bob");
    let ask = || {
        app.post(
            "/user/requestpasswordreset",
            None,
            json!({"email": "bob@example.com"}),
        )
        .ok();
    };
    ask();
    // The sign-up's confirmation is mail 1.
    let older = app.mail.next_link("bob@example.com", "reset", &mut taken);
    ask();
    let newer = app.mail.next_link("bob@example.com", "reset", &mut taken);
    let reset = |token: &str| {
        app.post(
            "/user/resetpassword",
            None,
            json!({"token": token, "password": "another password"}),
        )
    };
    let r = reset(&older).err(410, "gone");
    assert_eq!(r.reason(), "expired", "a newer link replaced it");
    reset(&newer).ok();
    let r = reset(&newer).err(410, "gone");
    assert_eq!(r.reason(), "used");
    reset("unknowntoken").err(404, "not_found");
    let page = app.get(&format!("/reset/{newer}"), None);
    assert_eq!(page.status, 410);

    ask();
    let late = app.mail.next_link("bob@example.com", "reset", &mut taken);
    sql(
        &app,
        "UPDATE account_tokens SET expires_at = 1 WHERE used_at IS NULL",
    );
    let r = reset(&late).err(410, "gone");
    assert_eq!(r.reason(), "expired");
    // A reset token is not a sign-in token.
    app.post("/user/loginbylink", None, json!({"token": newer}))
        .err(404, "not_found");
    // Stored as hashes only.
    for token in [&older, &newer, &late] {
        let found = sql_strings(
            &app,
            &format!("SELECT id AS value FROM account_tokens WHERE token_hash = '{token}'"),
        );
        assert!(found.is_empty(), "a token stored as itself");
    }
}

fn a_newcomer_without_a_password_signs_in_by_link(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.invite(&owner, &org, "new@example.com", "collaborator");
    let token = app.invite_token("new@example.com", 1);
    app.post("/invite/accept", None, json!({"token": token}))
        .ok();
    let made = app.mail.wait_for_matching("new@example.com", |m| {
        m.subject().contains("account was created")
    });
    let text = made.decoded();
    assert!(
        text.contains("user/requestloginlink") && text.contains("user/requestpasswordreset"),
        "the account-made email says how to get back in: {text}"
    );

    app.post(
        "/user/requestloginlink",
        None,
        json!({"email": "new@example.com"}),
    )
    .ok();
    let mail = app
        .mail
        .wait_for_matching("new@example.com", |m| m.token("signin").is_some());
    let link = mail.token("signin").expect("sign-in link");
    let page = app.get(&format!("/signin/{link}"), None);
    assert_eq!(page.status, 200);
    assert!(page.body["raw"]
        .as_str()
        .unwrap()
        .contains("new@example.com"));

    let r = app
        .post("/user/loginbylink", None, json!({"token": link}))
        .ok();
    let session = r.get("login")["token"].as_str().unwrap().to_string();
    let me = details(&app, &session).ok();
    assert_eq!(me.get("user")["email"], "new@example.com");
    let lists = app.get("/user/listorganizations", Some(&session)).ok();
    assert_eq!(
        lists.get("organizations")[0]["organizationid"],
        org.as_str()
    );
    let r = app
        .post("/user/loginbylink", None, json!({"token": link}))
        .err(410, "gone");
    assert_eq!(r.reason(), "used");
    app.post("/user/loginbylink", None, json!({"token": "nosuchlink"}))
        .err(404, "not_found");
}

fn an_address_change_is_confirmed_on_the_new_address(backend: Backend) {
    let app = TestApp::start(backend);
    let token = app.user("carol@example.com");
    app.post(
        "/user/edit",
        Some(&token),
        json!({"email": "carol@new.example.com"}),
    )
    .err(403, "forbidden");
    let r = app
        .post(
            "/user/edit",
            Some(&token),
            json!({"email": "Carol@New.example.com", "currentpassword": PASSWORD}),
        )
        .ok();
    let user = r.get("user");
    assert_eq!(
        user["email"], "carol@example.com",
        "the old address stays until confirmed"
    );
    assert_eq!(user["pendingemail"], "carol@new.example.com");
    let confirmation = app.mail.wait_for("carol@new.example.com");
    let link = confirmation.token("confirm").expect("confirmation link");
    // The old address is told (after its own sign-up confirmation).
    let notice = app.mail.wait_for_matching("carol@example.com", |m| {
        m.subject().contains("is being changed")
    });
    assert!(notice.decoded().contains("carol@new.example.com"));
    login(&app, "carol@example.com", PASSWORD, None).ok();

    let page = app.get(&format!("/confirm/{link}"), None);
    assert_eq!(page.status, 200);
    let r = app.post("/user/confirm", None, json!({"token": link})).ok();
    let user = r.get("user");
    assert_eq!(user["email"], "carol@new.example.com");
    assert_eq!(user["pendingemail"], Value::Null);
    assert_eq!(user["emailverified"], true);
    login(&app, "carol@new.example.com", PASSWORD, None).ok();
    login(&app, "carol@example.com", PASSWORD, None).err(401, "unauthenticated");
    details(&app, &token).ok();
}

fn an_address_of_another_account_is_refused_at_request_and_confirmation(backend: Backend) {
    let app = TestApp::start(backend);
    let dave = app.user("dave@example.com");
    app.signup("erin@example.com", PASSWORD, "Erin");
    let r = app
        .post(
            "/user/edit",
            Some(&dave),
            json!({"email": "ERIN@example.com", "currentpassword": PASSWORD}),
        )
        .err(409, "conflict");
    assert_eq!(r.reason(), "email_taken");
    let same = app
        .post(
            "/user/edit",
            Some(&dave),
            json!({"email": "DAVE@example.com", "currentpassword": PASSWORD}),
        )
        .ok();
    assert_eq!(
        same.get("user")["pendingemail"],
        Value::Null,
        "nothing to confirm"
    );

    app.post(
        "/user/edit",
        Some(&dave),
        json!({"email": "free@example.com", "currentpassword": PASSWORD}),
    )
    .ok();
    let link = app
        .mail
        .wait_for("free@example.com")
        .token("confirm")
        .unwrap();
    // Someone takes the address before Dave confirms it.
    app.signup("free@example.com", PASSWORD, "Frank");
    let r = app
        .post("/user/confirm", None, json!({"token": link}))
        .err(409, "conflict");
    assert_eq!(r.reason(), "email_taken");
    let me = details(&app, &dave).ok();
    assert_eq!(me.get("user")["email"], "dave@example.com");
}

/// The code of `secret` for the 30-second step `offset` steps from now.
fn code(secret: &str, offset: i64) -> String {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp.generate((now + 30 * offset) as u64)
}

/// Turns two-factor on for `token`'s account: its secret and recovery codes.
pub(crate) fn enable_two_factor(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let r = app
        .post(
            "/user/enabletwofactor",
            Some(token),
            json!({"currentpassword": PASSWORD}),
        )
        .ok();
    let setup = r.get("twofactor");
    let secret = setup["secret"].as_str().unwrap().to_string();
    assert!(setup["otpauthurl"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let r = app
        .post(
            "/user/confirmtwofactor",
            Some(token),
            json!({"otp": code(&secret, 0)}),
        )
        .ok();
    let enabled = r.get("twofactor");
    assert_eq!(enabled["enabled"], true);
    let codes: Vec<String> = enabled["recoverycodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

fn two_factor_needs_a_fresh_code_or_an_unused_recovery_code(backend: Backend) {
    let app = TestApp::start(backend);
    let token = app.user("gina@example.com");
    // A confirmed address: an unconfirmed account would be taken over, second
    // factor and all, by whoever holds an invitation to its address.
    let confirm = app
        .mail
        .wait_for("gina@example.com")
        .token("confirm")
        .unwrap();
    app.post("/user/confirm", None, json!({"token": confirm}))
        .ok();
    let (secret, codes) = enable_two_factor(&app, &token);
    assert_eq!(
        details(&app, &token).ok().get("user")["twofactorenabled"],
        true
    );
    for stored in sql_strings(&app, "SELECT totp_secret AS value FROM users") {
        assert!(!stored.contains(&secret), "the seed is stored sealed");
    }
    for stored in sql_strings(&app, "SELECT code_hash AS value FROM recovery_codes") {
        assert!(codes.iter().all(|c| !stored.contains(&c.replace('-', ""))));
    }
    app.post(
        "/user/enabletwofactor",
        Some(&token),
        json!({"currentpassword": PASSWORD}),
    )
    .err(409, "conflict");

    let r = login(&app, "gina@example.com", PASSWORD, None).err(401, "unauthenticated");
    assert_eq!(r.reason(), "otp_required");
    let r = login(&app, "gina@example.com", PASSWORD, Some("000000")).err(401, "unauthenticated");
    assert_eq!(r.reason(), "otp_invalid");
    // The confirming code used this step: the next step's code (one step of
    // drift) is fresh, and works once.
    let next = code(&secret, 1);
    login(&app, "gina@example.com", PASSWORD, Some(&next)).ok();
    let r = login(&app, "gina@example.com", PASSWORD, Some(&next)).err(401, "unauthenticated");
    assert_eq!(r.reason(), "otp_invalid", "a replayed code");
    login(
        &app,
        "gina@example.com",
        PASSWORD,
        Some(&codes[0].to_uppercase()),
    )
    .ok();
    let r = login(&app, "gina@example.com", PASSWORD, Some(&codes[0])).err(401, "unauthenticated");
    assert_eq!(r.reason(), "otp_invalid", "a used recovery code");
    // A wrong password stays a plain 401, whatever the code.
    let r = login(&app, "gina@example.com", "wrong password", Some(&codes[1]));
    assert_eq!(r.status, 401);

    // A session-less invite acceptance needs the code too; the invite stays.
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.invite(&owner, &org, "gina@example.com", "admin");
    let invite = app.invite_token("gina@example.com", 2);
    let r = app
        .post("/invite/accept", None, json!({"token": invite}))
        .err(401, "unauthenticated");
    assert_eq!(r.reason(), "otp_required");
    let r = app
        .post(
            "/invite/accept",
            None,
            json!({"token": invite, "otp": "123456"}),
        )
        .err(401, "unauthenticated");
    assert_eq!(r.reason(), "otp_invalid");
    let r = app
        .post(
            "/invite/accept",
            None,
            json!({"token": invite, "otp": codes[1]}),
        )
        .ok();
    assert_eq!(r.get("collaborator")["email"], "gina@example.com");
    assert!(r.get("login")["token"].is_string());

    // A sign-in link, too.
    app.post(
        "/user/requestloginlink",
        None,
        json!({"email": "gina@example.com"}),
    )
    .ok();
    let link = app
        .mail
        .wait_for_matching("gina@example.com", |m| m.token("signin").is_some())
        .token("signin")
        .unwrap();
    let r = app
        .post("/user/loginbylink", None, json!({"token": link}))
        .err(401, "unauthenticated");
    assert_eq!(r.reason(), "otp_required");
    app.post(
        "/user/loginbylink",
        None,
        json!({"token": link, "otp": codes[2]}),
    )
    .ok();

    // Turning it off takes a code; then the password alone signs in.
    app.post(
        "/user/disabletwofactor",
        Some(&token),
        json!({"otp": "999999"}),
    )
    .err(403, "forbidden");
    app.post(
        "/user/disabletwofactor",
        Some(&token),
        json!({"otp": codes[3]}),
    )
    .ok();
    assert_eq!(
        details(&app, &token).ok().get("user")["twofactorenabled"],
        false
    );
    login(&app, "gina@example.com", PASSWORD, None).ok();
    let left = sql_strings(&app, "SELECT id AS value FROM recovery_codes");
    assert!(left.is_empty(), "the recovery codes are forgotten");
}

fn wrong_codes_count_toward_the_login_limit(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.login_attempts_per_minute = 3);
    let token = app.user("hank@example.com");
    let (secret, _) = enable_two_factor(&app, &token);
    for _ in 0..3 {
        let r = login(&app, "hank@example.com", PASSWORD, Some("000000"));
        assert_eq!(r.status, 401);
    }
    let r = login(&app, "hank@example.com", PASSWORD, Some(&code(&secret, 1)));
    assert_eq!(r.status, 429, "{}", r.body);
}

fn a_closed_account_and_its_tokens_are_gone(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let ivy = app.member(&owner, &org, "ivy@example.com", "admin");
    let key = app.api_key(&ivy.token, json!({"name": "script"}));
    // The owner's list is rendered (and kept) before Ivy goes.
    let before = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert_eq!(before.get("collaborators").as_array().unwrap().len(), 2);
    let secret = key["secret"].as_str().unwrap().to_string();
    // An API key cannot close the account.
    app.post(
        "/user/delete",
        Some(&secret),
        json!({"currentpassword": PASSWORD}),
    )
    .err(403, "forbidden");
    app.post("/user/delete", Some(&ivy.token), json!({}))
        .err(403, "forbidden");
    app.post(
        "/user/delete",
        Some(&ivy.token),
        json!({"currentpassword": "not it at all"}),
    )
    .err(403, "forbidden");
    app.post(
        "/user/delete",
        Some(&ivy.token),
        json!({"currentpassword": PASSWORD}),
    )
    .ok();
    for token in [&ivy.token, &secret] {
        details(&app, token).err(401, "unauthenticated");
    }
    login(&app, "ivy@example.com", PASSWORD, None).err(401, "unauthenticated");
    let list = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let emails: Vec<&str> = list
        .get("collaborators")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["owner@example.com"]);
    let events = app
        .get(
            &format!("/customer/listauditevents?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let left = events
        .get("auditevents")
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "collaborator.left")
        .expect("collaborator.left recorded")
        .clone();
    assert_eq!(left["actor"]["email"], "ivy@example.com");
    // The address is free again.
    app.signup("ivy@example.com", PASSWORD, "Ivy again");
}

fn the_last_owner_cannot_close_the_account(backend: Backend) {
    let app = TestApp::start(backend);
    let jo = app.user("jo@example.com");
    let org = app.organization(&jo, "Solo <Ltd>");
    let r = app
        .post(
            "/user/delete",
            Some(&jo),
            json!({"currentpassword": PASSWORD}),
        )
        .err(409, "conflict");
    assert_eq!(r.reason(), "last_owner");
    assert!(
        r.text().contains("Solo <Ltd>") && r.text().contains(&org),
        "{}",
        r.text()
    );
    details(&app, &jo).ok();
    // With a second owner, the first may go.
    app.member(&jo, &org, "kim@example.com", "owner");
    app.post(
        "/user/delete",
        Some(&jo),
        json!({"currentpassword": PASSWORD}),
    )
    .ok();
    details(&app, &jo).err(401, "unauthenticated");
}

fn confirmation_links_are_resent_and_replace_older_ones(backend: Backend) {
    // The sign-up's own mail and two resends (API.md §8 counts all three).
    let app = TestApp::start_with(backend, |c| c.mails_per_address_per_hour = 3);
    let token = app.user("lee@example.com");
    let mut taken = std::collections::HashSet::new();
    let first = app.mail.next_link("lee@example.com", "confirm", &mut taken);
    app.post("/user/resendconfirmation", Some(&token), json!({}))
        .ok();
    let second = app.mail.next_link("lee@example.com", "confirm", &mut taken);
    let r = app
        .post("/user/confirm", None, json!({"token": first}))
        .err(410, "gone");
    assert_eq!(r.reason(), "expired");
    app.post("/user/resendconfirmation", Some(&token), json!({}))
        .ok();
    let r = app.post("/user/resendconfirmation", Some(&token), json!({}));
    assert_eq!(r.status, 429, "past the mails per address");
    let third = app.mail.next_link("lee@example.com", "confirm", &mut taken);
    app.post("/user/confirm", None, json!({"token": second}))
        .err(410, "gone");
    app.post("/user/confirm", None, json!({"token": third}))
        .ok();
    let r = app
        .post("/user/resendconfirmation", Some(&token), json!({}))
        .err(409, "conflict");
    assert_eq!(r.reason(), "already_verified");
    // Expired by time.
    let app2 = TestApp::start_with(Backend::Sqlite, |_| {});
    app2.signup("max@example.com", PASSWORD, "Max");
    let link = app2
        .mail
        .wait_for("max@example.com")
        .token("confirm")
        .unwrap();
    sql(&app2, "UPDATE email_confirmations SET expires_at = 1");
    let r = app2
        .post("/user/confirm", None, json!({"token": link}))
        .err(410, "gone");
    assert_eq!(r.reason(), "expired");
}

fn link_requests_answer_the_same_for_unknown_addresses(backend: Backend) {
    let app = TestApp::start(backend);
    app.signup("known@example.com", PASSWORD, "Known");
    for path in ["/user/requestpasswordreset", "/user/requestloginlink"] {
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for round in 0..8 {
            // Interleaved, and past the per-address mail limit on purpose:
            // the answer never changes.
            for (email, times) in [
                ("known@example.com", &mut known),
                (&*format!("nobody{round}@example.com"), &mut unknown),
            ] {
                let started = Instant::now();
                let r = app.post(path, None, json!({"email": email})).ok();
                times.push(started.elapsed());
                let keys: Vec<&String> = r.body["response"].as_object().unwrap().keys().collect();
                assert_eq!(keys, ["status"]);
            }
        }
        let median = |times: &mut Vec<Duration>| {
            times.sort();
            times[times.len() / 2]
        };
        let (k, u) = (median(&mut known), median(&mut unknown));
        let gap = k.abs_diff(u);
        assert!(
            gap < Duration::from_millis(60),
            "{path}: median {k:?} for a known address against {u:?} for unknown ones"
        );
    }
    // Only the known address got mail: five, the per-address limit, which
    // its confirmation counts toward (then the first four links).
    std::thread::sleep(Duration::from_millis(500));
    let to_unknown = app
        .mail
        .messages()
        .iter()
        .filter(|m| m.to.iter().any(|t| t.contains("nobody")))
        .count();
    assert_eq!(to_unknown, 0);
    let to_known = app
        .mail
        .messages()
        .iter()
        .filter(|m| m.to.iter().any(|t| t.contains("known@example.com")))
        .count();
    assert_eq!(to_known, 5);
}

fn a_squatters_address_change_dies_when_the_owner_takes_the_account_back(backend: Backend) {
    let app = TestApp::start(backend);
    // Someone signs up with another person's address and asks to move the
    // account to an address of their own.
    let squatter = app.user("victim@corp.example.com");
    app.post(
        "/user/edit",
        Some(&squatter),
        json!({"email": "evil@example.com", "currentpassword": PASSWORD}),
    )
    .ok();
    let change = app
        .mail
        .wait_for("evil@example.com")
        .token("confirm")
        .unwrap();
    // The address's real owner takes the account over with a reset.
    app.post(
        "/user/requestpasswordreset",
        None,
        json!({"email": "victim@corp.example.com"}),
    )
    .ok();
    let reset = app
        .mail
        .wait_for_matching("victim@corp.example.com", |m| m.token("reset").is_some())
        .token("reset")
        .unwrap();
    let r = app
        .post(
            "/user/resetpassword",
            None,
            json!({"token": reset, "password": "the owner's own password"}),
        )
        .ok();
    assert_eq!(r.get("user")["pendingemail"], Value::Null);
    let r = app
        .post("/user/confirm", None, json!({"token": change}))
        .err(410, "gone");
    assert_eq!(r.reason(), "expired");
    login(
        &app,
        "victim@corp.example.com",
        "the owner's own password",
        None,
    )
    .ok();
    login(&app, "evil@example.com", "the owner's own password", None).err(401, "unauthenticated");

    // The same through an invitation's takeover of an unconfirmed account.
    let squatter = app.user("second@corp.example.com");
    app.post(
        "/user/edit",
        Some(&squatter),
        json!({"email": "evil2@example.com", "currentpassword": PASSWORD}),
    )
    .ok();
    let change = app
        .mail
        .wait_for("evil2@example.com")
        .token("confirm")
        .unwrap();
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.invite(&owner, &org, "second@corp.example.com", "collaborator");
    let invite = app
        .mail
        .wait_for_matching("second@corp.example.com", |m| m.token("invite").is_some())
        .token("invite")
        .unwrap();
    app.post("/invite/accept", None, json!({"token": invite}))
        .ok();
    app.post("/user/confirm", None, json!({"token": change}))
        .err(410, "gone");
}

fn second_factor_guesses_on_invite_acceptance_meet_the_login_limit(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.login_attempts_per_minute = 3);
    let token = app.user("kai@example.com");
    let confirm = app
        .mail
        .wait_for("kai@example.com")
        .token("confirm")
        .unwrap();
    app.post("/user/confirm", None, json!({"token": confirm}))
        .ok();
    enable_two_factor(&app, &token);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.invite(&owner, &org, "kai@example.com", "collaborator");
    let invite = app.invite_token("kai@example.com", 2);
    for _ in 0..3 {
        let r = app.post(
            "/invite/accept",
            None,
            json!({"token": invite, "otp": "000000"}),
        );
        assert_eq!(r.status, 401);
    }
    let r = app.post(
        "/invite/accept",
        None,
        json!({"token": invite, "otp": "111111"}),
    );
    assert_eq!(r.status, 429, "{}", r.body);
    // A wrong current password on a signed-in call counts too.
    let r = app.post(
        "/user/edit",
        Some(&token),
        json!({"password": "a new password", "currentpassword": "wrong guess"}),
    );
    assert_eq!(r.status, 429, "{}", r.body);
    // And codes on the signed-in calls meet the same limit.
    let r = app.post(
        "/user/disabletwofactor",
        Some(&token),
        json!({"otp": "222222"}),
    );
    assert_eq!(r.status, 429, "{}", r.body);
}

/// A squatter registers the victim's address (never confirming it), signs in,
/// makes an API key and turns two-factor on; an owner invites the victim's
/// address as admin. Returns the squatter's session and key, and the org.
fn a_squatter_holds(app: &TestApp, victim: &str) -> (String, String, String) {
    let session = app.user(victim);
    let key = app.api_key(&session, json!({"name": "mine now"}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    enable_two_factor(app, &session);
    let boss = app.user("boss@corp.example.com");
    let org = app.organization(&boss, "Corp");
    app.invite(&boss, &org, victim, "admin");
    // Before the owner proves the address, the squatter sees nothing of it.
    let invites = app.get("/user/listinvites", Some(&key)).ok();
    assert_eq!(invites.get("invites").as_array().unwrap().len(), 0);
    (session, key, org)
}

/// Nothing of the squatter's works any more, the invite is the owner's and
/// the squatter could not take it.
fn the_squatter_is_out(app: &TestApp, victim: &str, session: &str, key: &str, owner: &str) {
    details(app, session).err(401, "unauthenticated");
    details(app, key).err(401, "unauthenticated");
    app.get("/user/listinvites", Some(key))
        .err(401, "unauthenticated");
    login(app, victim, PASSWORD, None).err(401, "unauthenticated");
    let me = details(app, owner).ok();
    assert_eq!(me.get("user")["twofactorenabled"], false);
    assert_eq!(me.get("user")["emailverified"], true);
    let invites = app.get("/user/listinvites", Some(owner)).ok();
    let invites = invites.get("invites").as_array().unwrap().clone();
    assert_eq!(invites.len(), 1);
    assert_eq!(invites[0]["role"], "admin");
    assert_eq!(
        app.get("/user/listapikeys", Some(owner))
            .ok()
            .get("apikeys")
            .as_array()
            .unwrap()
            .len(),
        0,
        "the squatter's keys are gone"
    );
}

fn a_squatter_loses_everything_when_the_owner_resets_the_password(backend: Backend) {
    let app = TestApp::start(backend);
    let victim = "victim@corp.example.com";
    let (session, key, _org) = a_squatter_holds(&app, victim);

    app.post("/user/requestpasswordreset", None, json!({"email": victim}))
        .ok();
    let reset = app
        .mail
        .wait_for_matching(victim, |m| m.token("reset").is_some())
        .token("reset")
        .unwrap();
    app.post(
        "/user/resetpassword",
        None,
        json!({"token": reset, "password": "the owner's own password"}),
    )
    .ok();
    // The real owner signs in with the new password and no second factor.
    let owner = login(&app, victim, "the owner's own password", None)
        .ok()
        .get("login")["token"]
        .as_str()
        .unwrap()
        .to_string();
    the_squatter_is_out(&app, victim, &session, &key, &owner);
}

fn a_squatter_loses_everything_when_the_owner_signs_in_by_link(backend: Backend) {
    let app = TestApp::start(backend);
    let victim = "victim@corp.example.com";
    let (session, key, _org) = a_squatter_holds(&app, victim);

    app.post("/user/requestloginlink", None, json!({"email": victim}))
        .ok();
    let link = app
        .mail
        .wait_for_matching(victim, |m| m.token("signin").is_some())
        .token("signin")
        .unwrap();
    // No second factor asked: the squatter's is not the owner's.
    let owner = app
        .post("/user/loginbylink", None, json!({"token": link}))
        .ok()
        .get("login")["token"]
        .as_str()
        .unwrap()
        .to_string();
    the_squatter_is_out(&app, victim, &session, &key, &owner);
    // The squatter's password is gone, not only refused with a code.
    assert!(
        sql_strings(
            &app,
            &format!("SELECT id AS value FROM users WHERE email = '{victim}' AND password_hash IS NOT NULL")
        )
        .is_empty(),
        "the squatter's password was dropped"
    );
}
