//! `invite/*`: the flows of API.md §4, mail read from a real SMTP server.

use crate::on_both_backends;
use crate::support::{Backend, TestApp};
use serde_json::json;

on_both_backends!(
    newcomer_accepts_by_emailed_token,
    existing_user_accepts_from_listinvites,
);

fn newcomer_accepts_by_emailed_token(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    // A confirmed sender is named with the address (an unconfirmed one by
    // name only: invite::authority).
    app.confirm("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let web = app.project(&owner, &org, "Website");
    let _other = app.project(&owner, &org, "Billing");

    let r = app
        .post(
            "/invite/create",
            Some(&owner),
            json!({"organizationid": org, "email": "New.Person@Example.com", "role": "technical",
                   "projectpermissions": [{"projectid": web, "permission": "full"}]}),
        )
        .ok();
    let invite = r.get("invite").clone();
    assert_eq!(invite["email"], "new.person@example.com");
    assert_eq!(invite["state"], "pending");
    assert_eq!(invite["role"], "technical");
    assert_eq!(invite["organizationname"], "Acme");
    assert_eq!(invite["invitedby"]["email"], "owner@example.com");
    assert_eq!(
        invite["projectpermissions"],
        json!([{"projectid": web, "projectname": "Website", "permission": "full"}])
    );
    assert!(
        invite.get("token").is_none(),
        "the token travels only by email"
    );

    // The email: organization, inviter, role, link and expiry.
    let email = app.mail.wait_for("new.person@example.com");
    let text = email.decoded();
    assert!(email.subject().contains("Acme"), "{}", email.subject());
    assert!(
        text.contains("owner@example.com") && text.contains("technical"),
        "{text}"
    );
    assert!(
        text.contains(invite["expiresat"].as_str().unwrap()),
        "{text}"
    );
    let token = email.token("invite").expect("link");
    assert!(
        text.contains(&format!("{}/invite/{token}", app.config.public_url())),
        "{text}"
    );
    assert!(token.len() >= 43, "at least 256 bits");

    // The link's page asks; it does not accept by itself.
    let page = app.send("GET", &format!("/invite/{token}"), None, None, b"");
    assert_eq!(page.status, 200);
    assert!(page.body["raw"].as_str().unwrap().contains("Acme"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let r = app
        .post("/invite/details", None, json!({"token": token}))
        .ok();
    assert_eq!(r.get("invite")["state"], "pending");

    // Accept with no account: one is made, verified, and signed in.
    let r = app
        .post(
            "/invite/accept",
            None,
            json!({"token": token, "name": "New Person"}),
        )
        .ok();
    let login = r.get("login");
    assert_eq!(login["user"]["email"], "new.person@example.com");
    assert_eq!(login["user"]["emailverified"], true);
    assert_eq!(r.get("organization")["organizationid"], json!(org));
    assert_eq!(r.get("organization")["role"], "technical");
    assert_eq!(r.get("organization")["membercount"], 2);
    let collaborator = r.get("collaborator").clone();
    assert_eq!(collaborator["role"], "technical");
    let newcomer = login["token"].as_str().unwrap().to_string();

    // The newcomer is told the account was made.
    let made = app.mail.wait_for_nth("new.person@example.com", 2);
    assert!(made.subject().contains("account"), "{}", made.subject());

    let orgs = app.get("/user/listorganizations", Some(&newcomer)).ok();
    assert_eq!(orgs.get("organizations")[0]["organizationid"], json!(org));
    assert_eq!(orgs.get("organizations")[0]["role"], "technical");
    let projects = app
        .get(
            &format!("/customer/listprojects?organizationid={org}"),
            Some(&newcomer),
        )
        .ok();
    assert_eq!(
        projects.get("projects").as_array().unwrap().len(),
        1,
        "only the granted project"
    );

    let list = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let members = list.get("collaborators").as_array().unwrap().clone();
    assert_eq!(members.len(), 2);
    let seen = members
        .iter()
        .find(|m| m["email"] == "new.person@example.com")
        .unwrap();
    assert_eq!(seen["role"], "technical");
    assert_eq!(seen["name"], "New Person");
    assert_eq!(
        seen["projectpermissions"],
        json!([{"projectid": web, "projectname": "Website", "permission": "full"}])
    );
    assert_eq!(seen, &collaborator);
    assert_eq!(list.get("nextcursor"), &json!(null));

    // The token worked once.
    let r = app
        .post("/invite/accept", None, json!({"token": token}))
        .err(410, "gone");
    assert_eq!(r.reason(), "accepted");
    let r = app
        .get(&format!("/invite/details?token={token}"), None)
        .err(410, "gone");
    assert_eq!(r.reason(), "accepted");
}

fn existing_user_accepts_from_listinvites(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    // An existing user with a confirmed address.
    app.signup("Existing@example.com", "password123", "Existing");
    let confirm = app
        .mail
        .wait_for("existing@example.com")
        .token("confirm")
        .unwrap();
    app.post("/user/confirm", None, json!({"token": confirm}))
        .ok();
    let user = app.login("existing@example.com", "password123");
    assert_eq!(
        app.get("/user/listinvites", Some(&user))
            .ok()
            .get("invites"),
        &json!([])
    );

    let invite = app.invite(&owner, &org, "EXISTING@example.com", "admin");
    let list = app.get("/user/listinvites", Some(&user)).ok();
    let invites = list.get("invites").as_array().unwrap().clone();
    assert_eq!(invites.len(), 1);
    assert_eq!(invites[0]["inviteid"], invite["inviteid"]);
    assert_eq!(invites[0]["organizationname"], "Acme");

    // Someone else cannot accept it by id, nor learn that it exists.
    let stranger = app.user("stranger@example.com");
    app.post(
        "/invite/accept",
        Some(&stranger),
        json!({"inviteid": invite["inviteid"]}),
    )
    .err(404, "not_found");
    // By id needs a session.
    app.post(
        "/invite/accept",
        None,
        json!({"inviteid": invite["inviteid"]}),
    )
    .err(401, "unauthenticated");

    let r = app
        .post(
            "/invite/accept",
            Some(&user),
            json!({"inviteid": invite["inviteid"]}),
        )
        .ok();
    assert_eq!(r.get("collaborator")["role"], "admin");
    assert!(
        r.body["response"].get("login").is_none(),
        "a session caller gets no new session"
    );
    assert_eq!(
        app.get("/user/listinvites", Some(&user))
            .ok()
            .get("invites"),
        &json!([])
    );
    let orgs = app.get("/user/listorganizations", Some(&user)).ok();
    assert_eq!(orgs.get("organizations")[0]["role"], "admin");
    let r = app
        .get(
            &format!("/invite/list?organizationid={org}&state=accepted"),
            Some(&owner),
        )
        .ok();
    assert_eq!(r.get("invites")[0]["inviteid"], invite["inviteid"]);
}
