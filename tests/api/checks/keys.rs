//! Who may ask: service keys made, listed and revoked by the real binary
//! and refused everywhere else, keys bound to the organization; and
//! `customer/mypermissions`.

use serde_json::{json, Value};

use super::{check, expect, grant, service_key, servicekey, user_id, world};
use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    service_keys_are_made_listed_and_revoked_by_the_binary,
    a_service_key_may_call_nothing_else,
    a_bound_key_checks_its_organization_only,
    my_permissions_show_what_works,
);

fn service_keys_are_made_listed_and_revoked_by_the_binary(backend: Backend) {
    let app = TestApp::start(backend);
    let w = world(&app);
    let first = service_key(&app, "billing");
    let second = service_key(&app, "servers.prod");
    assert_ne!(first, second);
    let list = |app: &TestApp| {
        let out = servicekey(app, &["list"]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let listed = list(&app);
    assert!(
        listed.contains("billing") && listed.contains("servers.prod"),
        "{listed}"
    );
    assert!(
        !listed.contains(&first) && !listed.contains(&second),
        "{listed}"
    );
    assert!(
        !listed.contains("cds_"),
        "a secret is never listed: {listed}"
    );
    let line = |listed: &str, name: &str| {
        listed
            .lines()
            .find(|l| l.split('\t').nth(1) == Some(name))
            .unwrap_or_else(|| panic!("{name} in {listed}"))
            .to_string()
    };
    assert!(line(&listed, "billing").ends_with("\tnever"), "{listed}");
    // A name is one key's.
    let taken = servicekey(&app, &["create", "billing"]);
    assert!(!taken.status.success());
    assert!(!servicekey(&app, &["create", "has space"]).status.success());
    // Used: its last use is listed.
    let params =
        json!({"organizationid": w.org, "email": "owner@example.com", "permission": "sso:manage"});
    expect(&check(&app, &first, params.clone()), true, "role");
    let listed = list(&app);
    let used = line(&listed, "billing");
    assert!(!used.ends_with("\tnever"), "{used}");
    assert!(
        used.split('\t').nth(3).is_some_and(|t| t.ends_with('Z')),
        "{used}"
    );
    // Revoked by name: refused from its next call (401), the other still works.
    let revoked = servicekey(&app, &["revoke", "billing"]);
    assert!(revoked.status.success(), "{revoked:?}");
    app.post("/access/check", Some(&first), params.clone())
        .err(401, "unauthenticated");
    expect(&check(&app, &second, params.clone()), true, "role");
    // Revoked by id.
    let id = line(&list(&app), "servers.prod")
        .split('\t')
        .next()
        .expect("id")
        .to_string();
    assert!(servicekey(&app, &["revoke", &id]).status.success());
    app.post("/access/check", Some(&second), params)
        .err(401, "unauthenticated");
    assert!(!list(&app).contains("servers.prod"));
    // Nothing to revoke: a failure, said so.
    let none = servicekey(&app, &["revoke", "billing"]);
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("billing"));
    // A made-up key of the right shape is no key.
    app.post(
        "/access/check",
        Some("cds_made-up"),
        json!({"organizationid": w.org, "userid": "x", "permission": "members:read"}),
    )
    .err(401, "unauthenticated");
}

/// Each documented operation that takes a token: (method, path).
fn operations_with_tokens() -> Vec<(String, String)> {
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi.json"),
    )
    .expect("JSON");
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
            {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn a_service_key_may_call_nothing_else(backend: Backend) {
    let app = TestApp::start(backend);
    let w = world(&app);
    let key = service_key(&app, "narrow");
    let operations = operations_with_tokens();
    assert!(operations.len() > 40, "{}", operations.len());
    let mut refused = 0;
    for (method, path) in operations {
        let params = json!({"organizationid": w.org});
        let r = match method.as_str() {
            "GET" => app.get(&format!("{path}?organizationid={}", w.org), Some(&key)),
            "POST" => app.post(&path, Some(&key), params),
            // Resources outside the envelope (SCIM): PUT, PATCH, DELETE.
            other => app.client.request(
                other,
                &path,
                &[
                    ("authorization", &format!("Bearer {key}")),
                    ("content-type", "application/json"),
                ],
                b"{}",
            ),
        };
        if path.starts_with("/access/") {
            assert_ne!(r.status, 403, "{method} {path}: {}", r.body);
            continue;
        }
        if path.starts_with("/scim/") {
            // SCIM's own error body.
            assert_eq!(
                (r.status, &r.body["status"]),
                (403, &json!("403")),
                "{path}"
            );
            refused += 1;
            continue;
        }
        r.err(403, "forbidden");
        refused += 1;
    }
    assert!(refused > 40, "{refused}");
    // Public endpoints read no credentials: as for anyone.
    app.get("/api/serviceinfo", Some(&key)).ok();
    // Over HTTP Basic, a service key is no API key.
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!(":{key}")
        )
    );
    let r = app.get_authorized_as(
        &format!("/customer/details?organizationid={}", w.org),
        &basic,
    );
    assert_eq!(r.status, 401, "{}", r.body);
}

fn a_bound_key_checks_its_organization_only(backend: Backend) {
    let app = TestApp::start(backend);
    let w = world(&app);
    let owner_id = user_id(&app, &w.owner);
    let bound = |token: &str, org: &str| {
        app.api_key(token, json!({"name": "checks", "organizationid": org}))["secret"]
            .as_str()
            .expect("secret")
            .to_string()
    };
    let owners = bound(&w.owner, &w.org);
    let params = json!({"organizationid": w.org, "userid": owner_id, "permission": "sso:manage"});
    expect(&check(&app, &owners, params.clone()), true, "role");
    // Its organization is the default.
    let implied = json!({"email": "tech@example.com", "permission": "members:read"});
    expect(&check(&app, &owners, implied), true, "role");
    let batch = json!({"checks": [params.clone(), {"email": "nobody@example.com", "permission": "members:read"}]});
    let r = app.post("/access/checkbatch", Some(&owners), batch).ok();
    assert_eq!(r.get("checks")[1]["organizationid"], json!(w.org));
    assert_eq!(r.get("checks")[1]["reason"], "not_member");
    // Another organization: 403, whether or not it exists, alone or in a batch.
    let elsewhere =
        json!({"organizationid": w.other_org, "userid": owner_id, "permission": "members:read"});
    app.post("/access/check", Some(&owners), elsewhere.clone())
        .err(403, "forbidden");
    let nowhere =
        json!({"organizationid": "no-such-org", "userid": owner_id, "permission": "members:read"});
    app.post("/access/check", Some(&owners), nowhere)
        .err(403, "forbidden");
    app.post(
        "/access/checkbatch",
        Some(&owners),
        json!({"checks": [params.clone(), elsewhere]}),
    )
    .err(403, "forbidden");
    // The holder needs members:read there: a technical user has it, a
    // collaborator not.
    let technicals = bound(&w.technical, &w.org);
    expect(&check(&app, &technicals, params.clone()), true, "role");
    let collaborators = bound(&w.collaborator, &w.org);
    app.post("/access/check", Some(&collaborators), params.clone())
        .err(403, "forbidden");
    // Over HTTP Basic, as GleSYS clients send keys.
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{owners}", w.org)
        )
    );
    let r = app.get_authorized_as(
        &format!(
            "/access/check?userid={owner_id}&permission=members:read&organizationid={}",
            w.org
        ),
        &basic,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Unbound keys and sessions: 403; nothing: 401.
    let unbound = app.api_key(&w.owner, json!({"name": "everywhere"}))["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    app.post("/access/check", Some(&unbound), params.clone())
        .err(403, "forbidden");
    app.post("/access/check", Some(&w.owner), params.clone())
        .err(403, "forbidden");
    app.post("/access/check", None, params.clone())
        .err(401, "unauthenticated");
    // A key bound to an organization its holder left goes with the
    // membership: 401 from the next call.
    app.remove(&w.technical, &w.technical_id).ok();
    app.post("/access/check", Some(&technicals), params)
        .err(401, "unauthenticated");
}

fn my_permissions_show_what_works(backend: Backend) {
    let app = TestApp::start(backend);
    let w = world(&app);
    let mine = |token: &str| {
        app.get(
            &format!("/customer/mypermissions?organizationid={}", w.org),
            Some(token),
        )
        .ok()
        .get("permissions")
        .clone()
    };
    let owner = mine(&w.owner);
    assert_eq!(
        owner["organization"].as_array().map(Vec::len),
        Some(17),
        "{owner}"
    );
    assert_eq!(owner["projects"], json!([]));
    assert_eq!(
        mine(&w.technical),
        json!({"organization": ["organization:read", "members:read", "members:invite"],
               "projects": [{"projectid": w.p1, "permission": "read"}]})
    );
    assert_eq!(
        mine(&w.collaborator),
        json!({"organization": ["organization:read"],
               "projects": [{"projectid": w.p2, "permission": "full"}]})
    );
    // An admin's read grant is full: the role gives full everywhere.
    let listed = app
        .get(
            &format!("/customer/listcollaborators?organizationid={}", w.org),
            Some(&w.owner),
        )
        .ok();
    let admin = listed
        .get("collaborators")
        .as_array()
        .expect("collaborators")
        .iter()
        .find(|c| c["role"] == "admin")
        .expect("admin")["collaboratorid"]
        .as_str()
        .expect("id")
        .to_string();
    grant(
        &app,
        &w.owner,
        &admin,
        json!([{"projectid": w.p1, "permission": "read"}]),
    );
    let admins = mine(&w.admin);
    assert_eq!(
        admins["projects"],
        json!([{"projectid": w.p1, "permission": "full"}])
    );
    assert!(!admins["organization"]
        .as_array()
        .expect("names")
        .contains(&json!("sso:manage")));
    // POST too; non-members 404.
    app.post(
        "/customer/mypermissions",
        Some(&w.collaborator),
        json!({"organizationid": w.org}),
    )
    .ok();
    app.get(
        &format!("/customer/mypermissions?organizationid={}", w.org),
        Some(&w.outsider),
    )
    .err(404, "not_found");
    // A key bound elsewhere: 403.
    let elsewhere = app.api_key(
        &w.outsider,
        json!({"name": "k", "organizationid": w.other_org}),
    )["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    app.get(
        &format!("/customer/mypermissions?organizationid={}", w.org),
        Some(&elsewhere),
    )
    .err(403, "forbidden");
}
