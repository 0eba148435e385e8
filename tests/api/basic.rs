//! HTTP Basic as GleSYS clients send it (API.md §2): `<user>:<API key>`,
//! the user part standing for `organizationid` when it names one.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

use crate::on_both_backends;
use crate::support::{Backend, Resp, TestApp};

on_both_backends!(
    an_api_key_as_the_basic_password_lists_the_named_organization,
    basic_refuses_session_tokens_and_bad_credentials,
    the_user_part_tells_nobody_which_organizations_exist,
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

/// What an answer tells a client: status, `error.type`, `error.reason` and
/// `status.text`.
pub fn told(r: &Resp) -> (u16, String, String, String) {
    (
        r.status,
        r.error_type().to_string(),
        r.reason().to_string(),
        r.text().to_string(),
    )
}

/// API.md §2: an id-shaped user part answers exactly as that
/// `organizationid` would, whether or not the organization exists: 404 for
/// one the caller may not see, 403 with a key bound to another one.
fn the_user_part_tells_nobody_which_organizations_exist(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let acme = app.organization(&owner, "Acme");
    let stranger = app.user("stranger@example.com");
    let theirs = app.organization(&stranger, "Theirs");
    let never = uuid::Uuid::now_v7().to_string();
    let bound = app.api_key(&owner, json!({"name": "acme", "organizationid": acme}));
    let bound = bound["secret"].as_str().unwrap().to_string();
    let free = app.api_key(&owner, json!({"name": "any"}));
    let free = free["secret"].as_str().unwrap().to_string();

    let reads = [
        "/customer/listcollaborators",
        "/customer/listprojects",
        "/customer/details",
        "/invite/list",
    ];
    // `path` with this Authorization, naming `organizationid` or not.
    let call = |authorization: &str, path: &str, organizationid: Option<&str>| -> Resp {
        if reads.contains(&path) {
            let query = organizationid.map_or(String::new(), |id| format!("?organizationid={id}"));
            app.get_authorized_as(&format!("{path}{query}"), authorization)
        } else {
            let mut body = json!({"name": "Probe"});
            if let Some(id) = organizationid {
                body["organizationid"] = json!(id);
            }
            app.request(
                "POST",
                path,
                &[
                    ("Authorization", authorization),
                    ("Content-Type", "application/json"),
                ],
                body.to_string().as_bytes(),
            )
        }
    };
    let ask = |user: &str, key: &str, path: &str| call(&basic(user, key), path, None);
    for path in reads.iter().copied().chain(["/customer/createproject"]) {
        // An unbound key: another's organization and none at all alike, 404.
        let existing = ask(&theirs, &free, path).err(404, "not_found");
        let missing = ask(&never, &free, path).err(404, "not_found");
        assert_eq!(told(&existing), told(&missing), "{path}, unbound key");
        // As the parameter answers.
        let named = call(&format!("Bearer {free}"), path, Some(&never)).err(404, "not_found");
        assert_eq!(told(&named), told(&missing), "{path}, as organizationid");
        // A key bound to Acme: another's organization and none alike, 403.
        let existing = ask(&theirs, &bound, path).err(403, "forbidden");
        let missing = ask(&never, &bound, path).err(403, "forbidden");
        assert_eq!(told(&existing), told(&missing), "{path}, bound key");
        // The key's own organization, named or not, is served.
        if reads.contains(&path) {
            ask(&acme, &bound, path).ok();
            ask(&acme, &free, path).ok();
        }
    }
    // Nothing was made by the probes.
    let r = app
        .get(
            &format!("/customer/listprojects?organizationid={theirs}"),
            Some(&stranger),
        )
        .ok();
    assert_eq!(r.get("projects"), &json!([]));
}
