//! Teams carrying the organization's own roles (API.md §10): a custom role
//! named by name or roleid, what it gives the team's members (the checks
//! answer `team`), `role_in_use` while a team holds it, the rule of giving
//! with a custom role on either side, and pending invites revoked when a
//! role edit or a team change takes from their sender what they give
//! (API.md §4).

use serde_json::{json, Value};

use super::roles::{self, events, id, invite_state};
use super::teams::{add_member, create_team, remove_member, team, teams};
use crate::checks::{check, expect, service_key, user_id};
use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    a_team_carries_a_custom_role,
    nobody_gives_a_team_a_custom_role_beyond_their_own,
    a_role_edit_revokes_invites_its_holders_can_no_longer_give,
    a_team_change_revokes_invites_its_members_can_no_longer_give,
);

/// A new custom role's id.
fn create_role(app: &TestApp, token: &str, org: &str, name: &str, permissions: &[&str]) -> String {
    id(
        &roles::create_role(app, token, org, name, permissions),
        "roleid",
    )
}

fn audit_status(app: &TestApp, token: &str, org: &str) -> u16 {
    app.get(
        &format!("/customer/listauditevents?organizationid={org}"),
        Some(token),
    )
    .status
}

fn revocations(app: &TestApp, owner: &str, org: &str) -> Vec<Value> {
    events(app, owner, org, "invite.revoked")
}

fn a_team_carries_a_custom_role(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let auditor = create_role(
        &app,
        &owner,
        &org,
        "auditor",
        &["organization:read", "audit:read"],
    );
    let carol = app.member(&owner, &org, "carol@example.com", "collaborator");
    let carol_id = user_id(&app, &carol.token);
    assert_eq!(audit_status(&app, &carol.token, &org), 403);

    // Named by name: the answer shows the name and the roleid.
    let made = create_team(
        &app,
        &owner,
        &org,
        json!({"name": "Audit", "role": "auditor"}),
    )
    .ok()
    .get("team")
    .clone();
    assert_eq!(made["role"], "auditor", "{made}");
    assert_eq!(made["roleid"], auditor.as_str(), "{made}");
    let audit = made["teamid"].as_str().unwrap().to_string();
    // Named by roleid, on another team.
    let by_id = team(&app, &owner, &org, json!({"name": "Also", "role": auditor}));
    let listed = teams(&app, &owner, &org);
    let also = listed
        .iter()
        .find(|t| t["teamid"] == by_id.as_str())
        .unwrap();
    assert_eq!(also["role"], "auditor", "{also}");
    assert_eq!(also["roleid"], auditor.as_str());
    let system = team(
        &app,
        &owner,
        &org,
        json!({"name": "Ops", "role": "technical"}),
    );
    let ops = teams(&app, &owner, &org)
        .into_iter()
        .find(|t| t["teamid"] == system.as_str())
        .unwrap();
    assert_eq!(ops["role"], "technical");
    assert_eq!(ops["roleid"], Value::Null);
    for bad in ["owner", "nobody", ""] {
        let r = create_team(&app, &owner, &org, json!({"name": "Bad", "role": bad}));
        let r = r.err(422, "validation_failed");
        assert!(
            r.body["response"]["error"]["fields"]["role"].is_array(),
            "{}",
            r.body
        );
    }

    // Its members hold the role's permissions from the next request, and
    // the checks say a team gave them.
    let key = service_key(&app, "billing");
    let asked = json!({"organizationid": org, "userid": carol_id, "permission": "audit:read"});
    expect(&check(&app, &key, asked.clone()), false, "not_granted");
    add_member(&app, &owner, &audit, &carol.collaboratorid).ok();
    assert_eq!(audit_status(&app, &carol.token, &org), 200);
    expect(&check(&app, &key, asked.clone()), true, "team");
    let mine = app
        .get(
            &format!("/customer/mypermissions?organizationid={org}"),
            Some(&carol.token),
        )
        .ok()
        .get("permissions")
        .clone();
    assert!(
        mine["organization"]
            .as_array()
            .unwrap()
            .contains(&json!("audit:read")),
        "{mine}"
    );

    // An edit of the role reaches the team's members on the next request.
    app.post(
        "/customer/editrole",
        Some(&owner),
        json!({"roleid": auditor, "permissions": ["organization:read"]}),
    )
    .ok();
    assert_eq!(audit_status(&app, &carol.token, &org), 403);
    expect(&check(&app, &key, asked.clone()), false, "not_granted");

    // Held by teams, the role is not deleted; given back a system role and
    // none, the teams let it go.
    let delete = || {
        app.post(
            "/customer/deleterole",
            Some(&owner),
            json!({"roleid": auditor}),
        )
    };
    let r = delete().err(409, "conflict");
    assert_eq!(r.reason(), "role_in_use", "{}", r.body);
    assert!(r.text().contains("2 teams"), "{}", r.body);
    app.post(
        "/customer/editteam",
        Some(&owner),
        json!({"teamid": audit, "role": "collaborator"}),
    )
    .ok();
    let r = delete().err(409, "conflict");
    assert!(r.text().contains("1 teams"), "{}", r.body);
    let cleared = app
        .post(
            "/customer/editteam",
            Some(&owner),
            json!({"teamid": by_id, "role": null}),
        )
        .ok()
        .get("team")
        .clone();
    assert_eq!(cleared["role"], Value::Null);
    assert_eq!(cleared["roleid"], Value::Null);
    delete().ok();
    // A deleted role can no longer be given to a team.
    create_team(&app, &owner, &org, json!({"name": "Late", "role": auditor}))
        .err(422, "validation_failed");
}

fn nobody_gives_a_team_a_custom_role_beyond_their_own(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    // A team keeper may manage teams and read members, and nothing else.
    create_role(
        &app,
        &owner,
        &org,
        "keeper",
        &["organization:read", "members:read", "teams:manage"],
    );
    let narrow = create_role(&app, &owner, &org, "narrow", &["organization:read"]);
    let wide = create_role(
        &app,
        &owner,
        &org,
        "wide",
        &["organization:read", "audit:read"],
    );
    let keeper = app.member(&owner, &org, "keeper@example.com", "keeper");
    let dave = app.member(&owner, &org, "dave@example.com", "collaborator");

    let r = create_team(
        &app,
        &keeper.token,
        &org,
        json!({"name": "W", "role": "wide"}),
    )
    .err(403, "forbidden");
    assert!(r.text().contains("audit:read"), "{}", r.body);
    let mine = team(
        &app,
        &keeper.token,
        &org,
        json!({"name": "N", "role": narrow}),
    );
    app.post(
        "/customer/editteam",
        Some(&keeper.token),
        json!({"teamid": mine, "role": wide}),
    )
    .err(403, "forbidden");
    add_member(&app, &keeper.token, &mine, &dave.collaboratorid).ok();

    // A team carrying a role beyond the keeper is the owner's to change.
    let theirs = team(&app, &owner, &org, json!({"name": "Wide", "role": "wide"}));
    add_member(&app, &keeper.token, &theirs, &dave.collaboratorid).err(403, "forbidden");
    app.post(
        "/customer/editteam",
        Some(&keeper.token),
        json!({"teamid": theirs, "name": "Renamed"}),
    )
    .err(403, "forbidden");
    app.post(
        "/customer/deleteteam",
        Some(&keeper.token),
        json!({"teamid": theirs}),
    )
    .err(403, "forbidden");
    // A member's own role holding the permission lets them give it.
    create_role(
        &app,
        &owner,
        &org,
        "senior",
        &[
            "organization:read",
            "members:read",
            "teams:manage",
            "audit:read",
        ],
    );
    let senior = app.member(&owner, &org, "senior@example.com", "senior");
    add_member(&app, &senior.token, &theirs, &dave.collaboratorid).ok();
    remove_member(&app, &senior.token, &theirs, &dave.collaboratorid).ok();
}

fn a_role_edit_revokes_invites_its_holders_can_no_longer_give(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let recruiter = create_role(
        &app,
        &owner,
        &org,
        "recruiter",
        &["organization:read", "members:read", "members:invite"],
    );
    let reader = create_role(
        &app,
        &owner,
        &org,
        "reader",
        &["organization:read", "members:read"],
    );
    // One holds the role themselves, one through a team; a third holds it
    // and edits it (their own invites stay: they changed it themselves).
    let direct = app.member(&owner, &org, "direct@example.com", "recruiter");
    let teamed = app.member(&owner, &org, "teamed@example.com", "collaborator");
    let hiring = team(
        &app,
        &owner,
        &org,
        json!({"name": "Hiring", "role": recruiter}),
    );
    add_member(&app, &owner, &hiring, &teamed.collaboratorid).ok();
    let direct_wide = app.invite(&direct.token, &org, "a@example.com", "reader");
    let direct_narrow = app.invite(&direct.token, &org, "b@example.com", "collaborator");
    let teamed_wide = app.invite(&teamed.token, &org, "c@example.com", "reader");
    let owners = app.invite(&owner, &org, "d@example.com", "reader");

    // members:read goes from the role: `reader` is now beyond its holders.
    app.post(
        "/customer/editrole",
        Some(&owner),
        json!({"roleid": recruiter, "permissions": ["organization:read", "members:invite"]}),
    )
    .ok();
    assert_eq!(invite_state(&app, &owner, &org, &direct_wide), "revoked");
    assert_eq!(invite_state(&app, &owner, &org, &teamed_wide), "revoked");
    assert_eq!(invite_state(&app, &owner, &org, &direct_narrow), "pending");
    assert_eq!(invite_state(&app, &owner, &org, &owners), "pending");
    let revoked = revocations(&app, &owner, &org);
    assert_eq!(revoked.len(), 2, "{revoked:?}");
    for event in &revoked {
        assert_eq!(event["details"]["reason"], "inviter_demoted", "{event}");
    }
    // An edit that adds to a role puts the invites offering it beyond a
    // sender who lacks what it now holds: an admin's invite offering
    // `reader`, once `reader` holds `roles:manage` (owners' alone).
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let offered = app.invite(&admin.token, &org, "f@example.com", "reader");
    let offered_by_owner = app.invite(&owner, &org, "g@example.com", "reader");
    app.post(
        "/customer/editrole",
        Some(&owner),
        json!({"roleid": reader, "permissions": ["organization:read", "members:read", "roles:manage"]}),
    )
    .ok();
    assert_eq!(invite_state(&app, &owner, &org, &offered), "revoked");
    assert_eq!(
        invite_state(&app, &owner, &org, &offered_by_owner),
        "pending"
    );
    assert_eq!(revocations(&app, &owner, &org).len(), 3);
    // An edit that takes nothing away revokes nothing.
    let again = app.invite(&direct.token, &org, "e@example.com", "collaborator");
    app.post(
        "/customer/editrole",
        Some(&owner),
        json!({"roleid": recruiter, "description": "Finds people"}),
    )
    .ok();
    assert_eq!(invite_state(&app, &owner, &org, &again), "pending");
}

fn a_team_change_revokes_invites_its_members_can_no_longer_give(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let (ann, bob, cid) = (
        app.member(&owner, &org, "ann@example.com", "collaborator"),
        app.member(&owner, &org, "bob@example.com", "collaborator"),
        app.member(&owner, &org, "cid@example.com", "collaborator"),
    );
    let make = |name: &str, who: &str| {
        let id = team(
            &app,
            &owner,
            &org,
            json!({"name": name, "role": "technical"}),
        );
        add_member(&app, &owner, &id, who).ok();
        id
    };
    // Technical through a team, each may invite technical members.
    let first = make("First", &ann.collaboratorid);
    let second = make("Second", &bob.collaboratorid);
    let third = make("Third", &cid.collaboratorid);
    let from_ann = app.invite(&ann.token, &org, "a1@example.com", "technical");
    let from_bob = app.invite(&bob.token, &org, "b1@example.com", "technical");
    let from_cid = app.invite(&cid.token, &org, "c1@example.com", "technical");
    let plain = app.invite(&cid.token, &org, "c2@example.com", "collaborator");

    // Taken out of the team, the role given to it, the team deleted.
    remove_member(&app, &owner, &first, &ann.collaboratorid).ok();
    app.post(
        "/customer/editteam",
        Some(&owner),
        json!({"teamid": second, "role": "collaborator"}),
    )
    .ok();
    app.post(
        "/customer/deleteteam",
        Some(&owner),
        json!({"teamid": third}),
    )
    .ok();
    for invite in [&from_ann, &from_bob, &from_cid] {
        assert_eq!(invite_state(&app, &owner, &org, invite), "revoked");
    }
    assert_eq!(invite_state(&app, &owner, &org, &plain), "pending");
    let revoked = revocations(&app, &owner, &org);
    assert_eq!(revoked.len(), 3, "{revoked:?}");
    assert!(revoked
        .iter()
        .all(|e| e["details"]["reason"] == "inviter_demoted"));
}
