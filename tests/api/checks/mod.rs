//! The permission checks of the provider's own services (API.md §10):
//! `access/check` and `access/checkbatch` with a service key made by the real
//! binary, every reason, non-members, the batch's order and bounds
//! ([`answers`]); who may ask (service keys made, listed and revoked by the
//! binary, keys bound to the organization) and `customer/mypermissions`
//! ([`keys`]). The helpers here are theirs and the matrix's.

mod answers;
mod keys;

use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::support::TestApp;

/// `collabd servicekey …` against the app's database.
pub fn servicekey(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_collabd"))
        .arg("servicekey")
        .args(args)
        .env("COLLABD_DATABASE_URL", &app.db.url)
        .env_remove("COLLABD_SMTP_URL")
        .env("COLLABD_LOG", "warn")
        .output()
        .expect("run collabd servicekey")
}

/// A new service key's secret.
pub fn service_key(app: &TestApp, name: &str) -> String {
    let out = servicekey(app, &["create", name]);
    assert!(out.status.success(), "{out:?}");
    let secret = String::from_utf8(out.stdout).expect("UTF-8");
    let secret = secret.trim().to_string();
    assert!(
        secret.starts_with("cds_") && !secret.contains('\n'),
        "{secret}"
    );
    secret
}

/// An organization with members of each role, grants and a project
/// elsewhere.
pub struct World {
    pub owner: String,
    pub org: String,
    pub admin: String,
    pub technical: String,
    pub technical_id: String,
    pub collaborator: String,
    pub collaborator_id: String,
    /// Granted: technical read, collaborator full.
    pub p1: String,
    pub p2: String,
    pub outsider: String,
    pub other_org: String,
    pub other_project: String,
}

pub fn user_id(app: &TestApp, token: &str) -> String {
    app.get("/user/details", Some(token)).ok().get("user")["userid"]
        .as_str()
        .expect("userid")
        .to_string()
}

pub fn grant(app: &TestApp, owner: &str, collaborator: &str, grants: Value) {
    app.post(
        "/customer/editcollaborator",
        Some(owner),
        json!({"collaboratorid": collaborator, "projectpermissions": grants}),
    )
    .ok();
}

pub fn world(app: &TestApp) -> World {
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let p1 = app.project(&owner, &org, "Lab1");
    let p2 = app.project(&owner, &org, "Lab2");
    let admin = app.member(&owner, &org, "admin@example.com", "admin");
    let technical = app.member(&owner, &org, "tech@example.com", "technical");
    let collaborator = app.member(&owner, &org, "collab@example.com", "collaborator");
    grant(
        app,
        &owner,
        &technical.collaboratorid,
        json!([{"projectid": p1, "permission": "read"}]),
    );
    grant(
        app,
        &owner,
        &collaborator.collaboratorid,
        json!([{"projectid": p2, "permission": "full"}]),
    );
    let outsider = app.user("outsider@example.com");
    let other_org = app.organization(&outsider, "Elsewhere");
    let other_project = app.project(&outsider, &other_org, "Theirs");
    World {
        owner,
        org,
        admin: admin.token,
        technical: technical.token,
        technical_id: technical.collaboratorid,
        collaborator: collaborator.token,
        collaborator_id: collaborator.collaboratorid,
        p1,
        p2,
        outsider,
        other_org,
        other_project,
    }
}

/// `access/check` as `key`; the `check` object.
pub fn check(app: &TestApp, key: &str, params: Value) -> Value {
    app.post("/access/check", Some(key), params)
        .ok()
        .get("check")
        .clone()
}

#[track_caller]
pub fn expect(answer: &Value, allowed: bool, reason: &str) {
    assert_eq!(
        answer,
        &json!({"allowed": allowed, "reason": reason}),
        "expected {allowed} {reason}"
    );
}
