//! The permission checks of the provider's own services (API.md §10):
//! `access/check` and `access/checkbatch` with a service key made by the real
//! binary, every reason, non-members, the batch's order and bounds, who may
//! ask (service keys, keys bound to the organization), a removed member, and
//! `customer/mypermissions`.

use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    every_reason_and_every_refusal,
    a_batch_answers_in_order_within_its_bounds,
    a_removed_members_checks_turn_false_at_once,
    service_keys_are_made_listed_and_revoked_by_the_binary,
    a_service_key_may_call_nothing_else,
    a_bound_key_checks_its_organization_only,
    my_permissions_show_what_works,
);

/// `collabd servicekey …` against the app's database.
pub fn servicekey(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_collabd"))
        .arg("servicekey")
        .args(args)
        .env("COLLABD_DATABASE_URL", &app.db.url)
        .env_remove("COLLABD_SMTP_URL")
        .env("COLLABD_LOG", "warn")
        .output()
        .expect("run collabd servicekey")
}

/// A new service key's secret.
pub fn service_key(app: &TestApp, name: &str) -> String {
    let out = servicekey(app, &["create", name]);
    assert!(out.status.success(), "{out:?}");
    let secret = String::from_utf8(out.stdout).expect("UTF-8");
    let secret = secret.trim().to_string();
    assert!(
        secret.starts_with("cds_") && !secret.contains('\n'),
        "{secret}"
    );
    secret
}

/// An organization with members of each role, grants and a project
/// elsewhere.
struct World {
    owner: String,
    org: String,
    admin: String,
    technical: String,
    technical_id: String,
    collaborator: String,
    collaborator_id: String,
    /// Granted: technical read, collaborator full.
    p1: String,
    p2: String,
    outsider: String,
    other_org: String,
    other_project: String,
}

fn user_id(app: &TestApp, token: &str) -> String {
    app.get("/user/details", Some(token)).ok().get("user")["userid"]
        .as_str()
        .expect("userid")
        .to_string()
}

fn grant(app: &TestApp, owner: &str, collaborator: &str, grants: Value) {
    app.post(
        "/customer/editcollaborator",
        Some(owner),
        json!({"collaboratorid": collaborator, "projectpermissions": grants}),
    )
    .ok();
}

fn world(app: &TestApp) -> World {
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let p1 = app.project(&owner, &org, "Lab1");
    let p2 = app.project(&owner, &org, "Lab2");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let technical = app.member(&owner, &org, "tech@example.com", "technical");
    let collaborator = app.member(&owner, &org, "collab@example.com", "collaborator");
    grant(
        app,
        &owner,
        &technical.collaboratorid,
        json!([{"projectid": p1, "permission": "read"}]),
    );
    grant(
        app,
        &owner,
        &collaborator.collaboratorid,
        json!([{"projectid": p2, "permission": "full"}]),
    );
    let outsider = app.user("outsider@example.com");
    let other_org = app.organization(&outsider, "Elsewhere");
    let other_project = app.project(&outsider, &other_org, "Theirs");
    World {
        owner,
        org,
        admin: admin.token,
        technical: technical.token,
        technical_id: technical.collaboratorid,
        collaborator: collaborator.token,
        collaborator_id: collaborator.collaboratorid,
        p1,
        p2,
        outsider,
        other_org,
        other_project,
    }
}

/// `access/check` as `key`; the `check` object.
fn check(app: &TestApp, key: &str, params: Value) -> Value {
    app.post("/access/check", Some(key), params)
        .ok()
        .get("check")
        .clone()
}

#[track_caller]
fn expect(answer: &Value, allowed: bool, reason: &str) {
    assert_eq!(
        answer,
        &json!({"allowed": allowed, "reason": reason}),
        "expected {allowed} {reason}"
    );
}

fn every_reason_and_every_refusal(backend: Backend) {
    let app = TestApp::start(backend);
    let w = world(&app);
    let key = service_key(&app, "servers");
    let owner_id = user_id(&app, &w.owner);
    let admin_id = user_id(&app, &w.admin);
    let technical_id = user_id(&app, &w.technical);
    let collaborator_id = user_id(&app, &w.collaborator);
    let outsider_id = user_id(&app, &w.outsider);
    let ask = |user: &str, permission: &str, project: Option<&str>| {
        let mut params = json!({"organizationid": w.org, "userid": user, "permission": permission});
        if let Some(project) = project {
            params["projectid"] = json!(project);
        }
        check(&app, &key, params)
    };
    // The role: organization permissions, and every project.
    expect(&ask(&owner_id, "sso:manage", None), true, "role");
    expect(&ask(&admin_id, "members:manage", None), true, "role");
    expect(&ask(&admin_id, "sso:manage", None), false, "not_granted");
    expect(&ask(&technical_id, "members:read", None), true, "role");
    expect(
        &ask(&collaborator_id, "members:read", None),
        false,
        "not_granted",
    );
    expect(&ask(&admin_id, "project:full", Some(&w.p1)), true, "role");
    expect(&ask(&owner_id, "project:read", Some(&w.p2)), true, "role");
    // Grants.
    expect(
        &ask(&technical_id, "project:read", Some(&w.p1)),
        true,
        "grant",
    );
    expect(
        &ask(&technical_id, "project:full", Some(&w.p1)),
        false,
        "not_granted",
    );
    expect(
        &ask(&technical_id, "project:read", Some(&w.p2)),
        false,
        "not_granted",
    );
    expect(
        &ask(&collaborator_id, "project:full", Some(&w.p2)),
        true,
        "grant",
    );
    expect(
        &ask(&collaborator_id, "project:read", Some(&w.p2)),
        true,
        "grant",
    );
    // A project of another organization, or none, is nobody's here.
    expect(
        &ask(&owner_id, "project:read", Some(&w.other_project)),
        false,
        "not_granted",
    );
    expect(
        &ask(&owner_id, "project:full", Some("no-such-project")),
        false,
        "not_granted",
    );
    // Non-members: never 404.
    expect(
        &ask(&outsider_id, "organization:read", None),
        false,
        "not_member",
    );
    expect(
        &ask("no-such-user", "organization:read", None),
        false,
        "not_member",
    );
    let by_email = |email: &str| {
        check(
            &app,
            &key,
            json!({"organizationid": w.org, "email": email, "permission": "organization:read"}),
        )
    };
    expect(&by_email("  Collab@Example.COM "), true, "role");
    expect(&by_email("nobody@example.com"), false, "not_member");
    expect(&by_email("outsider@example.com"), false, "not_member");
    // An organization that does not exist: nobody is its member.
    let nowhere = json!({"organizationid": "no-such-org", "userid": owner_id, "permission": "organization:read"});
    expect(&check(&app, &key, nowhere), false, "not_member");
    // A read also takes GET.
    let got = app
        .get(
            &format!(
                "/access/check?organizationid={}&userid={technical_id}&permission=project:read&projectid={}",
                w.org, w.p1
            ),
            Some(&key),
        )
        .ok();
    expect(got.get("check"), true, "grant");

    // Malformed checks: 422 naming the field.
    let refused = |params: Value, field: &str| {
        let r = app
            .post("/access/check", Some(&key), params)
            .err(422, "validation_failed");
        assert!(
            r.body["response"]["error"]["fields"][field].is_array(),
            "{field}: {}",
            r.body
        );
    };
    let base = json!({"organizationid": w.org, "userid": owner_id});
    let with = |extra: Value| {
        let mut params = base.clone();
        for (k, v) in extra.as_object().expect("object") {
            params[k] = v.clone();
        }
        params
    };
    refused(with(json!({"permission": "members:fly"})), "permission");
    refused(with(json!({"permission": "project:write"})), "permission");
    refused(with(json!({"permission": "project:read"})), "projectid");
    refused(
        with(json!({"permission": "members:read", "projectid": w.p1})),
        "projectid",
    );
    refused(
        with(json!({"permission": "members:read", "email": "owner@example.com"})),
        "userid",
    );
    refused(
        json!({"organizationid": w.org, "permission": "members:read"}),
        "userid",
    );
    // A service key is bound to no organization: it must name one.
    refused(
        json!({"userid": owner_id, "permission": "members:read"}),
        "organizationid",
    );
}

fn a_batch_answers_in_order_within_its_bounds(backend: Backend) {
    let app = TestApp::start(backend);
    let w = world(&app);
    let key = service_key(&app, "batcher");
    let technical_id = user_id(&app, &w.technical);
    let outsider_id = user_id(&app, &w.outsider);
    // Four kinds of answer, repeated and interleaved to 100, across two
    // organizations, by id and by address.
    let kinds = [
        (
            json!({"organizationid": w.org, "userid": technical_id, "permission": "project:read", "projectid": w.p1}),
            true,
            "grant",
        ),
        (
            json!({"organizationid": w.org, "email": "outsider@example.com", "permission": "organization:read"}),
            false,
            "not_member",
        ),
        (
            json!({"organizationid": w.other_org, "userid": outsider_id, "permission": "sso:manage"}),
            true,
            "role",
        ),
        (
            json!({"organizationid": w.org, "email": "tech@example.com", "permission": "members:manage"}),
            false,
            "not_granted",
        ),
    ];
    let order: Vec<usize> = (0..100).map(|i| (i * 7 + i / 5) % 4).collect();
    let checks: Vec<Value> = order.iter().map(|k| kinds[*k].0.clone()).collect();
    let r = app
        .post("/access/checkbatch", Some(&key), json!({"checks": checks}))
        .ok();
    let answers = r.get("checks").as_array().expect("checks").clone();
    assert_eq!(answers.len(), 100);
    for (i, (answer, k)) in answers.iter().zip(&order).enumerate() {
        let (asked, allowed, reason) = &kinds[*k];
        assert_eq!(answer["allowed"], json!(allowed), "{i}: {answer}");
        assert_eq!(answer["reason"], json!(reason), "{i}: {answer}");
        assert_eq!(answer["organizationid"], asked["organizationid"], "{i}");
        assert_eq!(answer["permission"], asked["permission"], "{i}");
        assert_eq!(
            answer["userid"],
            *asked.get("userid").unwrap_or(&Value::Null),
            "{i}"
        );
        assert_eq!(
            answer["email"],
            *asked.get("email").unwrap_or(&Value::Null),
            "{i}"
        );
        assert_eq!(
            answer["projectid"],
            *asked.get("projectid").unwrap_or(&Value::Null),
            "{i}"
        );
    }
    // One check is a batch too.
    let one = app
        .post(
            "/access/checkbatch",
            Some(&key),
            json!({"checks": [kinds[2].0]}),
        )
        .ok();
    assert_eq!(one.get("checks").as_array().map(Vec::len), Some(1));
    // Outside 1–100: 422 naming `checks`.
    for n in [0, 101] {
        let checks: Vec<Value> = (0..n).map(|_| kinds[0].0.clone()).collect();
        let r = app
            .post("/access/checkbatch", Some(&key), json!({"checks": checks}))
            .err(422, "validation_failed");
        assert!(
            r.body["response"]["error"]["fields"]["checks"].is_array(),
            "{}",
            r.body
        );
    }
    // One malformed check refuses the batch, naming it.
    let mut checks: Vec<Value> = (0..5).map(|_| kinds[0].0.clone()).collect();
    checks[3]["permission"] = json!("members:fly");
    let r = app
        .post("/access/checkbatch", Some(&key), json!({"checks": checks}))
        .err(422, "validation_failed");
    assert!(
        r.body["response"]["error"]["fields"]["checks.3.permission"].is_array(),
        "{}",
        r.body
    );
    // GET is not taken: a batch is a POST.
    assert_eq!(app.get("/access/checkbatch", Some(&key)).status, 405);
}

fn a_removed_members_checks_turn_false_at_once(backend: Backend) {
    let app = TestApp::start(backend);
    let w = world(&app);
    let key = service_key(&app, "remover");
    let params = json!({"organizationid": w.org, "email": "collab@example.com",
                        "permission": "project:full", "projectid": w.p2});
    expect(&check(&app, &key, params.clone()), true, "grant");
    app.remove(&w.owner, &w.collaborator_id).ok();
    expect(&check(&app, &key, params.clone()), false, "not_member");
    let batch = app
        .post(
            "/access/checkbatch",
            Some(&key),
            json!({"checks": [params]}),
        )
        .ok();
    assert_eq!(batch.get("checks")[0]["reason"], "not_member");
    // Grants changed are answered at once too.
    let technical = json!({"organizationid": w.org, "email": "tech@example.com",
                           "permission": "project:read", "projectid": w.p1});
    expect(&check(&app, &key, technical.clone()), true, "grant");
    grant(&app, &w.owner, &w.technical_id, json!([]));
    expect(&check(&app, &key, technical), false, "not_granted");
}

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
            _ => app.post(&path, Some(&key), params),
        };
        if path.starts_with("/access/") {
            assert_ne!(r.status, 403, "{method} {path}: {}", r.body);
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
