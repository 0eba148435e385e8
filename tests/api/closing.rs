//! Nothing an account did for an organization is lost when it closes
//! (API.md §12, §5 "Closing an account"): the invites it sent stay valid
//! and acceptable, and `invitedby` keeps its name and address, with
//! `userid` null.

use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{Backend, Member, TestApp};

on_both_backends!(
    invites_outlive_their_senders_account,
    another_admin_resends_an_invite_whose_sender_left,
    a_closed_account_is_not_added_back_by_its_domain,
);

const PASSWORD: &str = "correct horse battery";

/// An organization with an owner and an admin (Ada) who has invited
/// colleague@example.com with a grant on a project: (owner, org, Ada, the
/// invite, the token mailed to the colleague).
fn ada_invites_a_colleague(app: &TestApp) -> (String, String, Member, Value, String) {
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let project = app.project(&owner, &org, "Web");
    let ada = app.member(&owner, &org, "ada@example.com", "admin");
    app.post(
        "/user/edit",
        Some(&ada.token),
        json!({"name": "Ada Lovelace"}),
    )
    .ok();
    let invite = app
        .post(
            "/invite/create",
            Some(&ada.token),
            json!({"organizationid": org, "email": "colleague@example.com", "role": "technical",
                   "projectpermissions": [{"projectid": project, "permission": "full"}]}),
        )
        .ok()
        .get("invite")
        .clone();
    let token = app.invite_token("colleague@example.com", 1);
    (owner, org, ada, invite, token)
}

/// Ada closes her account.
fn close(app: &TestApp, member: &Member) {
    app.post(
        "/user/delete",
        Some(&member.token),
        json!({"currentpassword": PASSWORD}),
    )
    .ok();
    app.get("/user/details", Some(&member.token))
        .err(401, "unauthenticated");
}

/// `invitedby` as it reads once Ada's account is gone.
#[track_caller]
fn sent_by_closed_ada(invite: &Value) {
    assert_eq!(
        invite["invitedby"],
        json!({"userid": null, "name": "Ada Lovelace", "email": "ada@example.com"}),
        "{invite}"
    );
}

fn invites_outlive_their_senders_account(backend: Backend) {
    let app = TestApp::start(backend);
    let (owner, org, ada, invite, token) = ada_invites_a_colleague(&app);
    assert_eq!(
        invite["invitedby"]["userid"].as_str().map(str::len),
        Some(36)
    );
    close(&app, &ada);

    // The organization's list still has it, pending, with its grant.
    let list = app
        .get(&format!("/invite/list?organizationid={org}"), Some(&owner))
        .ok();
    let listed: Vec<&Value> = list
        .get("invites")
        .as_array()
        .expect("invites")
        .iter()
        .filter(|i| i["inviteid"] == invite["inviteid"])
        .collect();
    assert_eq!(listed.len(), 1, "{}", list.body);
    assert_eq!(listed[0]["state"], "pending");
    assert_eq!(
        listed[0]["projectpermissions"],
        invite["projectpermissions"]
    );
    sent_by_closed_ada(listed[0]);

    // The link in the mailbox opens it.
    let details = app
        .post("/invite/details", None, json!({"token": token}))
        .ok();
    sent_by_closed_ada(details.get("invite"));
    let page = app.send("GET", &format!("/invite/{token}"), None, None, b"");
    assert_eq!(page.status, 200, "{}", page.body);

    // The invitee, with a confirmed address, sees it among their invites.
    app.signup("colleague@example.com", PASSWORD, "Colleague");
    app.confirm("colleague@example.com");
    let colleague = app.login("colleague@example.com", PASSWORD);
    let mine = app.get("/user/listinvites", Some(&colleague)).ok();
    let mine = mine.get("invites").as_array().expect("invites").clone();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["inviteid"], invite["inviteid"]);
    sent_by_closed_ada(&mine[0]);

    // And the mailed token is accepted, with the invite's role and grant.
    let accepted = app
        .post("/invite/accept", Some(&colleague), json!({"token": token}))
        .ok();
    let collaborator = accepted.get("collaborator");
    assert_eq!(collaborator["role"], "technical");
    assert_eq!(
        collaborator["projectpermissions"][0]["permission"], "full",
        "{collaborator}"
    );
    let accepted_list = app
        .get(
            &format!("/invite/list?organizationid={org}&state=accepted"),
            Some(&owner),
        )
        .ok();
    let accepted_invite = accepted_list
        .get("invites")
        .as_array()
        .expect("invites")
        .iter()
        .find(|i| i["inviteid"] == invite["inviteid"])
        .expect("the accepted invite")
        .clone();
    assert_eq!(accepted_invite["state"], "accepted");
    sent_by_closed_ada(&accepted_invite);
}

fn another_admin_resends_an_invite_whose_sender_left(backend: Backend) {
    let app = TestApp::start(backend);
    let (owner, _org, ada, invite, old_token) = ada_invites_a_colleague(&app);
    close(&app, &ada);

    // The owner sends it again: a new link, the old one replaced (410).
    let resent = app
        .post(
            "/invite/resend",
            Some(&owner),
            json!({"inviteid": invite["inviteid"]}),
        )
        .ok();
    sent_by_closed_ada(resent.get("invite"));
    let mail = app.mail.wait_for_nth("colleague@example.com", 2);
    assert!(
        mail.subject().contains("Ada Lovelace"),
        "the mail names who sent the invite: {}",
        mail.subject()
    );
    let token = mail.token("invite").expect("invite link");
    assert_ne!(token, old_token);
    app.post("/invite/details", None, json!({"token": old_token}))
        .err(410, "gone");

    // Accepted by the new link without an account: one is made.
    let accepted = app
        .post(
            "/invite/accept",
            None,
            json!({"token": token, "password": PASSWORD}),
        )
        .ok();
    assert_eq!(
        accepted.get("collaborator")["email"],
        "colleague@example.com"
    );
    assert!(accepted.get("login")["token"].is_string());
}

/// Signs `email` up and confirms it by the newest confirmation link; the
/// session token.
fn confirmed_account(app: &TestApp, email: &str) -> String {
    let mut taken: std::collections::HashSet<String> = app
        .mail
        .messages()
        .iter()
        .filter_map(|m| m.token("confirm"))
        .collect();
    app.signup(email, PASSWORD, "Zoe");
    let token = app.mail.next_link(email, "confirm", &mut taken);
    app.post("/user/confirm", None, json!({"token": token}))
        .ok();
    app.login(email, PASSWORD)
}

fn organizations_of(app: &TestApp, token: &str) -> Vec<Value> {
    app.get("/user/listorganizations", Some(token))
        .ok()
        .get("organizations")
        .as_array()
        .expect("organizations")
        .clone()
}

/// Closing an account is a departure from each of its organizations, kept
/// by address: a new account at the same address is not joined again by
/// the organization's verified domain.
fn a_closed_account_is_not_added_back_by_its_domain(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.post(
        "/customer/adddomain",
        Some(&owner),
        json!({"organizationid": org, "domain": "acme.test", "verificationemail": "it@acme.test",
               "role": "collaborator"}),
    )
    .ok();
    let link = app
        .mail
        .wait_for("it@acme.test")
        .token("domain")
        .expect("link");
    app.post("/customer/verifydomain", None, json!({"token": link}))
        .ok();

    let zoe = confirmed_account(&app, "zoe@acme.test");
    let joined = organizations_of(&app, &zoe);
    assert_eq!(joined.len(), 1, "joined by the domain: {joined:?}");
    app.post(
        "/user/delete",
        Some(&zoe),
        json!({"currentpassword": PASSWORD}),
    )
    .ok();

    let again = confirmed_account(&app, "zoe@acme.test");
    assert_eq!(organizations_of(&app, &again), Vec::<Value>::new());
}
