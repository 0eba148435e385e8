//! SCIM 2.0 (API.md §11): who may call, SCIM's own wire (media type, error
//! body, 404 under /scim/v2), the discovery documents; and suspension, the
//! membership state SCIM's `active: false` sets, as every other call sees it.

use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{sql, Backend, Resp, TestApp};

on_both_backends!(
    only_a_bound_key_of_a_member_who_manages_members_and_teams_may_call,
    the_discovery_documents_say_what_is_supported,
    a_suspended_membership_is_no_membership_for_any_call,
    users_are_the_members_read_and_listed_as_directories_ask,
);

const SCIM: &str = "application/scim+json";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A SCIM error's status and `scimType`, checked to be one.
fn scim_error(r: &Resp) -> (u16, String) {
    assert_eq!(r.header("content-type"), Some(SCIM), "{}", r.body);
    assert_eq!(r.body["schemas"], json!([ERROR]), "{}", r.body);
    assert_eq!(r.body["status"], r.status.to_string(), "{}", r.body);
    assert!(r.body["detail"].is_string(), "{}", r.body);
    assert!(
        r.body.get("response").is_none(),
        "never the envelope: {}",
        r.body
    );
    (
        r.status,
        r.body["scimType"].as_str().unwrap_or("").to_string(),
    )
}

/// An owner, their organization and a key bound to it.
fn provisioned(app: &TestApp) -> (String, String, String) {
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let key = app.api_key(&owner, json!({"name": "directory", "organizationid": org}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    (owner, org, key)
}

fn only_a_bound_key_of_a_member_who_manages_members_and_teams_may_call(backend: Backend) {
    let app = TestApp::start(backend);
    let (owner, org, key) = provisioned(&app);
    let config = "/scim/v2/ServiceProviderConfig";
    let r = app.get(config, Some(&key));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some(SCIM));

    assert_eq!(scim_error(&app.get(config, None)).0, 401);
    assert_eq!(scim_error(&app.get(config, Some("not-a-token"))).0, 401);
    // A session, and a key of no organization: 403.
    assert_eq!(scim_error(&app.get(config, Some(&owner))).0, 403);
    let unbound = app.api_key(&owner, json!({"name": "any"}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(scim_error(&app.get(config, Some(&unbound))).0, 403);
    // A bound key of someone who may not manage members and teams: 403,
    // judged at every call (a demotion counts at once).
    let tech = app.member(&owner, &org, "tech@example.com", "technical");
    let tech_key = app.api_key(&tech.token, json!({"name": "t", "organizationid": org}))["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(scim_error(&app.get(config, Some(&tech_key))).0, 403);
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let admin_key = app.api_key(&admin.token, json!({"name": "a", "organizationid": org}))
        ["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.get(config, Some(&admin_key)).status, 200);
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": admin.collaboratorid, "role": "technical"}),
    )
    .ok();
    assert_eq!(scim_error(&app.get(config, Some(&admin_key))).0, 403);
    // Unknown paths under /scim/v2 are SCIM's 404; a method a path does
    // not take, SCIM's 405.
    assert_eq!(scim_error(&app.get("/scim/v2/Nothing", Some(&key))).0, 404);
    assert_eq!(
        scim_error(&app.get("/scim/v2/ResourceTypes/Nothing", Some(&key))).0,
        404
    );
    let r = app.post(config, Some(&key), json!({}));
    assert_eq!(scim_error(&r).0, 405);
}

fn the_discovery_documents_say_what_is_supported(backend: Backend) {
    let app = TestApp::start(backend);
    let (_, _, key) = provisioned(&app);
    let config = app.get("/scim/v2/ServiceProviderConfig", Some(&key)).body;
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["filter"]["supported"], true);
    assert_eq!(config["filter"]["maxResults"], 200);
    assert_eq!(config["etag"]["supported"], true);
    for unsupported in ["bulk", "sort", "changePassword"] {
        assert_eq!(config[unsupported]["supported"], false, "{unsupported}");
    }
    assert_eq!(
        config["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );

    let types = app.get("/scim/v2/ResourceTypes", Some(&key)).body;
    assert_eq!(types["totalResults"], 2);
    let names: Vec<&str> = types["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["User", "Group"]);
    let user = app.get("/scim/v2/ResourceTypes/User", Some(&key)).body;
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(user["schema"], "urn:ietf:params:scim:schemas:core:2.0:User");

    let schemas = app.get("/scim/v2/Schemas", Some(&key)).body;
    assert_eq!(schemas["totalResults"], 2);
    let user_schema = app
        .get(
            "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            Some(&key),
        )
        .body;
    let attribute = |name: &str| -> Value {
        user_schema["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {user_schema}"))
    };
    assert_eq!(attribute("userName")["required"], true);
    assert_eq!(attribute("userName")["uniqueness"], "server");
    assert_eq!(attribute("emails")["multiValued"], true);
    assert_eq!(attribute("active")["type"], "boolean");
    let unknown = app.get("/scim/v2/Schemas/urn:example:nothing", Some(&key));
    assert_eq!(scim_error(&unknown).0, 404);
}

/// Suspension as every other call sees it: the membership, its grants and
/// teams stay, and the person is a non-member (404) at once; lifted, all is
/// back. (Set here as `PATCH /Users/{id}` with `active: false` sets it.)
fn a_suspended_membership_is_no_membership_for_any_call(backend: Backend) {
    let app = TestApp::start(backend);
    let (owner, org, _) = provisioned(&app);
    let project = app.project(&owner, &org, "Web");
    let bea = app.member(&owner, &org, "bea@example.com", "admin");
    let details = format!("/customer/details?organizationid={org}");
    let list = format!("/customer/listcollaborators?organizationid={org}");
    app.get(&details, Some(&bea.token)).ok();
    app.get(&list, Some(&bea.token)).ok();
    let suspend = |at: &str| {
        sql(
            &app,
            &format!(
                "UPDATE memberships SET suspended_at = {at} WHERE id = '{}'",
                bea.collaboratorid
            ),
        )
    };
    suspend("1");
    app.get(&details, Some(&bea.token)).err(404, "not_found");
    app.get(&list, Some(&bea.token)).err(404, "not_found");
    app.post(
        "/customer/createproject",
        Some(&bea.token),
        json!({"organizationid": org, "name": "Nope"}),
    )
    .err(404, "not_found");
    let listed = app.get("/user/listorganizations", Some(&bea.token)).ok();
    assert_eq!(listed.get("organizations").as_array().unwrap().len(), 0);
    // Nor a member to the permission checks of the provider's services.
    let check = app
        .post(
            "/access/check",
            Some(&crate::checks::service_key(&app, "scim")),
            json!({"organizationid": org, "email": "bea@example.com",
                   "permission": "projects:read"}),
        )
        .ok();
    assert_eq!(check.get("check")["allowed"], false);
    assert_eq!(check.get("check")["reason"], "not_member");
    let _ = project;

    suspend("NULL");
    app.get(&details, Some(&bea.token)).ok();
    let check = app
        .post(
            "/access/check",
            Some(&crate::checks::service_key(&app, "scim2")),
            json!({"organizationid": org, "email": "bea@example.com",
                   "permission": "projects:read"}),
        )
        .ok();
    assert_eq!(check.get("check")["allowed"], true);
}

fn users_are_the_members_read_and_listed_as_directories_ask(backend: Backend) {
    let app = TestApp::start(backend);
    let (owner, org, key) = provisioned(&app);
    let ann = app.member(&owner, &org, "Ann@Example.com", "technical");
    let bob = app.member(&owner, &org, "bob@example.com", "collaborator");
    let team = app
        .post(
            "/customer/createteam",
            Some(&owner),
            json!({"organizationid": org, "name": "Ops"}),
        )
        .ok()
        .get("team")["teamid"]
        .clone();
    app.post(
        "/customer/addteammember",
        Some(&owner),
        json!({"teamid": team, "collaboratorid": ann.collaboratorid}),
    )
    .ok();

    // Okta's connection test.
    let r = app.get("/scim/v2/Users?startIndex=1&count=2", Some(&key));
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some(SCIM)),
        "{}",
        r.body
    );
    assert_eq!(
        r.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(r.body["totalResults"], 3);
    assert_eq!(r.body["itemsPerPage"], 2);
    assert_eq!(r.body["startIndex"], 1);
    let rest = app
        .get("/scim/v2/Users?startIndex=3&count=2", Some(&key))
        .body;
    assert_eq!(rest["itemsPerPage"], 1);
    assert_eq!(rest["Resources"][0]["userName"], "bob@example.com");

    // The lookup by userName, regardless of case; a zero-hit is 200.
    let found = app
        .get(
            "/scim/v2/Users?filter=userName%20eq%20%22ANN@example.COM%22",
            Some(&key),
        )
        .body;
    assert_eq!(found["totalResults"], 1, "{found}");
    let user = &found["Resources"][0];
    assert_eq!(user["id"], ann.collaboratorid);
    assert_eq!(user["userName"], "ann@example.com");
    assert_eq!(user["active"], true);
    assert_eq!(user["emails"][0]["value"], "ann@example.com");
    assert_eq!(user["groups"][0]["value"], team);
    assert_eq!(user["groups"][0]["display"], "Ops");
    assert_eq!(user["meta"]["resourceType"], "User");
    assert!(user["meta"]["location"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/scim/v2/Users/{}", ann.collaboratorid)));
    let none = app
        .get(
            "/scim/v2/Users?filter=userName%20eq%20%22nobody@example.com%22",
            Some(&key),
        )
        .body;
    assert_eq!(
        (none["totalResults"].clone(), none["Resources"].clone()),
        (json!(0), json!([]))
    );
    // Entra's lookups: by a work address; excludedAttributes.
    let work = app
        .get(
            "/scim/v2/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22bob@example.com%22&excludedAttributes=groups",
            Some(&key),
        )
        .body;
    assert_eq!(work["totalResults"], 1, "{work}");
    assert!(work["Resources"][0].get("groups").is_none());
    let only = app
        .get("/scim/v2/Users?attributes=userName&count=1", Some(&key))
        .body;
    let keys: Vec<&String> = only["Resources"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "schemas, id, meta, userName: {keys:?}");
    // What collabd does not filter on: 400 invalidFilter.
    let bad = app.get("/scim/v2/Users?filter=title%20eq%20%22x%22", Some(&key));
    assert_eq!(scim_error(&bad), (400, "invalidFilter".to_string()));
    let bad = app.get("/scim/v2/Users?filter=userName%20co%20%22x%22", Some(&key));
    assert_eq!(scim_error(&bad), (400, "invalidFilter".to_string()));

    // One, with its version as ETag; suspended, still there, inactive.
    let one = app.get(
        &format!("/scim/v2/Users/{}", bob.collaboratorid),
        Some(&key),
    );
    assert_eq!(one.status, 200);
    assert_eq!(one.header("etag"), one.body["meta"]["version"].as_str());
    sql(
        &app,
        &format!(
            "UPDATE memberships SET suspended_at = 1 WHERE id = '{}'",
            bob.collaboratorid
        ),
    );
    let suspended = app.get(
        &format!("/scim/v2/Users/{}", bob.collaboratorid),
        Some(&key),
    );
    assert_eq!(suspended.body["active"], false);
    assert_ne!(suspended.header("etag"), one.header("etag"));
    let inactive = app
        .get("/scim/v2/Users?filter=active%20eq%20false", Some(&key))
        .body;
    assert_eq!(inactive["totalResults"], 1);

    // Another organization's member is not here.
    let other_owner = app.user("other@example.com");
    let other = app.organization(&other_owner, "Other");
    let stranger = app.member(&other_owner, &other, "stranger@example.com", "admin");
    let r = app.get(
        &format!("/scim/v2/Users/{}", stranger.collaboratorid),
        Some(&key),
    );
    assert_eq!(scim_error(&r).0, 404);
    let r = app.get(
        "/scim/v2/Users?filter=userName%20eq%20%22stranger@example.com%22",
        Some(&key),
    );
    assert_eq!(r.body["totalResults"], 0);
}
