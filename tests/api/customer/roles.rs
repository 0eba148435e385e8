//! Custom roles (API.md §10): made, listed, edited and deleted; named by
//! name or roleid wherever a role is taken; their holders doing exactly
//! what their permissions say, from the very next request and in another
//! process; nobody giving a permission they lack.

use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{Backend, Client, Process, TestApp};

on_both_backends!(
    roles_are_made_listed_edited_and_deleted_with_audit_events,
    role_parameters_are_checked,
    an_organization_has_at_most_50_custom_roles,
    a_role_held_by_a_member_invite_or_domain_is_not_deleted,
    nobody_gives_a_permission_they_lack,
    a_changed_role_counts_from_the_next_request_in_every_process,
    answers_name_the_custom_role_wherever_it_is_held,
    a_demotion_revokes_invites_beyond_the_new_permissions,
);

pub(super) fn create_role(
    app: &TestApp,
    token: &str,
    org: &str,
    name: &str,
    permissions: &[&str],
) -> Value {
    app.post(
        "/customer/createrole",
        Some(token),
        json!({"organizationid": org, "name": name, "permissions": permissions}),
    )
    .ok()
    .get("role")
    .clone()
}

fn list_roles(app: &TestApp, token: &str, org: &str) -> Vec<Value> {
    app.get(
        &format!("/customer/listroles?organizationid={org}"),
        Some(token),
    )
    .ok()
    .get("roles")
    .as_array()
    .expect("roles")
    .clone()
}

pub(crate) fn events(app: &TestApp, owner: &str, org: &str, action: &str) -> Vec<Value> {
    app.get(
        &format!("/customer/listauditevents?organizationid={org}"),
        Some(owner),
    )
    .ok()
    .get("auditevents")
    .as_array()
    .expect("auditevents")
    .iter()
    .filter(|e| e["action"] == action)
    .cloned()
    .collect()
}

pub(super) fn id(value: &Value, key: &str) -> String {
    value[key].as_str().expect(key).to_string()
}

/// The state of `invite` in `org`, as the owner lists it.
pub(super) fn invite_state(app: &TestApp, owner: &str, org: &str, invite: &Value) -> String {
    app.get(&format!("/invite/list?organizationid={org}"), Some(owner))
        .ok()
        .get("invites")
        .as_array()
        .expect("invites")
        .iter()
        .find(|i| i["inviteid"] == invite["inviteid"])
        .expect("the invite")["state"]
        .as_str()
        .expect("state")
        .to_string()
}

fn roles_are_made_listed_edited_and_deleted_with_audit_events(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let hook = app
        .post(
            "/customer/createwebhook",
            Some(&owner),
            json!({"organizationid": org, "url": "https://93.184.216.34/hook",
                   "events": ["role.created", "role.edited", "role.deleted"]}),
        )
        .ok()
        .get("webhook")["webhookid"]
        .clone();

    let made = app
        .post(
            "/customer/createrole",
            Some(&owner),
            json!({"organizationid": org, "name": "billing-viewer",
                   "description": "Reads the audit log",
                   "permissions": ["audit:read", "organization:read", "audit:read"]}),
        )
        .ok()
        .get("role")
        .clone();
    let roleid = id(&made, "roleid");
    assert_eq!(made["organizationid"], org.as_str());
    assert_eq!(made["name"], "billing-viewer");
    assert_eq!(made["description"], "Reads the audit log");
    assert_eq!(
        made["permissions"],
        json!(["organization:read", "audit:read"])
    );
    assert_eq!(made["system"], false);
    assert_eq!(made["membercount"], 0);

    let listed = list_roles(&app, &owner, &org);
    let names: Vec<&str> = listed.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "owner",
            "admin",
            "technical",
            "collaborator",
            "billing-viewer"
        ]
    );
    for system in &listed[..4] {
        assert_eq!(system["system"], true);
        assert_eq!(system["roleid"], system["name"]);
    }
    assert_eq!(listed[0]["membercount"], 1, "the owner");
    assert_eq!(listed[0]["permissions"].as_array().unwrap().len(), 17);
    assert_eq!(listed[4], made);

    let viewer = app
        .member(&owner, &org, "viewer@example.com", "billing-viewer")
        .collaboratorid;
    let edited = app
        .post(
            "/customer/editrole",
            Some(&owner),
            json!({"roleid": roleid, "name": "auditor", "description": null,
                   "permissions": ["organization:read", "audit:read", "members:read"]}),
        )
        .ok()
        .get("role")
        .clone();
    assert_eq!(edited["name"], "auditor");
    assert_eq!(edited["description"], Value::Null);
    assert_eq!(
        edited["permissions"],
        json!(["organization:read", "members:read", "audit:read"])
    );
    assert_eq!(edited["membercount"], 1);
    assert_eq!(edited["createdat"], made["createdat"]);

    let created = events(&app, &owner, &org, "role.created");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["target"], roleid.as_str());
    assert_eq!(created[0]["details"]["name"], "billing-viewer");
    assert_eq!(
        created[0]["details"]["permissions"],
        json!(["organization:read", "audit:read"])
    );
    let changed = events(&app, &owner, &org, "role.edited");
    assert_eq!(changed[0]["details"]["name"], "auditor");
    assert_eq!(changed[0]["details"]["previousname"], "billing-viewer");
    assert_eq!(
        changed[0]["details"]["permissions"],
        json!(["organization:read", "members:read", "audit:read"])
    );

    // Held by a member: give them another role, then it goes.
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": viewer, "role": "collaborator"}),
    )
    .ok();
    app.post(
        "/customer/deleterole",
        Some(&owner),
        json!({"roleid": roleid}),
    )
    .ok();
    assert_eq!(list_roles(&app, &owner, &org).len(), 4);
    let deleted = events(&app, &owner, &org, "role.deleted");
    assert_eq!(deleted[0]["details"]["name"], "auditor");
    assert_eq!(
        deleted[0]["details"]["permissions"],
        json!(["organization:read", "members:read", "audit:read"])
    );
    app.post(
        "/customer/deleterole",
        Some(&owner),
        json!({"roleid": roleid}),
    )
    .err(404, "not_found");
    // The name is free again.
    create_role(&app, &owner, &org, "auditor", &[]);

    // Webhooks subscribed to the role events get each of them.
    let deliveries = app
        .get(
            &format!(
                "/customer/listwebhookdeliveries?webhookid={}",
                hook.as_str().unwrap()
            ),
            Some(&owner),
        )
        .ok();
    let mut types: Vec<String> = deliveries
        .get("deliveries")
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["type"].as_str().unwrap().to_string())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "role.created",
            "role.created",
            "role.deleted",
            "role.edited"
        ]
    );
}

fn role_parameters_are_checked(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let create = |name: &str, permissions: Value| {
        app.post(
            "/customer/createrole",
            Some(&owner),
            json!({"organizationid": org, "name": name, "permissions": permissions}),
        )
    };
    for bad in [
        "a",
        &"x".repeat(41),
        "Billing",
        "has space",
        "admin",
        "owner",
        "é-role",
    ] {
        let r = create(bad, json!([])).err(422, "validation_failed");
        assert!(
            r.body["response"]["error"]["fields"]["name"].is_array(),
            "{bad}: {}",
            r.body
        );
    }
    let r = create("ok", json!(["audit:read", "audit:write"])).err(422, "validation_failed");
    assert!(r.text().contains("audit:write"), "{}", r.text());
    create("taken", json!([])).ok();
    let r = create("taken", json!(["audit:read"])).err(422, "validation_failed");
    assert!(r.body["response"]["error"]["fields"]["name"].is_array());
    create("x_1-2", json!([])).ok();

    let other = create("other", json!([])).ok().get("role").clone();
    app.post(
        "/customer/editrole",
        Some(&owner),
        json!({"roleid": id(&other, "roleid"), "name": "taken"}),
    )
    .err(422, "validation_failed");
    app.post(
        "/customer/editrole",
        Some(&owner),
        json!({"roleid": "admin", "permissions": ["audit:read"]}),
    )
    .err(422, "validation_failed");
    app.post(
        "/customer/editrole",
        Some(&owner),
        json!({"roleid": "0193f7c2-7a1e-7c1a-9a4e-2b1f0c9d8e7f", "name": "nope"}),
    )
    .err(404, "not_found");
    app.post(
        "/customer/deleterole",
        Some(&owner),
        json!({"roleid": "technical"}),
    )
    .err(422, "validation_failed");

    // A role nobody in the organization has is no role.
    app.post(
        "/invite/create",
        Some(&owner),
        json!({"organizationid": org, "email": "x@example.com", "role": "no-such-role"}),
    )
    .err(422, "validation_failed");
    // Another organization's role is not this one's.
    let elsewhere = app.user("elsewhere@example.com");
    let theirs = app.organization(&elsewhere, "Elsewhere");
    let foreign = create_role(&app, &elsewhere, &theirs, "foreign", &[]);
    app.post(
        "/invite/create",
        Some(&owner),
        json!({"organizationid": org, "email": "x@example.com",
               "role": id(&foreign, "roleid")}),
    )
    .err(422, "validation_failed");
    app.post(
        "/customer/editrole",
        Some(&owner),
        json!({"roleid": id(&foreign, "roleid"), "name": "mine"}),
    )
    .err(404, "not_found");
}

fn an_organization_has_at_most_50_custom_roles(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let mut fiftieth = Value::Null;
    for n in 1..=50 {
        fiftieth = create_role(&app, &owner, &org, &format!("role-{n}"), &["audit:read"]);
    }
    let r = app
        .post(
            "/customer/createrole",
            Some(&owner),
            json!({"organizationid": org, "name": "role-51", "permissions": []}),
        )
        .err(422, "validation_failed");
    assert!(r.text().contains("50"), "{}", r.text());
    assert_eq!(list_roles(&app, &owner, &org).len(), 54);
    // A deleted one makes room.
    app.post(
        "/customer/deleterole",
        Some(&owner),
        json!({"roleid": id(&fiftieth, "roleid")}),
    )
    .ok();
    create_role(&app, &owner, &org, "role-51", &[]);
}

fn a_role_held_by_a_member_invite_or_domain_is_not_deleted(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let delete = |roleid: &str| {
        app.post(
            "/customer/deleterole",
            Some(&owner),
            json!({"roleid": roleid}),
        )
    };
    let in_use = |roleid: &str| {
        let r = delete(roleid).err(409, "conflict");
        assert_eq!(r.reason(), "role_in_use", "{}", r.body);
    };

    // A member, named by roleid.
    let held = create_role(&app, &owner, &org, "held", &["organization:read"]);
    let held_id = id(&held, "roleid");
    let member = app.member(&owner, &org, "m@example.com", &held_id);
    in_use(&held_id);
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": member.collaboratorid, "role": "technical"}),
    )
    .ok();
    delete(&held_id).ok();

    // A pending invite.
    let offered = create_role(&app, &owner, &org, "offered", &["organization:read"]);
    let offered_id = id(&offered, "roleid");
    let invite = app.invite(&owner, &org, "i@example.com", "offered");
    in_use(&offered_id);
    app.post(
        "/invite/revoke",
        Some(&owner),
        json!({"inviteid": invite["inviteid"]}),
    )
    .ok();
    delete(&offered_id).ok();
    // The ended invite still names the role it offered; it cannot be sent again.
    let ended = app
        .get(
            &format!("/invite/list?organizationid={org}&state=revoked"),
            Some(&owner),
        )
        .ok()
        .get("invites")[0]
        .clone();
    assert_eq!(ended["role"], "offered");
    assert_eq!(ended["roleid"], offered_id.as_str());

    // A domain.
    let given = create_role(&app, &owner, &org, "given", &["organization:read"]);
    let given_id = id(&given, "roleid");
    let domain = app
        .post(
            "/customer/adddomain",
            Some(&owner),
            json!({"organizationid": org, "domain": "acme.com",
                   "verificationemail": "it@acme.com", "role": "given"}),
        )
        .ok()
        .get("domain")
        .clone();
    assert_eq!(domain["role"], "given");
    assert_eq!(domain["roleid"], given_id.as_str());
    in_use(&given_id);
    app.post(
        "/customer/removedomain",
        Some(&owner),
        json!({"domainid": domain["domainid"]}),
    )
    .ok();
    delete(&given_id).ok();
}

fn nobody_gives_a_permission_they_lack(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    create_role(
        &app,
        &owner,
        &org,
        "manager",
        &[
            "organization:read",
            "members:read",
            "members:invite",
            "members:manage",
            "roles:manage",
        ],
    );
    let audit = create_role(
        &app,
        &owner,
        &org,
        "audit",
        &["organization:read", "audit:read"],
    );
    let manager = app.member(&owner, &org, "manager@example.com", "manager");
    let victim = app.member(&owner, &org, "victim@example.com", "collaborator");
    let m = Some(manager.token.as_str());

    // Making or editing a role with a permission the manager lacks.
    let r = app.post(
        "/customer/createrole",
        m,
        json!({"organizationid": org, "name": "spy", "permissions": ["audit:read"]}),
    );
    r.err(403, "forbidden");
    let small = app
        .post(
            "/customer/createrole",
            m,
            json!({"organizationid": org, "name": "small",
                   "permissions": ["organization:read", "members:read"]}),
        )
        .ok()
        .get("role")
        .clone();
    app.post(
        "/customer/editrole",
        m,
        json!({"roleid": id(&small, "roleid"), "permissions": ["organization:read", "audit:read"]}),
    )
    .err(403, "forbidden");
    app.post(
        "/customer/editrole",
        m,
        json!({"roleid": id(&audit, "roleid"), "name": "renamed"}),
    )
    .err(403, "forbidden");
    app.post(
        "/customer/deleterole",
        m,
        json!({"roleid": id(&audit, "roleid")}),
    )
    .err(403, "forbidden");

    // Inviting or assigning with a role holding what the manager lacks.
    for role in ["audit", "admin", "owner"] {
        app.post(
            "/invite/create",
            m,
            json!({"organizationid": org, "email": format!("{role}@example.com"), "role": role}),
        )
        .err(403, "forbidden");
        app.post(
            "/customer/editcollaborator",
            m,
            json!({"collaboratorid": victim.collaboratorid, "role": role}),
        )
        .err(403, "forbidden");
    }
    let rows = app
        .post(
            "/invite/createbulk",
            m,
            json!({"organizationid": org, "invites": [
                {"email": "b1@example.com", "role": "audit"},
                {"email": "b2@example.com", "role": id(&small, "roleid")}]}),
        )
        .ok();
    let results = rows.get("results");
    assert_eq!(results[0]["code"], 403);
    assert_eq!(results[1]["code"], 200);
    assert_eq!(results[1]["invite"]["role"], "small");
    // Within its permissions it may.
    for role in ["small", "technical", "collaborator"] {
        app.post(
            "/customer/editcollaborator",
            m,
            json!({"collaboratorid": victim.collaboratorid, "role": role}),
        )
        .ok();
    }
    app.invite(&manager.token, &org, "t@example.com", "technical");
    // Not its own role, whatever it names.
    app.post(
        "/customer/editcollaborator",
        m,
        json!({"collaboratorid": manager.collaboratorid, "role": "small"}),
    )
    .err(403, "forbidden");

    // An owner's invite with the audit role, resent by the manager, is
    // judged as the manager's own.
    let invite = app.invite(&owner, &org, "later@example.com", "audit");
    app.post("/invite/resend", m, json!({"inviteid": invite["inviteid"]}))
        .err(403, "forbidden");
    app.post(
        "/invite/resend",
        Some(&owner),
        json!({"inviteid": invite["inviteid"]}),
    )
    .ok();
}

fn can_read_audit(client: &Client, token: &str, org: &str) -> u16 {
    client
        .get(
            &format!("/customer/listauditevents?organizationid={org}"),
            Some(token),
        )
        .status
}

fn a_changed_role_counts_from_the_next_request_in_every_process(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let role = create_role(&app, &owner, &org, "viewer", &["organization:read"]);
    let roleid = id(&role, "roleid");
    let member = app.member(&owner, &org, "m@example.com", "viewer");
    let here = &app.client;
    assert_eq!(can_read_audit(here, &member.token, &org), 403);
    let edit = |client: &Client, permissions: &[&str]| {
        client
            .post(
                "/customer/editrole",
                Some(&owner),
                json!({"roleid": roleid, "permissions": permissions}),
            )
            .ok();
    };
    edit(here, &["organization:read", "audit:read"]);
    assert_eq!(can_read_audit(here, &member.token, &org), 200);

    // Another process on the same database.
    let other = Process::spawn(&[("COLLABD_DATABASE_URL", app.db.url.as_str())]);
    let there = Client::new(&other.base);
    assert_eq!(can_read_audit(&there, &member.token, &org), 200);
    edit(here, &["organization:read"]);
    assert_eq!(can_read_audit(&there, &member.token, &org), 403);
    edit(&there, &["organization:read", "audit:read"]);
    assert_eq!(can_read_audit(here, &member.token, &org), 200);
    assert_eq!(can_read_audit(&there, &member.token, &org), 200);
    edit(&there, &[]);
    // Without organization:read it sees nothing of the organization.
    assert_eq!(can_read_audit(here, &member.token, &org), 403);
    let details = here.get(
        &format!("/customer/details?organizationid={org}"),
        Some(&member.token),
    );
    assert_eq!(details.status, 403, "{}", details.body);
}

fn answers_name_the_custom_role_wherever_it_is_held(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let role = create_role(
        &app,
        &owner,
        &org,
        "lead",
        &["organization:read", "members:read"],
    );
    let roleid = id(&role, "roleid");
    let invite = app.invite(&owner, &org, "lead@example.com", "lead");
    assert_eq!(invite["role"], "lead");
    assert_eq!(invite["roleid"], roleid.as_str());
    let plain = app.invite(&owner, &org, "plain@example.com", "technical");
    assert_eq!(plain["role"], "technical");
    assert!(plain.get("roleid").is_none(), "{plain}");
    let mail = app.mail.wait_for("lead@example.com");
    assert!(mail.decoded().contains("as lead"), "{}", mail.decoded());

    let token = mail.token("invite").expect("invite link");
    let accepted = app
        .post(
            "/invite/accept",
            None,
            json!({"token": token, "password": "correct horse battery"}),
        )
        .ok();
    assert_eq!(accepted.get("collaborator")["role"], "lead");
    assert_eq!(accepted.get("collaborator")["roleid"], roleid.as_str());
    assert_eq!(accepted.get("organization")["role"], "lead");
    let lead = accepted.get("login")["token"].as_str().unwrap().to_string();
    let list = |token: &str| {
        app.get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(token),
        )
        .ok()
        .get("collaborators")
        .as_array()
        .unwrap()
        .clone()
    };
    let row = |rows: Vec<Value>| {
        rows.into_iter()
            .find(|c| c["email"] == "lead@example.com")
            .expect("the lead")
    };
    assert_eq!(
        row(list(&lead))["role"],
        "lead",
        "members:read lets it list"
    );
    // A rename shows at once, in the list as everywhere.
    app.post(
        "/customer/editrole",
        Some(&owner),
        json!({"roleid": roleid, "name": "team-lead"}),
    )
    .ok();
    let after = row(list(&owner));
    assert_eq!(after["role"], "team-lead");
    assert_eq!(after["roleid"], roleid.as_str());
    let orgs = app.get("/user/listorganizations", Some(&lead)).ok();
    assert_eq!(orgs.get("organizations")[0]["role"], "team-lead");
    let listed = app
        .get(
            &format!("/invite/list?organizationid={org}&state=accepted"),
            Some(&owner),
        )
        .ok();
    assert_eq!(listed.get("invites")[0]["role"], "team-lead");
    // Back to a system role: no roleid.
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": after["collaboratorid"], "role": "collaborator"}),
    )
    .ok();
    let back = row(list(&owner));
    assert_eq!(back["role"], "collaborator");
    assert!(back.get("roleid").is_none(), "{back}");
}

fn a_demotion_revokes_invites_beyond_the_new_permissions(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    create_role(
        &app,
        &owner,
        &org,
        "inviter",
        &["organization:read", "members:read", "members:invite"],
    );
    create_role(
        &app,
        &owner,
        &org,
        "reader",
        &["organization:read", "members:read"],
    );
    create_role(
        &app,
        &owner,
        &org,
        "quiet",
        &["organization:read", "members:invite"],
    );
    let inviter = app.member(&owner, &org, "inviter@example.com", "inviter");
    let wide = app.invite(&inviter.token, &org, "wide@example.com", "reader");
    let narrow = app.invite(&inviter.token, &org, "narrow@example.com", "collaborator");
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": inviter.collaboratorid, "role": "quiet"}),
    )
    .ok();
    let state = |invite: &Value| invite_state(&app, &owner, &org, invite);
    assert_eq!(
        state(&wide),
        "revoked",
        "members:read is beyond the quiet role"
    );
    assert_eq!(state(&narrow), "pending");
    let revoked = events(&app, &owner, &org, "invite.revoked");
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["details"]["reason"], "inviter_demoted");
}
