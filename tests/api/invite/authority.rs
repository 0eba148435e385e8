//! An invite carries its inviter's authority (API.md §4): a resend is judged
//! as a new invite by the resender, and a demotion or removal by someone else
//! revokes the invites its member can no longer grant. Leaving keeps them.

use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{sql, Backend, TestApp};

on_both_backends!(
    a_demoted_owner_cannot_make_an_owner_through_an_invite,
    a_demoted_admin_cannot_revive_an_admin_invite,
    a_removed_admins_invites_die_with_the_membership,
    invites_of_someone_who_leaves_stay_valid,
    an_unconfirmed_sender_is_named_without_the_address,
);

fn accept_by_token(app: &TestApp, token: &str) -> crate::support::Resp {
    app.post(
        "/invite/accept",
        None,
        json!({"token": token, "password": "correct horse battery"}),
    )
}

fn set_role(app: &TestApp, by: &str, collaboratorid: &str, role: &str) {
    app.post(
        "/customer/editcollaborator",
        Some(by),
        json!({"collaboratorid": collaboratorid, "role": role}),
    )
    .ok();
}

fn emails_of_members(app: &TestApp, token: &str, org: &str) -> Vec<String> {
    app.get(
        &format!("/customer/listcollaborators?organizationid={org}"),
        Some(token),
    )
    .ok()
    .get("collaborators")
    .as_array()
    .unwrap()
    .iter()
    .map(|c| c["email"].as_str().unwrap().to_string())
    .collect()
}

/// The `invite.revoked` events of `org` for `inviteid`, newest first.
fn revocations(app: &TestApp, owner: &str, org: &str, inviteid: &Value) -> Vec<Value> {
    app.get(
        &format!("/customer/listauditevents?organizationid={org}"),
        Some(owner),
    )
    .ok()
    .get("auditevents")
    .as_array()
    .unwrap()
    .iter()
    .filter(|e| e["action"] == "invite.revoked" && &e["target"] == inviteid)
    .cloned()
    .collect()
}

/// Marks an invite ended by time, as the sweep leaves it: resend works on it.
fn let_it_expire(app: &TestApp, inviteid: &Value) {
    sql(
        app,
        &format!(
            "UPDATE invites SET state = 'expired', expires_at = 1, ended_at = 1 WHERE id = '{}'",
            inviteid.as_str().unwrap()
        ),
    );
}

fn a_demoted_owner_cannot_make_an_owner_through_an_invite(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let second = app.member(&owner, &org, "second@example.com", "owner");
    // The second owner invites a puppet account as owner, twice: one invite
    // stays pending, one expires.
    let pending = app.invite(&second.token, &org, "puppet@example.com", "owner");
    let expired = app.invite(&second.token, &org, "puppet2@example.com", "owner");
    let kept = app.invite(&second.token, &org, "kept@example.com", "admin");
    let pending_token = app.invite_token("puppet@example.com", 1);
    let kept_token = app.invite_token("kept@example.com", 1);
    let_it_expire(&app, &expired["inviteid"]);

    set_role(&app, &owner, &second.collaboratorid, "admin");

    // The pending owner invite was revoked with the demotion.
    let r = accept_by_token(&app, &pending_token).err(410, "gone");
    assert_eq!(r.reason(), "revoked");
    let events = revocations(&app, &owner, &org, &pending["inviteid"]);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["reason"], "inviter_demoted");
    assert_eq!(events[0]["actor"]["email"], "owner@example.com");
    // Nor can the demoted admin bring either back.
    for invite in [&pending, &expired] {
        app.post(
            "/invite/resend",
            Some(&second.token),
            json!({"inviteid": invite["inviteid"]}),
        )
        .err(403, "forbidden");
    }
    // An admin invite is still theirs to give.
    accept_by_token(&app, &kept_token).ok();
    assert_eq!(kept["role"], "admin");
    let members = emails_of_members(&app, &owner, &org);
    assert!(
        !members.iter().any(|m| m.starts_with("puppet")),
        "{members:?}"
    );
    // An owner may still resend the expired one: the resender's authority.
    app.post(
        "/invite/resend",
        Some(&owner),
        json!({"inviteid": expired["inviteid"]}),
    )
    .ok();
}

fn a_demoted_admin_cannot_revive_an_admin_invite(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let admin_invite = app.invite(&admin.token, &org, "friend@example.com", "admin");
    let tech_invite = app.invite(&admin.token, &org, "tech@example.com", "technical");
    let friend_token = app.invite_token("friend@example.com", 1);
    let tech_token = app.invite_token("tech@example.com", 1);
    let_it_expire(&app, &admin_invite["inviteid"]);

    set_role(&app, &owner, &admin.collaboratorid, "technical");

    // A technical user manages their own invites, but not above their role.
    let r = app
        .post(
            "/invite/resend",
            Some(&admin.token),
            json!({"inviteid": admin_invite["inviteid"]}),
        )
        .err(403, "forbidden");
    assert!(r.text().contains("may not invite as admin"), "{}", r.text());
    let r = accept_by_token(&app, &friend_token).err(410, "gone");
    assert_eq!(r.reason(), "expired");
    // The technical invite is within the new role: it stays, and resends.
    app.post(
        "/invite/resend",
        Some(&admin.token),
        json!({"inviteid": tech_invite["inviteid"]}),
    )
    .ok();
    let r = accept_by_token(&app, &tech_token).err(410, "gone");
    assert!(r.text().contains("replaced"), "{}", r.text());
    accept_by_token(&app, &app.invite_token("tech@example.com", 2)).ok();
}

fn a_removed_admins_invites_die_with_the_membership(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let invite = app.invite(&admin.token, &org, "friend@example.com", "admin");
    let token = app.invite_token("friend@example.com", 1);

    app.post(
        "/customer/removecollaborator",
        Some(&owner),
        json!({"collaboratorid": admin.collaboratorid}),
    )
    .ok();

    let r = accept_by_token(&app, &token).err(410, "gone");
    assert_eq!(r.reason(), "revoked");
    let events = revocations(&app, &owner, &org, &invite["inviteid"]);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["details"]["reason"], "inviter_removed");
    let listed = app
        .get(&format!("/invite/list?organizationid={org}"), Some(&owner))
        .ok();
    let listed: Vec<&Value> = listed
        .get("invites")
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["inviteid"] == invite["inviteid"])
        .collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "revoked");
}

fn invites_of_someone_who_leaves_stay_valid(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    app.invite(&admin.token, &org, "friend@example.com", "admin");
    let token = app.invite_token("friend@example.com", 1);
    app.post(
        "/customer/removecollaborator",
        Some(&admin.token),
        json!({"collaboratorid": admin.collaboratorid}),
    )
    .ok();
    let joined = accept_by_token(&app, &token).ok();
    assert_eq!(joined.get("collaborator")["role"], "admin");
}

fn an_unconfirmed_sender_is_named_without_the_address(backend: Backend) {
    let app = TestApp::start(backend);
    // Anyone may sign up with an address they do not read, and invite.
    app.signup(
        "ceo@bigcorp.example.com",
        "correct horse battery",
        "BigCorp CEO",
    );
    let ceo = app.login("ceo@bigcorp.example.com", "correct horse battery");
    let org = app.organization(&ceo, "BigCorp");
    app.invite(&ceo, &org, "staff@example.com", "collaborator");
    let mail = app.mail.wait_for("staff@example.com");
    let text = mail.decoded();
    assert!(
        text.contains("BigCorp CEO (address not confirmed) invited you"),
        "{text}"
    );
    assert!(!text.contains("ceo@bigcorp.example.com"), "{text}");
    let token = mail.token("invite").unwrap();
    let page = app.get(&format!("/invite/{token}"), None);
    let html = page.body["raw"].as_str().unwrap();
    assert!(
        html.contains("BigCorp CEO (address not confirmed)"),
        "{html}"
    );
    assert!(!html.contains("ceo@bigcorp.example.com"), "{html}");

    // Once confirmed, the address is the sender's, and shown.
    let confirm = app
        .mail
        .wait_for("ceo@bigcorp.example.com")
        .token("confirm")
        .unwrap();
    app.post("/user/confirm", None, json!({"token": confirm}))
        .ok();
    app.invite(&ceo, &org, "second@example.com", "collaborator");
    let text = app.mail.wait_for("second@example.com").decoded();
    assert!(
        text.contains("BigCorp CEO (ceo@bigcorp.example.com) invited you"),
        "{text}"
    );
}
