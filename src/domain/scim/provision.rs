//! SCIM Users written (API.md §11): a new member (`POST /Users`), the
//! directory's view replaced or changed (`PUT`, `PATCH`), and suspension
//! (`active`). The account behind a member is found or made by its address
//! and never moved by SCIM: the view is the directory's, the account the
//! person's.

use diesel::prelude::*;
use serde_json::{json, Value};

use super::users::{one_in, user_name_key};
use super::{authorize_in, guarded};
use crate::domain::access::Hold;
use crate::domain::emails::{check_email, normalize_email};
use crate::domain::kernel::events::{
    self, By, CollaboratorEdited, CollaboratorJoined, CollaboratorReactivated,
    CollaboratorSuspended, Via,
};
use crate::domain::kernel::membership::{self, NewMember};
use crate::domain::members;
use crate::domain::ownership::{ensure_an_owner_remains, Leaving};
use crate::domain::roles::{self, Role};
use crate::domain::sessions::Caller;
use crate::domain::{
    new_id, now_ms, ConflictReason, Ctx, DomainError, DomainResult, MAX_NAME_CHARS,
};
use crate::store::rows::{MembershipRow, ScimUserRow, UserRow};
use crate::store::schema::{memberships, scim_users, users};
use crate::store::{execute, DbConn, Lookups};

/// The longest `userName`, `externalId` or name part taken.
const MAX_TEXT: usize = 256;

/// What a User body says (RFC 7643 §4.1), read leniently: what collabd does
/// not keep (the enterprise extension, titles, …) is passed over.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserInput {
    pub user_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub emails: Option<Value>,
    pub external_id: Option<String>,
    pub active: Option<bool>,
}

fn invalid(why: impl std::fmt::Display) -> DomainError {
    DomainError::invalid("body", format!("[invalidValue] {why}"))
}

/// A string attribute, at most [`MAX_TEXT`] characters, no control
/// characters; null or absent is `None`.
fn text(value: &Value, what: &str) -> DomainResult<Option<String>> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() > MAX_TEXT => {
            Err(invalid(format!("{what} is at most {MAX_TEXT} characters")))
        }
        Value::String(s) if s.chars().any(char::is_control) => {
            Err(invalid(format!("{what} holds a control character")))
        }
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(invalid(format!("{what} must be a string"))),
    }
}

/// `active` as the directories send it: a boolean, or (Entra) `"True"` /
/// `"False"` in any case.
pub fn boolean(value: &Value, what: &str) -> DomainResult<Option<bool>> {
    match value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        _ => Err(invalid(format!("{what} must be true or false"))),
    }
}

/// `emails` as written: an array of objects with a string `value`.
fn emails(value: &Value) -> DomainResult<Option<Value>> {
    match value {
        Value::Null => Ok(None),
        Value::Array(list) if list.len() > 20 => Err(invalid("at most 20 emails")),
        Value::Array(list) => {
            for email in list {
                if !email["value"].is_string() {
                    return Err(invalid("each of emails needs a string value"));
                }
            }
            Ok(Some(value.clone()))
        }
        _ => Err(invalid("emails must be an array")),
    }
}

/// 400 when a PATCH took `active` away (removed, or set to null): a
/// member is active or suspended, never neither.
pub fn keeps_active(resource: &Value) -> DomainResult<()> {
    let active = resource
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("active")))
        .map(|(_, v)| v);
    match active {
        None | Some(Value::Null) => Err(invalid(
            "active cannot be removed: replace it with false to suspend the member",
        )),
        Some(_) => Ok(()),
    }
}

impl UserInput {
    /// A User body's attributes (any case in their names, as RFC 7643 §2.1
    /// says of attribute names).
    pub fn read(body: &Value) -> DomainResult<UserInput> {
        let object = body
            .as_object()
            .ok_or_else(|| invalid("the body is no object"))?;
        let mut input = UserInput::default();
        for (key, value) in object {
            match key.to_ascii_lowercase().as_str() {
                "username" => input.user_name = text(value, "userName")?,
                "displayname" => input.display_name = text(value, "displayName")?,
                "externalid" => input.external_id = text(value, "externalId")?,
                "active" => input.active = boolean(value, "active")?,
                "emails" => input.emails = emails(value)?,
                "name" => {
                    input.given_name = text(&value["givenName"], "name.givenName")?;
                    input.family_name = text(&value["familyName"], "name.familyName")?;
                }
                _ => {}
            }
        }
        Ok(input)
    }

    /// The address that finds or makes the account: the primary email,
    /// else a work one, else the first, else `userName` when it is one.
    fn address(&self) -> DomainResult<String> {
        let list = self.emails.as_ref().and_then(Value::as_array);
        let pick = |pred: &dyn Fn(&Value) -> bool| {
            list.and_then(|l| l.iter().find(|e| pred(e)))
                .and_then(|e| e["value"].as_str())
        };
        let candidate = pick(&|e| e["primary"] == json!(true))
            .or_else(|| {
                pick(&|e| {
                    e["type"]
                        .as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case("work"))
                })
            })
            .or_else(|| pick(&|_| true))
            .or(self.user_name.as_deref());
        let address = candidate.map(normalize_email).unwrap_or_default();
        check_email(&address).map_err(|_| {
            invalid(
                "neither emails nor userName holds an email address to find or make the account by",
            )
        })?;
        Ok(address)
    }

    /// The view to keep for `membership_id`, with `now` as its change.
    fn view(
        &self,
        organization_id: &str,
        membership_id: &str,
        created_at: i64,
        now: i64,
    ) -> DomainResult<ScimUserRow> {
        let user_name = self
            .user_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| invalid("userName is required"))?;
        let emails = self.emails.clone().unwrap_or_else(|| json!([]));
        let email_key = self.address().ok();
        Ok(ScimUserRow {
            organization_id: organization_id.to_string(),
            membership_id: membership_id.to_string(),
            user_name_key: user_name_key(&user_name),
            user_name,
            external_id: self.external_id.clone(),
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
            display_name: self.display_name.clone(),
            emails: emails.to_string(),
            email_key,
            created_at,
            updated_at: now,
        })
    }

    /// The name a new account takes: displayName, else given and family
    /// name, else the address.
    fn account_name(&self, address: &str) -> String {
        let joined = [self.given_name.as_deref(), self.family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let name = self
            .display_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(joined);
        let name: String = name.trim().chars().take(MAX_NAME_CHARS).collect();
        if name.is_empty() {
            address.to_string()
        } else {
            name
        }
    }
}

fn taken(user_name: &str) -> DomainError {
    DomainError::conflict(
        ConflictReason::AlreadyMember,
        format!("[uniqueness] the organization has a User named {user_name:?} already"),
    )
}

/// 409 `uniqueness` when another member of the organization than `except`
/// has `user_name` (regardless of case), as its view's or, without one, as
/// its account's address.
fn ensure_user_name_free(
    conn: &mut DbConn,
    organization_id: &str,
    user_name: &str,
    except: Option<&str>,
) -> DomainResult<()> {
    let key = user_name_key(user_name);
    let viewed: Vec<String> = scim_users::table
        .filter(scim_users::organization_id.eq(organization_id))
        .filter(scim_users::user_name_key.eq(&key))
        .select(scim_users::membership_id)
        .load(conn)?;
    let unviewed: Vec<String> = memberships::table
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .left_join(
            scim_users::table.on(scim_users::organization_id
                .eq(memberships::organization_id)
                .and(scim_users::membership_id.eq(memberships::id))),
        )
        .filter(memberships::organization_id.eq(organization_id))
        .filter(users::email.eq(normalize_email(user_name)))
        .filter(scim_users::membership_id.nullable().is_null())
        .select(memberships::id)
        .load(conn)?;
    match viewed
        .iter()
        .chain(&unviewed)
        .any(|id| Some(id.as_str()) != except)
    {
        true => Err(taken(user_name)),
        false => Ok(()),
    }
}

/// `POST /Users`: the member made at once, with the role collaborator, its
/// account found or made by its address (verified, without a password);
/// `collaborator.joined` with `via: scim`; suspended at once with
/// `active: false`. The resource under `base`.
pub fn create(ctx: &Ctx, caller: &Caller, input: &UserInput, base: &str) -> DomainResult<Value> {
    let address = input.address()?;
    ctx.store.write(|conn| {
        let member = authorize_in(conn, caller, Hold::Shared)?;
        let organization_id = member.organization_id().to_string();
        let now = now_ms();
        let user_name = input.user_name.clone().unwrap_or_default();
        ensure_user_name_free(conn, &organization_id, &user_name, None)?;
        let user = match conn.user_by_email(&address)? {
            Some(user) => user,
            None => {
                let user = UserRow::new(
                    new_id(),
                    address.clone(),
                    input.account_name(&address),
                    None,
                    true,
                    now,
                );
                execute(conn, diesel::insert_into(users::table).values(&user))?;
                user
            }
        };
        let new = NewMember {
            organization_id: &organization_id,
            user_id: &user.id,
            role: Role::Collaborator,
            role_id: None,
            can_create_projects: false,
            expires_at: None,
            grants: Vec::new(),
        };
        let Some(membership) = membership::add(conn, new, now)? else {
            return Err(taken(&user.email));
        };
        let view = input.view(&organization_id, &membership.id, now, now)?;
        execute(conn, diesel::insert_into(scim_users::table).values(&view))?;
        events::record(
            conn,
            &organization_id,
            By::Caller(caller),
            &membership.id,
            CollaboratorJoined {
                userid: &user.id,
                email: &user.email,
                role: Role::Collaborator.as_str(),
                via: Via::Scim,
                domain: None,
                domainid: None,
            },
        )?;
        if input.active == Some(false) {
            set_active(conn, caller, &membership, false)?;
        }
        one_in(conn, &organization_id, &membership.id, base)
    })
}

/// The member `id` of the caller's organization, suspended or not (not past
/// its end); 404 otherwise.
fn target(conn: &mut DbConn, organization_id: &str, id: &str) -> DomainResult<MembershipRow> {
    let now = now_ms();
    memberships::table
        .filter(memberships::organization_id.eq(organization_id))
        .filter(memberships::id.eq(id))
        .filter(
            memberships::expires_at
                .is_null()
                .or(memberships::expires_at.gt(now)),
        )
        .select(MembershipRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| DomainError::not_found(format!("no User {id:?} in this organization")))
}

/// Suspends (`active` false) or reactivates `membership`, recording which;
/// nothing when it already is. The last owner in force is never suspended
/// (409).
fn set_active(
    conn: &mut DbConn,
    caller: &Caller,
    membership: &MembershipRow,
    active: bool,
) -> DomainResult<()> {
    if membership.suspended_at.is_none() == active {
        return Ok(());
    }
    if !active {
        ensure_an_owner_remains(conn, Leaving::Member(membership))?;
    }
    let at = (!active).then(now_ms);
    execute(
        conn,
        diesel::update(
            memberships::table
                .filter(memberships::organization_id.eq(&membership.organization_id))
                .filter(memberships::id.eq(&membership.id)),
        )
        .set(memberships::suspended_at.eq(at)),
    )?;
    let user = conn.user(&membership.user_id)?;
    let role = roles::held(
        conn,
        &membership.organization_id,
        membership.role,
        membership.role_id.as_deref(),
    )?;
    let organization_id = &membership.organization_id;
    match active {
        false => events::record(
            conn,
            organization_id,
            By::Caller(caller),
            &membership.id,
            CollaboratorSuspended {
                userid: &user.id,
                email: &user.email,
                role: role.name(),
            },
        ),
        true => events::record(
            conn,
            organization_id,
            By::Caller(caller),
            &membership.id,
            CollaboratorReactivated {
                userid: &user.id,
                email: &user.email,
                role: role.name(),
            },
        ),
    }
}

/// True when two views say the same (when they were written aside).
fn same_view(a: &ScimUserRow, b: &ScimUserRow) -> bool {
    let said = |v: &ScimUserRow| {
        (
            v.user_name.clone(),
            v.external_id.clone(),
            v.given_name.clone(),
            v.family_name.clone(),
            v.display_name.clone(),
            serde_json::from_str::<Value>(&v.emails).ok(),
        )
    };
    said(a) == said(b)
}

/// `PUT /Users/{id}` (`change` gives the body) or `PATCH` (`change` applies
/// the operations to the resource as it is): in one transaction, the
/// resource read, `If-Match` checked against it (412, nothing done), the
/// view kept (`collaborator.edited` when it says something new), `active`
/// applied. The account is never changed. The resource under `base`, as
/// written.
pub fn write(
    ctx: &Ctx,
    caller: &Caller,
    id: &str,
    change: &dyn Fn(&Value) -> DomainResult<UserInput>,
    wanted: Option<&str>,
    base: &str,
) -> DomainResult<Value> {
    guarded(
        ctx,
        caller,
        (id, wanted, base),
        one_in,
        |conn, member, current| {
            let organization_id = member.organization_id().to_string();
            let membership = target(conn, &organization_id, id)?;
            let input = change(&current)?;
            let now = now_ms();
            let before: Option<ScimUserRow> = scim_users::table
                .find((&organization_id, id))
                .select(ScimUserRow::as_select())
                .first(conn)
                .optional()?;
            let user_name = input.user_name.clone().unwrap_or_default();
            ensure_user_name_free(conn, &organization_id, &user_name, Some(id))?;
            let view = input.view(
                &organization_id,
                id,
                before.as_ref().map_or(now, |b| b.created_at),
                now,
            )?;
            if !before.as_ref().is_some_and(|b| same_view(b, &view)) {
                execute(
                    conn,
                    diesel::delete(scim_users::table.find((&organization_id, id))),
                )?;
                execute(conn, diesel::insert_into(scim_users::table).values(&view))?;
                edited(conn, caller, &organization_id, id)?;
            }
            if let Some(active) = input.active {
                set_active(conn, caller, &membership, active)?;
            }
            one_in(conn, &organization_id, id, base)
        },
    )
}

/// `collaborator.edited` for a member whose directory view changed: the
/// membership as it stands (SCIM changes no role or grant).
fn edited(conn: &mut DbConn, caller: &Caller, organization_id: &str, id: &str) -> DomainResult<()> {
    let now = membership::collaborator(conn, organization_id, id)?;
    events::record(
        conn,
        organization_id,
        By::Caller(caller),
        id,
        CollaboratorEdited {
            userid: &now.userid,
            role: &now.role,
            previousrole: &now.role,
            cancreateprojects: now.cancreateprojects,
            projectpermissions: &now.projectpermissions,
            expiresat: now.expiresat.as_deref(),
        },
    )
}

/// `DELETE /Users/{id}`: `If-Match` checked, then the member removed as
/// `customer/removecollaborator` removes, in one transaction.
pub fn delete(ctx: &Ctx, caller: &Caller, id: &str, wanted: Option<&str>) -> DomainResult<()> {
    guarded(ctx, caller, (id, wanted, ""), one_in, |conn, _, _| {
        members::remove_in(conn, caller, id)
    })
}
