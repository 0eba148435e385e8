//! The permission checks of the provider's own services (`access/check`,
//! `access/checkbatch`, API.md §10) and a member's own permissions
//! (`customer/mypermissions`), answered by [`effective`].
//!
//! Who may ask: a service key, for any organization; or an API key bound to
//! an organization whose holder has `members:read` there, for that
//! organization only (another answers 403). A session, or a key bound to no
//! organization, answers 403: the contract names only those two credentials,
//! and a check reveals who belongs to an organization, which only
//! credentials made for it (a service key on the server, a key bound to the
//! organization) should ask of a service without a person behind it.

use serde::Serialize;
use utoipa::ToSchema;

use super::access::{self, Hold};
use super::effective::{self, Asked, Decision, Person, Question, Reason};
use super::emails::normalize_email;
use super::permissions::{Need, Permission};
use super::service_keys::ServiceClaim;
use super::sessions::Caller;
use super::{Ctx, DomainError, DomainResult};
use crate::store::kinds::Permission as Level;
use crate::store::DbConn;

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Checker {
    /// A service key, looked up by the check's own first statement.
    Service(ServiceClaim),
    /// A signed-in caller: an API key bound to the organization passes.
    Caller(Caller),
}

/// One check as asked, before it is judged.
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    pub organizationid: Option<String>,
    pub userid: Option<String>,
    pub email: Option<String>,
    pub permission: String,
    pub projectid: Option<String>,
}

/// `check`: the answer to one check.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub allowed: bool,
    pub reason: Reason,
}

/// One of `checks`: the check as asked, and its answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    pub organizationid: String,
    /// As asked; null when the check named an `email`.
    #[schema(required = true)]
    pub userid: Option<String>,
    /// As asked; null when the check named a `userid`.
    #[schema(required = true)]
    pub email: Option<String>,
    pub permission: String,
    /// As asked; null for an organization permission.
    #[schema(required = true)]
    pub projectid: Option<String>,
    pub allowed: bool,
    pub reason: Reason,
}

/// A permission on one project, as `customer/mypermissions` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectPermission {
    pub projectid: String,
    pub permission: Level,
}

/// `permissions`: what the caller may do in the organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Permissions {
    /// Organization permissions of the catalogue, in its order.
    pub organization: Vec<String>,
    /// Each project the caller or one of their teams holds a grant on, with
    /// the highest permission held there (`projects:read` and
    /// `projects:write` in `organization` already give `read` and `full`
    /// on every project, listed here or not).
    pub projects: Vec<ProjectPermission>,
}

/// `project:read` and `project:full`, the questions about one project.
pub const PROJECT_READ: &str = "project:read";
pub const PROJECT_FULL: &str = "project:full";

/// The catalogue permission named `name`.
pub fn permission_named(name: &str) -> Option<Permission> {
    Permission::ALL.into_iter().find(|p| p.name() == name)
}

fn invalid(prefix: &str, field: &str, message: &str) -> DomainError {
    DomainError::invalid(&format!("{prefix}{field}"), message)
}

/// The question `request` asks (422 on the field at fault, named after
/// `prefix`), in `organization_id`.
fn judge(request: &CheckRequest, organization_id: String, prefix: &str) -> DomainResult<Asked> {
    let person = match (&request.userid, &request.email) {
        (Some(id), None) => Person::UserId(id.clone()),
        (None, Some(email)) => Person::Email(normalize_email(email)),
        _ => {
            return Err(invalid(
                prefix,
                "userid",
                "give exactly one of userid and email",
            ))
        }
    };
    let level = match request.permission.as_str() {
        PROJECT_READ => Some(Level::Read),
        PROJECT_FULL => Some(Level::Full),
        _ => None,
    };
    let question = match (level, &request.projectid) {
        (Some(level), Some(project_id)) => Question::Project {
            project_id: project_id.clone(),
            level,
        },
        (Some(_), None) => {
            return Err(invalid(
                prefix,
                "projectid",
                "required with project:read and project:full",
            ))
        }
        (None, projectid) => {
            let permission = permission_named(&request.permission).ok_or_else(|| {
                invalid(
                    prefix,
                    "permission",
                    "must be a permission of the catalogue, project:read or project:full",
                )
            })?;
            if projectid.is_some() {
                return Err(invalid(
                    prefix,
                    "projectid",
                    "only with project:read and project:full",
                ));
            }
            Question::Organization(permission)
        }
    };
    Ok(Asked {
        organization_id,
        person,
        question,
    })
}

/// The organization a check is about: as named, or the bound key's.
fn organization_of(
    checker: &Checker,
    request: &CheckRequest,
    prefix: &str,
) -> DomainResult<String> {
    let bound = match checker {
        Checker::Caller(caller) => caller.bound_organization(),
        Checker::Service(_) => None,
    };
    request
        .organizationid
        .clone()
        .or_else(|| bound.map(str::to_string))
        .ok_or_else(|| invalid(prefix, "organizationid", "required"))
}

/// Whether `checker` may ask about `organizations`: a service key about any;
/// a key bound to one of them, whose holder has `members:read` there, about
/// that one alone (others: 403); nobody else.
fn authorize(conn: &mut DbConn, checker: &Checker, organizations: &[&str]) -> DomainResult<()> {
    let caller = match checker {
        Checker::Service(claim) => return claim.confirm(conn),
        Checker::Caller(caller) => caller,
    };
    let Some(bound) = caller.bound_organization() else {
        return Err(DomainError::forbidden(
            "checks take a service key, or an API key bound to the organization",
        ));
    };
    if organizations.iter().any(|o| *o != bound) {
        return Err(DomainError::forbidden(
            "this API key is bound to another organization",
        ));
    }
    access::organization(
        conn,
        caller,
        Some(bound),
        Permission::MembersRead,
        Hold::Nothing,
    )
    .map(drop)
}

/// Judges every request, then answers them all: one authorization, one
/// load for every membership named.
fn decide(
    ctx: &Ctx,
    checker: &Checker,
    requests: &[CheckRequest],
    prefix: impl Fn(usize) -> String,
) -> DomainResult<Vec<(Asked, Decision)>> {
    let asked: Vec<Asked> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| judge(r, organization_of(checker, r, &prefix(i))?, &prefix(i)))
        .collect::<DomainResult<_>>()?;
    let mut organizations: Vec<&str> = asked.iter().map(|a| a.organization_id.as_str()).collect();
    organizations.sort_unstable();
    organizations.dedup();
    let work = |conn: &mut DbConn| match (checker, asked.as_slice()) {
        // One check with a service key: one statement for the key and all
        // the member holds.
        (Checker::Service(claim), [one]) => {
            let found = effective::decide_with_key(conn, claim.hash(), one)?;
            let (key, decision) = match found {
                Some((key, decision)) => (Some((key.key_id, key.last_used_at)), Some(decision)),
                None => (None, None),
            };
            claim.settle(key)?;
            Ok(decision.into_iter().collect())
        }
        _ => {
            authorize(conn, checker, &organizations)?;
            effective::decide_all(conn, &ctx.checks, &asked)
        }
    };
    // A service key is authorized by its own lookup, on the check's
    // connection: a check is then two statements of equalities (the key,
    // the membership) when the member's own role or grant decides, which
    // need no transaction.
    let decisions = match checker {
        Checker::Service(_) => ctx.store.read_one(work),
        Checker::Caller(_) => ctx.store.read(work),
    }?;
    Ok(asked.into_iter().zip(decisions).collect())
}

/// `access/check`.
pub fn check(ctx: &Ctx, checker: &Checker, request: &CheckRequest) -> DomainResult<Check> {
    let (_, decision) = decide(ctx, checker, std::slice::from_ref(request), |_| {
        String::new()
    })?
    .remove(0);
    Ok(Check {
        allowed: decision.allowed,
        reason: decision.reason,
    })
}

/// `access/checkbatch`: the answers in the order asked.
pub fn check_batch(
    ctx: &Ctx,
    checker: &Checker,
    requests: &[CheckRequest],
) -> DomainResult<Vec<CheckResult>> {
    let decided = decide(ctx, checker, requests, |i| format!("checks.{i}."))?;
    Ok(requests
        .iter()
        .zip(decided)
        .map(|(request, (asked, decision))| CheckResult {
            organizationid: asked.organization_id,
            userid: request.userid.clone(),
            email: request.email.clone(),
            permission: request.permission.clone(),
            projectid: request.projectid.clone(),
            allowed: decision.allowed,
            reason: decision.reason,
        })
        .collect())
}

/// `customer/mypermissions`: what the caller may do in the organization.
pub fn my_permissions(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
) -> DomainResult<Permissions> {
    let held = ctx.store.read(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Need::Membership,
            Hold::Nothing,
        )?;
        effective::of_member(conn, &member)
    })?;
    Ok(Permissions {
        organization: held
            .organization()
            .iter()
            .map(|p| p.name().to_string())
            .collect(),
        projects: held
            .projects()
            .into_iter()
            .map(|(projectid, permission)| ProjectPermission {
                projectid,
                permission,
            })
            .collect(),
    })
}
