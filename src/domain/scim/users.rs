//! SCIM Users (API.md §11) are the organization's members: `id` is the
//! collaboratorid, the directory's view (`scim_users`) as last written, or
//! the account's address and name for a member SCIM did not make;
//! `active` is false while the membership is suspended. Reading one, and
//! lists with `filter`, `startIndex` and `count`.

use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use serde_json::{json, Value};

use super::filter::{Filter, Path};
use super::{authorize_in, filter_of, invalid_filter, stamp, Page, USER_SCHEMA};
use crate::clock::rfc3339;
use crate::domain::access::Hold;
use crate::domain::emails::normalize_email;
use crate::domain::sessions::Caller;
use crate::domain::teamwork::{teams_of_members, TeamRef};
use crate::domain::{now_ms, rosters, Ctx, DomainError, DomainResult};
use crate::store::rows::{MembershipRow, ScimUserRow, UserRow};
use crate::store::schema::{memberships, scim_users, users};
use crate::store::DbConn;

/// A member as SCIM reads it.
struct Seen {
    membership: MembershipRow,
    user: UserRow,
    view: Option<ScimUserRow>,
    teams: Vec<TeamRef>,
}

/// The key `userName` is unique and looked up by: lower-cased.
pub fn user_name_key(user_name: &str) -> String {
    user_name.to_lowercase()
}

fn resource(seen: Seen, base: &str) -> Value {
    let Seen {
        membership,
        user,
        view,
        teams,
    } = seen;
    let location = format!("{base}/Users/{}", membership.id);
    let groups: Vec<Value> = teams
        .into_iter()
        .map(|t| {
            json!({"value": t.teamid, "display": t.name,
                   "$ref": format!("{base}/Groups/{}", t.teamid)})
        })
        .collect();
    let modified = view.as_ref().map_or(membership.created_at, |v| {
        v.updated_at.max(membership.created_at)
    });
    let mut out = match view {
        Some(v) => {
            let emails: Value = serde_json::from_str(&v.emails).unwrap_or_else(|_| json!([]));
            let mut out = json!({"userName": v.user_name, "emails": emails});
            let mut name = serde_json::Map::new();
            if let Some(given) = v.given_name {
                name.insert("givenName".into(), json!(given));
            }
            if let Some(family) = v.family_name {
                name.insert("familyName".into(), json!(family));
            }
            if !name.is_empty() {
                out["name"] = Value::Object(name);
            }
            if let Some(display) = v.display_name {
                out["displayName"] = json!(display);
            }
            if let Some(external) = v.external_id {
                out["externalId"] = json!(external);
            }
            out
        }
        None => json!({
            "userName": user.email,
            "displayName": user.name,
            "emails": [{"value": user.email, "type": "work", "primary": true}],
        }),
    };
    out["schemas"] = json!([USER_SCHEMA]);
    out["id"] = json!(membership.id);
    out["active"] = json!(membership.suspended_at.is_none());
    out["groups"] = Value::Array(groups);
    out["meta"] = json!({
        "resourceType": "User",
        "created": rfc3339(membership.created_at),
        "lastModified": rfc3339(modified),
        "location": location,
    });
    stamp(&mut out);
    out
}

/// Loads the members `ids` of `organization_id` (every one with `None`),
/// in the order they joined, as SCIM reads them: memberships not past
/// their end, suspended or not.
fn load(
    conn: &mut DbConn,
    organization_id: &str,
    ids: Option<&[String]>,
) -> DomainResult<Vec<Seen>> {
    if ids.is_some_and(<[String]>::is_empty) {
        return Ok(Vec::new());
    }
    let now = now_ms();
    let mut query = memberships::table
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .left_join(
            scim_users::table.on(scim_users::organization_id
                .eq(memberships::organization_id)
                .and(scim_users::membership_id.eq(memberships::id))),
        )
        .filter(memberships::organization_id.eq(organization_id))
        .filter(
            memberships::expires_at
                .is_null()
                .or(memberships::expires_at.gt(now)),
        )
        .order(memberships::id.asc())
        .select((
            MembershipRow::as_select(),
            UserRow::as_select(),
            Option::<ScimUserRow>::as_select(),
        ))
        .into_boxed();
    if let Some(ids) = ids {
        query = query.filter(memberships::id.eq_any(ids.to_vec()));
    }
    let rows: Vec<(MembershipRow, UserRow, Option<ScimUserRow>)> = query.load(conn)?;
    let loaded: Vec<String> = rows.iter().map(|(m, _, _)| m.id.clone()).collect();
    let mut teams = teams_of_members(conn, organization_id, &loaded)?;
    Ok(rows
        .into_iter()
        .map(|(membership, user, view)| Seen {
            teams: teams.remove(&membership.id).unwrap_or_default(),
            membership,
            user,
            view,
        })
        .collect())
}

fn no_user(id: &str) -> DomainError {
    DomainError::not_found(format!("no User {id:?} in this organization"))
}

/// The User `id`, as a SCIM resource under `base`.
pub fn get(ctx: &Ctx, caller: &Caller, id: &str, base: &str) -> DomainResult<Value> {
    ctx.store.read(|conn| {
        let member = authorize_in(conn, caller, Hold::Nothing)?;
        one_in(conn, member.organization_id(), id, base)
    })
}

/// The User `id` of `organization_id` as it is in the caller's
/// transaction; 404 when there is none.
pub fn one_in(
    conn: &mut DbConn,
    organization_id: &str,
    id: &str,
    base: &str,
) -> DomainResult<Value> {
    let seen = load(conn, organization_id, Some(&[id.to_string()]))?
        .pop()
        .ok_or_else(|| no_user(id))?;
    Ok(resource(seen, base))
}

/// The Users `filter` matches (all without one), the page asked for, as a
/// `ListResponse` under `base`.
pub fn list(
    ctx: &Ctx,
    caller: &Caller,
    filter: Option<&str>,
    page: Page,
    base: &str,
) -> DomainResult<Value> {
    let filter = filter_of(filter, check_attribute)?;
    ctx.store.read(|conn| {
        let member = authorize_in(conn, caller, Hold::Nothing)?;
        let organization_id = member.organization_id().to_string();
        match &filter {
            // Without a filter, the page alone is read.
            None => {
                let (total, ids) = page_of(ctx, conn, &organization_id, &page)?;
                let resources: Vec<Value> = load(conn, &organization_id, Some(&ids))?
                    .into_iter()
                    .map(|s| resource(s, base))
                    .collect();
                Ok(page.response(total, resources))
            }
            // With one, what its indexed equality allows (every member when
            // it has none), each checked against the whole filter.
            Some(filter) => {
                let candidates = narrow(conn, &organization_id, filter)?;
                let matched: Vec<Value> = load(conn, &organization_id, candidates.as_deref())?
                    .into_iter()
                    .map(|s| resource(s, base))
                    .filter(|r| holds(filter, r))
                    .collect();
                Ok(page.of(matched))
            }
        }
    })
}

/// How many members the organization has (in force or suspended), and the
/// ids of those on `page`, in the order they joined (ids are UUIDv7, so by
/// id: the index's order). The count is kept per roster version, which
/// every membership made or removed moves, in any process, and until the
/// first counted membership ends: a page costs what it shows, however
/// many members there are.
fn page_of(
    ctx: &Ctx,
    conn: &mut DbConn,
    organization_id: &str,
    page: &Page,
) -> DomainResult<(usize, Vec<String>)> {
    let now = now_ms();
    let in_force = || {
        memberships::organization_id
            .eq(organization_id.to_string())
            .and(
                memberships::expires_at
                    .is_null()
                    .or(memberships::expires_at.gt(now)),
            )
    };
    let version = rosters::version(conn, organization_id)?;
    let total = match ctx.rosters.count(organization_id, version, now) {
        Some(total) => total,
        None => {
            let (total, first_end): (i64, Option<i64>) = memberships::table
                .filter(in_force())
                .select((count_star(), min(memberships::expires_at)))
                .first(conn)?;
            let total = usize::try_from(total).unwrap_or(0);
            ctx.rosters
                .put_count(organization_id, version, total, first_end);
            total
        }
    };
    let (from, to) = page.bounds(total);
    let ids = memberships::table
        .filter(in_force())
        .order(memberships::id.asc())
        .offset(i64::try_from(from).unwrap_or(i64::MAX))
        .limit(i64::try_from(to - from).unwrap_or(0))
        .select(memberships::id)
        .load(conn)?;
    Ok((total, ids))
}

/// The members the filter's first indexed equality allows, or `None` when
/// it has none (then every member is a candidate).
fn narrow(
    conn: &mut DbConn,
    organization_id: &str,
    filter: &Filter,
) -> DomainResult<Option<Vec<String>>> {
    for (path, value) in filter.equalities() {
        let Some(text) = value.as_str() else {
            continue;
        };
        if path.is("id") {
            return Ok(Some(vec![text.to_string()]));
        }
        if path.is("userName") {
            return by_name_or_address(conn, organization_id, Lookup::UserName(text)).map(Some);
        }
        if path.attribute.eq_ignore_ascii_case("emails") {
            return by_name_or_address(conn, organization_id, Lookup::Email(text)).map(Some);
        }
        if path.is("externalId") {
            let ids = scim_users::table
                .filter(scim_users::organization_id.eq(organization_id))
                .filter(scim_users::external_id.eq(text))
                .select(scim_users::membership_id)
                .load(conn)?;
            return Ok(Some(ids));
        }
    }
    Ok(None)
}

enum Lookup<'a> {
    UserName(&'a str),
    Email(&'a str),
}

/// Members whose view has the user name (or address), and members without
/// a view whose account has it as its address.
fn by_name_or_address(
    conn: &mut DbConn,
    organization_id: &str,
    lookup: Lookup<'_>,
) -> DomainResult<Vec<String>> {
    let (viewed, address): (Vec<String>, String) = match lookup {
        Lookup::UserName(name) => (
            scim_users::table
                .filter(scim_users::organization_id.eq(organization_id))
                .filter(scim_users::user_name_key.eq(user_name_key(name)))
                .select(scim_users::membership_id)
                .load(conn)?,
            normalize_email(name),
        ),
        Lookup::Email(email) => (
            scim_users::table
                .filter(scim_users::organization_id.eq(organization_id))
                .filter(scim_users::email_key.eq(normalize_email(email)))
                .select(scim_users::membership_id)
                .load(conn)?,
            normalize_email(email),
        ),
    };
    let unviewed: Vec<String> = memberships::table
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .left_join(
            scim_users::table.on(scim_users::organization_id
                .eq(memberships::organization_id)
                .and(scim_users::membership_id.eq(memberships::id))),
        )
        .filter(memberships::organization_id.eq(organization_id))
        .filter(users::email.eq(&address))
        .filter(scim_users::membership_id.nullable().is_null())
        .select(memberships::id)
        .load(conn)?;
    Ok(viewed.into_iter().chain(unviewed).collect())
}

/// The attributes a filter may compare (API.md §11); 400 `invalidFilter`
/// for another.
fn check_attribute(path: &Path) -> DomainResult<()> {
    let known = path.is("id")
        || path.is("userName")
        || path.is("externalId")
        || path.is("active")
        || path.is("displayName")
        || path.is_sub("emails", "value")
        || (path.attribute.eq_ignore_ascii_case("emails")
            && path.filter.is_some()
            && path
                .sub
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("value")));
    if known {
        Ok(())
    } else {
        Err(invalid_filter(&format!(
            "collabd filters Users on id, userName, externalId, active, displayName, \
             emails.value and emails[type eq \"…\"].value, not {:?}",
            path.attribute
        )))
    }
}

/// True when the resource `r` meets every equality of `filter`: `userName`
/// and addresses regardless of case, the rest exactly.
fn holds(filter: &Filter, r: &Value) -> bool {
    filter.equalities().iter().all(|(path, value)| {
        if path.is("userName") {
            return match (r["userName"].as_str(), value.as_str()) {
                (Some(a), Some(b)) => user_name_key(a) == user_name_key(b),
                _ => false,
            };
        }
        if path.attribute.eq_ignore_ascii_case("emails") {
            let wanted_type = path.filter.as_ref().and_then(|f| {
                f.equalities()
                    .iter()
                    .find(|(p, _)| p.is("type"))
                    .and_then(|(_, v)| v.as_str().map(str::to_lowercase))
            });
            return r["emails"].as_array().is_some_and(|emails| {
                emails.iter().any(|e| {
                    let type_ok = wanted_type.as_ref().is_none_or(|t| {
                        e["type"].as_str().map(str::to_lowercase).as_ref() == Some(t)
                    });
                    let value_ok = match (e["value"].as_str(), value.as_str()) {
                        (Some(a), Some(b)) => normalize_email(a) == normalize_email(b),
                        _ => false,
                    };
                    type_ok && value_ok
                })
            });
        }
        let attribute = ["id", "externalId", "active", "displayName"]
            .into_iter()
            .find(|a| path.is(a));
        attribute.is_some_and(|a| &r[a] == *value)
    })
}
