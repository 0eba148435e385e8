//! HTTP Basic as GleSYS clients send it (API.md §2): `<user>:<API key>`,
//! the user part standing for `organizationid` when it names one.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    an_api_key_as_the_basic_password_lists_the_named_organization,
    basic_refuses_session_tokens_and_bad_credentials,
);

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fn emails(r: &crate::support::Resp) -> Vec<String> {
    r.get("collaborators")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_string())
        .collect()
}

fn an_api_key_as_the_basic_password_lists_the_named_organization(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let acme = app.organization(&owner, "Acme");
    let other = app.organization(&owner, "Other");
    app.member(&owner, &acme, "grace@example.com", "technical");
    let bound = app.api_key(&owner, json!({"name": "acme", "organizationid": acme}));
    let bound = bound["secret"].as_str().unwrap();
    let free = app.api_key(&owner, json!({"name": "any"}));
    let free = free["secret"].as_str().unwrap();

    // GleSYS's customer.listCollaborators(): no parameters at all.
    let r = app
        .get_authorized_as("/customer/listcollaborators", &basic(&acme, bound))
        .ok();
    assert_eq!(emails(&r), ["owner@example.com", "grace@example.com"]);
    let r = app
        .get_authorized_as("/customer/listcollaborators", &basic("", bound))
        .ok();
    assert_eq!(emails(&r).len(), 2);
    let r = app
        .get_authorized_as("/customer/listcollaborators", &basic(&acme, free))
        .ok();
    assert_eq!(emails(&r).len(), 2);
    let r = app
        .get_authorized_as("/customer/listcollaborators", &basic(&other, free))
        .ok();
    assert_eq!(emails(&r), ["owner@example.com"]);
    // A user part that names no organization is just a name.
    let r = app
        .get_authorized_as("/customer/listcollaborators", &basic("cl12345", bound))
        .ok();
    assert_eq!(emails(&r).len(), 2);
    app.get_authorized_as("/customer/listcollaborators", &basic("cl12345", free))
        .err(422, "validation_failed");
    // A key bound to another organization than the one named: 403.
    app.get_authorized_as("/customer/listcollaborators", &basic(&other, bound))
        .err(403, "forbidden");
    // A parameter wins over the user part, as for a bound key.
    let r = app
        .get_authorized_as(
            &format!("/customer/listcollaborators?organizationid={other}"),
            &basic(&acme, free),
        )
        .ok();
    assert_eq!(emails(&r).len(), 1);
    let r = app
        .get_authorized_as("/customer/listprojects", &basic(&acme, free))
        .ok();
    assert!(r.get("projects").is_array());
}

fn basic_refuses_session_tokens_and_bad_credentials(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let acme = app.organization(&owner, "Acme");
    for authorization in [
        basic(&acme, &owner),
        basic("", &owner),
        basic(&acme, "cdk_not-a-key-at-all"),
        basic(&acme, ""),
        "Basic !!!not-base64".to_string(),
        format!("Basic {}", STANDARD.encode("no colon here")),
    ] {
        let r = app
            .get_authorized_as("/customer/listcollaborators", &authorization)
            .err(401, "unauthenticated");
        let challenge = r.header("www-authenticate").unwrap_or("");
        assert!(
            challenge.contains("Bearer") && challenge.contains("Basic"),
            "{authorization}: {challenge}"
        );
    }
}
