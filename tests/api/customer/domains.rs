//! Verified domains (API.md §6): claimed, verified by a link mailed to the
//! test's SMTP server, and accounts at the domain joining as they sign in;
//! never someone who was removed or left.

use serde_json::{json, Value};

use super::roles::events;
use crate::on_both_backends;
use crate::support::{sql, sql_strings, Backend, TestApp};

on_both_backends!(
    a_domain_claimed_and_verified_adds_its_people_with_its_role,
    a_domain_verified_elsewhere_is_taken,
    people_who_were_removed_or_left_are_not_added_again,
    domain_claims_are_checked_and_only_owners_make_them,
    departures_from_before_the_table_are_taken_from_the_audit_log,
);

const PASSWORD: &str = "correct horse battery";

/// Signs up, confirms the address by its emailed link (a sign-in for the
/// domain rule), logs in; the session token.
fn verified_user(app: &TestApp, email: &str) -> String {
    let mut taken = links_to(app, email, "confirm");
    app.signup(email, PASSWORD, "Someone");
    let token = app.mail.next_link(email, "confirm", &mut taken);
    app.post("/user/confirm", None, json!({"token": token}))
        .ok();
    app.login(email, PASSWORD)
}

/// The `kind` links mailed to `address` so far.
fn links_to(app: &TestApp, address: &str, kind: &str) -> std::collections::HashSet<String> {
    app.mail
        .messages()
        .iter()
        .filter(|m| m.to.iter().any(|t| t.contains(address)))
        .filter_map(|m| m.token(kind))
        .collect()
}

/// Claims `domain` for `org`; the domain object and the emailed token.
fn claim(
    app: &TestApp,
    owner: &str,
    org: &str,
    domain: &str,
    verifier: &str,
    role: &str,
) -> (Value, String) {
    // Links mailed to the verifier before this claim are not its link.
    let mut taken = links_to(app, verifier, "domain");
    let r = app
        .post(
            "/customer/adddomain",
            Some(owner),
            json!({"organizationid": org, "domain": domain, "verificationemail": verifier,
                   "role": role}),
        )
        .ok();
    let token = app.mail.next_link(verifier, "domain", &mut taken);
    (r.get("domain").clone(), token)
}

fn role_in(app: &TestApp, token: &str, org: &str) -> Option<String> {
    let r = app.get(
        &format!("/customer/details?organizationid={org}"),
        Some(token),
    );
    match r.status {
        200 => Some(r.get("organization")["role"].as_str().unwrap().to_string()),
        404 => None,
        other => panic!("details answered {other}"),
    }
}

fn a_domain_claimed_and_verified_adds_its_people_with_its_role(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    // An account at the domain from before the claim, address confirmed.
    let early = verified_user(&app, "early@acme.com");
    assert_eq!(role_in(&app, &early, &org), None);

    let (domain, token) = claim(&app, &owner, &org, "Acme.COM", "it@acme.com", "technical");
    assert_eq!(domain["domain"], "acme.com");
    assert_eq!(domain["state"], "pending");
    assert_eq!(domain["role"], "technical");
    assert_eq!(domain["verifiedat"], Value::Null);
    let mail = app
        .mail
        .wait_for_matching("it@acme.com", |m| m.token("domain").is_some());
    assert!(
        mail.subject().contains("acme.com") && mail.subject().contains("Acme"),
        "{}",
        mail.subject()
    );
    assert!(!sql_strings(&app, "SELECT token_hash AS value FROM domains")[0].contains(&token));

    // The page says what the link is for, and does nothing by itself.
    let base = &app.server.as_ref().unwrap().base;
    let page = ureq::get(&format!("{base}/domain/{token}"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    for said in ["acme.com", "Acme", "technical"] {
        assert!(page.contains(said), "{said} in {page}");
    }
    let listed = app
        .get(
            &format!("/customer/listdomains?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert_eq!(listed.get("domains")[0]["state"], "pending");

    // Nobody joins before the domain is verified.
    let before = verified_user(&app, "before@acme.com");
    assert_eq!(role_in(&app, &before, &org), None);

    let verified = app
        .post("/customer/verifydomain", None, json!({"token": token}))
        .ok();
    assert_eq!(verified.get("domain")["state"], "verified");
    assert!(verified.get("domain")["verifiedat"].is_string());
    let again = app
        .post("/customer/verifydomain", None, json!({"token": token}))
        .err(410, "gone");
    assert_eq!(again.reason(), "used");
    app.post(
        "/customer/verifydomain",
        None,
        json!({"token": "unknown-token"}),
    )
    .err(404, "not_found");
    assert_eq!(events(&app, &owner, &org, "domain.verified").len(), 1);

    // A new sign-up at the domain joins with its role when it confirms.
    let newcomer = verified_user(&app, "newcomer@acme.com");
    assert_eq!(role_in(&app, &newcomer, &org).as_deref(), Some("technical"));
    let joined = events(&app, &owner, &org, "collaborator.joined");
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0]["details"]["email"], "newcomer@acme.com");
    assert_eq!(joined[0]["details"]["domain"], "acme.com");
    // Earlier accounts join at their next sign-in, by password or by link.
    let early = app.login("early@acme.com", PASSWORD);
    assert_eq!(role_in(&app, &early, &org).as_deref(), Some("technical"));
    app.post(
        "/user/requestloginlink",
        None,
        json!({"email": "before@acme.com"}),
    )
    .ok();
    let link = app
        .mail
        .wait_for_matching("before@acme.com", |m| m.token("signin").is_some())
        .token("signin")
        .unwrap();
    let before = app
        .post("/user/loginbylink", None, json!({"token": link}))
        .ok()
        .get("login")["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(role_in(&app, &before, &org).as_deref(), Some("technical"));
    // Signing in again adds nothing twice.
    app.login("early@acme.com", PASSWORD);
    assert_eq!(events(&app, &owner, &org, "collaborator.joined").len(), 3);

    // Not verified, or at another domain (a subdomain too): nobody joins.
    app.signup("unconfirmed@acme.com", PASSWORD, "U");
    let unconfirmed = app.login("unconfirmed@acme.com", PASSWORD);
    assert_eq!(role_in(&app, &unconfirmed, &org), None);
    let sub = verified_user(&app, "someone@eu.acme.com");
    assert_eq!(role_in(&app, &sub, &org), None);

    // An invite accepted by a newcomer at the domain: the invite's role in
    // the inviting organization, the domain's in the domain's.
    let other_owner = app.user("other@example.com");
    let other = app.organization(&other_owner, "Other");
    let mut taken = links_to(&app, "guest@acme.com", "invite");
    app.invite(&other_owner, &other, "guest@acme.com", "admin");
    let invite = app.mail.next_link("guest@acme.com", "invite", &mut taken);
    let accepted = app
        .post("/invite/accept", None, json!({"token": invite}))
        .ok();
    let guest = accepted.get("login")["token"].as_str().unwrap().to_string();
    assert_eq!(role_in(&app, &guest, &other).as_deref(), Some("admin"));
    assert_eq!(role_in(&app, &guest, &org).as_deref(), Some("technical"));

    // Removing the domain removes nobody, and adds nobody more.
    let id = verified.get("domain")["domainid"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/customer/removedomain",
        Some(&owner),
        json!({"domainid": id}),
    )
    .ok();
    assert_eq!(role_in(&app, &newcomer, &org).as_deref(), Some("technical"));
    let late = verified_user(&app, "late@acme.com");
    assert_eq!(role_in(&app, &late, &org), None);
    assert_eq!(events(&app, &owner, &org, "domain.removed").len(), 1);
}

fn a_domain_verified_elsewhere_is_taken(backend: Backend) {
    let app = TestApp::start(backend);
    let first = app.user("first@example.com");
    let second = app.user("second@example.com");
    let one = app.organization(&first, "One");
    let two = app.organization(&second, "Two");
    let (_, one_token) = claim(
        &app,
        &first,
        &one,
        "acme.com",
        "it@acme.com",
        "collaborator",
    );
    let mut taken = std::collections::HashSet::from([one_token.clone()]);
    app.post(
        "/customer/adddomain",
        Some(&second),
        json!({"organizationid": two, "domain": "acme.com", "verificationemail": "boss@acme.com"}),
    )
    .ok();
    let two_token = app.mail.next_link("boss@acme.com", "domain", &mut taken);
    app.post("/customer/verifydomain", None, json!({"token": one_token}))
        .ok();
    let r = app
        .post("/customer/verifydomain", None, json!({"token": two_token}))
        .err(409, "conflict");
    assert_eq!(r.reason(), "domain_taken");
    let r = app
        .post(
            "/customer/adddomain",
            Some(&second),
            json!({"organizationid": two, "domain": "ACME.com", "verificationemail": "x@acme.com"}),
        )
        .err(409, "conflict");
    assert_eq!(r.reason(), "domain_taken");
    let r = app
        .post(
            "/customer/adddomain",
            Some(&first),
            json!({"organizationid": one, "domain": "acme.com", "verificationemail": "x@acme.com"}),
        )
        .err(409, "conflict");
    assert_eq!(r.reason(), "already_verified");
    // Deleting the organization frees the domain and leaves no row behind.
    app.post(
        "/customer/delete",
        Some(&first),
        json!({"organizationid": one, "name": "One"}),
    )
    .ok();
    assert!(sql_strings(
        &app,
        &format!("SELECT id AS value FROM domains WHERE organization_id = '{one}'")
    )
    .is_empty());
    let (_, again) = claim(&app, &second, &two, "acme.com", "it@acme.com", "admin");
    let r = app
        .post("/customer/verifydomain", None, json!({"token": again}))
        .ok();
    assert_eq!(r.get("domain")["role"], "admin");
}

fn people_who_were_removed_or_left_are_not_added_again(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let (_, token) = claim(
        &app,
        &owner,
        &org,
        "acme.com",
        "it@acme.com",
        "collaborator",
    );
    app.post("/customer/verifydomain", None, json!({"token": token}))
        .ok();
    let bob = verified_user(&app, "bob@acme.com");
    let carol = verified_user(&app, "carol@acme.com");
    let dave = verified_user(&app, "dave@acme.com");
    for token in [&bob, &carol, &dave] {
        assert_eq!(role_in(&app, token, &org).as_deref(), Some("collaborator"));
    }
    let membership = |email: &str| -> String {
        app.get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok()
        .get("collaborators")
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == email)
        .unwrap()["collaboratorid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Bob is removed, Carol leaves, Dave is removed and closes his account.
    app.remove(&owner, &membership("bob@acme.com")).ok();
    app.post(
        "/customer/removecollaborator",
        Some(&carol),
        json!({"collaboratorid": membership("carol@acme.com")}),
    )
    .ok();
    app.remove(&owner, &membership("dave@acme.com")).ok();
    app.post(
        "/user/delete",
        Some(&dave),
        json!({"currentpassword": PASSWORD}),
    )
    .ok();

    let bob = app.login("bob@acme.com", PASSWORD);
    let carol = app.login("carol@acme.com", PASSWORD);
    let dave = verified_user(&app, "dave@acme.com");
    for token in [&bob, &carol, &dave] {
        assert_eq!(role_in(&app, token, &org), None, "not added again");
    }
    assert_eq!(events(&app, &owner, &org, "collaborator.joined").len(), 3);
    // An invite still brings Bob back; that is the organization's choice.
    let mut taken = links_to(&app, "bob@acme.com", "invite");
    app.invite(&owner, &org, "bob@acme.com", "technical");
    let invite = app.mail.next_link("bob@acme.com", "invite", &mut taken);
    app.post("/invite/accept", Some(&bob), json!({"token": invite}))
        .ok();
    assert_eq!(role_in(&app, &bob, &org).as_deref(), Some("technical"));
}

fn domain_claims_are_checked_and_only_owners_make_them(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let technical = app.member(&owner, &org, "tech@example.com", "technical");
    let stranger = app.user("stranger@example.com");
    let add = |token: &str, body: Value| app.post("/customer/adddomain", Some(token), body);
    for (body, field) in [
        (
            json!({"organizationid": org, "domain": "acme.com", "verificationemail": "it@other.com"}),
            "verificationemail",
        ),
        (
            json!({"organizationid": org, "domain": "acme.com", "verificationemail": "it@notacme.com"}),
            "verificationemail",
        ),
        (
            json!({"organizationid": org, "domain": "gmail.com", "verificationemail": "me@gmail.com"}),
            "domain",
        ),
        (
            json!({"organizationid": org, "domain": "localhost", "verificationemail": "me@localhost"}),
            "domain",
        ),
        (
            json!({"organizationid": org, "domain": "acme.com", "verificationemail": "it@acme.com", "role": "owner"}),
            "role",
        ),
    ] {
        let r = add(&owner, body.clone()).err(422, "validation_failed");
        assert!(
            r.body["response"]["error"]["fields"][field].is_array(),
            "{body}: {:?}",
            r.body
        );
    }
    let body =
        json!({"organizationid": org, "domain": "acme.com", "verificationemail": "it@eu.acme.com"});
    add(&admin.token, body.clone()).err(403, "forbidden");
    add(&technical.token, body.clone()).err(403, "forbidden");
    add(&stranger, body.clone()).err(404, "not_found");
    let domain = add(&owner, body.clone()).ok().get("domain").clone();
    assert_eq!(domain["role"], "collaborator", "the default role");
    // Claimed again while pending: a new link; the first one ends.
    let first = app
        .mail
        .wait_for_matching("it@eu.acme.com", |m| m.token("domain").is_some())
        .token("domain")
        .unwrap();
    add(&owner, body).ok();
    let mut taken = std::collections::HashSet::from([first.clone()]);
    let second = app.mail.next_link("it@eu.acme.com", "domain", &mut taken);
    app.post("/customer/verifydomain", None, json!({"token": first}))
        .err(404, "not_found");
    let list = format!("/customer/listdomains?organizationid={org}");
    assert_eq!(
        app.get(&list, Some(&admin.token))
            .ok()
            .get("domains")
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.get(&list, Some(&technical.token)).err(403, "forbidden");
    app.get(&list, Some(&stranger)).err(404, "not_found");
    // Past its time the link answers 410 expired, on the API and its page.
    sql(&app, "UPDATE domains SET token_expires_at = 1");
    let r = app
        .post("/customer/verifydomain", None, json!({"token": second}))
        .err(410, "gone");
    assert_eq!(r.reason(), "expired");
    let base = &app.server.as_ref().unwrap().base;
    match ureq::get(&format!("{base}/domain/{second}")).call() {
        Err(ureq::Error::Status(status, _)) => assert_eq!(status, 410),
        other => panic!("the page of an expired link: {other:?}"),
    }
    let id = domain["domainid"].as_str().unwrap();
    app.post(
        "/customer/removedomain",
        Some(&admin.token),
        json!({"domainid": id}),
    )
    .err(403, "forbidden");
    app.post(
        "/customer/removedomain",
        Some(&stranger),
        json!({"domainid": id}),
    )
    .err(404, "not_found");
    app.post(
        "/customer/removedomain",
        Some(&owner),
        json!({"domainid": id}),
    )
    .ok();
    app.post("/customer/verifydomain", None, json!({"token": second}))
        .err(404, "not_found");
    // Each claim is a mail to its address: five an hour (the default).
    let claim = json!({"organizationid": org, "domain": "bulk.example", "verificationemail": "it@bulk.example"});
    for _ in 0..5 {
        add(&owner, claim.clone()).ok();
    }
    add(&owner, claim).err(429, "rate_limited");
}

fn departures_from_before_the_table_are_taken_from_the_audit_log(backend: Backend) {
    let migration = match &backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    };
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let gone = app.member(&owner, &org, "gone@acme.com", "technical");
    app.remove(&owner, &gone.collaboratorid).ok();
    // As a database from before departures were kept: the removal is only in
    // the audit log. The migration's own statement fills the table from it.
    sql(&app, "DELETE FROM departures");
    let up = std::fs::read_to_string(format!(
        "{}/migrations/{migration}/2026-11-24-000010_domains/up.sql",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let backfill = &up[up.find("INSERT INTO departures").expect("the backfill")..];
    let backfill = &backfill[..=backfill.find(';').unwrap()];
    sql(&app, backfill);
    assert_eq!(
        sql_strings(&app, "SELECT email AS value FROM departures"),
        ["gone@acme.com"]
    );
    let (_, token) = claim(&app, &owner, &org, "acme.com", "it@acme.com", "admin");
    app.post("/customer/verifydomain", None, json!({"token": token}))
        .ok();
    let gone = app.login("gone@acme.com", PASSWORD);
    assert_eq!(role_in(&app, &gone, &org), None, "not added again");
}
