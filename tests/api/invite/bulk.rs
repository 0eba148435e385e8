//! `invite/createbulk`: each row judged and made as `invite/create` would,
//! results in order; only a malformed call as a whole is refused.

use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    mixed_rows_get_exactly_what_invite_create_would_answer,
    a_malformed_call_is_refused_as_a_whole,
    each_row_counts_toward_the_invite_limit,
);

fn codes(results: &Value) -> Vec<(String, u64, String)> {
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let detail = if r["code"] == 200 {
                r["invite"]["state"].as_str().unwrap().to_string()
            } else {
                let e = &r["error"];
                format!(
                    "{} {}{}",
                    e["type"].as_str().unwrap(),
                    e["reason"].as_str().unwrap_or(""),
                    e["fields"]
                        .as_object()
                        .map(|f| f.keys().cloned().collect::<Vec<_>>().join(","))
                        .unwrap_or_default()
                )
                .trim()
                .to_string()
            };
            (
                r["email"].as_str().unwrap().to_string(),
                r["code"].as_u64().unwrap(),
                detail,
            )
        })
        .collect()
}

fn mixed_rows_get_exactly_what_invite_create_would_answer(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    app.invite(&owner, &org, "pending@example.com", "collaborator");
    let r = app
        .post(
            "/invite/createbulk",
            Some(&admin.token),
            json!({"organizationid": org, "invites": [
                {"email": "New@Example.com", "role": "technical"},
                {"email": "new@example.com"},
                {"email": "admin@example.com"},
                {"email": "pending@example.com"},
                {"email": "not-an-address"},
                {"email": "odd@example.com", "role": "emperor"},
                {"email": "typed@example.com", "role": 5},
                {"email": "extra@example.com", "colour": "blue"},
                {"email": "proj@example.com", "projectpermissions": [{"projectid": "nope", "permission": "read"}]},
                {"email": "boss@example.com", "role": "owner"},
                "just a string",
                {"email": "second@example.com", "cancreateprojects": false}
            ]}),
        )
        .ok();
    let got = codes(r.get("results"));
    let want: Vec<(&str, u64, &str)> = vec![
        ("New@Example.com", 200, "pending"),
        ("new@example.com", 409, "conflict invite_pending"),
        ("admin@example.com", 409, "conflict already_member"),
        ("pending@example.com", 409, "conflict invite_pending"),
        ("not-an-address", 422, "validation_failed email"),
        ("odd@example.com", 422, "validation_failed role"),
        ("typed@example.com", 400, "invalid_request"),
        ("extra@example.com", 400, "invalid_request"),
        ("proj@example.com", 404, "not_found"),
        ("boss@example.com", 403, "forbidden"),
        ("", 400, "invalid_request"),
        ("second@example.com", 200, "pending"),
    ];
    let got: Vec<(&str, u64, &str)> = got
        .iter()
        .map(|(e, c, d)| (e.as_str(), *c, d.as_str()))
        .collect();
    assert_eq!(got, want);
    // The rows that made invites made them, each with its email.
    app.mail.wait_for("new@example.com");
    app.mail.wait_for("second@example.com");
    let listed = app
        .get(
            &format!("/invite/list?organizationid={org}&state=pending"),
            Some(&owner),
        )
        .ok();
    let mut emails: Vec<&str> = listed
        .get("invites")
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    emails.sort();
    assert_eq!(
        emails,
        [
            "new@example.com",
            "pending@example.com",
            "second@example.com"
        ]
    );
}

fn a_malformed_call_is_refused_as_a_whole(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let rows = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"email": format!("p{i}@example.com")}))
            .collect()
    };
    app.post(
        "/invite/createbulk",
        Some(&owner),
        json!({"organizationid": org, "invites": rows(101)}),
    )
    .err(422, "validation_failed");
    app.post(
        "/invite/createbulk",
        Some(&owner),
        json!({"organizationid": org, "invites": []}),
    )
    .err(422, "validation_failed");
    app.post(
        "/invite/createbulk",
        Some(&owner),
        json!({"organizationid": org, "invites": "p@example.com"}),
    )
    .err(400, "invalid_request");
    let collaborator = app.member(&owner, &org, "c@example.com", "collaborator");
    app.post(
        "/invite/createbulk",
        Some(&collaborator.token),
        json!({"organizationid": org, "invites": rows(2)}),
    )
    .err(403, "forbidden");
    let stranger = app.user("stranger@example.com");
    app.post(
        "/invite/createbulk",
        Some(&stranger),
        json!({"organizationid": org, "invites": rows(2)}),
    )
    .err(404, "not_found");
    // Exactly 100 is fine.
    let r = app
        .post(
            "/invite/createbulk",
            Some(&owner),
            json!({"organizationid": org, "invites": rows(100)}),
        )
        .ok();
    let results = r.get("results").as_array().unwrap();
    assert_eq!(results.len(), 100);
    assert!(results.iter().all(|r| r["code"] == 200));
}

fn each_row_counts_toward_the_invite_limit(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.invites_per_hour = 3);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let r = app
        .post(
            "/invite/createbulk",
            Some(&owner),
            json!({"organizationid": org, "invites": [
                {"email": "a@example.com"}, {"email": "b@example.com"},
                {"email": "c@example.com"}, {"email": "d@example.com"}
            ]}),
        )
        .ok();
    let got: Vec<u64> = codes(r.get("results")).iter().map(|(_, c, _)| *c).collect();
    assert_eq!(got, [200, 200, 200, 429]);
}
