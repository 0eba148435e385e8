//! What the checks answer: every reason, non-members, a removed member,
//! the batch's order and bounds.

use serde_json::{json, Value};

use super::{check, expect, grant, service_key, user_id, world};
use crate::on_both_backends;
use crate::support::{Backend, Client, Process, TestApp};

on_both_backends!(
    every_reason_and_every_refusal,
    a_batch_answers_in_order_within_its_bounds,
    a_removed_members_checks_turn_false_at_once,
    a_batch_answers_every_change_made_in_another_process_at_once,
);

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
    // An Idempotency-Key keeps no answer of a check: it would outlive a removal.
    let keyed = |app: &TestApp| {
        app.post_with(
            "/access/check",
            Some(&key),
            &[("Idempotency-Key", "check-1")],
            params.clone(),
        )
        .ok()
    };
    expect(keyed(&app).get("check"), true, "grant");
    app.remove(&w.owner, &w.collaborator_id).ok();
    expect(&check(&app, &key, params.clone()), false, "not_member");
    let again = keyed(&app);
    assert_eq!(again.header("idempotent-replayed"), None);
    expect(again.get("check"), false, "not_member");
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

/// Batches answer from what their process read while nothing changed
/// (`effective::memory`); each kind of change an answer depends on, made
/// through another process, shows in the very next batch.
fn a_batch_answers_every_change_made_in_another_process_at_once(backend: Backend) {
    let app = TestApp::start(backend);
    let w = world(&app);
    let key = service_key(&app, "batches");
    let role = app
        .post(
            "/customer/createrole",
            Some(&w.owner),
            json!({"organizationid": w.org, "name": "auditor", "permissions": ["organization:read"]}),
        )
        .ok()
        .get("role")["roleid"]
        .clone();
    app.member(&w.owner, &w.org, "auditor@example.com", "auditor");
    let other = Process::spawn(&[("COLLABD_DATABASE_URL", app.db.url.as_str())]);
    let there = Client::new(&other.base);
    let by_email = |email: &str, permission: &str, project: Option<&str>| {
        let mut q = json!({"organizationid": w.org, "email": email, "permission": permission});
        if let Some(project) = project {
            q["projectid"] = json!(project);
        }
        q
    };
    let checks = vec![
        by_email("collab@example.com", "project:full", Some(&w.p2)),
        by_email("tech@example.com", "project:read", Some(&w.p1)),
        by_email("auditor@example.com", "audit:read", None),
        by_email("admin@example.com", "project:full", Some(&w.p1)),
        by_email("collab@example.com", "project:read", Some(&w.p1)),
        by_email("collab@new.example.com", "project:full", Some(&w.p2)),
    ];
    // Asked twice each time: the second is answered from memory.
    let batch = || {
        let answers = || -> Vec<String> {
            app.post(
                "/access/checkbatch",
                Some(&key),
                json!({ "checks": checks }),
            )
            .ok()
            .get("checks")
            .as_array()
            .expect("checks")
            .iter()
            .map(|c| format!("{} {}", c["allowed"], c["reason"].as_str().unwrap_or("?")))
            .collect()
        };
        let (first, second) = (answers(), answers());
        assert_eq!(first, second);
        first
    };
    let mut expected = vec![
        "true grant",
        "true grant",
        "false not_granted",
        "true role",
        "false not_granted",
        "false not_member",
    ];
    assert_eq!(batch(), expected);

    // A custom role's permissions.
    there
        .post(
            "/customer/editrole",
            Some(&w.owner),
            json!({"roleid": role, "permissions": ["organization:read", "audit:read"]}),
        )
        .ok();
    expected[2] = "true role";
    assert_eq!(batch(), expected);

    // A team's grant and its new member.
    let team = there
        .post(
            "/customer/createteam",
            Some(&w.owner),
            json!({"organizationid": w.org, "name": "readers",
                   "projectpermissions": [{"projectid": w.p1, "permission": "read"}]}),
        )
        .ok()
        .get("team")["teamid"]
        .clone();
    assert_eq!(batch(), expected);
    there
        .post(
            "/customer/addteammember",
            Some(&w.owner),
            json!({"teamid": team, "collaboratorid": w.collaborator_id}),
        )
        .ok();
    expected[4] = "true team";
    assert_eq!(batch(), expected);

    // A member's new address (asked for here, where mail is sent; confirmed
    // there): the old one is nobody's now.
    app.client
        .post(
            "/user/edit",
            Some(&w.collaborator),
            json!({"email": "collab@new.example.com", "currentpassword": "correct horse battery"}),
        )
        .ok();
    let link = app
        .mail
        .wait_for("collab@new.example.com")
        .token("confirm")
        .expect("confirmation link");
    assert_eq!(batch(), expected, "unconfirmed, the address is unchanged");
    there
        .post("/user/confirm", None, json!({ "token": link }))
        .ok();
    expected[0] = "false not_member";
    expected[4] = "false not_member";
    expected[5] = "true grant";
    assert_eq!(batch(), expected);

    // A member removed.
    let removed = there.post(
        "/customer/removecollaborator",
        Some(&w.owner),
        json!({ "collaboratorid": w.technical_id }),
    );
    assert_eq!(removed.status, 200, "{}", removed.body);
    expected[1] = "false not_member";
    assert_eq!(batch(), expected);

    // A project deleted: a permission on every project no longer reaches it.
    there
        .post(
            "/customer/deleteproject",
            Some(&w.owner),
            json!({"organizationid": w.org, "projectid": w.p1}),
        )
        .ok();
    expected[3] = "false not_granted";
    assert_eq!(batch(), expected);
}
