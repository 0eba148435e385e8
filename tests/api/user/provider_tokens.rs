//! Provider tokens (API.md §9): JWTs of a trusted issuer taken as bearer
//! tokens, verified against the keys the issuer publishes, which a real
//! issuer served by the test ([`Issuer`]) rotates and takes down.

use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{sql_strings, Backend, Issuer, TestApp};

on_both_backends!(
    a_provider_token_makes_links_and_finds_its_account,
    every_token_that_fails_a_check_answers_401,
    keys_rotate_without_a_restart_at_most_twice_a_minute,
    unreachable_keys_answer_503_and_kept_keys_still_work,
    a_first_sight_joins_by_verified_domain_as_a_login_does,
    a_first_sight_takes_over_an_unconfirmed_account_and_skips_the_second_factor,
    first_sights_at_once_make_one_account_and_one_link,
);

/// An app trusting `issuers` with the audience `collabd`.
fn trusting(backend: Backend, issuers: &[&Issuer]) -> TestApp {
    let list: Vec<&str> = issuers.iter().map(|i| i.url.as_str()).collect();
    let list = list.join(",");
    TestApp::start_with(backend, move |c| {
        c.trusted_issuers = Some(list);
        c.trusted_audience = Some("collabd".into());
    })
}

fn details(app: &TestApp, token: &str) -> (u16, Value) {
    let r = app.get("/user/details", Some(token));
    (r.status, r.body)
}

fn user_of(app: &TestApp, token: &str) -> Value {
    let (status, body) = details(app, token);
    assert_eq!(status, 200, "{body}");
    body["response"]["user"].clone()
}

fn accounts_with(app: &TestApp, email: &str) -> usize {
    sql_strings(
        app,
        &format!("SELECT id AS value FROM users WHERE email = '{email}'"),
    )
    .len()
}

fn a_provider_token_makes_links_and_finds_its_account(backend: Backend) {
    let issuer = Issuer::start(&["rsa-1", "ec-1", "ed-1"]);
    let app = trusting(backend, &[&issuer]);

    // First sight with a verified address: an account made, verified,
    // without a password, named by the claim.
    let token = issuer.token(
        "rsa-1",
        Algorithm::RS256,
        json!({"sub": "s-1", "email": "New@Example.com", "email_verified": true, "name": "Ada Newcomer"}),
    );
    let made = user_of(&app, &token);
    assert_eq!(made["email"], "new@example.com");
    assert_eq!(made["name"], "Ada Newcomer");
    assert_eq!(made["emailverified"], true);
    // The password-less account cannot sign in with a password.
    app.post(
        "/user/login",
        None,
        json!({"email": "new@example.com", "password": "anything at all"}),
    )
    .err(401, "unauthenticated");

    // The link is by (iss, sub): ES256 and EdDSA tokens of the same subject
    // with another address find the same account, and move nothing.
    for (key, alg) in [("ec-1", Algorithm::ES256), ("ed-1", Algorithm::EdDSA)] {
        let again = issuer.token(
            key,
            alg,
            json!({"sub": "s-1", "email": "other@example.com", "email_verified": true}),
        );
        let found = user_of(&app, &again);
        assert_eq!(found["userid"], made["userid"], "{alg:?}");
        assert_eq!(found["email"], "new@example.com");
    }
    // PS256 too.
    let ps = issuer.token("rsa-1", Algorithm::PS256, json!({"sub": "s-1"}));
    assert_eq!(user_of(&app, &ps)["userid"], made["userid"]);

    // An existing account is linked by its verified address.
    let password_token = app.user("old@example.com");
    app.confirm("old@example.com");
    let existing = user_of(&app, &password_token);
    let linked = issuer.token(
        "ec-1",
        Algorithm::ES256,
        json!({"sub": "s-2", "email": "OLD@example.com", "email_verified": true}),
    );
    assert_eq!(user_of(&app, &linked)["userid"], existing["userid"]);
    assert_eq!(accounts_with(&app, "old@example.com"), 1);

    // Acting as the account: organizations made with it are its own.
    let org = app
        .post(
            "/user/createorganization",
            Some(&token),
            json!({"name": "Provided"}),
        )
        .ok()
        .get("organization")["organizationid"]
        .clone();
    assert!(org.is_string(), "{org}");

    // No verified address: 401, and nothing made.
    for claims in [
        json!({"sub": "s-3", "email": "nv@example.com", "email_verified": false}),
        json!({"sub": "s-3", "email": "nv@example.com", "email_verified": null}),
        json!({"sub": "s-3", "email": null, "email_verified": true}),
        json!({"sub": "s-3", "email": "not an address", "email_verified": true}),
    ] {
        let unverified = issuer.token("rsa-1", Algorithm::RS256, claims.clone());
        let (status, body) = details(&app, &unverified);
        assert_eq!(status, 401, "{claims} {body}");
    }
    assert_eq!(accounts_with(&app, "nv@example.com"), 0);
    assert!(sql_strings(
        &app,
        "SELECT subject AS value FROM identities WHERE subject = 's-3'"
    )
    .is_empty());

    // Logging out with a provider token changes nothing: its issuer decides its life.
    app.post("/user/logout", Some(&token), json!({})).ok();
    assert_eq!(user_of(&app, &token)["userid"], made["userid"]);
}

fn every_token_that_fails_a_check_answers_401(backend: Backend) {
    let issuer = Issuer::start(&["rsa-1", "ec-1"]);
    let stranger = Issuer::start(&["rsa-1"]);
    let app = trusting(backend, &[&issuer]);
    let now = chrono::Utc::now().timestamp();
    let base = json!({"sub": "s-9", "email": "nine@example.com", "email_verified": true});
    let with = |extra: Value| {
        let mut claims = base.clone();
        for (k, v) in extra.as_object().expect("object") {
            claims[k] = v.clone();
        }
        claims
    };
    // The good token works, so each refusal below is for its one fault.
    let good = issuer.token("rsa-1", Algorithm::RS256, base.clone());
    assert_eq!(details(&app, &good).0, 200);
    // Within the 60 s of leeway, still good.
    let lenient = issuer.token("rsa-1", Algorithm::RS256, with(json!({"exp": now - 30})));
    assert_eq!(details(&app, &lenient).0, 200);

    // `aud` as an array containing the audience; `nbf` within the leeway;
    // `email_verified` as the string some issuers send.
    for (what, extra) in [
        ("aud array", json!({"aud": ["other", "collabd"]})),
        ("nbf within leeway", json!({"nbf": now + 30})),
        (
            "email_verified string",
            json!({"sub": "s-12", "email": "twelve@example.com", "email_verified": "true"}),
        ),
    ] {
        let token = issuer.token("rsa-1", Algorithm::RS256, with(extra));
        assert_eq!(details(&app, &token).0, 200, "{what}");
    }
    let header = |extra: Value| {
        let mut h = json!({"alg": "RS256", "typ": "JWT"});
        for (k, v) in extra.as_object().expect("object") {
            h[k] = v.clone();
        }
        h
    };
    let signed =
        |h: Value, claims: Value| issuer.token_with_header("rsa-1", Algorithm::RS256, h, claims);
    assert_eq!(
        details(&app, &signed(header(json!({"kid": "rsa-1"})), base.clone())).0,
        200
    );

    let mut bad: Vec<(&str, String)> = vec![
        (
            "aud array without the audience",
            issuer.token("rsa-1", Algorithm::RS256, with(json!({"aud": ["a", "b"]}))),
        ),
        (
            "nbf not a number",
            issuer.token(
                "rsa-1",
                Algorithm::RS256,
                with(json!({"nbf": (now + 300).to_string()})),
            ),
        ),
        ("no kid", signed(header(json!({})), base.clone())),
        (
            "crit",
            signed(
                header(json!({"kid": "rsa-1", "crit": ["exp"]})),
                base.clone(),
            ),
        ),
        (
            "wrong aud",
            issuer.token(
                "rsa-1",
                Algorithm::RS256,
                with(json!({"aud": "someone-else"})),
            ),
        ),
        (
            "no aud",
            issuer.token("rsa-1", Algorithm::RS256, with(json!({"aud": null}))),
        ),
        (
            "expired",
            issuer.token("rsa-1", Algorithm::RS256, with(json!({"exp": now - 120}))),
        ),
        (
            "not yet valid",
            issuer.token("rsa-1", Algorithm::RS256, with(json!({"nbf": now + 300}))),
        ),
        (
            "untrusted iss",
            stranger.token("rsa-1", Algorithm::RS256, base.clone()),
        ),
        (
            "HS256 with the public key",
            issuer.token("rsa-1", Algorithm::HS256, base.clone()),
        ),
        (
            "unknown kid",
            issuer.token("rsa-2", Algorithm::RS256, base.clone()),
        ),
        // The EC key's kid on an RSA signature: the key decides the algorithm.
        ("alg not the key's", {
            let t = issuer.token("rsa-1", Algorithm::RS256, base.clone());
            let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
            parts[0] = b64(&json!({"alg": "RS256", "kid": "ec-1", "typ": "JWT"}));
            parts.join(".")
        }),
    ];
    // A bad signature: another token's payload under this one's signature.
    let signed = issuer.token("rsa-1", Algorithm::RS256, base.clone());
    let other = issuer.token("rsa-1", Algorithm::RS256, with(json!({"sub": "s-10"})));
    let (signed, other): (Vec<&str>, Vec<&str>) =
        (signed.split('.').collect(), other.split('.').collect());
    bad.push((
        "bad signature",
        format!("{}.{}.{}", signed[0], other[1], signed[2]),
    ));
    // `none`: no signature at all.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": "rsa-1"})),
        b64(
            &json!({"iss": issuer.url, "aud": "collabd", "sub": "s-11", "exp": now + 3600,
                    "email": "eleven@example.com", "email_verified": true})
        )
    );
    bad.push(("none", none));
    for (what, token) in bad {
        let (status, body) = details(&app, &token);
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(
            body["response"]["error"]["type"], "unauthenticated",
            "{what}"
        );
    }
    assert_eq!(accounts_with(&app, "eleven@example.com"), 0);
}

fn b64(value: &Value) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn keys_rotate_without_a_restart_at_most_twice_a_minute(backend: Backend) {
    let issuer = Issuer::start(&["rsa-1"]);
    let app = trusting(backend, &[&issuer]);
    let claims = json!({"sub": "r-1", "email": "rot@example.com", "email_verified": true});
    let old = issuer.token("rsa-1", Algorithm::RS256, claims.clone());
    let first = Instant::now();
    assert_eq!(details(&app, &old).0, 200);
    assert_eq!(issuer.key_fetches(), 1);
    // The issuer rotates to a new key.
    issuer.publish(&["rsa-2"]);
    let new = issuer.token("rsa-2", Algorithm::RS256, claims);
    // Within 30 s of the last fetch, an unknown kid fetches nothing.
    assert_eq!(details(&app, &new).0, 401);
    assert_eq!(details(&app, &new).0, 401);
    assert_eq!(issuer.key_fetches(), 1);
    assert_eq!(details(&app, &old).0, 200, "the kept key still works");
    std::thread::sleep(Duration::from_secs(31).saturating_sub(first.elapsed()));
    // Then the new kid makes collabd fetch again: the new key works, the
    // retired one no longer does.
    assert_eq!(details(&app, &new).0, 200);
    assert_eq!(issuer.key_fetches(), 2);
    assert_eq!(details(&app, &old).0, 401);
}

fn unreachable_keys_answer_503_and_kept_keys_still_work(backend: Backend) {
    let up = Issuer::start(&["rsa-1"]);
    let down = Issuer::start(&["rsa-1"]);
    down.set_up(false);
    let app = trusting(backend, &[&up, &down]);
    let claims = json!({"sub": "d-1", "email": "down@example.com", "email_verified": true});
    let r = app.get(
        "/user/details",
        Some(&down.token("rsa-1", Algorithm::RS256, claims.clone())),
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body["response"]["error"]["type"], "unavailable");
    assert_eq!(
        accounts_with(&app, "down@example.com"),
        0,
        "nothing was done"
    );

    let token = up.token("rsa-1", Algorithm::RS256, claims);
    assert_eq!(details(&app, &token).0, 200);
    up.set_up(false);
    assert_eq!(details(&app, &token).0, 200, "a kept key needs no fetch");
}

fn a_first_sight_joins_by_verified_domain_as_a_login_does(backend: Backend) {
    let issuer = Issuer::start(&["rsa-1"]);
    let app = trusting(backend, &[&issuer]);
    // Linked before the domain is verified: it joins with its next new token.
    let early = |iat: i64| {
        issuer.token(
            "rsa-1",
            Algorithm::RS256,
            json!({"sub": "a-0", "email": "early@acme.com", "email_verified": true, "iat": iat}),
        )
    };
    let now = chrono::Utc::now().timestamp();
    // Kept as signed: a token made again a second later differs in its `exp`.
    let first_token = early(now);
    assert_eq!(details(&app, &first_token).0, 200);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.post(
        "/customer/adddomain",
        Some(&owner),
        json!({"organizationid": org, "domain": "acme.com", "verificationemail": "it@acme.com",
               "role": "technical"}),
    )
    .ok();
    let link = app
        .mail
        .wait_for_matching("it@acme.com", |m| m.token("domain").is_some())
        .token("domain")
        .expect("domain link");
    app.post("/customer/verifydomain", None, json!({ "token": link }))
        .ok();
    let token = issuer.token(
        "rsa-1",
        Algorithm::RS256,
        json!({"sub": "a-1", "email": "pat@acme.com", "email_verified": true}),
    );
    let details = app.get(
        &format!("/customer/details?organizationid={org}"),
        Some(&token),
    );
    assert_eq!(details.status, 200, "{}", details.body);
    assert_eq!(
        details.body["response"]["organization"]["role"],
        "technical"
    );
    let joined = app
        .get(
            &format!("/customer/listauditevents?organizationid={org}"),
            Some(&owner),
        )
        .ok()
        .get("auditevents")
        .clone();
    let joined: Vec<&Value> = joined
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"] == "collaborator.joined")
        .collect();
    assert_eq!(joined.len(), 1, "{joined:?}");
    assert_eq!(joined[0]["details"]["email"], "pat@acme.com");
    // The early account: the token it used before is no new sign-in, a new one is.
    let role = |token: &str| {
        app.get(
            &format!("/customer/details?organizationid={org}"),
            Some(token),
        )
        .status
    };
    assert_eq!(role(&first_token), 404);
    assert_eq!(role(&early(now + 1)), 200);
}

fn a_first_sight_takes_over_an_unconfirmed_account_and_skips_the_second_factor(backend: Backend) {
    let issuer = Issuer::start(&["rsa-1"]);
    let app = trusting(backend, &[&issuer]);
    // Someone signed up with the address and never proved it: the issuer's
    // verified address takes the account over, as a proven mailbox does.
    let squatter = app.user("taken@example.com");
    let before = user_of(&app, &squatter);
    assert_eq!(before["emailverified"], false);
    let token = issuer.token(
        "rsa-1",
        Algorithm::RS256,
        json!({"sub": "t-1", "email": "taken@example.com", "email_verified": true}),
    );
    let after = user_of(&app, &token);
    assert_eq!(after["userid"], before["userid"]);
    assert_eq!(after["emailverified"], true);
    assert_eq!(
        details(&app, &squatter).0,
        401,
        "the unproven session ended"
    );
    app.post(
        "/user/login",
        None,
        json!({"email": "taken@example.com", "password": "correct horse battery"}),
    )
    .err(401, "unauthenticated");

    // An account with two-factor on is not asked for a code with a provider
    // token: its issuer authenticated the person.
    let password_token = app.user("twofa@example.com");
    app.confirm("twofa@example.com");
    crate::user::recovery::enable_two_factor(&app, &password_token);
    let r = app.post(
        "/user/login",
        None,
        json!({"email": "twofa@example.com", "password": "correct horse battery"}),
    );
    assert_eq!(r.status, 401, "a password alone is not enough: {}", r.body);
    let token = issuer.token(
        "rsa-1",
        Algorithm::RS256,
        json!({"sub": "t-2", "email": "twofa@example.com", "email_verified": true}),
    );
    assert_eq!(user_of(&app, &token)["twofactorenabled"], true);
}

fn first_sights_at_once_make_one_account_and_one_link(backend: Backend) {
    let issuer = Issuer::start(&["rsa-1"]);
    let app = trusting(backend, &[&issuer]);
    let now = chrono::Utc::now().timestamp();
    // Eight tokens of one new subject (each its own, so each is a sign-in).
    let tokens: Vec<String> = (0..8)
        .map(|i| {
            issuer.token(
                "rsa-1",
                Algorithm::RS256,
                json!({"sub": "c-1", "email": "racer@example.com", "email_verified": true,
                       "iat": now - i}),
            )
        })
        .collect();
    let ids: Vec<Value> = std::thread::scope(|scope| {
        let running: Vec<_> = tokens
            .iter()
            .map(|token| scope.spawn(|| user_of(&app, token)["userid"].clone()))
            .collect();
        running
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect()
    });
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(accounts_with(&app, "racer@example.com"), 1);
    assert_eq!(
        sql_strings(
            &app,
            "SELECT user_id AS value FROM identities WHERE subject = 'c-1'"
        )
        .len(),
        1
    );
}
