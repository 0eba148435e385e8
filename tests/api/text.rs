//! API.md §1 "Text": U+0000 in any string parameter answers 422 naming the
//! field, on every backend, for every endpoint: a table-driven walk over
//! every operation of the document and every string parameter it takes, as
//! JSON and (for reads) as a query string. And emails: one address whatever
//! its spelling (case, NFC, the domain in Unicode or IDNA ASCII form), and
//! none holding an invisible or control character.

use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{sql, sql_strings, Backend, TestApp};

on_both_backends!(
    nul_in_every_string_parameter_is_422,
    two_spellings_of_one_domain_are_one_account,
    two_spellings_of_one_domain_are_one_invitee,
    an_address_with_an_invisible_character_is_refused,
    addresses_stored_before_are_rewritten_once,
);

fn spec() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi.json"),
    )
    .expect("JSON")
}

/// Whether a property schema admits a string.
fn is_string(schema: &Value) -> bool {
    let admits = |s: &Value| {
        s["type"] == "string"
            || s["type"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "string"))
    };
    admits(schema)
        || schema["oneOf"]
            .as_array()
            .is_some_and(|alternatives| alternatives.iter().any(admits))
}

fn nul_in_every_string_parameter_is_422(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let spec = spec();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            // Outside the envelope a refusal is the wire's own (a page of
            // the browser side of SSO answers 400 for what it cannot take).
            let responses = operation["responses"].as_object().expect("responses");
            let in_envelope = responses
                .values()
                .any(|r| r["content"]["application/json"].is_object());
            if !in_envelope {
                continue;
            }
            let names: Vec<String> = if method == "get" {
                operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| is_string(&p["schema"]))
                    .map(|p| p["name"].as_str().expect("name").to_string())
                    .collect()
            } else {
                let Some(reference) = operation["requestBody"]["content"]["application/json"]
                    ["schema"]["$ref"]
                    .as_str()
                else {
                    continue;
                };
                let name = reference.rsplit('/').next().expect("schema name");
                spec["components"]["schemas"][name]["properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(_, schema)| is_string(schema))
                    .map(|(name, _)| name.clone())
                    .collect()
            };
            for name in names {
                let r = if method == "get" {
                    app.get(&format!("{path}?{name}=a%00b"), Some(&owner))
                } else {
                    app.post(path, Some(&owner), json!({ name.clone(): "a\u{0}b" }))
                };
                let r = r.err(422, "validation_failed");
                assert!(
                    r.body["response"]["error"]["fields"][&name].is_array(),
                    "{method} {path} {name}: {}",
                    r.body
                );
                checked += 1;
            }
        }
    }
    // Every endpoint with text parameters, both forms of the reads.
    assert!(checked >= 50, "only {checked} parameters checked");
}

/// `bob@exämple.org` as typed in four ways: Unicode (NFC), upper case,
/// decomposed (NFD: "a" and a combining diaeresis), and IDNA ASCII.
const BOB: [&str; 4] = [
    "Bob@Exämple.org",
    "BOB@EXÄMPLE.ORG",
    "bob@exa\u{308}mple.org",
    "bob@xn--exmple-cua.org",
];
const BOB_KEPT: &str = "bob@xn--exmple-cua.org";

fn two_spellings_of_one_domain_are_one_account(backend: Backend) {
    let app = TestApp::start(backend);
    let bob = app.signup(BOB[0], "password123", "Bob");
    assert_eq!(bob["email"], BOB_KEPT);
    // The confirmation goes to the address in the form mail servers route.
    app.mail.wait_for(BOB_KEPT);
    for spelling in BOB {
        let r = app
            .post(
                "/user/signup",
                None,
                json!({"email": spelling, "password": "password456", "name": "Other"}),
            )
            .err(409, "conflict");
        assert_eq!(r.reason(), "email_taken", "{spelling}");
        let r = app
            .post(
                "/user/login",
                None,
                json!({"email": spelling, "password": "password123"}),
            )
            .ok();
        assert_eq!(
            r.get("login")["user"]["userid"],
            bob["userid"],
            "{spelling}"
        );
    }
    // A sign-in link asked for with another spelling reaches the account.
    app.post("/user/requestloginlink", None, json!({"email": BOB[3]}))
        .ok();
    let link = app
        .mail
        .wait_for_matching(BOB_KEPT, |m| m.token("signin").is_some())
        .token("signin")
        .unwrap();
    let r = app
        .post("/user/loginbylink", None, json!({"token": link}))
        .ok();
    assert_eq!(r.get("login")["user"]["userid"], bob["userid"]);

    // Another account cannot take the address in another spelling.
    let carol = app.user("carol@example.com");
    let r = app
        .post(
            "/user/edit",
            Some(&carol),
            json!({"email": BOB[2], "currentpassword": "correct horse battery"}),
        )
        .err(409, "conflict");
    assert_eq!(r.reason(), "email_taken");
    // Its own address in a new spelling is its own address: nothing changes.
    let dave = app.user("dave@bücher.de");
    let r = app
        .post(
            "/user/edit",
            Some(&dave),
            json!({"email": "DAVE@xn--bcher-kva.de", "currentpassword": "correct horse battery"}),
        )
        .ok();
    assert_eq!(r.get("user")["email"], "dave@xn--bcher-kva.de");
    assert!(r.get("user")["pendingemail"].is_null(), "{}", r.body);

    // A domain is claimed in the same form as addresses are kept.
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let r = app
        .post(
            "/customer/adddomain",
            Some(&owner),
            json!({"organizationid": org, "domain": "bücher.de",
                   "verificationemail": "it@BÜCHER.de"}),
        )
        .ok();
    assert_eq!(r.get("domain")["domain"], "xn--bcher-kva.de");
    app.mail.wait_for("it@xn--bcher-kva.de");
    let r = app
        .post(
            "/customer/adddomain",
            Some(&owner),
            json!({"organizationid": org, "domain": "bu\u{308}cher.de",
                   "verificationemail": "it@xn--bcher-kva.de"}),
        )
        .ok();
    assert_eq!(r.get("domain")["domain"], "xn--bcher-kva.de");
    assert_eq!(
        app.get(
            &format!("/customer/listdomains?organizationid={org}"),
            Some(&owner)
        )
        .ok()
        .get("domains")
        .as_array()
        .unwrap()
        .len(),
        1,
        "one domain, claimed twice"
    );
}

fn two_spellings_of_one_domain_are_one_invitee(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let invite = app.invite(&owner, &org, BOB[1], "collaborator");
    assert_eq!(invite["email"], BOB_KEPT);
    for spelling in BOB {
        let r = app
            .post(
                "/invite/create",
                Some(&owner),
                json!({"organizationid": org, "email": spelling}),
            )
            .err(409, "conflict");
        assert_eq!(r.reason(), "invite_pending", "{spelling}");
    }
    // In one bulk call, the second spelling repeats the first address.
    let r = app
        .post(
            "/invite/createbulk",
            Some(&owner),
            json!({"organizationid": org, "invites": [
                {"email": "carol@bücher.de"},
                {"email": "CAROL@xn--bcher-kva.de"},
                {"email": "carol@bu\u{308}cher.de"},
            ]}),
        )
        .ok();
    let results = r.get("results").as_array().unwrap().clone();
    assert_eq!(results[0]["code"], 200, "{}", r.body);
    assert_eq!(results[0]["invite"]["email"], "carol@xn--bcher-kva.de");
    for row in &results[1..] {
        assert_eq!(row["code"], 409, "{}", r.body);
        assert_eq!(row["error"]["reason"], "invite_pending", "{}", r.body);
    }

    // The invitee, signed up under another spelling, sees the invite as
    // theirs and accepts it by id.
    let token = app.invite_token(BOB_KEPT, 1);
    app.post(
        "/invite/accept",
        None,
        json!({"token": token, "password": "password123"}),
    )
    .ok();
    let bob = app.login(BOB[2], "password123");
    let r = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let emails: Vec<&str> = r
        .get("collaborators")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["owner@example.com", BOB_KEPT]);
    // A member already, in whatever spelling.
    for spelling in BOB {
        let r = app
            .post(
                "/invite/create",
                Some(&owner),
                json!({"organizationid": org, "email": spelling}),
            )
            .err(409, "conflict");
        assert_eq!(r.reason(), "already_member", "{spelling}");
    }
    let other = app.organization(&owner, "Other");
    let invite = app.invite(&owner, &other, "bob@EXÄMPLE.org", "technical");
    let r = app.get("/user/listinvites", Some(&bob)).ok();
    assert_eq!(r.get("invites")[0]["inviteid"], invite["inviteid"]);
}

fn an_address_with_an_invisible_character_is_refused(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.signup("bob@example.org", "password123", "Bob");
    let invisible = [
        // A zero-width space, which IDNA would quietly drop.
        "bob@exa\u{200B}mple.org",
        "bo\u{200B}b@example.org",
        // A right-to-left override.
        "bob@exa\u{202E}mple.org",
        "bob\u{202E}@example.org",
        // A left-to-right mark, a soft hyphen, a variation selector, a
        // byte-order mark, a control.
        "bob@example\u{200E}.org",
        "bob@exa\u{AD}mple.org",
        "bob@exa\u{FE0F}mple.org",
        "\u{FEFF}bob@example.org",
        "bob@exa\u{7}mple.org",
    ];
    let refused = |r: crate::support::Resp, field: &str, address: &str| {
        let r = r.err(422, "validation_failed");
        let messages = &r.body["response"]["error"]["fields"][field];
        assert!(
            messages
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m.as_str().unwrap().contains("invisible"))),
            "{address:?}: {}",
            r.body
        );
    };
    for address in invisible {
        let email = json!({"email": address});
        refused(
            app.post(
                "/user/signup",
                None,
                json!({"email": address, "password": "password123", "name": "X"}),
            ),
            "email",
            address,
        );
        refused(
            app.post(
                "/user/login",
                None,
                json!({"email": address, "password": "password123"}),
            ),
            "email",
            address,
        );
        refused(
            app.post("/user/requestpasswordreset", None, email.clone()),
            "email",
            address,
        );
        refused(
            app.post("/user/requestloginlink", None, email.clone()),
            "email",
            address,
        );
        refused(
            app.post(
                "/user/edit",
                Some(&owner),
                json!({"email": address, "currentpassword": "correct horse battery"}),
            ),
            "email",
            address,
        );
        refused(
            app.post(
                "/invite/create",
                Some(&owner),
                json!({"organizationid": org, "email": address}),
            ),
            "email",
            address,
        );
        let r = app
            .post(
                "/invite/createbulk",
                Some(&owner),
                json!({"organizationid": org, "invites": [{"email": address}]}),
            )
            .ok();
        let row = &r.get("results")[0];
        assert_eq!(row["code"], 422, "{address:?}: {}", r.body);
        assert!(row["error"]["fields"]["email"].is_array(), "{}", r.body);
        refused(
            app.post(
                "/customer/adddomain",
                Some(&owner),
                json!({"organizationid": org, "domain": "example.org",
                       "verificationemail": address}),
            ),
            "verificationemail",
            address,
        );
    }
    refused(
        app.post(
            "/customer/adddomain",
            Some(&owner),
            json!({"organizationid": org, "domain": "exa\u{200B}mple.org",
                   "verificationemail": "it@example.org"}),
        ),
        "domain",
        "exa\u{200B}mple.org",
    );
    // Nothing was made under any of them.
    assert_eq!(
        sql_strings(&app, "SELECT email AS value FROM users ORDER BY email"),
        ["bob@example.org", "owner@example.com"]
    );
    assert!(sql_strings(&app, "SELECT email AS value FROM invites").is_empty());
}

fn addresses_stored_before_are_rewritten_once(backend: Backend) {
    let mut app = TestApp::start(backend);
    // A fresh database had nothing to rewrite, and the mark is gone.
    let mark = "SELECT value FROM settings WHERE key = 'rewrite_email_forms'";
    assert!(sql_strings(&app, mark).is_empty());

    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.signup("bob@example.org", "password123", "Bob");
    app.signup("eve@example.org", "password123", "Eve");
    app.signup("eve@xn--exmple-cua.org", "password123", "Eve too");
    app.invite(&owner, &org, "carol@example.org", "collaborator");
    // As the previous version kept them: lower case, the domain as typed.
    sql(
        &app,
        "UPDATE users SET email = 'bob@exämple.org' WHERE email = 'bob@example.org'",
    );
    sql(
        &app,
        "UPDATE users SET email = 'eve@exämple.org' WHERE email = 'eve@example.org'",
    );
    sql(&app, "UPDATE invites SET email = 'carol@bücher.de'");
    // Rewritten once, when the migration marks it.
    app.restart(|_| {});
    assert_eq!(
        sql_strings(&app, "SELECT email AS value FROM users WHERE name = 'Bob'"),
        ["bob@exämple.org"],
        "not without the mark"
    );
    sql(
        &app,
        "INSERT INTO settings (key, value) VALUES ('rewrite_email_forms', 'pending')",
    );
    app.restart(|_| {});
    assert!(sql_strings(&app, mark).is_empty());
    assert_eq!(
        sql_strings(&app, "SELECT email AS value FROM users WHERE name = 'Bob'"),
        [BOB_KEPT]
    );
    // Another account holds Eve's new form: hers is left as it was.
    assert_eq!(
        sql_strings(&app, "SELECT email AS value FROM users WHERE name = 'Eve'"),
        ["eve@exämple.org"]
    );
    assert_eq!(
        sql_strings(&app, "SELECT email AS value FROM invites"),
        ["carol@xn--bcher-kva.de"]
    );
    for spelling in BOB {
        app.login(spelling, "password123");
    }
    let r = app
        .post(
            "/invite/create",
            Some(&owner),
            json!({"organizationid": org, "email": "carol@bücher.de"}),
        )
        .err(409, "conflict");
    assert_eq!(r.reason(), "invite_pending");
}
