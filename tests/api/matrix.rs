//! The permission matrix of API.md §3, table-driven: every organization
//! endpoint called as owner, admin, technical, collaborator, a member of
//! another organization, and an anonymous caller; and as the holder of a
//! custom role (API.md §10), whose expected status each row's permission
//! need gives from the role's permissions; then every one as a service
//! key, and the permission checks as every kind of credential (API.md §10).

use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{Backend, Issuer, TestApp};

on_both_backends!(
    every_endpoint_as_every_role,
    a_collaborator_in_an_admin_team_is_an_admin,
    every_endpoint_as_a_service_key,
    the_checks_as_every_kind_of_credential,
);

/// The callers, in the order of each row's expectations.
const CALLERS: [&str; 6] = [
    "owner",
    "admin",
    "technical",
    "collaborator",
    "outsider",
    "anonymous",
];

struct Fixture<'a> {
    app: &'a TestApp,
    owner: String,
    org: String,
    project: String,
    counter: std::cell::Cell<u32>,
    /// An OpenID issuer the test serves, for the SSO rows.
    issuer: Issuer,
}

/// An app that may reach an issuer on 127.0.0.1 (the SSO rows).
fn matrix_app(backend: Backend) -> TestApp {
    TestApp::start_with(backend, |c| c.webhook_allow_private = true)
}

impl Fixture<'_> {
    fn fresh(&self, prefix: &str) -> String {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        format!("{prefix}{n}@example.com")
    }

    /// A new collaborator to edit or remove.
    fn victim(&self) -> String {
        let email = self.fresh("victim");
        self.app
            .member(&self.owner, &self.org, &email, "collaborator")
            .collaboratorid
    }

    /// A new pending invite sent by the owner.
    fn owners_invite(&self) -> String {
        let email = self.fresh("invitee");
        self.app
            .invite(&self.owner, &self.org, &email, "collaborator")["inviteid"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn fresh_project(&self) -> String {
        self.app.project(&self.owner, &self.org, "Disposable")
    }

    /// A new pending domain claim of the organization, made by the owner.
    fn domain(&self) -> String {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        self.app
            .post(
                "/customer/adddomain",
                Some(&self.owner),
                json!({"organizationid": self.org, "domain": format!("d{n}.example.org"),
                       "verificationemail": format!("it@d{n}.example.org")}),
            )
            .ok()
            .get("domain")["domainid"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A new custom role of the organization, made by the owner.
    fn role(&self) -> String {
        let name = self.role_name();
        self.app
            .post(
                "/customer/createrole",
                Some(&self.owner),
                json!({"organizationid": self.org, "name": name,
                       "permissions": ["organization:read"]}),
            )
            .ok()
            .get("role")["roleid"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A custom role name not taken yet.
    fn role_name(&self) -> String {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        format!("role-{n}")
    }

    /// What `customer/setsso` takes, for the test's issuer.
    fn sso_params(&self) -> Value {
        json!({"organizationid": self.org, "issuer": self.issuer.url, "clientid": "matrix",
               "clientsecret": "matrix secret"})
    }

    /// The organization connected to the test's issuer by the owner; names
    /// the organization.
    fn sso(&self) -> Value {
        self.app
            .post("/customer/setsso", Some(&self.owner), self.sso_params())
            .ok();
        json!({"organizationid": self.org})
    }

    /// A new webhook of the organization, made by the owner.
    fn webhook(&self) -> String {
        self.app
            .post(
                "/customer/createwebhook",
                Some(&self.owner),
                json!({"organizationid": self.org, "url": "https://93.184.216.34/hook",
                       "events": ["domain.verified"]}),
            )
            .ok()
            .get("webhook")["webhookid"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// Teams (API.md §10): a fresh team of the owner's, and one of the
/// organization's collaborators in it.
impl Fixture<'_> {
    fn team(&self) -> String {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        self.app
            .post(
                "/customer/createteam",
                Some(&self.owner),
                json!({"organizationid": self.org, "name": format!("Team {n}"), "role": "technical"}),
            )
            .ok()
            .get("team")["teamid"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn team_with_member(&self) -> Value {
        let (team, collaborator) = (self.team(), self.victim());
        self.app
            .post(
                "/customer/addteammember",
                Some(&self.owner),
                json!({"teamid": team, "collaboratorid": collaborator}),
            )
            .ok();
        json!({"teamid": team, "collaboratorid": collaborator})
    }
}

type Params = fn(&Fixture) -> Value;

fn every_endpoint_as_every_role(backend: Backend) {
    let app = matrix_app(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let project = app.project(&owner, &org, "Main");
    let fx = Fixture {
        app: &app,
        owner: owner.clone(),
        org: org.clone(),
        project,
        counter: std::cell::Cell::new(0),
        issuer: Issuer::start(&["rsa-1"]),
    };
    let admin = app.member(&owner, &org, "admin@example.com", "admin").token;
    let technical = app
        .member(&owner, &org, "technical@example.com", "technical")
        .token;
    let collaborator = app
        .member(&owner, &org, "collaborator@example.com", "collaborator")
        .token;
    let outsider = app.user("outsider@example.com");
    app.organization(&outsider, "Elsewhere");
    let tokens: [Option<&str>; 6] = [
        Some(&owner),
        Some(&admin),
        Some(&technical),
        Some(&collaborator),
        Some(&outsider),
        None,
    ];

    let mut failures = Vec::new();
    for (path, params, expected) in &rows() {
        for (i, caller) in CALLERS.iter().enumerate() {
            let body = params(&fx);
            let r = app.post(path, tokens[i], body);
            r.assert_envelope();
            if r.status != expected[i] {
                failures.push(format!(
                    "{path} as {caller}: expected {}, got {} {}",
                    expected[i],
                    r.status,
                    r.text()
                ));
            }
        }
    }
    failures.extend(as_a_custom_role(&fx));
    assert!(
        failures.is_empty(),
        "matrix mismatches:\n{}",
        failures.join("\n")
    );
}

/// The permissions of the custom role among the callers.
const CUSTOM: [&str; 6] = [
    "organization:read",
    "members:read",
    "members:invite",
    "audit:read",
    "webhooks:manage",
    "roles:manage",
];

/// Every row called by the holder of a custom role: where the endpoint's
/// need is met by [`CUSTOM`] it answers as for the owner, else 403.
fn as_a_custom_role(fx: &Fixture) -> Vec<String> {
    use collabd::domain::permissions::{Permission, PermissionSet};
    use collabd::domain::roles::Role;
    use collabd::http::{register_all, Access, Api};

    let app = fx.app;
    app.post(
        "/customer/createrole",
        Some(&fx.owner),
        json!({"organizationid": fx.org, "name": "matrix-role", "permissions": CUSTOM}),
    )
    .ok();
    let token = app
        .member(&fx.owner, &fx.org, "custom@example.com", "matrix-role")
        .token;
    let held: Vec<Permission> = CUSTOM.iter().filter_map(|n| Permission::parse(n)).collect();
    let held = PermissionSet::of(&held);
    let mut api = Api::document();
    register_all(&mut api);
    let mut failures = Vec::new();
    for (path, params, expected) in &rows() {
        let endpoint = api.endpoints.iter().find(|e| e.path == *path);
        let wanted = match endpoint.map(|e| e.access) {
            Some(Access::Member(need)) if !need.met_by(Role::Collaborator, held) => 403,
            Some(Access::Member(_)) => expected[0],
            _ => expected[3],
        };
        let r = app.post(path, Some(&token), params(fx));
        r.assert_envelope();
        if r.status != wanted {
            failures.push(format!(
                "{path} as a custom role: expected {wanted}, got {} {}",
                r.status,
                r.text()
            ));
        }
    }
    failures
}

/// A member's permissions are the union of their own role's and their
/// teams' roles' (API.md §10): a collaborator in a team with the admin role
/// gets, at every endpoint of the matrix, what an admin gets.
fn a_collaborator_in_an_admin_team_is_an_admin(backend: Backend) {
    let app = matrix_app(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let project = app.project(&owner, &org, "Main");
    let fx = Fixture {
        app: &app,
        owner: owner.clone(),
        org: org.clone(),
        project,
        counter: std::cell::Cell::new(0),
        issuer: Issuer::start(&["rsa-1"]),
    };
    let teamed = app.member(&owner, &org, "teamed@example.com", "collaborator");
    let admins = app
        .post(
            "/customer/createteam",
            Some(&owner),
            json!({"organizationid": org, "name": "Admins", "role": "admin"}),
        )
        .ok()
        .get("team")["teamid"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/customer/addteammember",
        Some(&owner),
        json!({"teamid": admins, "collaboratorid": teamed.collaboratorid}),
    )
    .ok();
    let mut failures = Vec::new();
    for (path, params, expected) in &rows() {
        let r = app.post(path, Some(&teamed.token), params(&fx));
        r.assert_envelope();
        if r.status != expected[1] {
            failures.push(format!(
                "{path}: an admin gets {}, the team's member got {} {}",
                expected[1],
                r.status,
                r.text()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Endpoint, parameters (made fresh per call), expected status per caller.
fn rows() -> Vec<(&'static str, Params, [u16; 6])> {
    vec![
        (
            "/customer/details",
            |f| json!({"organizationid": f.org}),
            [200, 200, 200, 200, 404, 401],
        ),
        (
            "/customer/settings",
            |f| json!({"organizationid": f.org, "invitettldays": 5}),
            [200, 403, 403, 403, 404, 401],
        ),
        (
            "/customer/listcollaborators",
            |f| json!({"organizationid": f.org}),
            [200, 200, 200, 403, 404, 401],
        ),
        (
            "/customer/editcollaborator",
            |f| json!({"collaboratorid": f.victim(), "cancreateprojects": true}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/removecollaborator",
            |f| json!({"collaboratorid": f.victim()}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/createproject",
            |f| json!({"organizationid": f.org, "name": "New"}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/listprojects",
            |f| json!({"organizationid": f.org}),
            [200, 200, 200, 200, 404, 401],
        ),
        (
            "/customer/editproject",
            |f| json!({"organizationid": f.org, "projectid": f.project, "name": "Renamed"}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/deleteproject",
            |f| json!({"organizationid": f.org, "projectid": f.fresh_project()}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/listauditevents",
            |f| json!({"organizationid": f.org}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/invite/create",
            |f| json!({"organizationid": f.org, "email": f.fresh("new")}),
            [200, 200, 200, 403, 404, 401],
        ),
        (
            // A wrong name: the owner passes the gate and meets the guard (422).
            "/customer/delete",
            |f| json!({"organizationid": f.org, "name": "Not its name"}),
            [422, 403, 403, 403, 404, 401],
        ),
        (
            "/customer/createwebhook",
            |f| {
                json!({"organizationid": f.org, "url": "https://93.184.216.34/hook",
                       "events": ["domain.verified"]})
            },
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/listwebhooks",
            |f| json!({"organizationid": f.org}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/listwebhookdeliveries",
            |f| json!({"webhookid": f.webhook()}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/deletewebhook",
            |f| json!({"webhookid": f.webhook()}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/adddomain",
            |f| {
                let d = f.fresh("d").replace('@', ".");
                json!({"organizationid": f.org, "domain": d, "verificationemail": format!("it@{d}")})
            },
            [200, 403, 403, 403, 404, 401],
        ),
        (
            "/customer/listdomains",
            |f| json!({"organizationid": f.org}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/removedomain",
            |f| json!({"domainid": f.domain()}),
            [200, 403, 403, 403, 404, 401],
        ),
        (
            "/customer/verifydomain",
            |_| json!({"token": "not-a-token-it-sent"}),
            [404, 404, 404, 404, 404, 404],
        ),
        (
            "/invite/createbulk",
            |f| json!({"organizationid": f.org, "invites": [{"email": f.fresh("bulk")}]}),
            [200, 200, 200, 403, 404, 401],
        ),
        (
            "/invite/list",
            |f| json!({"organizationid": f.org}),
            [200, 200, 200, 403, 404, 401],
        ),
        (
            "/customer/createteam",
            |f| json!({"organizationid": f.org, "name": f.fresh("team"), "role": "technical"}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/listteams",
            |f| json!({"organizationid": f.org}),
            [200, 200, 200, 403, 404, 401],
        ),
        (
            "/customer/editteam",
            |f| json!({"teamid": f.team(), "description": "Edited"}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/deleteteam",
            |f| json!({"teamid": f.team()}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/addteammember",
            |f| json!({"teamid": f.team(), "collaboratorid": f.victim()}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/removeteammember",
            |f| f.team_with_member(),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/listteammembers",
            |f| json!({"teamid": f.team()}),
            [200, 200, 200, 403, 404, 401],
        ),
        (
            "/customer/mypermissions",
            |f| json!({"organizationid": f.org}),
            [200, 200, 200, 200, 404, 401],
        ),
        (
            // Sessions may not check (API.md §10): a service key or a bound key may.
            "/access/check",
            |f| json!({"organizationid": f.org, "email": "admin@example.com", "permission": "members:read"}),
            [403, 403, 403, 403, 403, 401],
        ),
        (
            "/access/checkbatch",
            |f| {
                json!({"checks": [{"organizationid": f.org, "email": "admin@example.com",
                                   "permission": "project:full", "projectid": f.project}]})
            },
            [403, 403, 403, 403, 403, 401],
        ),
        (
            "/invite/revoke",
            |f| json!({"inviteid": f.owners_invite()}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/invite/resend",
            |f| json!({"inviteid": f.owners_invite()}),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/createrole",
            |f| {
                json!({"organizationid": f.org, "name": f.role_name(),
                       "permissions": ["organization:read"]})
            },
            [200, 403, 403, 403, 404, 401],
        ),
        (
            "/customer/listroles",
            |f| json!({"organizationid": f.org}),
            [200, 200, 200, 403, 404, 401],
        ),
        (
            "/customer/editrole",
            |f| json!({"roleid": f.role(), "description": "Edited"}),
            [200, 403, 403, 403, 404, 401],
        ),
        (
            "/customer/deleterole",
            |f| json!({"roleid": f.role()}),
            [200, 403, 403, 403, 404, 401],
        ),
        (
            "/customer/setsso",
            |f| f.sso_params(),
            [200, 403, 403, 403, 404, 401],
        ),
        (
            "/customer/ssodetails",
            |f| f.sso(),
            [200, 200, 403, 403, 404, 401],
        ),
        (
            "/customer/removesso",
            |f| f.sso(),
            [200, 403, 403, 403, 404, 401],
        ),
    ]
}

/// The system roles are data: the matrix each endpoint's [`Need`] gives from
/// the roles' permission sets (API.md §10) is, cell by cell, the matrix the
/// test above expects over HTTP (API.md §3): a role meets the need exactly
/// where its expected status is not 403.
#[test]
fn the_matrix_is_what_the_system_roles_permission_sets_give() {
    use collabd::domain::permissions::system_role;
    use collabd::domain::roles::Role;
    use collabd::http::{register_all, Access, Api};

    let mut api = Api::document();
    register_all(&mut api);
    let roles = [
        Role::Owner,
        Role::Admin,
        Role::Technical,
        Role::Collaborator,
    ];
    let mut compared = 0;
    for (path, _, expected) in rows() {
        let endpoint = api
            .endpoints
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("{path} is not in the endpoint table"));
        let Access::Member(need) = endpoint.access else {
            if endpoint.access == Access::Service {
                // No session checks, whatever its role (API.md §10).
                assert!(expected[..5].iter().all(|s| *s == 403), "{path}");
                continue;
            }
            assert!(
                expected[..4].iter().all(|s| *s != 403),
                "{path} is not a member endpoint, yet the matrix expects a 403"
            );
            continue;
        };
        for (role, status) in roles.iter().zip(expected) {
            let meets = need.met_by(*role, system_role(*role, false));
            assert_eq!(
                meets,
                status != 403,
                "{path} as {}: the table's need {need:?} gives {meets}, the matrix expects {status}",
                role.as_str()
            );
            compared += 1;
        }
    }
    assert!(compared >= 4 * 20, "{compared} cells compared");
    // Every member endpoint of the table is in the matrix.
    for endpoint in &api.endpoints {
        if matches!(endpoint.access, Access::Member(_)) {
            assert!(
                rows().iter().any(|(path, _, _)| *path == endpoint.path),
                "{} is missing from the matrix",
                endpoint.path
            );
        }
    }
}

/// A service key calls the checks and nothing else: every row above
/// answers it 403, but the checks (200) and what is public (as anonymous).
fn every_endpoint_as_a_service_key(backend: Backend) {
    let app = matrix_app(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let project = app.project(&owner, &org, "Main");
    app.member(&owner, &org, "admin@example.com", "admin");
    let fx = Fixture {
        app: &app,
        owner,
        org,
        project,
        counter: std::cell::Cell::new(0),
        issuer: Issuer::start(&["rsa-1"]),
    };
    let key = crate::checks::service_key(&app, "matrix");
    let mut failures = Vec::new();
    for (path, params, expected) in &rows() {
        let wanted = match *path {
            "/access/check" | "/access/checkbatch" => 200,
            _ if expected[5] != 401 => expected[5],
            _ => 403,
        };
        let r = app.post(path, Some(&key), params(&fx));
        r.assert_envelope();
        if r.status != wanted {
            failures.push(format!(
                "{path}: expected {wanted}, got {} {}",
                r.status,
                r.text()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The credentials that may ask the checks, and those that may not.
const CREDENTIALS: [&str; 9] = [
    "service key",
    "revoked service key",
    "owner's bound key",
    "technical's bound key",
    "collaborator's bound key",
    "outsider's key bound elsewhere",
    "owner's unbound key",
    "owner's session",
    "anonymous",
];

fn the_checks_as_every_kind_of_credential(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let project = app.project(&owner, &org, "Main");
    app.member(&owner, &org, "admin@example.com", "admin");
    let technical = app
        .member(&owner, &org, "technical@example.com", "technical")
        .token;
    let collaborator = app
        .member(&owner, &org, "collaborator@example.com", "collaborator")
        .token;
    let outsider = app.user("outsider@example.com");
    let elsewhere = app.organization(&outsider, "Elsewhere");
    let key = |token: &str, org: Option<&str>| {
        let mut params = json!({"name": "matrix"});
        if let Some(org) = org {
            params["organizationid"] = json!(org);
        }
        app.api_key(token, params)["secret"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let revoked = crate::checks::service_key(&app, "revoked");
    crate::checks::servicekey(&app, &["revoke", "revoked"]);
    let credentials: [Option<String>; 9] = [
        Some(crate::checks::service_key(&app, "matrix")),
        Some(revoked),
        Some(key(&owner, Some(&org))),
        Some(key(&technical, Some(&org))),
        Some(key(&collaborator, Some(&org))),
        Some(key(&outsider, Some(&elsewhere))),
        Some(key(&owner, None)),
        Some(owner.clone()),
        None,
    ];
    let check =
        json!({"organizationid": org, "email": "admin@example.com", "permission": "members:read"});
    let batch = json!({"checks": [{"organizationid": org, "email": "admin@example.com",
                                   "permission": "project:full", "projectid": project}]});
    let mine = json!({"organizationid": org});
    let rows: [(&str, &Value, [u16; 9]); 3] = [
        (
            "/access/check",
            &check,
            [200, 401, 200, 200, 403, 403, 403, 403, 401],
        ),
        (
            "/access/checkbatch",
            &batch,
            [200, 401, 200, 200, 403, 403, 403, 403, 401],
        ),
        (
            "/customer/mypermissions",
            &mine,
            [403, 401, 200, 200, 200, 403, 200, 200, 401],
        ),
    ];
    let mut failures = Vec::new();
    for (path, params, expected) in rows {
        for (i, credential) in credentials.iter().enumerate() {
            let r = app.post(path, credential.as_deref(), params.clone());
            r.assert_envelope();
            if r.status != expected[i] {
                failures.push(format!(
                    "{path} with {}: expected {}, got {} {}",
                    CREDENTIALS[i],
                    expected[i],
                    r.status,
                    r.text()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
