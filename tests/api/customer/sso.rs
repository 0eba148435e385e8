//! Organization sign-in (API.md §9) against a real, certified OpenID
//! provider the test starts (`oidc-provider`, [`OidcProvider`]), its browser
//! part done over HTTP with a cookie jar ([`Browser`]): connecting an
//! organization, the whole sign-in, replayed, forged and old states, a
//! provider's refusal, an unverified address, enforcement at verified
//! domains, departed members, and a flow begun in one process and finished
//! in another.

use serde_json::{json, Value};

use super::roles::events;
use crate::on_both_backends;
use crate::support::{sql, sql_strings, Backend, Browser, OidcProvider, Process, TestApp};

on_both_backends!(
    a_sign_in_makes_a_member_with_the_sso_role_and_a_working_session,
    states_work_once_within_ten_minutes_and_refusals_make_nothing,
    enforcement_asks_members_at_verified_domains_for_an_sso_session,
    someone_removed_or_who_left_is_not_added_again,
    setsso_checks_what_it_is_given,
    a_flow_begun_in_one_process_finishes_in_another,
    a_provider_speaks_only_for_its_organizations_verified_domains,
    a_flow_ends_with_its_connection_and_takes_only_its_own_provider,
    the_pages_speak_the_readers_language_under_the_product_name,
);

const CLIENT: &str = "collabd-acme";
const SECRET: &str = "a client secret of the provider's";
const PASSWORD: &str = "correct horse battery";

/// A port free now, for a server whose redirect URI must be known before
/// it starts.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// An app on a port of its own (its public URL is its address) that may
/// reach the provider on 127.0.0.1, and a provider whose client redirects
/// to its callback; `deny` makes the provider refuse every sign-in.
fn app_and_provider(backend: Backend, deny: bool) -> (TestApp, OidcProvider, String) {
    app_named(backend, deny, "collabd")
}

/// [`app_and_provider`] under the product name `product`.
fn app_named(backend: Backend, deny: bool, product: &str) -> (TestApp, OidcProvider, String) {
    let port = free_port();
    let app = TestApp::start_with(backend, |c| {
        c.listen = format!("127.0.0.1:{port}");
        c.webhook_allow_private = true;
        c.product_name = product.into();
    });
    let base = app.server.as_ref().expect("server").base.clone();
    let provider = OidcProvider::start(CLIENT, SECRET, &format!("{base}/sso/callback"), deny);
    (app, provider, base)
}

fn set_sso(app: &TestApp, owner: &str, org: &str, issuer: &str, extra: Value) -> Value {
    let mut params = json!({"organizationid": org, "issuer": issuer, "clientid": CLIENT,
                            "clientsecret": SECRET});
    for (k, v) in extra.as_object().expect("object") {
        params[k] = v.clone();
    }
    app.post("/customer/setsso", Some(owner), params)
        .ok()
        .get("sso")
        .clone()
}

/// The session token an SSO page shows.
fn session_of(page: &str) -> Option<String> {
    let start = page.find("<pre id=\"session\">")? + "<pre id=\"session\">".len();
    let end = page[start..].find("</pre>")?;
    Some(page[start..start + end].to_string())
}

fn role_in(app: &TestApp, token: &str, org: &str) -> (u16, Value) {
    let r = app.get(
        &format!("/customer/details?organizationid={org}"),
        Some(token),
    );
    (r.status, r.body)
}

/// A GET that follows nothing: its status and Location.
fn bare_get(url: &str) -> (u16, Option<String>) {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let response = match agent.get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    (
        response.status(),
        response.header("location").map(str::to_string),
    )
}

fn metrics(base: &str) -> String {
    ureq::get(&format!("{base}/metrics"))
        .call()
        .expect("metrics")
        .into_string()
        .expect("text")
}

fn collaborator_of(app: &TestApp, owner: &str, org: &str, email: &str) -> String {
    app.get(
        &format!("/customer/listcollaborators?organizationid={org}"),
        Some(owner),
    )
    .ok()
    .get("collaborators")
    .as_array()
    .unwrap()
    .iter()
    .find(|c| c["email"] == email)
    .expect("listed")["collaboratorid"]
        .as_str()
        .unwrap()
        .to_string()
}

fn accounts_with(app: &TestApp, email: &str) -> usize {
    sql_strings(
        app,
        &format!("SELECT id AS value FROM users WHERE email = '{email}'"),
    )
    .len()
}

fn a_sign_in_makes_a_member_with_the_sso_role_and_a_working_session(backend: Backend) {
    let (app, provider, base) = app_and_provider(backend, false);
    let owner = app.user("owner@example.com");
    // Confirmed: an SSO sign-in links it (an unconfirmed one it would take
    // over, ending its sessions, as proving the mailbox does anywhere).
    app.confirm("owner@example.com");
    let org = app.organization(&owner, "Acme");

    let sso = set_sso(
        &app,
        &owner,
        &org,
        &provider.issuer,
        json!({"role": "technical"}),
    );
    assert_eq!(sso["organizationid"], org);
    assert_eq!(sso["issuer"], provider.issuer);
    assert_eq!(sso["clientid"], CLIENT);
    assert_eq!(sso["role"], "technical");
    assert_eq!(sso["enforce"], false);
    assert_eq!(sso["redirecturi"], format!("{base}/sso/callback"));
    assert!(sso.get("clientsecret").is_none(), "{sso}");
    // Sealed at rest.
    let stored = sql_strings(
        &app,
        "SELECT client_secret_sealed AS value FROM sso_connections",
    );
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(SECRET) && !stored[0].contains("client secret"));
    let details = app
        .get(
            &format!("/customer/ssodetails?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert_eq!(details.get("sso")["issuer"], provider.issuer);
    assert!(details.get("sso").get("clientsecret").is_none());
    let configured = events(&app, &owner, &org, "sso.configured");
    assert_eq!(configured.len(), 1);
    assert_eq!(configured[0]["details"]["role"], "technical");
    assert!(!configured[0].to_string().contains(SECRET));

    // The browser's way: to the provider (code flow, PKCE S256, state,
    // nonce), its login and consent, back to the callback page.
    let (status, location) = bare_get(&format!("{base}/sso/{org}"));
    assert_eq!(status, 302);
    let location = location.expect("Location");
    assert!(location.starts_with(&provider.issuer), "{location}");
    for part in [
        "response_type=code",
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "scope=openid+email+profile",
        &format!("client_id={CLIENT}"),
    ] {
        assert!(location.contains(part), "{part} in {location}");
    }
    let landed = Browser::new().sign_in(&format!("{base}/sso/{org}"), "ada@acme.com");
    assert_eq!(landed.status, 200, "{}", landed.body);
    assert!(landed.url.starts_with(&format!("{base}/sso/callback?")));
    for said in [
        "ada@acme.com",
        "Name of ada@acme.com",
        "Acme",
        "technical",
        "joined",
    ] {
        assert!(landed.body.contains(said), "{said} in {}", landed.body);
    }
    let token = session_of(&landed.body).expect("a session on the page");
    let (status, body) = role_in(&app, &token, &org);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["organization"]["role"], "technical");
    let me = app.get("/user/details", Some(&token)).ok();
    assert_eq!(me.get("user")["email"], "ada@acme.com");
    // acme.com is no verified domain of the organization: its provider
    // does not vouch for the address, so the account stays unconfirmed
    // (its mailbox's holder takes it over on proving it).
    assert_eq!(me.get("user")["emailverified"], false);
    let method = sql_strings(
        &app,
        "SELECT method || ' ' || sso_organization_id AS value FROM sessions WHERE method = 'sso'",
    );
    assert_eq!(method, vec![format!("sso {org}")]);

    let joined = events(&app, &owner, &org, "collaborator.joined");
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0]["details"]["via"], "sso");
    assert_eq!(joined[0]["details"]["email"], "ada@acme.com");
    assert_eq!(joined[0]["details"]["role"], "technical");

    // Again: the same account (linked by iss and sub), no second joining.
    let again = Browser::new().sign_in(&format!("{base}/sso/{org}"), "ada@acme.com");
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.body.contains("You are a member"), "{}", again.body);
    assert_eq!(accounts_with(&app, "ada@acme.com"), 1);
    assert_eq!(events(&app, &owner, &org, "collaborator.joined").len(), 1);
    // An existing account at an address outside the organization's
    // verified domains is not the provider's to sign in to (whoever runs
    // it could name anyone's address): 403, nothing linked, nobody joined.
    let owners = Browser::new().sign_in(&format!("{base}/sso/{org}"), "owner@example.com");
    assert_eq!(owners.status, 403, "{}", owners.body);
    assert!(session_of(&owners.body).is_none());
    assert!(owners.body.contains("verified domains"), "{}", owners.body);
    assert_eq!(accounts_with(&app, "owner@example.com"), 1);
    assert!(sql_strings(
        &app,
        "SELECT i.subject AS value FROM identities i JOIN users u ON u.id = i.user_id \
         WHERE u.email = 'owner@example.com'"
    )
    .is_empty());
    app.get("/user/details", Some(&owner)).ok();

    let text = metrics(&base);
    assert!(
        text.contains("collabd_sso_signins_total{outcome=\"joined\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("collabd_sso_signins_total{outcome=\"signed_in\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("collabd_sso_signins_total{outcome=\"not_linked\"} 1"),
        "{text}"
    );

    // Removing the connection: sign-ins end, the member stays.
    app.post(
        "/customer/removesso",
        Some(&owner),
        json!({"organizationid": org}),
    )
    .ok();
    assert_eq!(events(&app, &owner, &org, "sso.removed").len(), 1);
    app.get(
        &format!("/customer/ssodetails?organizationid={org}"),
        Some(&owner),
    )
    .err(404, "not_found");
    assert_eq!(bare_get(&format!("{base}/sso/{org}")).0, 404);
    let ada = sql_strings(
        &app,
        "SELECT m.role AS value FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE u.email = 'ada@acme.com'",
    );
    assert_eq!(ada, vec!["technical".to_string()]);
}

fn states_work_once_within_ten_minutes_and_refusals_make_nothing(backend: Backend) {
    let (app, provider, base) = app_and_provider(backend, false);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    set_sso(&app, &owner, &org, &provider.issuer, json!({}));
    let start = format!("{base}/sso/{org}");

    // Replayed: the callback's address a second time.
    let landed = Browser::new().sign_in(&start, "bo@acme.com");
    assert_eq!(landed.status, 200, "{}", landed.body);
    let replay = Browser::new().open(&landed.url);
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert!(session_of(&replay.body).is_none());
    assert!(replay.body.contains("already finished"), "{}", replay.body);

    // Forged, missing, malformed.
    for query in [
        "state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&code=x",
        "code=x",
        "state=%3Cscript%3E&code=x",
        "state=a%00b&code=x%00",
        "state=a&state=b",
        "",
    ] {
        let page = Browser::new().open(&format!("{base}/sso/callback?{query}"));
        assert_eq!(page.status, 400, "{query}: {}", page.body);
        assert!(!page.body.contains("<script>"), "{}", page.body);
    }

    // Older than 10 minutes: the flow is aged between its start and the
    // provider's answer.
    let mut browser = Browser::new();
    browser.stop_at(&provider.issuer);
    let to_provider = browser.open(&start).url;
    sql(
        &app,
        "UPDATE sso_flows SET created_at = created_at - 601000 WHERE used_at IS NULL",
    );
    let old = browser.sign_in(&to_provider, "cy@acme.com");
    assert_eq!(old.status, 400, "{}", old.body);
    assert!(old.body.contains("10 minutes"), "{}", old.body);
    assert_eq!(accounts_with(&app, "cy@acme.com"), 0);

    // No verified address: nothing made.
    let unverified = Browser::new().sign_in(&start, "unverified-dee@acme.com");
    assert_eq!(unverified.status, 400, "{}", unverified.body);
    assert!(unverified.body.contains("verified email"));
    assert_eq!(accounts_with(&app, "unverified-dee@acme.com"), 0);

    // A provider's refusal.
    let refusing = OidcProvider::start(CLIENT, SECRET, &format!("{base}/sso/callback"), true);
    let other = app.organization(&owner, "Other");
    set_sso(&app, &owner, &other, &refusing.issuer, json!({}));
    let denied = Browser::new().sign_in(&format!("{base}/sso/{other}"), "eve@acme.com");
    assert_eq!(denied.status, 400, "{}", denied.body);
    assert!(denied.body.contains("access_denied"), "{}", denied.body);
    assert_eq!(accounts_with(&app, "eve@acme.com"), 0);
    // Nothing joined anywhere but bo's sign-in.
    let members = sql_strings(&app, "SELECT user_id AS value FROM memberships");
    assert_eq!(members.len(), 2 + 1, "owner twice, bo once");

    // Unknown organizations have no sign-in.
    assert_eq!(bare_get(&format!("{base}/sso/no-such-organization")).0, 404);
}

fn enforcement_asks_members_at_verified_domains_for_an_sso_session(backend: Backend) {
    let (app, provider, base) = app_and_provider(backend, false);
    let owner_email = "owner@acme.com";
    let owner = app.user(owner_email);
    let org = app.organization(&owner, "Acme");
    // The domain acme.com verified for the organization.
    app.post(
        "/customer/adddomain",
        Some(&owner),
        json!({"organizationid": org, "domain": "acme.com", "verificationemail": "it@acme.com"}),
    )
    .ok();
    let token = app
        .mail
        .wait_for_matching("it@acme.com", |m| m.token("domain").is_some())
        .token("domain")
        .expect("domain link");
    app.post("/customer/verifydomain", None, json!({"token": token}))
        .ok();
    // Members by invite (their sessions made by invites: addresses verified).
    let inside = app.member(&owner, &org, "fay@acme.com", "admin");
    let outside = app.member(&owner, &org, "gus@partner.example", "technical");
    let key = app.api_key(&inside.token, json!({"name": "ci", "organizationid": org}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let password_session = app.login("fay@acme.com", PASSWORD);
    // A key of no organization, made before enforcement begins.
    let early_key = app.api_key(&password_session, json!({"name": "early"}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    // Enforcement begins at a later millisecond than the key was made.
    std::thread::sleep(std::time::Duration::from_millis(5));

    set_sso(
        &app,
        &owner,
        &org,
        &provider.issuer,
        json!({"enforce": true}),
    );
    let collaborators = format!("/customer/listcollaborators?organizationid={org}");
    for token in [&inside.token, &password_session] {
        let r = app.get(
            &format!("/customer/details?organizationid={org}"),
            Some(token),
        );
        r.err(403, "forbidden");
        let r = app.get(
            &format!("/customer/details?organizationid={org}"),
            Some(token),
        );
        assert_eq!(r.reason(), "sso_required");
        // The hot read path too.
        let r = app.get(&collaborators, Some(token));
        assert_eq!((r.status, r.reason()), (403, "sso_required"));
        // Objects of the organization too.
        let r = app.post(
            "/customer/editcollaborator",
            Some(token),
            json!({"collaboratorid": outside.collaboratorid, "cancreateprojects": true}),
        );
        assert_eq!((r.status, r.reason()), (403, "sso_required"));
    }
    // Someone not at a verified domain, the owner, and an API key: as before.
    assert_eq!(role_in(&app, &outside.token, &org).0, 200);
    assert_eq!(role_in(&app, &owner, &org).0, 200);
    app.get(&collaborators, Some(&owner)).ok();
    assert_eq!(role_in(&app, &key, &org).0, 200);
    assert_eq!(role_in(&app, &early_key, &org).0, 200);
    // The person's account itself is not locked; but a key it makes now is
    // no way around enforcement: made by a session the organization
    // refuses, it is refused there too.
    app.get("/user/details", Some(&password_session)).ok();
    let late_key = app.api_key(&password_session, json!({"name": "late"}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.get(
        &format!("/customer/details?organizationid={org}"),
        Some(&late_key),
    );
    assert_eq!((r.status, r.reason()), (403, "sso_required"));
    let r = app.post(
        "/user/createapikey",
        Some(&password_session),
        json!({"name": "bound", "organizationid": org}),
    );
    assert_eq!((r.status, r.reason()), (403, "sso_required"));

    // An SSO session: the same account, linked by its verified address.
    let landed = Browser::new().sign_in(&format!("{base}/sso/{org}"), "fay@acme.com");
    assert_eq!(landed.status, 200, "{}", landed.body);
    let sso_session = session_of(&landed.body).expect("session");
    let (status, body) = role_in(&app, &sso_session, &org);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["organization"]["role"], "admin");
    app.get(&collaborators, Some(&sso_session)).ok();
    app.post(
        "/customer/editcollaborator",
        Some(&sso_session),
        json!({"collaboratorid": outside.collaboratorid, "cancreateprojects": true}),
    )
    .ok();
    assert_eq!(accounts_with(&app, "fay@acme.com"), 1);
    // A key the SSO session makes works where the session does.
    let sso_key = app.api_key(&sso_session, json!({"name": "sso"}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(role_in(&app, &sso_key, &org).0, 200);
    // A newcomer at the verified domain: made verified, the provider
    // vouching for the address.
    let newcomer = Browser::new().sign_in(&format!("{base}/sso/{org}"), "kim@acme.com");
    assert_eq!(newcomer.status, 200, "{}", newcomer.body);
    let kim = session_of(&newcomer.body).expect("session");
    assert_eq!(
        app.get("/user/details", Some(&kim)).ok().get("user")["emailverified"],
        true
    );
    // Someone at another domain whose account exists is not the provider's
    // to sign in to.
    let partner = Browser::new().sign_in(&format!("{base}/sso/{org}"), "gus@partner.example");
    assert_eq!(partner.status, 403, "{}", partner.body);

    // An SSO session of this organization is no SSO session of another
    // that enforces its own.
    let other = app.organization(&owner, "Acme Labs");
    app.post(
        "/invite/create",
        Some(&owner),
        json!({"organizationid": other, "email": "fay@acme.com", "role": "technical"}),
    )
    .ok();
    let invite = app
        .get("/user/listinvites", Some(&sso_session))
        .ok()
        .get("invites")[0]["inviteid"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/invite/accept",
        Some(&sso_session),
        json!({"inviteid": invite}),
    )
    .ok();
    assert_eq!(role_in(&app, &sso_session, &other).0, 200);

    // Enforcement off: every session works again.
    set_sso(
        &app,
        &owner,
        &org,
        &provider.issuer,
        json!({"enforce": false}),
    );
    assert_eq!(role_in(&app, &password_session, &org).0, 200);
    app.get(&collaborators, Some(&inside.token)).ok();
}

fn someone_removed_or_who_left_is_not_added_again(backend: Backend) {
    let (app, provider, base) = app_and_provider(backend, false);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    set_sso(&app, &owner, &org, &provider.issuer, json!({}));
    let start = format!("{base}/sso/{org}");

    let first = Browser::new().sign_in(&start, "hal@acme.com");
    assert_eq!(first.status, 200, "{}", first.body);
    let hal = session_of(&first.body).expect("session");
    let collaborator = collaborator_of(&app, &owner, &org, "hal@acme.com");
    app.remove(&owner, &collaborator).ok();
    let again = Browser::new().sign_in(&start, "hal@acme.com");
    assert_eq!(again.status, 403, "{}", again.body);
    assert!(session_of(&again.body).is_none());
    assert!(
        again
            .body
            .contains("hal@acme.com is no longer a member of Acme"),
        "{}",
        again.body
    );
    assert_eq!(role_in(&app, &hal, &org).0, 404);

    // Leaving counts the same.
    let second = Browser::new().sign_in(&start, "ivy@acme.com");
    let ivy = session_of(&second.body).expect("session");
    let own = collaborator_of(&app, &owner, &org, "ivy@acme.com");
    app.remove(&ivy, &own).ok();
    let back = Browser::new().sign_in(&start, "ivy@acme.com");
    assert_eq!(back.status, 403, "{}", back.body);
    assert_eq!(role_in(&app, &ivy, &org).0, 404);
    assert_eq!(events(&app, &owner, &org, "collaborator.joined").len(), 2);
    let text = metrics(&base);
    assert!(
        text.contains("collabd_sso_signins_total{outcome=\"not_added\"} 2"),
        "{text}"
    );
}

fn setsso_checks_what_it_is_given(backend: Backend) {
    let (app, provider, _base) = app_and_provider(backend.clone(), false);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let technical = app.member(&owner, &org, "tech@example.com", "technical");
    let params = |issuer: &str| json!({"organizationid": org, "issuer": issuer, "clientid": CLIENT, "clientsecret": SECRET});

    // Who may: owners set and remove; admins read; others nothing.
    let r = app.post(
        "/customer/setsso",
        Some(&admin.token),
        params(&provider.issuer),
    );
    r.err(403, "forbidden");
    app.get(
        &format!("/customer/ssodetails?organizationid={org}"),
        Some(&technical.token),
    )
    .err(403, "forbidden");
    app.get(
        &format!("/customer/ssodetails?organizationid={org}"),
        Some(&admin.token),
    )
    .err(404, "not_found");

    // Issuers that cannot be used: 422 naming issuer, nothing stored.
    for issuer in [
        "http://127.0.0.1:1",
        "ftp://id.example",
        "not a url",
        &format!("{}/elsewhere", provider.issuer),
        &format!("{}?x=1", provider.issuer),
    ] {
        let r = app.post("/customer/setsso", Some(&owner), params(issuer));
        r.err(422, "validation_failed");
        let r = app.post("/customer/setsso", Some(&owner), params(issuer));
        assert!(
            r.body["response"]["error"]["fields"]["issuer"].is_array(),
            "{issuer}: {}",
            r.body
        );
    }
    let mut owner_role = params(&provider.issuer);
    owner_role["role"] = json!("owner");
    app.post("/customer/setsso", Some(&owner), owner_role)
        .err(422, "validation_failed");
    let mut empty = params(&provider.issuer);
    empty["clientsecret"] = json!("");
    app.post("/customer/setsso", Some(&owner), empty)
        .err(422, "validation_failed");
    assert!(sql_strings(&app, "SELECT issuer AS value FROM sso_connections").is_empty());

    // A custom role: held by the connection, so it cannot be deleted.
    let role = app
        .post(
            "/customer/createrole",
            Some(&owner),
            json!({"organizationid": org, "name": "support", "permissions": ["organization:read"]}),
        )
        .ok()
        .get("role")
        .clone();
    let mut custom = params(&provider.issuer);
    custom["role"] = json!("support");
    let sso = app
        .post("/customer/setsso", Some(&owner), custom)
        .ok()
        .get("sso")
        .clone();
    assert_eq!(sso["role"], "support");
    assert_eq!(sso["roleid"], role["roleid"]);
    let r = app.post(
        "/customer/deleterole",
        Some(&owner),
        json!({"roleid": role["roleid"]}),
    );
    assert_eq!((r.status, r.reason()), (409, "role_in_use"));
    let details = app
        .get(
            &format!("/customer/ssodetails?organizationid={org}"),
            Some(&admin.token),
        )
        .ok();
    assert_eq!(details.get("sso")["role"], "support");
    app.post(
        "/customer/removesso",
        Some(&admin.token),
        json!({"organizationid": org}),
    )
    .err(403, "forbidden");
    app.post(
        "/customer/removesso",
        Some(&owner),
        json!({"organizationid": org}),
    )
    .ok();
    app.post(
        "/customer/removesso",
        Some(&owner),
        json!({"organizationid": org}),
    )
    .err(404, "not_found");
    app.post(
        "/customer/deleterole",
        Some(&owner),
        json!({"roleid": role["roleid"]}),
    )
    .ok();

    // Without COLLABD_WEBHOOK_ALLOW_PRIVATE, an issuer on a loopback
    // address is refused (the operator's own issuers are not bound by it).
    let strict = TestApp::start(backend);
    let owner = strict.user("owner@example.com");
    let org = strict.organization(&owner, "Strict");
    let r = strict.post(
        "/customer/setsso",
        Some(&owner),
        json!({"organizationid": org, "issuer": provider.issuer, "clientid": CLIENT,
               "clientsecret": SECRET}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body["response"]["error"]["fields"]["issuer"].is_array());
}

fn a_flow_begun_in_one_process_finishes_in_another(backend: Backend) {
    let (app, provider, base) = app_and_provider(backend, false);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    set_sso(&app, &owner, &org, &provider.issuer, json!({}));
    // Another collabd process on the same database and public address.
    let other = Process::spawn(&[
        ("COLLABD_DATABASE_URL", app.db.url.as_str()),
        ("COLLABD_PUBLIC_URL", base.as_str()),
        ("COLLABD_WEBHOOK_ALLOW_PRIVATE", "true"),
    ]);
    // Begun here; the provider sends the browser back to the public
    // address, which in front of several processes is any of them: here,
    // the other.
    let mut browser = Browser::new();
    browser.stop_at(&format!("{base}/sso/callback"));
    let at_callback = browser.sign_in(&format!("{base}/sso/{org}"), "joy@acme.com");
    assert!(
        at_callback
            .url
            .starts_with(&format!("{base}/sso/callback?")),
        "{}",
        at_callback.url
    );
    let there = at_callback.url.replacen(&base, &other.base, 1);
    // Another browser cannot finish it (the cookie ties it to its own).
    let elsewhere = Browser::new().open(&there);
    assert_eq!(elsewhere.status, 400, "{}", elsewhere.body);
    assert!(
        elsewhere.body.contains("another browser"),
        "{}",
        elsewhere.body
    );
    // Cookies go by host, not port: the same browser at the other process.
    let landed = browser.open(&there);
    assert_eq!(landed.status, 200, "{}", landed.body);
    let token = session_of(&landed.body).expect("session");
    assert_eq!(role_in(&app, &token, &org).0, 200);
    // And used there, it cannot be used here.
    let here = Browser::new().open(&at_callback.url);
    assert_eq!(here.status, 400, "{}", here.body);
}

/// Whoever owns an organization may run its provider, and it can say any
/// address: it may not sign in to someone's account, and an account it
/// makes for an address outside the organization's verified domains is
/// unconfirmed, its mailbox's holder taking it over (links and all).
fn a_provider_speaks_only_for_its_organizations_verified_domains(backend: Backend) {
    let (app, provider, base) = app_and_provider(backend, false);
    let victim = app.user("victim@example.org");
    app.confirm("victim@example.org");
    let attacker = app.user("mallory@example.net");
    let evil = app.organization(&attacker, "Evil");
    set_sso(&app, &attacker, &evil, &provider.issuer, json!({}));
    let start = format!("{base}/sso/{evil}");

    let taken = Browser::new().sign_in(&start, "victim@example.org");
    assert_eq!(taken.status, 403, "{}", taken.body);
    assert!(session_of(&taken.body).is_none());
    assert!(sql_strings(&app, "SELECT subject AS value FROM identities").is_empty());
    app.get("/user/details", Some(&victim)).ok();
    assert_eq!(role_in(&app, &victim, &evil).0, 404);

    // Squatting an address with no account yet: made unconfirmed.
    let squat = Browser::new().sign_in(&start, "sam@elsewhere.example");
    assert_eq!(squat.status, 200, "{}", squat.body);
    let squatter = session_of(&squat.body).expect("session");
    assert_eq!(
        app.get("/user/details", Some(&squatter)).ok().get("user")["emailverified"],
        false
    );
    // Sam proves the mailbox: the account is Sam's, the link and the
    // session gone, and the provider cannot sign in to it again.
    app.post(
        "/user/requestpasswordreset",
        None,
        json!({"email": "sam@elsewhere.example"}),
    )
    .ok();
    let token = app
        .mail
        .wait_for_matching("sam@elsewhere.example", |m| m.token("reset").is_some())
        .token("reset")
        .expect("reset link");
    app.post(
        "/user/resetpassword",
        None,
        json!({"token": token, "password": "sam's own password"}),
    )
    .ok();
    app.get("/user/details", Some(&squatter))
        .err(401, "unauthenticated");
    assert!(sql_strings(&app, "SELECT subject AS value FROM identities").is_empty());
    let again = Browser::new().sign_in(&start, "sam@elsewhere.example");
    assert_eq!(again.status, 403, "{}", again.body);
}

/// Replacing the connection ends sign-ins under way; an answer naming
/// another issuer than the flow's (RFC 9207) is refused before any code
/// goes anywhere.
fn a_flow_ends_with_its_connection_and_takes_only_its_own_provider(backend: Backend) {
    let (app, provider, base) = app_and_provider(backend, false);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    set_sso(&app, &owner, &org, &provider.issuer, json!({}));
    let start = format!("{base}/sso/{org}");

    let mut browser = Browser::new();
    browser.stop_at(&format!("{base}/sso/callback"));
    let back = browser.sign_in(&start, "lee@acme.com");
    // Named as another issuer: refused, and the flow is used up.
    let mixed = back.url.replace(
        &format!("iss={}", urlencode(&provider.issuer)),
        "iss=https%3A%2F%2Fother.example",
    );
    assert_ne!(mixed, back.url, "the provider names itself (RFC 9207)");
    let page = browser.open(&mixed);
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("another identity provider"),
        "{}",
        page.body
    );
    assert_eq!(accounts_with(&app, "lee@acme.com"), 0);

    // Begun, then the connection replaced: the sign-in under way ends.
    let mut browser = Browser::new();
    browser.stop_at(&format!("{base}/sso/callback"));
    let back = browser.sign_in(&start, "lee@acme.com");
    set_sso(
        &app,
        &owner,
        &org,
        &provider.issuer,
        json!({"role": "technical"}),
    );
    let page = browser.open(&back.url);
    assert_eq!(page.status, 400, "{}", page.body);
    assert_eq!(accounts_with(&app, "lee@acme.com"), 0);
    // Begun again: it works, with the new role.
    let landed = Browser::new().sign_in(&start, "lee@acme.com");
    assert_eq!(landed.status, 200, "{}", landed.body);
    assert!(landed.body.contains("technical"), "{}", landed.body);
}

/// The `lang` of a page.
fn lang_of(page: &str) -> &str {
    page.split_once("<html lang=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or("", |(lang, _)| lang)
}

fn the_pages_speak_the_readers_language_under_the_product_name(backend: Backend) {
    let (app, provider, base) = app_named(backend, false, "GleSYS Cloud");
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    set_sso(
        &app,
        &owner,
        &org,
        &provider.issuer,
        json!({"role": "technical"}),
    );
    let start = format!("{base}/sso/{org}");
    let named =
        |page: &str| page.contains("GleSYS Cloud") && !page.to_lowercase().contains("collabd");
    // A newcomer whose browser asks for Swedish: the page is Swedish.
    let joined = Browser::speaking("sv-SE,sv;q=0.9").sign_in(&start, "ny@acme.com");
    assert_eq!(
        (joined.status, lang_of(&joined.body)),
        (200, "sv"),
        "{}",
        joined.body
    );
    assert!(
        joined.body.contains("Du har gått med i Acme som technical"),
        "{}",
        joined.body
    );
    assert!(
        named(&joined.body) && session_of(&joined.body).is_some(),
        "{}",
        joined.body
    );
    // An account with a language of its own reads it, whatever the browser.
    let session = session_of(&joined.body).expect("a session");
    app.post("/user/edit", Some(&session), json!({"language": "en"}))
        .ok();
    let english = Browser::speaking("sv").sign_in(&start, "ny@acme.com");
    assert_eq!(lang_of(&english.body), "en", "{}", english.body);
    assert!(
        english
            .body
            .contains("You are a member of Acme as technical"),
        "{}",
        english.body
    );
    // Refusals follow the browser: a state nobody began, an organization
    // without SSO.
    let shows = |page: &crate::support::Landed, status: u16, lang: &str, says: &str| {
        assert_eq!(
            (page.status, lang_of(&page.body)),
            (status, lang),
            "{}",
            page.body
        );
        assert!(
            page.body.contains(says) && named(&page.body),
            "{}",
            page.body
        );
    };
    let unknown = format!("{base}/sso/callback?state={}&code=x", "A".repeat(43));
    shows(&Browser::speaking("sv").open(&unknown), 400, "sv", "okänd");
    shows(&Browser::new().open(&unknown), 400, "en", "unknown");
    let other = app.organization(&owner, "Other");
    let none = Browser::speaking("sv").open(&format!("{base}/sso/{other}"));
    shows(&none, 404, "sv", "identitetsleverantör");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
