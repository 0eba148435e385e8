//! Lists page to their end in a stable order (API.md §1 "Lists"), and a
//! collaborator page that one process has rendered follows every change,
//! whichever process makes it.

use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{Backend, Client, Process, TestApp};

on_both_backends!(
    every_list_pages_to_its_end,
    every_cursor_handed_out_is_taken_back_whatever_the_names,
    a_rendered_page_follows_changes_made_elsewhere,
);

/// Every row of `path` (a GET with `query`), `limit` at a time, in order.
fn walk(
    client: &Client,
    token: &str,
    path: &str,
    query: &str,
    key: &str,
    limit: u32,
) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{path}?limit={limit}{query}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = client.get(&url, Some(token)).ok();
        let page = r.get(key).as_array().expect("a list").clone();
        assert!(
            page.len() <= limit as usize,
            "{path}: a page of at most {limit}"
        );
        rows.extend(page);
        match r.get("nextcursor").as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return rows,
        }
        assert!(rows.len() < 1000, "{path} never ends");
    }
}

fn field(rows: &[Value], name: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r[name].as_str().expect("a string").to_string())
        .collect()
}

fn every_list_pages_to_its_end(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    // Projects are listed by name, then id: made out of order, two alike.
    for name in ["delta", "alpha", "charlie", "alpha", "bravo"] {
        app.project(&owner, &org, name);
    }
    let projects = walk(
        &app,
        &owner,
        "/customer/listprojects",
        &format!("&organizationid={org}"),
        "projects",
        2,
    );
    assert_eq!(
        field(&projects, "name"),
        ["alpha", "alpha", "bravo", "charlie", "delta"]
    );
    let whole = app
        .get(
            &format!("/customer/listprojects?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert_eq!(whole.get("projects").as_array().map(Vec::len), Some(5));
    assert_eq!(whole.get("nextcursor"), &json!(null));

    // Invites, oldest first, with and without a state; a user's own invites
    // from several organizations.
    let invitee = app.user("guest@example.com");
    crate::support::sql(
        &app,
        "UPDATE users SET email_verified = TRUE WHERE email = 'guest@example.com'",
    );
    let mut expected = Vec::new();
    for i in 0..5 {
        let email = format!("i{i}@example.com");
        app.invite(&owner, &org, &email, "collaborator");
        expected.push(email);
    }
    let invites = walk(
        &app,
        &owner,
        "/invite/list",
        &format!("&organizationid={org}"),
        "invites",
        2,
    );
    assert_eq!(field(&invites, "email"), expected);
    let pending = walk(
        &app,
        &owner,
        "/invite/list",
        &format!("&organizationid={org}&state=pending"),
        "invites",
        3,
    );
    assert_eq!(field(&pending, "email"), expected);
    let mut orgs = Vec::new();
    for name in ["One", "Two", "Three"] {
        let other = app.organization(&owner, name);
        app.invite(&owner, &other, "guest@example.com", "collaborator");
        orgs.push(other);
    }
    let mine = walk(&app, &invitee, "/user/listinvites", "", "invites", 2);
    assert_eq!(field(&mine, "organizationid"), orgs);
    for path in ["/user/listinvites?limit=0", "/user/listinvites?cursor=%25"] {
        app.get(path, Some(&invitee)).err(422, "validation_failed");
    }
    app.get(
        &format!("/customer/listprojects?organizationid={org}&limit=1001"),
        Some(&owner),
    )
    .err(422, "validation_failed");
}

/// API.md §1 "Lists": every `nextcursor` is accepted back, whatever the
/// rows it points past hold. Projects are listed by name, so their cursors
/// carry names: here of the most characters a name may have (200), of one
/// to four bytes each in UTF-8, some alike, some sharing long beginnings.
fn every_cursor_handed_out_is_taken_back_whatever_the_names(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let mut made = vec![app.project(&owner, &org, "Alpha project for the quarterly numbers")];
    for unit in ["a", "é", "€", "😀"] {
        for end in ["1", "2", "2", "\u{10FFFD}"] {
            let name = format!("{}{end}", unit.repeat(199));
            assert_eq!(name.chars().count(), 200);
            made.push(app.project(&owner, &org, &name));
        }
    }
    // One longer is refused: 200 is the longest a cursor must carry.
    app.post(
        "/customer/createproject",
        Some(&owner),
        json!({"organizationid": org, "name": "😀".repeat(201)}),
    )
    .err(422, "validation_failed");
    made.sort();
    for limit in [1, 7] {
        let rows = walk(
            &app,
            &owner,
            "/customer/listprojects",
            &format!("&organizationid={org}"),
            "projects",
            limit,
        );
        let mut seen = field(&rows, "projectid");
        seen.sort();
        assert_eq!(seen, made, "limit {limit}: each project exactly once");
        let names = field(&rows, "name");
        assert!(
            names
                .iter()
                .all(|n| n.chars().count() == 200 || n.starts_with("Alpha")),
            "names come back whole"
        );
    }
}

fn a_rendered_page_follows_changes_made_elsewhere(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let member = app.member(&owner, &org, "member@example.com", "collaborator");
    let project = app.project(&owner, &org, "Website");
    // A second process on the same database makes every change.
    let other = Process::spawn(&[("COLLABD_DATABASE_URL", app.db.url.as_str())]);
    let elsewhere = Client::new(&other.base);
    let list = || {
        app.get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok()
        .get("collaborators")
        .as_array()
        .expect("collaborators")
        .clone()
    };
    let of_member = |rows: &[Value]| -> Value {
        rows.iter()
            .find(|c| c["email"] == "member@example.com")
            .cloned()
            .unwrap_or(Value::Null)
    };
    let first = list();
    assert_eq!(of_member(&first)["role"], "collaborator");
    assert_eq!(list(), first, "the same page twice");

    elsewhere
        .post(
            "/customer/editcollaborator",
            Some(&owner),
            json!({"collaboratorid": member.collaboratorid, "role": "technical",
                   "projectpermissions": [{"projectid": project, "permission": "read"}]}),
        )
        .ok();
    let after_edit = of_member(&list());
    assert_eq!(after_edit["role"], "technical");
    assert_eq!(
        after_edit["projectpermissions"][0]["projectname"],
        "Website"
    );

    elsewhere
        .post(
            "/customer/editproject",
            Some(&owner),
            json!({"organizationid": org, "projectid": project, "name": "Web shop"}),
        )
        .ok();
    assert_eq!(
        of_member(&list())["projectpermissions"][0]["projectname"],
        "Web shop"
    );

    elsewhere
        .post(
            "/user/edit",
            Some(&member.token),
            json!({"name": "Renamed"}),
        )
        .ok();
    assert_eq!(of_member(&list())["name"], "Renamed");

    elsewhere
        .post(
            "/customer/deleteproject",
            Some(&owner),
            json!({"organizationid": org, "projectid": project}),
        )
        .ok();
    assert_eq!(of_member(&list())["projectpermissions"], json!([]));

    elsewhere
        .post(
            "/customer/removecollaborator",
            Some(&owner),
            json!({"collaboratorid": member.collaboratorid}),
        )
        .ok();
    assert_eq!(of_member(&list()), Value::Null, "a removed member is gone");
    // A revoked session is refused at once, page kept or not.
    elsewhere.post("/user/logout", Some(&owner), json!({})).ok();
    app.get(
        &format!("/customer/listcollaborators?organizationid={org}"),
        Some(&owner),
    )
    .err(401, "unauthenticated");
}
