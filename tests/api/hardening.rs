//! What attackers and careless clients try: squatting an address, granting
//! more than one holds, stretching an API key, and the corners of accepting.

use serde_json::json;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    an_unconfirmed_squatter_loses_the_account_to_the_mailbox_owner,
    granters_below_admin_hand_out_only_what_they_hold,
    bound_keys_stay_inside_their_organization,
    accepting_corners,
    organization_invite_lifetime_and_projects,
    keys_follow_the_current_role_and_ended_links_say_so,
);

fn an_unconfirmed_squatter_loses_the_account_to_the_mailbox_owner(backend: Backend) {
    let app = TestApp::start(backend);
    // Someone signs up with an address that is not theirs and never confirms it.
    app.signup("victim@example.com", "squatter-password", "Squatter");
    let squatter = app.login("victim@example.com", "squatter-password");
    let key = app.api_key(&squatter, json!({"name": "k"}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.invite(&owner, &org, "victim@example.com", "admin");
    let token = app
        .mail
        .wait_for_nth("victim@example.com", 2)
        .token("invite")
        .expect("invite link");
    // The mailbox owner accepts by the emailed token.
    let r = app
        .post(
            "/invite/accept",
            None,
            json!({"token": token, "password": "victims-own-password"}),
        )
        .ok();
    assert_eq!(r.get("login")["user"]["emailverified"], true);
    // The squatter's password, session and key are all gone.
    app.post(
        "/user/login",
        None,
        json!({"email": "victim@example.com", "password": "squatter-password"}),
    )
    .err(401, "unauthenticated");
    app.get("/user/details", Some(&squatter))
        .err(401, "unauthenticated");
    app.get("/user/details", Some(&key))
        .err(401, "unauthenticated");
    let victim = app.login("victim@example.com", "victims-own-password");
    let orgs = app.get("/user/listorganizations", Some(&victim)).ok();
    assert_eq!(orgs.get("organizations")[0]["role"], "admin");
}

fn granters_below_admin_hand_out_only_what_they_hold(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let shared = app.project(&owner, &org, "Shared");
    let secret = app.project(&owner, &org, "Secret");
    let tech = app.member(&owner, &org, "tech@example.com", "technical");
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": tech.collaboratorid, "projectpermissions": [{"projectid": shared, "permission": "read"}]}),
    )
    .ok();
    let invite = |email: &str, extra: serde_json::Value| {
        let mut body = json!({"organizationid": org, "email": email, "role": "collaborator"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        app.post("/invite/create", Some(&tech.token), body)
    };
    invite(
        "a@example.com",
        json!({"projectpermissions": [{"projectid": shared, "permission": "full"}]}),
    )
    .err(403, "forbidden");
    invite(
        "b@example.com",
        json!({"projectpermissions": [{"projectid": secret, "permission": "read"}]}),
    )
    .err(403, "forbidden");
    invite("c@example.com", json!({"cancreateprojects": true})).err(403, "forbidden");
    invite(
        "d@example.com",
        json!({"projectpermissions": [{"projectid": shared, "permission": "read"}]}),
    )
    .ok();

    // What others hold on projects the technical user cannot see stays hidden.
    let worker = app.member(&owner, &org, "worker@example.com", "collaborator");
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": worker.collaboratorid, "projectpermissions": [
            {"projectid": shared, "permission": "full"}, {"projectid": secret, "permission": "full"}]}),
    )
    .ok();
    let list = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&tech.token),
        )
        .ok();
    let seen = list
        .get("collaborators")
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == "worker@example.com")
        .unwrap()
        .clone();
    assert_eq!(
        seen["projectpermissions"],
        json!([{"projectid": shared, "projectname": "Shared", "permission": "full"}])
    );
    let body = list.body.to_string();
    assert!(
        !body.contains(&secret) && !body.contains("Secret"),
        "{body}"
    );
    // Owners see everything.
    let list = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert!(list.body.to_string().contains(&secret));
}

fn bound_keys_stay_inside_their_organization(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let mine = app.organization(&owner, "Mine");
    let other_owner = app.user("other@example.com");
    let theirs = app.organization(&other_owner, "Theirs");
    let key = app.api_key(&owner, json!({"name": "bound", "organizationid": mine}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    // A password change needs a session.
    app.post(
        "/user/edit",
        Some(&key),
        json!({"password": "new password 1", "currentpassword": "correct horse battery"}),
    )
    .err(403, "forbidden");
    // It may not delete the user's other keys.
    let unbound = app
        .post(
            "/user/createapikey",
            Some(&owner),
            json!({"name": "unbound"}),
        )
        .ok()
        .get("apikey")["apikeyid"]
        .clone();
    app.post(
        "/user/deleteapikey",
        Some(&key),
        json!({"apikeyid": unbound}),
    )
    .err(403, "forbidden");
    // Another organization's objects look missing, not forbidden.
    let list = app
        .get(
            &format!("/customer/listcollaborators?organizationid={theirs}"),
            Some(&other_owner),
        )
        .ok();
    let foreign = list.get("collaborators")[0]["collaboratorid"].clone();
    app.remove(&key, foreign.as_str().unwrap())
        .err(404, "not_found");
    let foreign_invite = app.invite(&other_owner, &theirs, "someone@example.com", "collaborator");
    app.post(
        "/invite/revoke",
        Some(&key),
        json!({"inviteid": foreign_invite["inviteid"]}),
    )
    .err(404, "not_found");
    // An invite to another organization cannot be accepted with it.
    app.invite(&other_owner, &theirs, "owner@example.com", "collaborator");
    let token = app.invite_token("owner@example.com", 2);
    let listed = app.get("/user/listinvites", Some(&key)).ok();
    assert_eq!(
        listed.get("invites"),
        &json!([]),
        "a bound key sees only its organization's invites"
    );
    app.post("/invite/accept", Some(&key), json!({"token": token}))
        .err(403, "forbidden");
    // With a session it works.
    app.post("/invite/accept", Some(&owner), json!({"token": token}))
        .ok();
}

fn accepting_corners(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    // By token while signed in as somebody else.
    app.invite(&owner, &org, "first@example.com", "collaborator");
    let token = app.invite_token("first@example.com", 1);
    let stranger = app.user("stranger@example.com");
    app.post("/invite/accept", Some(&stranger), json!({"token": token}))
        .err(403, "forbidden");
    // A newcomer's password works for later logins.
    app.post(
        "/invite/accept",
        None,
        json!({"token": token, "password": "first-password"}),
    )
    .ok();
    app.login("first@example.com", "first-password");

    // An existing account accepting by token without a session gets a session.
    app.signup("existing@example.com", "password123", "E");
    app.invite(&owner, &org, "existing@example.com", "technical");
    let token = app.invite_token("existing@example.com", 2);
    let r = app
        .post("/invite/accept", None, json!({"token": token}))
        .ok();
    assert_eq!(r.get("login")["user"]["email"], "existing@example.com");

    // By inviteid from an address that is not confirmed.
    app.signup("unconfirmed@example.com", "password123", "U");
    let unconfirmed = app.login("unconfirmed@example.com", "password123");
    let invite = app.invite(&owner, &org, "unconfirmed@example.com", "collaborator");
    let r = app
        .post(
            "/invite/accept",
            Some(&unconfirmed),
            json!({"inviteid": invite["inviteid"]}),
        )
        .err(403, "forbidden");
    assert!(r.text().contains("confirm"), "{}", r.text());
    assert_eq!(
        app.get("/user/listinvites", Some(&unconfirmed))
            .ok()
            .get("invites"),
        &json!([])
    );
    // Confirmed, it may decline by id; the invite then answers 410 to its token.
    let confirm = app
        .mail
        .wait_for("unconfirmed@example.com")
        .token("confirm")
        .unwrap();
    app.post("/user/confirm", None, json!({"token": confirm}))
        .ok();
    assert_eq!(
        app.get("/user/listinvites", Some(&unconfirmed))
            .ok()
            .get("invites")
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.post(
        "/invite/decline",
        Some(&unconfirmed),
        json!({"inviteid": invite["inviteid"]}),
    )
    .ok();
    let token = app.invite_token("unconfirmed@example.com", 2);
    app.post("/invite/accept", None, json!({"token": token}))
        .err(410, "gone");
    app.post(
        "/invite/resend",
        Some(&owner),
        json!({"inviteid": invite["inviteid"]}),
    )
    .err(410, "gone");
}

fn organization_invite_lifetime_and_projects(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    app.post(
        "/customer/settings",
        Some(&owner),
        json!({"organizationid": org, "invitettldays": 2}),
    )
    .ok();
    let invite = app.invite(&owner, &org, "short@example.com", "collaborator");
    let created =
        chrono::DateTime::parse_from_rfc3339(invite["createdat"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(invite["expiresat"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_hours(), 48);

    // A technical user with cancreateprojects creates a project and holds full on it.
    let tech = app.member(&owner, &org, "tech@example.com", "technical");
    app.post(
        "/customer/createproject",
        Some(&tech.token),
        json!({"organizationid": org, "name": "Nope"}),
    )
    .err(403, "forbidden");
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": tech.collaboratorid, "cancreateprojects": true}),
    )
    .ok();
    let project = app.project(&tech.token, &org, "Tech's");
    let list = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let me = list
        .get("collaborators")
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == "tech@example.com")
        .unwrap()
        .clone();
    assert_eq!(
        me["projectpermissions"],
        json!([{"projectid": project, "projectname": "Tech's", "permission": "full"}])
    );
    // Another organization's project is not found through this one.
    let other = app.organization(&owner, "Other");
    let foreign = app.project(&owner, &other, "Foreign");
    app.post(
        "/customer/editproject",
        Some(&owner),
        json!({"organizationid": org, "projectid": foreign, "name": "x"}),
    )
    .err(404, "not_found");
    app.post(
        "/customer/deleteproject",
        Some(&owner),
        json!({"organizationid": org, "projectid": foreign}),
    )
    .err(404, "not_found");
}

fn keys_follow_the_current_role_and_ended_links_say_so(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let key = app.api_key(&admin.token, json!({"name": "ops", "organizationid": org}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    app.get(
        &format!("/customer/listauditevents?organizationid={org}"),
        Some(&key),
    )
    .ok();
    // Demoted to collaborator: the key acts with the new role at once.
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": admin.collaboratorid, "role": "collaborator"}),
    )
    .ok();
    app.get(
        &format!("/customer/listauditevents?organizationid={org}"),
        Some(&key),
    )
    .err(403, "forbidden");
    // Removed: the keys bound to the organization are gone.
    app.remove(&owner, &admin.collaboratorid).ok();
    app.get("/user/details", Some(&key))
        .err(401, "unauthenticated");
    app.get("/user/details", Some(&admin.token)).ok();

    // Revoking an invite that has expired says so.
    let late = app.invite(&owner, &org, "late@example.com", "collaborator");
    crate::support::sql(
        &app,
        "UPDATE invites SET expires_at = 1000 WHERE email = 'late@example.com'",
    );
    let r = app
        .post(
            "/invite/revoke",
            Some(&owner),
            json!({"inviteid": late["inviteid"]}),
        )
        .err(410, "gone");
    assert_eq!(r.reason(), "expired");
    // An expired confirmation link answers 410 and confirms nothing.
    app.signup("slow@example.com", "password123", "S");
    let token = app
        .mail
        .wait_for("slow@example.com")
        .token("confirm")
        .unwrap();
    crate::support::sql(&app, "UPDATE email_confirmations SET expires_at = 1000");
    let r = app
        .post("/user/confirm", None, json!({"token": token}))
        .err(410, "gone");
    assert_eq!(r.reason(), "expired");
    let session = app.login("slow@example.com", "password123");
    assert_eq!(
        app.get("/user/details", Some(&session)).ok().get("user")["emailverified"],
        false
    );
}
