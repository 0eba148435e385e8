//! SCIM 2.0 (API.md §11): who may call, SCIM's own wire (media type, error
//! body, 404 under /scim/v2), the discovery documents; and suspension, the
//! membership state SCIM's `active: false` sets, as every other call sees it.

use serde_json::{json, Value};

use crate::customer::roles::events as audit;
use crate::on_both_backends;
use crate::support::{sql, Backend, Client, Process, Resp, TestApp};

on_both_backends!(
    only_a_bound_key_of_a_member_who_manages_members_and_teams_may_call,
    the_discovery_documents_say_what_is_supported,
    a_suspended_membership_is_no_membership_for_any_call,
    users_are_the_members_read_and_listed_as_directories_ask,
    users_made_changed_suspended_and_deleted_as_okta_and_entra_do,
    groups_are_the_teams_kept_as_okta_and_entra_do,
    a_page_counts_members_made_and_removed_by_any_process,
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
    let group = app.get("/scim/v2/ResourceTypes/Group", Some(&key)).body;
    assert_eq!(group["endpoint"], "/Groups");
    assert_eq!(
        group["schema"],
        "urn:ietf:params:scim:schemas:core:2.0:Group"
    );

    let schemas = app.get("/scim/v2/Schemas", Some(&key)).body;
    assert_eq!(schemas["totalResults"], 2);
    let group_schema = app
        .get(
            "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group",
            Some(&key),
        )
        .body;
    let group_attributes: Vec<&str> = group_schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(group_attributes, ["displayName", "members"]);
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

fn scim_send(app: &TestApp, method: &str, path: &str, key: &str, body: Value) -> Resp {
    app.client.request(
        method,
        path,
        &[
            ("authorization", &format!("Bearer {key}")),
            ("content-type", SCIM),
        ],
        body.to_string().as_bytes(),
    )
}

fn scim_send_with(
    app: &TestApp,
    method: &str,
    path: &str,
    key: &str,
    header: (&str, &str),
    body: Value,
) -> Resp {
    app.client.request(
        method,
        path,
        &[
            ("authorization", &format!("Bearer {key}")),
            ("content-type", SCIM),
            header,
        ],
        body.to_string().as_bytes(),
    )
}

fn users_made_changed_suspended_and_deleted_as_okta_and_entra_do(backend: Backend) {
    let app = TestApp::start(backend);
    let (owner, org, key) = provisioned(&app);
    // Okta's create.
    let made = scim_send(
        &app,
        "POST",
        "/scim/v2/Users",
        &key,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
            "userName": "Isaac.Brock@Example.com",
            "name": {"givenName": "Isaac", "familyName": "Brock"},
            "emails": [{"primary": true, "value": "isaac.brock@example.com", "type": "work"}],
            "displayName": "Isaac Brock",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "active": true
        }),
    );
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.header("content-type"), Some(SCIM));
    let id = made.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        made.header("location"),
        made.body["meta"]["location"].as_str()
    );
    assert_eq!(made.header("etag"), made.body["meta"]["version"].as_str());
    assert_eq!(
        made.body["userName"], "Isaac.Brock@Example.com",
        "kept as written"
    );
    assert_eq!(made.body["externalId"], "00ujl29u0le5T6Aj10h7");
    assert_eq!(made.body["name"]["familyName"], "Brock");
    let joined = audit(&app, &owner, &org, "collaborator.joined");
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0]["details"]["via"], "scim");
    let listed = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let member = listed
        .get("collaborators")
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["collaboratorid"] == id)
        .cloned()
        .expect("a member");
    assert_eq!(member["email"], "isaac.brock@example.com");
    assert_eq!(member["role"], "collaborator");
    // userName unique regardless of case; an address is needed.
    let again = scim_send(
        &app,
        "POST",
        "/scim/v2/Users",
        &key,
        json!({"userName": "isaac.brock@example.COM", "emails": [{"value": "other@example.com"}]}),
    );
    assert_eq!(scim_error(&again), (409, "uniqueness".to_string()));
    let nameless = scim_send(
        &app,
        "POST",
        "/scim/v2/Users",
        &key,
        json!({"userName": "no-address"}),
    );
    assert_eq!(scim_error(&nameless), (400, "invalidValue".to_string()));
    let garbage = app.client.request(
        "POST",
        "/scim/v2/Users",
        &[
            ("authorization", &format!("Bearer {key}")),
            ("content-type", SCIM),
        ],
        b"{not json",
    );
    assert_eq!(scim_error(&garbage), (400, "invalidSyntax".to_string()));

    // An existing account provisioned: it is the person's, and its session
    // sees the suspension at once.
    let dan = app.user("dan@example.com");
    let dan_user = scim_send(
        &app,
        "POST",
        "/scim/v2/Users",
        &key,
        json!({"userName": "DAN", "emails": [{"value": "Dan@Example.com", "type": "work"}]}),
    );
    assert_eq!(dan_user.status, 201, "{}", dan_user.body);
    let dan_id = dan_user.body["id"].as_str().unwrap().to_string();
    let details = format!("/customer/details?organizationid={org}");
    app.get(&details, Some(&dan)).ok();
    // Okta's deactivation.
    let off = scim_send(
        &app,
        "PATCH",
        &format!("/scim/v2/Users/{dan_id}"),
        &key,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": false}}]
        }),
    );
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(off.body["active"], false);
    app.get(&details, Some(&dan)).err(404, "not_found");
    let still = app.get(&format!("/scim/v2/Users/{dan_id}"), Some(&key));
    assert_eq!((still.status, &still.body["active"]), (200, &json!(false)));
    // Entra's reactivation, with its strings and capitals, and a new work
    // address in the view (never the account's).
    let on = scim_send(
        &app,
        "PATCH",
        &format!("/scim/v2/Users/{dan_id}"),
        &key,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "active", "value": "True"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "daniel@example.com"},
                {"op": "Add", "path": "name.givenName", "value": "Daniel"}
            ]
        }),
    );
    assert_eq!(on.status, 200, "{}", on.body);
    assert_eq!(on.body["active"], true);
    assert_eq!(on.body["emails"][0]["value"], "daniel@example.com");
    assert_eq!(on.body["name"]["givenName"], "Daniel");
    app.get(&details, Some(&dan)).ok();
    assert_eq!(
        app.get("/user/details", Some(&dan)).ok().get("user")["email"],
        "dan@example.com"
    );
    assert_eq!(audit(&app, &owner, &org, "collaborator.suspended").len(), 1);
    assert_eq!(
        audit(&app, &owner, &org, "collaborator.reactivated").len(),
        1
    );

    // PUT replaces the view.
    let put = scim_send(
        &app,
        "PUT",
        &format!("/scim/v2/Users/{dan_id}"),
        &key,
        json!({"userName": "dan.2", "emails": [{"value": "dan@example.com"}], "active": true}),
    );
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["userName"], "dan.2");
    assert!(put.body.get("name").is_none());
    // A changed view is an edit of the collaborator, as webhooks see it; a
    // PUT saying the same again changes nothing, its version included.
    let edits = audit(&app, &owner, &org, "collaborator.edited").len();
    assert!(edits >= 2, "the PATCH and the PUT: {edits}");
    let again = scim_send(
        &app,
        "PUT",
        &format!("/scim/v2/Users/{dan_id}"),
        &key,
        json!({"userName": "dan.2", "emails": [{"value": "dan@example.com"}], "active": true}),
    );
    assert_eq!(again.body["meta"]["version"], put.body["meta"]["version"]);
    assert_eq!(
        audit(&app, &owner, &org, "collaborator.edited").len(),
        edits
    );
    // Entra's lookup by externalId.
    let by_external = app
        .get(
            "/scim/v2/Users?filter=externalId%20eq%20%2200ujl29u0le5T6Aj10h7%22",
            Some(&key),
        )
        .body;
    assert_eq!(by_external["totalResults"], 1, "{by_external}");
    assert_eq!(by_external["Resources"][0]["id"], id);

    // ETags: a stale If-Match changes nothing (412); the current one
    // passes; If-None-Match with the current version is 304.
    let stale = scim_send_with(
        &app,
        "PATCH",
        &format!("/scim/v2/Users/{dan_id}"),
        &key,
        ("if-match", on.body["meta"]["version"].as_str().unwrap()),
        json!({"Operations": [{"op": "replace", "path": "displayName", "value": "X"}]}),
    );
    assert_eq!(scim_error(&stale).0, 412);
    let now = put.body["meta"]["version"].as_str().unwrap().to_string();
    let fresh = scim_send_with(
        &app,
        "PATCH",
        &format!("/scim/v2/Users/{dan_id}"),
        &key,
        ("if-match", &now),
        json!({"Operations": [{"op": "replace", "path": "displayName", "value": "Dan"}]}),
    );
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    let version = fresh.header("etag").unwrap().to_string();
    let same = app.client.request(
        "GET",
        &format!("/scim/v2/Users/{dan_id}"),
        &[
            ("authorization", &format!("Bearer {key}")),
            ("if-none-match", &version),
        ],
        b"",
    );
    assert_eq!(same.status, 304);
    assert_eq!(same.header("etag"), Some(version.as_str()));

    // A member is active or suspended, never neither: removing active is
    // refused, and nothing changes.
    let removed = scim_send(
        &app,
        "PATCH",
        &format!("/scim/v2/Users/{dan_id}"),
        &key,
        json!({"Operations": [{"op": "remove", "path": "active"}]}),
    );
    assert_eq!(scim_error(&removed), (400, "invalidValue".to_string()));
    // Searching by POST is not done (501, RFC 7644 §3.4.3); lists are GETs.
    let search = scim_send(
        &app,
        "POST",
        "/scim/v2/.search",
        &key,
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}),
    );
    assert_eq!(scim_error(&search).0, 501);

    // The last owner can be neither suspended nor deleted.
    let owner_id = app.first_collaborator(&owner, &org);
    let r = scim_send(
        &app,
        "PATCH",
        &format!("/scim/v2/Users/{owner_id}"),
        &key,
        json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}),
    );
    assert_eq!(scim_error(&r).0, 409);
    let r = scim_send(
        &app,
        "DELETE",
        &format!("/scim/v2/Users/{owner_id}"),
        &key,
        json!({}),
    );
    assert_eq!(scim_error(&r).0, 409);

    // Delete: gone, the departure recorded.
    let gone = scim_send(
        &app,
        "DELETE",
        &format!("/scim/v2/Users/{dan_id}"),
        &key,
        json!({}),
    );
    assert_eq!(gone.status, 204, "{}", gone.body);
    assert_eq!(
        scim_error(&app.get(&format!("/scim/v2/Users/{dan_id}"), Some(&key))).0,
        404
    );
    app.get(&details, Some(&dan)).err(404, "not_found");
    assert_eq!(audit(&app, &owner, &org, "collaborator.removed").len(), 1);
}

/// `filter`, URL-encoded for a query string.
fn filtered(resource: &str, filter: &str, more: &str) -> String {
    let encoded: String = filter
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/scim/v2/{resource}?filter={encoded}{more}")
}

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .unwrap_or_else(|| panic!("members in {group}"))
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn groups_are_the_teams_kept_as_okta_and_entra_do(backend: Backend) {
    let app = TestApp::start(backend);
    let (owner, org, key) = provisioned(&app);
    let user = |name: &str| -> String {
        let r = scim_send(
            &app,
            "POST",
            "/scim/v2/Users",
            &key,
            json!({"userName": name, "displayName": name.to_uppercase(),
                   "emails": [{"value": format!("{name}@example.com"), "primary": true}]}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    };
    let (ann, bob) = (user("ann"), user("bob"));

    // Okta's group push.
    let made = scim_send(
        &app,
        "POST",
        "/scim/v2/Groups",
        &key,
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
               "displayName": "Engineering", "externalId": "00g1emaKYZTWRYYRRTSK",
               "members": [{"value": ann, "display": "ann"}]}),
    );
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.header("content-type"), Some(SCIM));
    assert_eq!(made.header("etag"), made.body["meta"]["version"].as_str());
    assert_eq!(
        made.header("location"),
        made.body["meta"]["location"].as_str()
    );
    let gid = made.body["id"].as_str().unwrap().to_string();
    assert_eq!(made.body["displayName"], "Engineering");
    assert_eq!(made.body["externalId"], "00g1emaKYZTWRYYRRTSK");
    assert_eq!(made.body["members"][0]["value"], ann.as_str());
    assert_eq!(
        made.body["members"][0]["display"], "ann",
        "the directory's name for the member, as written"
    );
    assert_eq!(made.body["meta"]["resourceType"], "Group");
    // It is a team of the organization, with its audit events.
    let teams = app
        .get(
            &format!("/customer/listteams?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    let team = &teams.get("teams")[0];
    assert_eq!(
        (team["teamid"].as_str(), team["name"].as_str()),
        (Some(gid.as_str()), Some("Engineering"))
    );
    assert_eq!(team["membercount"], 1);
    assert_eq!(audit(&app, &owner, &org, "team.created").len(), 1);
    assert_eq!(audit(&app, &owner, &org, "team.member_added").len(), 1);
    let ann_user = app.get(&format!("/scim/v2/Users/{ann}"), Some(&key)).body;
    assert_eq!(ann_user["groups"][0]["value"], gid.as_str());

    // Refusals, as SCIM errors.
    let taken = scim_send(
        &app,
        "POST",
        "/scim/v2/Groups",
        &key,
        json!({"displayName": "Engineering"}),
    );
    assert_eq!(scim_error(&taken), (409, "uniqueness".to_string()));
    let stranger = scim_send(
        &app,
        "POST",
        "/scim/v2/Groups",
        &key,
        json!({"displayName": "Other", "members": [{"value": "no-such-user"}]}),
    );
    assert_eq!(scim_error(&stranger), (400, "invalidValue".to_string()));
    let nameless = scim_send(
        &app,
        "POST",
        "/scim/v2/Groups",
        &key,
        json!({"members": []}),
    );
    assert_eq!(scim_error(&nameless), (400, "invalidValue".to_string()));
    assert_eq!(audit(&app, &owner, &org, "team.created").len(), 1);

    // Entra's lookup by displayName (regardless of case) without members;
    // a zero-hit is 200; by externalId; by a member.
    let found = app
        .get(
            &filtered(
                "Groups",
                "displayName eq \"engineering\"",
                "&excludedAttributes=members",
            ),
            Some(&key),
        )
        .body;
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["Resources"][0]["id"], gid.as_str());
    assert!(found["Resources"][0].get("members").is_none());
    let none = app
        .get(
            &filtered("Groups", "displayName eq \"Nobody\"", ""),
            Some(&key),
        )
        .body;
    assert_eq!(
        (none["totalResults"].clone(), none["Resources"].clone()),
        (json!(0), json!([]))
    );
    let by_external = app
        .get(
            &filtered("Groups", "externalId eq \"00g1emaKYZTWRYYRRTSK\"", ""),
            Some(&key),
        )
        .body;
    assert_eq!(by_external["totalResults"], 1);
    let by_member = app
        .get(
            &filtered("Groups", &format!("members.value eq \"{bob}\""), ""),
            Some(&key),
        )
        .body;
    assert_eq!(by_member["totalResults"], 0);
    let bad = app.get(&filtered("Groups", "description eq \"x\"", ""), Some(&key));
    assert_eq!(scim_error(&bad), (400, "invalidFilter".to_string()));

    // Entra's member add and remove; Okta's value-filtered remove.
    let path = format!("/scim/v2/Groups/{gid}");
    let patch = |ops: Value| {
        let r = scim_send(
            &app,
            "PATCH",
            &path,
            &key,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    };
    let both = patch(json!([{"op": "Add", "path": "members", "value": [{"value": bob}]}]));
    let mut expected = vec![ann.clone(), bob.clone()];
    expected.sort();
    assert_eq!(member_ids(&both), expected);
    let bob_shown = both["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["value"] == bob.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        bob_shown["display"], "BOB",
        "named by none: the User's name"
    );
    // One Group, shaped as asked, its version the whole one's.
    let shaped = app.get(&format!("{path}?excludedAttributes=members"), Some(&key));
    assert!(shaped.body.get("members").is_none(), "{}", shaped.body);
    assert_eq!(shaped.header("etag"), both["meta"]["version"].as_str());
    let only = app.get(&format!("{path}?attributes=displayName"), Some(&key));
    let keys: Vec<&String> = only.body.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "schemas, id, meta, displayName: {keys:?}");
    let listed = app
        .get(
            &format!("/customer/listteammembers?teamid={gid}"),
            Some(&owner),
        )
        .ok();
    assert_eq!(listed.get("collaborators").as_array().unwrap().len(), 2);
    let only_bob = patch(json!([{"op": "remove", "path": format!("members[value eq \"{ann}\"]")}]));
    assert_eq!(member_ids(&only_bob), [bob.as_str()]);
    let empty = patch(json!([{"op": "Remove", "path": "members", "value": [{"value": bob}]}]));
    assert_eq!(member_ids(&empty), Vec::<String>::new());
    assert_eq!(audit(&app, &owner, &org, "team.member_removed").len(), 2);
    let unknown = scim_send(
        &app,
        "PATCH",
        &path,
        &key,
        json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": "nobody"}]}]}),
    );
    assert_eq!(scim_error(&unknown), (400, "invalidValue".to_string()));
    // Okta's rename, path-less; Entra's replace of members.
    let renamed = patch(json!([
        {"op": "replace", "value": {"id": gid, "displayName": "Platform"}},
        {"op": "Replace", "path": "members", "value": [{"value": ann}, {"value": bob}]}
    ]));
    assert_eq!(renamed["displayName"], "Platform");
    assert_eq!(member_ids(&renamed), expected);
    assert_eq!(audit(&app, &owner, &org, "team.edited").len(), 1);
    // A suspended member stays in the team (Entra's deactivation: its
    // capitals and its string "False").
    let off = scim_send(
        &app,
        "PATCH",
        &format!("/scim/v2/Users/{bob}"),
        &key,
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
    );
    assert_eq!(off.body["active"], false, "{}", off.body);
    assert_eq!(off.status, 200, "{}", off.body);
    let group = app.get(&path, Some(&key));
    assert_eq!(member_ids(&group.body), expected);

    // PUT: name, externalId and members as the body says; ETags.
    let put = scim_send(
        &app,
        "PUT",
        &path,
        &key,
        json!({"displayName": "Platform", "members": [{"value": ann}]}),
    );
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(member_ids(&put.body), [ann.as_str()]);
    assert!(put.body.get("externalId").is_none());
    let stale = scim_send_with(
        &app,
        "PUT",
        &path,
        &key,
        ("if-match", group.body["meta"]["version"].as_str().unwrap()),
        json!({"displayName": "Stale"}),
    );
    assert_eq!(scim_error(&stale).0, 412);
    assert_eq!(app.get(&path, Some(&key)).body["displayName"], "Platform");
    let version = put.header("etag").unwrap().to_string();
    let same = app.client.request(
        "GET",
        &path,
        &[
            ("authorization", &format!("Bearer {key}")),
            ("if-none-match", &version),
        ],
        b"",
    );
    assert_eq!(same.status, 304);

    // A team carrying what the caller lacks is not theirs to change (403),
    // as through customer/editteam.
    app.post(
        "/customer/createrole",
        Some(&owner),
        json!({"organizationid": org, "name": "role-keepers", "permissions": ["roles:manage"]}),
    )
    .ok();
    let keepers = app
        .post(
            "/customer/createteam",
            Some(&owner),
            json!({"organizationid": org, "name": "Keepers", "role": "role-keepers"}),
        )
        .ok()
        .get("team")["teamid"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let admin_key = app.api_key(
        &admin.token,
        json!({"name": "directory", "organizationid": org}),
    )["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = scim_send(
        &app,
        "PATCH",
        &format!("/scim/v2/Groups/{keepers}"),
        &admin_key,
        json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": ann}]}]}),
    );
    assert_eq!(scim_error(&refused).0, 403);
    let listed = app
        .get(
            &filtered("Groups", "displayName eq \"keepers\"", ""),
            Some(&admin_key),
        )
        .body;
    assert_eq!(listed["totalResults"], 1, "reading is not changing");

    // Another organization's team is not here.
    let other_owner = app.user("other@example.com");
    let other = app.organization(&other_owner, "Other");
    let theirs = app
        .post(
            "/customer/createteam",
            Some(&other_owner),
            json!({"organizationid": other, "name": "Engineering"}),
        )
        .ok()
        .get("team")["teamid"]
        .as_str()
        .unwrap()
        .to_string();
    for method in ["GET", "PUT", "PATCH", "DELETE"] {
        let r = scim_send(
            &app,
            method,
            &format!("/scim/v2/Groups/{theirs}"),
            &key,
            json!({"displayName": "Mine", "Operations": []}),
        );
        assert_eq!(scim_error(&r).0, 404, "{method}");
    }

    // Delete: the team goes, its members stay.
    let gone = scim_send(&app, "DELETE", &path, &key, json!({}));
    assert_eq!(gone.status, 204, "{}", gone.body);
    assert_eq!(scim_error(&app.get(&path, Some(&key))).0, 404);
    assert_eq!(audit(&app, &owner, &org, "team.deleted").len(), 1);
    let ann_after = app.get(&format!("/scim/v2/Users/{ann}"), Some(&key));
    assert_eq!(ann_after.status, 200);
    assert_eq!(ann_after.body["groups"], json!([]));
}

/// A page's `totalResults` is kept between requests (per roster version):
/// members made and removed by another process, and a membership that
/// ends, count at once here.
fn a_page_counts_members_made_and_removed_by_any_process(backend: Backend) {
    let app = TestApp::start(backend);
    let (owner, org, key) = provisioned(&app);
    let total = || {
        let page = app.get("/scim/v2/Users?count=1", Some(&key)).body;
        assert_eq!(page["itemsPerPage"], 1, "{page}");
        page["totalResults"].as_u64().unwrap()
    };
    assert_eq!(total(), 1);
    assert_eq!(total(), 1, "the same twice");
    let other = Process::spawn(&[("COLLABD_DATABASE_URL", app.db.url.as_str())]);
    let elsewhere = Client::new(&other.base);
    let made = elsewhere.request(
        "POST",
        "/scim/v2/Users",
        &[
            ("authorization", &format!("Bearer {key}")),
            ("content-type", SCIM),
        ],
        json!({"userName": "eve@example.com"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(total(), 2, "made by the other process");
    let ivy = app.member(&owner, &org, "ivy@example.com", "collaborator");
    assert_eq!(total(), 3);
    // A membership that ends is no member from that instant, whatever was
    // counted before it ended.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    sql(
        &app,
        &format!(
            "UPDATE memberships SET expires_at = {} WHERE id = '{}'",
            now_ms + 3000,
            ivy.collaboratorid
        ),
    );
    assert_eq!(total(), 3, "still a member, counted");
    std::thread::sleep(std::time::Duration::from_millis(3200));
    assert_eq!(total(), 2, "ended");
    let id = made.body["id"].as_str().unwrap();
    let gone = elsewhere.request(
        "DELETE",
        &format!("/scim/v2/Users/{id}"),
        &[("authorization", &format!("Bearer {key}"))],
        b"",
    );
    assert_eq!(gone.status, 204, "{}", gone.body);
    assert_eq!(total(), 1, "removed by the other process");
}
