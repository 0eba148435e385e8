//! Each rule of API.md that several endpoints meet is decided by one
//! function; each test here drives every path that reaches its rule and
//! shows the same refusal on each.

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::on_both_backends;
use crate::support::{Backend, Resp, TestApp};

on_both_backends!(
    the_last_owner_stays_on_every_path,
    owners_memberships_never_end_on_every_path,
    a_domain_never_grants_owner,
    who_may_manage_an_invite_is_the_same_for_revoke_and_resend,
);

const PASSWORD: &str = "correct horse battery";

/// RFC 3339, `seconds` from now.
fn from_now(seconds: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What a refusal says: status, `error` and `status.text`.
fn refusal(r: &Resp) -> (u16, Value, String) {
    (
        r.status,
        r.body["response"]["error"].clone(),
        r.text().to_string(),
    )
}

/// The roles of `org`'s members, in the order they joined.
fn roles(app: &TestApp, token: &str, org: &str) -> Vec<String> {
    app.get(
        &format!("/customer/listcollaborators?organizationid={org}"),
        Some(token),
    )
    .ok()
    .get("collaborators")
    .as_array()
    .unwrap()
    .iter()
    .map(|c| c["role"].as_str().unwrap().to_string())
    .collect()
}

const LAST_OWNER: &str =
    "the organization's last owner cannot be demoted, removed or leave; make another owner first";

/// Demotion, removal, leaving, account closing and expiry, each against an
/// organization's last owner.
fn the_last_owner_stays_on_every_path(backend: Backend) {
    let app = TestApp::start(backend);
    let jo = app.user("jo@example.com");
    let org = app.organization(&jo, "Solo");
    let other = app.organization(&jo, "Duo <Ltd>");
    let jo_id = app.first_collaborator(&jo, &org);
    let admin = app.member(&jo, &org, "admin@example.com", "admin");

    // Demotion and leaving: the last owner is the only one who may try,
    // since only owners edit or remove owners.
    let demoted = app
        .post(
            "/customer/editcollaborator",
            Some(&jo),
            json!({"collaboratorid": jo_id, "role": "admin"}),
        )
        .err(409, "conflict");
    let left = app.remove(&jo, &jo_id).err(409, "conflict");
    for r in [&demoted, &left] {
        assert_eq!(r.reason(), "last_owner");
        assert_eq!(r.text(), LAST_OWNER);
    }
    assert_eq!(refusal(&demoted), refusal(&left));

    // Removal and demotion by anyone else: a non-owner is refused before
    // the rule is reached; an owner who removes or demotes another owner
    // is not the last one, and becomes it.
    app.remove(&admin.token, &jo_id).err(403, "forbidden");
    app.post(
        "/customer/editcollaborator",
        Some(&admin.token),
        json!({"collaboratorid": jo_id, "role": "admin"}),
    )
    .err(403, "forbidden");
    let kim = app.member(&jo, &org, "kim@example.com", "owner");
    app.post(
        "/customer/editcollaborator",
        Some(&kim.token),
        json!({"collaboratorid": jo_id, "role": "admin"}),
    )
    .ok();
    let r = app
        .post(
            "/customer/editcollaborator",
            Some(&kim.token),
            json!({"collaboratorid": kim.collaboratorid, "role": "admin"}),
        )
        .err(409, "conflict");
    assert_eq!(refusal(&r), refusal(&demoted));
    app.post(
        "/customer/editcollaborator",
        Some(&kim.token),
        json!({"collaboratorid": jo_id, "role": "owner"}),
    )
    .ok();
    app.remove(&jo, &kim.collaboratorid).ok();
    let r = app.remove(&jo, &jo_id).err(409, "conflict");
    assert_eq!(refusal(&r), refusal(&left));

    // Account closing names every organization left without an owner.
    let closed = app
        .post(
            "/user/delete",
            Some(&jo),
            json!({"currentpassword": PASSWORD}),
        )
        .err(409, "conflict");
    assert_eq!(closed.reason(), "last_owner");
    let mut named = [(&org, "Solo"), (&other, "Duo <Ltd>")];
    named.sort();
    let named: Vec<String> = named
        .iter()
        .map(|(id, name)| format!("{name} ({id})"))
        .collect();
    assert_eq!(
        closed.text(),
        format!(
            "the account is the only owner of {}: make someone else an owner or delete the \
             organization first",
            named.join(", ")
        )
    );
    // With another owner in one of them, only the other is named.
    app.member(&jo, &other, "lee@example.com", "owner");
    let r = app
        .post(
            "/user/delete",
            Some(&jo),
            json!({"currentpassword": PASSWORD}),
        )
        .err(409, "conflict");
    assert_eq!(r.reason(), "last_owner");
    assert!(
        r.text().contains(&format!("Solo ({org})")) && !r.text().contains("Duo"),
        "{}",
        r.text()
    );

    // Expiry: an owner's membership never ends by time, so the sweep never
    // meets an owner. Nobody may set an end on an owner, nor invite one
    // with an end.
    let second = app.member(&jo, &org, "second@example.com", "owner");
    let r = app
        .post(
            "/customer/editcollaborator",
            Some(&second.token),
            json!({"collaboratorid": jo_id, "expiresat": from_now(3600)}),
        )
        .err(422, "validation_failed");
    assert_eq!(
        r.body["response"]["error"]["fields"]["expiresat"],
        json!(["owners' memberships cannot be time-limited"])
    );
    let r = app
        .post(
            "/invite/create",
            Some(&jo),
            json!({"organizationid": org, "email": "x@example.com", "role": "owner",
                   "membershipexpiresat": from_now(3600)}),
        )
        .err(422, "validation_failed");
    assert_eq!(
        r.body["response"]["error"]["fields"]["membershipexpiresat"],
        json!(["owners' memberships cannot be time-limited"])
    );
    // Nothing refused changed anything.
    assert_eq!(roles(&app, &jo, &org), ["owner", "admin", "owner"]);
}

const NEVER_TIME_LIMITED: &str = "owners' memberships cannot be time-limited";

/// `invite/create`, a row of `invite/createbulk`, and
/// `customer/editcollaborator` setting an end on an owner, making a
/// time-limited member an owner, or both at once.
fn owners_memberships_never_end_on_every_path(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let end = from_now(86_400);
    let field_error = |r: &Resp, field: &str| {
        assert_eq!(
            r.body["response"]["error"]["fields"][field],
            json!([NEVER_TIME_LIMITED]),
            "{}",
            r.body
        );
        refusal(r)
    };

    let created = app
        .post(
            "/invite/create",
            Some(&owner),
            json!({"organizationid": org, "email": "x@example.com", "role": "owner",
                   "membershipexpiresat": end}),
        )
        .err(422, "validation_failed");
    let created = field_error(&created, "membershipexpiresat");
    assert_eq!(
        created.2,
        format!("membershipexpiresat: {NEVER_TIME_LIMITED}")
    );

    let bulk = app
        .post(
            "/invite/createbulk",
            Some(&owner),
            json!({"organizationid": org, "invites": [
                {"email": "y@example.com", "role": "owner", "membershipexpiresat": end},
                {"email": "z@example.com", "role": "admin", "membershipexpiresat": end},
            ]}),
        )
        .ok();
    let results = bulk.get("results");
    assert_eq!(results[0]["code"], 422);
    assert_eq!(results[0]["error"], created.1);
    assert_eq!(results[1]["code"], 200, "an admin's end is fine: {results}");

    let second = app.member(&owner, &org, "second@example.com", "owner");
    let edit = |body: Value| app.post("/customer/editcollaborator", Some(&owner), body);
    let on_owner = edit(json!({"collaboratorid": second.collaboratorid, "expiresat": end}))
        .err(422, "validation_failed");
    let on_owner = field_error(&on_owner, "expiresat");
    assert_eq!(on_owner.2, format!("expiresat: {NEVER_TIME_LIMITED}"));

    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    edit(json!({"collaboratorid": admin.collaboratorid, "expiresat": end})).ok();
    let promoted = edit(json!({"collaboratorid": admin.collaboratorid, "role": "owner"}))
        .err(422, "validation_failed");
    assert_eq!(
        promoted.body["response"]["error"]["fields"]["expiresat"],
        json!([format!(
            "{NEVER_TIME_LIMITED}: send expiresat null with the new role"
        )])
    );
    let both = edit(
        json!({"collaboratorid": admin.collaboratorid, "role": "owner",
                           "expiresat": from_now(3600)}),
    )
    .err(422, "validation_failed");
    assert_eq!(field_error(&both, "expiresat"), on_owner);

    // Nothing refused changed anything; made lasting, the promotion passes.
    assert_eq!(roles(&app, &owner, &org), ["owner", "owner", "admin"]);
    let r =
        edit(json!({"collaboratorid": admin.collaboratorid, "role": "owner", "expiresat": null}))
            .ok();
    assert_eq!(r.get("collaborator")["expiresat"], Value::Null);
}

/// `customer/adddomain` with role `owner`, as JSON and as a form, by the
/// owner and by anyone else: the parameter is refused before anything else.
fn a_domain_never_grants_owner(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let stranger = app.user("stranger@example.com");
    let body = json!({"organizationid": org, "domain": "acme.com",
                      "verificationemail": "it@acme.com", "role": "owner"});
    let as_owner = app
        .post("/customer/adddomain", Some(&owner), body.clone())
        .err(422, "validation_failed");
    assert_eq!(
        as_owner.body["response"]["error"]["fields"],
        json!({"role": ["must be admin, technical or collaborator"]})
    );
    let form =
        format!("organizationid={org}&domain=acme.com&verificationemail=it%40acme.com&role=owner");
    let as_form = app
        .post_form("/customer/adddomain", Some(&owner), &form)
        .err(422, "validation_failed");
    let as_admin = app
        .post("/customer/adddomain", Some(&admin.token), body.clone())
        .err(422, "validation_failed");
    let as_stranger = app
        .post("/customer/adddomain", Some(&stranger), body)
        .err(422, "validation_failed");
    for r in [&as_form, &as_admin, &as_stranger] {
        assert_eq!(refusal(r), refusal(&as_owner));
    }
    let listed = app
        .get(
            &format!("/customer/listdomains?organizationid={org}"),
            Some(&owner),
        )
        .ok();
    assert_eq!(listed.get("domains"), &json!([]));
}

/// `invite/revoke` and `invite/resend` by each role, on an invite of one's
/// own and on someone else's: both answer alike.
fn who_may_manage_an_invite_is_the_same_for_revoke_and_resend(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let technical = app.member(&owner, &org, "technical@example.com", "technical");
    // A collaborator's own invite: sent while technical, kept when demoted
    // (a collaborator may still grant its role).
    let demoted = app.member(&owner, &org, "demoted@example.com", "technical");
    let outsider = app.user("outsider@example.com");
    app.organization(&outsider, "Elsewhere");
    let counter = std::cell::Cell::new(0);
    let invite = |by: &str| {
        counter.set(counter.get() + 1);
        app.invite(
            by,
            &org,
            &format!("invitee{}@example.com", counter.get()),
            "collaborator",
        )["inviteid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Two invites per case, one for each call.
    let demoted_own = [invite(&demoted.token), invite(&demoted.token)];
    app.post(
        "/customer/editcollaborator",
        Some(&owner),
        json!({"collaboratorid": demoted.collaboratorid, "role": "collaborator"}),
    )
    .ok();

    let cases: Vec<(&str, &str, [String; 2], u16)> = vec![
        ("owner", &owner, [invite(&owner), invite(&owner)], 200),
        (
            "owner",
            &owner,
            [invite(&admin.token), invite(&admin.token)],
            200,
        ),
        (
            "admin",
            &admin.token,
            [invite(&admin.token), invite(&admin.token)],
            200,
        ),
        ("admin", &admin.token, [invite(&owner), invite(&owner)], 200),
        (
            "admin",
            &admin.token,
            [invite(&technical.token), invite(&technical.token)],
            200,
        ),
        (
            "technical",
            &technical.token,
            [invite(&technical.token), invite(&technical.token)],
            200,
        ),
        (
            "technical",
            &technical.token,
            [invite(&owner), invite(&owner)],
            403,
        ),
        (
            "technical",
            &technical.token,
            [invite(&admin.token), invite(&admin.token)],
            403,
        ),
        ("collaborator", &demoted.token, demoted_own, 403),
        (
            "collaborator",
            &demoted.token,
            [invite(&owner), invite(&owner)],
            403,
        ),
        ("outsider", &outsider, [invite(&owner), invite(&owner)], 404),
    ];
    for (who, token, [to_revoke, to_resend], status) in &cases {
        let revoked = app.post(
            "/invite/revoke",
            Some(token),
            json!({"inviteid": to_revoke}),
        );
        let resent = app.post(
            "/invite/resend",
            Some(token),
            json!({"inviteid": to_resend}),
        );
        assert_eq!(revoked.status, *status, "{who} revoke: {}", revoked.body);
        assert_eq!(resent.status, *status, "{who} resend: {}", resent.body);
        if *status == 200 {
            assert_eq!(revoked.get("invite")["state"], "revoked");
            assert_eq!(resent.get("invite")["state"], "pending");
        } else {
            assert_eq!(refusal(&revoked), refusal(&resent), "{who}");
        }
    }
}
