//! `customer/delete`: an owner deletes an organization and all it holds,
//! guarded by its name; members are told; every id of it answers 404.

use serde_json::json;

use crate::on_both_backends;
use crate::support::{sql, sql_strings, Backend, Issuer, TestApp};

on_both_backends!(an_organization_deleted_is_gone_with_all_it_holds);

fn an_organization_deleted_is_gone_with_all_it_holds(backend: Backend) {
    // SSO's issuer is served here, on 127.0.0.1.
    let app = TestApp::start_with(backend, |c| c.webhook_allow_private = true);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme <Inc>");
    let keep = app.organization(&owner, "Kept");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let project = app.project(&owner, &org, "web");
    let invite = app.invite(&owner, &org, "later@example.com", "technical");
    let inviteid = invite["inviteid"].as_str().unwrap().to_string();
    let key = app.api_key(&owner, json!({"name": "acme", "organizationid": org}));
    let key = key["secret"].as_str().unwrap().to_string();
    let other_key = app.api_key(&owner, json!({"name": "any"}));
    let other_key = other_key["secret"].as_str().unwrap().to_string();
    // A webhook with a delivery waiting (its target never answers: a
    // documentation address), a domain claimed, and someone who left.
    let webhook = app
        .post(
            "/customer/createwebhook",
            Some(&owner),
            json!({"organizationid": org, "url": "https://93.184.216.34/h", "events": ["*"]}),
        )
        .ok();
    let webhook = webhook.get("webhook")["webhookid"]
        .as_str()
        .unwrap()
        .to_string();
    let domain = app
        .post(
            "/customer/adddomain",
            Some(&owner),
            json!({"organizationid": org, "domain": "acme.example", "verificationemail": "it@acme.example"}),
        )
        .ok();
    let domain = domain.get("domain")["domainid"]
        .as_str()
        .unwrap()
        .to_string();
    // An SSO connection with a sign-in begun, and a session its SSO made
    // (as the callback records one).
    let issuer = Issuer::start(&["rsa-1"]);
    app.post(
        "/customer/setsso",
        Some(&owner),
        json!({"organizationid": org, "issuer": issuer.url, "clientid": "c", "clientsecret": "s"}),
    )
    .ok();
    let base = app.server.as_ref().unwrap().base.clone();
    let begun = ureq::AgentBuilder::new()
        .redirects(0)
        .build()
        .get(&format!("{base}/sso/{org}"))
        .call()
        .expect("302");
    assert_eq!(begun.status(), 302);
    sql(
        &app,
        &format!(
            "UPDATE sessions SET method = 'sso', sso_organization_id = '{org}' \
             WHERE user_id = (SELECT user_id FROM memberships WHERE id = '{}')",
            admin.collaboratorid
        ),
    );
    let leaver = app.member(&owner, &org, "leaver@example.com", "collaborator");
    app.post(
        "/customer/removecollaborator",
        Some(&leaver.token),
        json!({"collaboratorid": leaver.collaboratorid}),
    )
    .ok();
    let delete = |token: &str, name: &str| {
        app.post(
            "/customer/delete",
            Some(token),
            json!({"organizationid": org, "name": name}),
        )
    };
    let queued = sql_strings(
        &app,
        &format!("SELECT id AS value FROM webhook_deliveries WHERE webhook_id = '{webhook}'"),
    );
    assert!(
        !queued.is_empty(),
        "the organization's events were queued for its webhook"
    );
    delete(&admin.token, "Acme <Inc>").err(403, "forbidden");
    let r = delete(&owner, "Acme").err(422, "validation_failed");
    assert!(r.body["response"]["error"]["fields"]["name"].is_array());
    // The lists are rendered (and kept) before the deletion.
    app.get(
        &format!("/customer/listcollaborators?organizationid={org}"),
        Some(&owner),
    )
    .ok();
    delete(&owner, " Acme <Inc> ").ok();

    // Members are told (the HTML part escaped).
    for email in ["owner@example.com", "admin@example.com"] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mail = loop {
            let found = app.mail.messages().into_iter().find(|m| {
                m.to.iter().any(|t| t.contains(email)) && m.subject().contains("was deleted")
            });
            if let Some(mail) = found {
                break mail;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no deletion mail to {email}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let text = mail.decoded();
        assert!(
            text.contains("deleted the organization Acme <Inc>"),
            "{text}"
        );
        assert!(text.contains("Acme &lt;Inc&gt;"), "{text}");
    }
    // Every id of it answers 404.
    let org_calls = [
        "/customer/details",
        "/customer/listcollaborators",
        "/customer/listprojects",
        "/customer/listauditevents",
        "/invite/list",
    ];
    for path in org_calls {
        app.get(&format!("{path}?organizationid={org}"), Some(&owner))
            .err(404, "not_found");
    }
    app.post(
        "/customer/editproject",
        Some(&owner),
        json!({"organizationid": org, "projectid": project, "name": "x"}),
    )
    .err(404, "not_found");
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": admin.collaboratorid, "role": "technical"}),
    )
    .err(404, "not_found");
    app.post(
        "/invite/revoke",
        Some(&owner),
        json!({"inviteid": inviteid}),
    )
    .err(404, "not_found");
    app.get(
        &format!("/customer/listwebhookdeliveries?webhookid={webhook}"),
        Some(&owner),
    )
    .err(404, "not_found");
    app.post(
        "/customer/removedomain",
        Some(&owner),
        json!({"domainid": domain}),
    )
    .err(404, "not_found");
    for path in ["/customer/listwebhooks", "/customer/listdomains"] {
        app.get(&format!("{path}?organizationid={org}"), Some(&owner))
            .err(404, "not_found");
    }
    // Its bound key is gone; others stay, as does the owner's other organization.
    app.get("/user/details", Some(&key))
        .err(401, "unauthenticated");
    app.get("/user/details", Some(&other_key)).ok();
    let mine = app.get("/user/listorganizations", Some(&owner)).ok();
    let ids: Vec<&str> = mine
        .get("organizations")
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["organizationid"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [keep.as_str()]);
    let admins = app.get("/user/listorganizations", Some(&admin.token)).ok();
    assert_eq!(admins.get("organizations").as_array().unwrap().len(), 0);
    // Nothing of it is left in the database.
    for table in [
        "projects",
        "memberships",
        "invites",
        "audit_events",
        "roster_versions",
        "webhooks",
        "domains",
        "departures",
        "sso_connections",
        "sso_flows",
    ] {
        let left = sql_strings(
            &app,
            &format!(
                "SELECT organization_id AS value FROM {table} WHERE organization_id = '{org}'"
            ),
        );
        assert!(
            left.is_empty(),
            "{table} still holds rows of the deleted organization"
        );
    }
    let deliveries = sql_strings(
        &app,
        &format!("SELECT id AS value FROM webhook_deliveries WHERE webhook_id = '{webhook}'"),
    );
    assert!(deliveries.is_empty(), "its webhook deliveries are gone");
    // A session its SSO made outlives it, as an ordinary session.
    let sso_sessions = sql_strings(
        &app,
        "SELECT method AS value FROM sessions WHERE method = 'sso' AND sso_organization_id IS NULL",
    );
    assert!(!sso_sessions.is_empty());
    app.get("/user/details", Some(&admin.token)).ok();
}
