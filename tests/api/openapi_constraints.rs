//! The document states what the server enforces of a request where a schema
//! can say it: for each sample below, the parameter's schema in
//! openapi/openapi.json and the server agree on whether it is acceptable.
//! (Schemathesis checks the same at random, scripts/schemathesis; these are
//! the rules it found, and those the contract names.)

use jsonschema::{Draft, Validator};
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    inviteid_or_token_exactly_one,
    a_login_address_without_invisible_characters,
    events_are_every_action_or_some,
    a_domain_is_a_host_name,
    owners_memberships_last,
);

fn document() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi/openapi.json");
    serde_json::from_str(&text).expect("JSON")
}

/// A validator for the schema at `pointer` (inside the components, so its
/// references resolve).
fn schema(pointer: &str) -> Validator {
    let mut root = document();
    root["$ref"] = json!(format!("#{pointer}"));
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .expect("schema")
}

/// Asserts that the schema takes `value` exactly when the server does.
#[track_caller]
fn agree(validator: &Validator, value: &Value, status: u16, accepted: &[u16]) {
    let valid = validator.is_valid(value);
    let taken = accepted.contains(&status);
    assert_eq!(
        valid,
        taken,
        "{value}: the schema says {}, the server answered {status}",
        if valid { "valid" } else { "invalid" }
    );
}

fn inviteid_or_token_exactly_one(backend: Backend) {
    let app = TestApp::start(backend);
    let token = app.user("someone@example.com");
    for operation in ["accept", "decline"] {
        let name = format!(
            "{}{}Params",
            &operation[..1].to_uppercase(),
            &operation[1..]
        );
        let params = schema(&format!("/components/schemas/{name}"));
        for body in [
            json!({}),
            json!({"inviteid": "0193f7c2-7a1e-7c1a-9a4e-2b1f0c9d8e7f"}),
            json!({"token": "abcdefghijklmnop"}),
            json!({"inviteid": "0193f7c2-7a1e-7c1a-9a4e-2b1f0c9d8e7f", "token": "abc"}),
            json!({"inviteid": null, "token": null}),
            json!({"inviteid": null, "token": "abcdefghijklmnop"}),
        ] {
            let r = app.post(&format!("/invite/{operation}"), Some(&token), body.clone());
            // Taken: an unknown invite is 404, not a refusal of the request.
            agree(&params, &body, r.status, &[404]);
        }
        // No body at all is no more acceptable, and the document says so.
        let path = format!("/invite/{operation}");
        app.send("POST", &path, Some(&token), None, b"")
            .err(422, "validation_failed");
        let doc = document();
        assert_eq!(doc["paths"][&path]["post"]["requestBody"]["required"], true);
    }
}

fn a_login_address_without_invisible_characters(backend: Backend) {
    let app = TestApp::start(backend);
    let params = schema("/components/schemas/LoginParams");
    for email in [
        "bob@example.com",
        "  bob@example.com\t",
        "not an address",
        "bob\u{200b}@example.com",
        "bob@exa\u{202e}mple.com",
        "\u{1}\u{8}@example.com",
        "bob@example.com\u{e0001}",
        "bob\u{1d173}@example.com",
        "bob@\u{1F600}.com",
    ] {
        let body = json!({"email": email, "password": "whatever-it-is"});
        let r = app.post("/user/login", None, body.clone());
        // Taken: no such account, 401 as a wrong password.
        agree(&params, &body, r.status, &[401]);
    }
}

fn events_are_every_action_or_some(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let events = schema("/components/schemas/CreateWebhookParams/properties/events");
    for (i, value) in [
        json!(["*"]),
        json!(["project.created"]),
        json!(["invite.created", "invite.created", "collaborator.removed"]),
        json!([]),
        json!(["*", "*"]),
        json!(["*", "project.created"]),
        json!(["project.exploded"]),
    ]
    .into_iter()
    .enumerate()
    {
        // A public address, which the server takes without resolving it.
        let url = format!("https://93.184.216.34/hook/{i}");
        let body = json!({"organizationid": org, "url": url, "events": value});
        let r = app.post("/customer/createwebhook", Some(&owner), body);
        agree(&events, &value, r.status, &[200]);
    }
}

fn a_domain_is_a_host_name(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let domain = schema("/components/schemas/AddDomainParams/properties/domain");
    for (i, name) in [
        "acme.com",
        " Acme.Example.COM. ",
        "xn--exmple-cua.org",
        "acme",
        "1.2.3.4",
        "acme.123",
        "-acme.com",
        "acme-.com",
        "acme.c-m-",
        "acme..com",
        "ac me.com",
        "ex\u{200b}ample.com",
    ]
    .into_iter()
    .enumerate()
    {
        let value = json!(name);
        let mailbox = format!("admin{i}@{}", name.trim().trim_end_matches('.'));
        let body = json!({"organizationid": org, "domain": value, "verificationemail": mailbox});
        let r = app.post("/customer/adddomain", Some(&owner), body);
        agree(&domain, &value, r.status, &[200]);
    }
}

fn owners_memberships_last(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let params = schema("/components/schemas/CreateInviteParams");
    let later = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for (i, (role, ends)) in [
        ("owner", json!(later)),
        ("owner", json!(null)),
        ("admin", json!(later)),
    ]
    .into_iter()
    .enumerate()
    {
        let body = json!({"organizationid": org, "email": format!("p{i}@example.com"),
                          "role": role, "membershipexpiresat": ends});
        let r = app.post("/invite/create", Some(&owner), body.clone());
        agree(&params, &body, r.status, &[200]);
    }
}
