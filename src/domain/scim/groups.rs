//! SCIM Groups (API.md §11) are the organization's teams: `id` is the
//! teamid, `displayName` its name, `members` its members as Users
//! (suspended ones too: their teams stay), `externalId` the directory's id
//! for it. Reading one and lists (`filter` on `id`, `displayName`
//! regardless of case, `externalId`, `members.value`), and the writes,
//! each in one transaction with its `If-Match` checked there
//! ([`crate::domain::teams::directory`] does the team's part).

use std::collections::HashMap;

use diesel::prelude::*;
use serde_json::{json, Value};

use super::filter::{Filter, Path};
use super::{authorize_in, filter_of, guarded, invalid_filter, stamp, Page, GROUP_SCHEMA};
use crate::clock::rfc3339;
use crate::domain::access::Hold;
use crate::domain::sessions::Caller;
use crate::domain::teams::directory::{self, DirectoryTeam, MemberRef};
use crate::domain::{now_ms, Ctx, DomainError, DomainResult, MAX_NAME_CHARS};
use crate::store::rows::TeamRow;
use crate::store::schema::{memberships, scim_users, team_members, teams, users};
use crate::store::DbConn;

/// A member of a team as a Group shows it: the User's id and name.
struct Member {
    id: String,
    display: String,
}

fn resource(team: TeamRow, members: Vec<Member>, base: &str) -> Value {
    let members: Vec<Value> = members
        .into_iter()
        .map(|m| {
            json!({"value": m.id, "display": m.display, "type": "User",
                   "$ref": format!("{base}/Users/{}", m.id)})
        })
        .collect();
    let mut out = json!({
        "schemas": [GROUP_SCHEMA],
        "id": team.id,
        "displayName": team.name,
        "members": members,
        "meta": {
            "resourceType": "Group",
            "created": rfc3339(team.created_at),
            "lastModified": rfc3339(team.updated_at.unwrap_or(team.created_at).max(team.created_at)),
            "location": format!("{base}/Groups/{}", team.id),
        },
    });
    if let Some(external) = team.external_id {
        out["externalId"] = json!(external);
    }
    stamp(&mut out);
    out
}

/// The members of the teams `ids` of `organization_id` (memberships not
/// past their end, suspended or not), in the order they joined each team:
/// team id → members. The name shown is the one the directory gave the
/// member in the team, else the directory's `displayName` of the User,
/// else the account's name, else the directory's `userName`, else the
/// account's address.
fn members_of(
    conn: &mut DbConn,
    organization_id: &str,
    ids: &[String],
) -> DomainResult<HashMap<String, Vec<Member>>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let now = now_ms();
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = team_members::table
        .inner_join(
            memberships::table.on(memberships::organization_id
                .eq(team_members::organization_id)
                .and(memberships::id.eq(team_members::membership_id))),
        )
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .left_join(
            scim_users::table.on(scim_users::organization_id
                .eq(team_members::organization_id)
                .and(scim_users::membership_id.eq(team_members::membership_id))),
        )
        .filter(team_members::organization_id.eq(organization_id))
        .filter(team_members::team_id.eq_any(ids))
        .filter(
            memberships::expires_at
                .is_null()
                .or(memberships::expires_at.gt(now)),
        )
        .order((
            team_members::created_at.asc(),
            team_members::membership_id.asc(),
        ))
        .select((
            team_members::team_id,
            team_members::membership_id,
            team_members::display,
            users::name.nullable(),
            users::email,
            scim_users::display_name.nullable(),
            scim_users::user_name.nullable(),
        ))
        .load(conn)?;
    let mut out: HashMap<String, Vec<Member>> = HashMap::new();
    for (team, id, given, name, email, display, user_name) in rows {
        let display = given
            .or(display.filter(|d| !d.is_empty()))
            .or(name.filter(|n| !n.is_empty()))
            .or(user_name)
            .unwrap_or(email);
        out.entry(team).or_default().push(Member { id, display });
    }
    Ok(out)
}

/// The teams `rows` as Groups, in their order.
fn resources(
    conn: &mut DbConn,
    organization_id: &str,
    rows: Vec<TeamRow>,
    base: &str,
) -> DomainResult<Vec<Value>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut members = members_of(conn, organization_id, &ids)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let of = members.remove(&row.id).unwrap_or_default();
            resource(row, of, base)
        })
        .collect())
}

/// The Group `id` of `organization_id` as it is in the caller's
/// transaction; 404 when there is none.
fn one_in(conn: &mut DbConn, organization_id: &str, id: &str, base: &str) -> DomainResult<Value> {
    let team = directory::team_in(conn, organization_id, id)?;
    resources(conn, organization_id, vec![team], base)?
        .pop()
        .ok_or_else(|| DomainError::Internal("a team read back vanished".into()))
}

/// The Group `id`, as a SCIM resource under `base`.
pub fn get(ctx: &Ctx, caller: &Caller, id: &str, base: &str) -> DomainResult<Value> {
    ctx.store.read(|conn| {
        let member = authorize_in(conn, caller, Hold::Nothing)?;
        one_in(conn, member.organization_id(), id, base)
    })
}

/// The Groups `filter` matches (all without one), the page asked for, as a
/// `ListResponse` under `base`, by name.
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
        let rows: Vec<TeamRow> = teams::table
            .filter(teams::organization_id.eq(&organization_id))
            .order((teams::name.asc(), teams::id.asc()))
            .select(TeamRow::as_select())
            .load(conn)?;
        let by_member = match &filter {
            Some(filter) => member_filter(conn, &organization_id, filter)?,
            None => None,
        };
        let matched: Vec<TeamRow> = rows
            .into_iter()
            .filter(|row| filter.as_ref().is_none_or(|f| holds(f, row)))
            .filter(|row| by_member.as_ref().is_none_or(|ids| ids.contains(&row.id)))
            .collect();
        let total = matched.len();
        let (from, to) = page.bounds(total);
        let shown = matched.into_iter().skip(from).take(to - from).collect();
        let resources = resources(conn, &organization_id, shown, base)?;
        Ok(page.response(total, resources))
    })
}

/// The attributes a Group filter may compare; 400 `invalidFilter` for
/// another.
fn check_attribute(path: &Path) -> DomainResult<()> {
    let known = path.is("id")
        || path.is("displayName")
        || path.is("externalId")
        || path.is_sub("members", "value");
    if known {
        Ok(())
    } else {
        Err(invalid_filter(&format!(
            "collabd filters Groups on id, displayName, externalId and members.value, not {:?}",
            path.attribute
        )))
    }
}

/// True when the team meets the filter's equalities on its own attributes
/// (`displayName` regardless of case); `members.value` is
/// [`member_filter`]'s.
fn holds(filter: &Filter, team: &TeamRow) -> bool {
    filter.equalities().iter().all(|(path, value)| {
        let text = value.as_str();
        if path.is("id") {
            text == Some(team.id.as_str())
        } else if path.is("displayName") {
            text.is_some_and(|t| t.to_lowercase() == team.name.to_lowercase())
        } else if path.is("externalId") {
            text.is_some() && text == team.external_id.as_deref()
        } else {
            true
        }
    })
}

/// The teams holding every User a `members.value eq` of the filter names,
/// or `None` when it names none.
fn member_filter(
    conn: &mut DbConn,
    organization_id: &str,
    filter: &Filter,
) -> DomainResult<Option<Vec<String>>> {
    let mut teams: Option<Vec<String>> = None;
    for (path, value) in filter.equalities() {
        if !path.is_sub("members", "value") {
            continue;
        }
        let holding: Vec<String> = team_members::table
            .filter(team_members::organization_id.eq(organization_id))
            .filter(team_members::membership_id.eq(value.as_str().unwrap_or_default()))
            .select(team_members::team_id)
            .load(conn)?;
        teams = Some(match teams {
            None => holding,
            Some(before) => before.into_iter().filter(|t| holding.contains(t)).collect(),
        });
    }
    Ok(teams)
}

/// What a Group body says, read leniently (attribute names in any case).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    /// `None` when the body has no `members`.
    pub members: Option<Vec<MemberRef>>,
}

fn invalid(why: impl std::fmt::Display) -> DomainError {
    DomainError::invalid("body", format!("[invalidValue] {why}"))
}

/// The most members one body may name.
const MAX_MEMBERS: usize = 10_000;

/// One of a body's `members`: its `value`, and its `display` when given.
fn member_ref(given: &Value) -> DomainResult<MemberRef> {
    let object = given
        .as_object()
        .ok_or_else(|| invalid("each of members must be an object"))?;
    let field = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let id = field("value")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("each of members needs a string value"))?;
    let display = match field("display") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) if d.chars().count() > MAX_NAME_CHARS => {
            return Err(invalid(format!(
                "a member's display is at most {MAX_NAME_CHARS} characters"
            )))
        }
        Some(Value::String(d)) if d.chars().any(char::is_control) => {
            return Err(invalid("a member's display holds a control character"))
        }
        Some(Value::String(d)) => Some(d.clone()),
        Some(_) => return Err(invalid("a member's display must be a string")),
    };
    Ok(MemberRef {
        id: id.to_string(),
        display,
    })
}

impl GroupInput {
    /// Forgets each member's `display` that is the one `current` (the
    /// Group as it is) shows already: a PATCH sends back the names it
    /// read, which are not the directory's own.
    fn without_shown(mut self, current: &Value) -> GroupInput {
        let shown = |id: &str| {
            current["members"]
                .as_array()
                .and_then(|l| l.iter().find(|m| m["value"] == id))
                .and_then(|m| m["display"].as_str())
                .map(str::to_string)
        };
        if let Some(members) = self.members.as_mut() {
            for member in members {
                if member.display.is_some() && member.display == shown(&member.id) {
                    member.display = None;
                }
            }
        }
        self
    }

    pub fn read(body: &Value) -> DomainResult<GroupInput> {
        let object = body
            .as_object()
            .ok_or_else(|| invalid("the body is no object"))?;
        let field = |name: &str| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let display_name = match field("displayName") {
            Some(Value::String(name)) => name.trim().to_string(),
            Some(Value::Null) | None => return Err(invalid("displayName is required")),
            Some(_) => return Err(invalid("displayName must be a string")),
        };
        if display_name.is_empty() || display_name.chars().count() > MAX_NAME_CHARS {
            return Err(invalid(format!(
                "displayName must be 1 to {MAX_NAME_CHARS} characters"
            )));
        }
        if display_name.chars().any(char::is_control) {
            return Err(invalid("displayName holds a control character"));
        }
        let external_id = match field("externalId") {
            Some(Value::String(id)) if id.chars().count() > 256 => {
                return Err(invalid("externalId is at most 256 characters"))
            }
            Some(Value::String(id)) if id.chars().any(char::is_control) => {
                return Err(invalid("externalId holds a control character"))
            }
            Some(Value::String(id)) => Some(id.clone()),
            Some(Value::Null) | None => None,
            Some(_) => return Err(invalid("externalId must be a string")),
        };
        let members = match field("members") {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) if list.len() > MAX_MEMBERS => {
                return Err(invalid(format!("at most {MAX_MEMBERS} members")))
            }
            Some(Value::Array(list)) => Some(
                list.iter()
                    .map(member_ref)
                    .collect::<DomainResult<Vec<MemberRef>>>()?,
            ),
            Some(_) => return Err(invalid("members must be an array")),
        };
        Ok(GroupInput {
            display_name,
            external_id,
            members,
        })
    }

    fn team(&self) -> DirectoryTeam<'_> {
        DirectoryTeam {
            name: &self.display_name,
            external_id: self.external_id.as_deref(),
            members: self.members.as_deref(),
        }
    }
}

/// `POST /Groups`: a team without role or grants, with its members.
pub fn create(ctx: &Ctx, caller: &Caller, input: &GroupInput, base: &str) -> DomainResult<Value> {
    ctx.store.write(|conn| {
        let member = authorize_in(conn, caller, Hold::Exclusive)?;
        let id = directory::create_in(conn, &member, caller, &input.team())?;
        one_in(conn, member.organization_id(), &id, base)
    })
}

/// `PUT /Groups/{id}` (`change` gives the body; a body without `members`
/// keeps them) or `PATCH` (`change` applies the operations to the Group as
/// it is): `If-Match` checked in the same transaction (412, nothing done).
pub fn write(
    ctx: &Ctx,
    caller: &Caller,
    id: &str,
    change: &dyn Fn(&Value) -> DomainResult<GroupInput>,
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
            let input = change(&current)?.without_shown(&current);
            directory::write_in(conn, member, caller, id, &input.team())?;
            one_in(conn, &organization_id, id, base)
        },
    )
}

/// `DELETE /Groups/{id}`, as `customer/deleteteam`.
pub fn delete(ctx: &Ctx, caller: &Caller, id: &str, wanted: Option<&str>) -> DomainResult<()> {
    guarded(ctx, caller, (id, wanted, ""), one_in, |conn, member, _| {
        directory::delete_in(conn, member, caller, id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_bodies_are_read_leniently_and_checked() {
        let read = GroupInput::read(&json!({
            "schemas": [GROUP_SCHEMA], "DisplayName": " Ops ", "externalId": "e1",
            "members": [{"value": "m1"}, {"Value": "m2", "display": "x"}]
        }))
        .expect("reads");
        assert_eq!(read.display_name, "Ops");
        let ids: Vec<&str> = read
            .members
            .iter()
            .flatten()
            .map(|m| m.id.as_str())
            .collect();
        assert_eq!(ids, ["m1", "m2"]);
        assert_eq!(
            read.members.as_ref().and_then(|m| m[1].display.as_deref()),
            Some("x")
        );
        for bad in [
            json!({}),
            json!({"displayName": ""}),
            json!({"displayName": 1}),
            json!({"displayName": "a\u{0}b"}),
            json!({"displayName": "a", "members": [{"display": "x"}]}),
            json!({"displayName": "a", "members": {"value": "x"}}),
            json!({"displayName": "a", "externalId": 3}),
        ] {
            assert!(GroupInput::read(&bad).is_err(), "{bad}");
        }
    }
}
