//! SCIM 2.0 provisioning (API.md §11): a company's directory keeps an
//! organization's members (Users) and teams (Groups) in step. Who may call
//! ([`authorize`]), what the service says of itself (resource types and
//! schemas), what every resource and list shares (versions, `If-Match`,
//! pages), and the filter and path grammar ([`filter`]).

pub mod filter;
pub mod groups;
pub mod patch;
pub mod provision;
pub mod users;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::access::{self, Hold, Member};
use super::permissions::Permission;
use super::sessions::Caller;
use super::{Ctx, DomainError, DomainResult};
use crate::store::DbConn;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The most resources one page holds (`count`), and the filter's
/// `maxResults`.
pub const MAX_RESULTS: usize = 200;
/// The resource types there are: members and teams.
pub const RESOURCE_TYPES: [&str; 2] = ["User", "Group"];
/// The schemas there are, one per resource type.
pub const SCHEMAS: [&str; 2] = [USER_SCHEMA, GROUP_SCHEMA];

/// `W/"…"`: a digest of what the resource shows, so it changes whenever
/// anything shown does.
pub fn version_of(resource: &Value) -> String {
    let digest = Sha256::digest(resource.to_string().as_bytes());
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("W/\"{hex}\"")
}

/// Sets `meta.version` of a resource from everything else it shows.
pub fn stamp(resource: &mut Value) {
    let version = version_of(resource);
    resource["meta"]["version"] = json!(version);
}

/// 412 unless `wanted` (an `If-Match` header: versions separated by
/// commas, or `*`) names `current`'s version; checked in the transaction
/// that writes, so nothing changes in between.
pub fn if_match(wanted: Option<&str>, current: &Value) -> DomainResult<()> {
    let Some(wanted) = wanted else {
        return Ok(());
    };
    let version = current["meta"]["version"].as_str().unwrap_or("");
    if wanted
        .split(',')
        .map(str::trim)
        .any(|v| v == "*" || v == version)
    {
        return Ok(());
    }
    Err(DomainError::PreconditionFailed(format!(
        "If-Match names another version than the resource's ({version}); nothing was done"
    )))
}

/// How a kind of resource is read in the caller's transaction: the one
/// with id `id` of organization `organization_id`, under `base` (404 when
/// there is none).
pub type Reader = fn(&mut DbConn, &str, &str, &str) -> DomainResult<Value>;

/// The start of every SCIM write, in its one transaction: the gate (the
/// organization held), the resource `id` as `read` reads it, and
/// `If-Match` (`wanted`) against it (412, nothing done); then `act` with
/// the member and the resource as it is.
pub fn guarded<T>(
    ctx: &Ctx,
    caller: &Caller,
    (id, wanted, base): (&str, Option<&str>, &str),
    read: Reader,
    act: impl FnOnce(&mut DbConn, &Member, Value) -> DomainResult<T>,
) -> DomainResult<T> {
    ctx.store.write(|conn| {
        let member = authorize_in(conn, caller, Hold::Exclusive)?;
        let current = read(conn, member.organization_id(), id, base)?;
        if_match(wanted, &current)?;
        act(conn, &member, current)
    })
}

/// A `filter` as given: parsed, every attribute it compares one `known`
/// takes (400 `invalidFilter` otherwise).
pub fn filter_of(
    text: Option<&str>,
    known: fn(&filter::Path) -> DomainResult<()>,
) -> DomainResult<Option<filter::Filter>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let parsed = filter::parse_filter(text).map_err(|why| invalid_filter(&why))?;
    for (path, _) in parsed.equalities() {
        known(path)?;
    }
    Ok(Some(parsed))
}

/// A page of a list: `startIndex` (1-based) and `count` (at most
/// [`MAX_RESULTS`]).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub start_index: usize,
    pub count: usize,
}

impl Page {
    /// The slice of `total` results the page asks for.
    pub fn bounds(&self, total: usize) -> (usize, usize) {
        let from = self.start_index.saturating_sub(1).min(total);
        (from, (from + self.count.min(MAX_RESULTS)).min(total))
    }

    /// The page of `all` (every match, in order) as a `ListResponse`.
    pub fn of(&self, mut all: Vec<Value>) -> Value {
        let (from, to) = self.bounds(all.len());
        let total = all.len();
        self.response(total, all.drain(from..to).collect())
    }

    /// A `ListResponse` of `resources`, this page of `total` matches.
    pub fn response(&self, total: usize, resources: Vec<Value>) -> Value {
        json!({
            "schemas": [LIST_RESPONSE],
            "totalResults": total,
            "startIndex": self.start_index.max(1),
            "itemsPerPage": resources.len(),
            "Resources": resources,
        })
    }
}

fn invalid_filter(why: &str) -> DomainError {
    DomainError::invalid("filter", format!("[invalidFilter] {why}"))
}

/// The member a SCIM call acts as: the holder of an API key bound to the
/// organization, who has `members:manage` and `teams:manage` there, judged
/// at every call. A session, or an unbound key, is refused (403): SCIM
/// names no organization, the key does.
pub fn authorize(ctx: &Ctx, caller: &Caller) -> DomainResult<Member> {
    ctx.store
        .read(|conn| authorize_in(conn, caller, Hold::Nothing))
}

/// [`authorize`] in the caller's own transaction, holding the organization
/// as `how` says: the one gate of every SCIM read and write.
pub fn authorize_in(conn: &mut DbConn, caller: &Caller, how: Hold) -> DomainResult<Member> {
    if caller.api_key.is_none() || caller.bound_organization().is_none() {
        return Err(DomainError::forbidden(
            "SCIM takes an API key bound to the organization (user/createapikey with \
             organizationid), not a session or an unbound key",
        ));
    }
    let member = access::organization(conn, caller, None, Permission::MembersManage, how)?;
    if !member.holds(Permission::TeamsManage) {
        return Err(DomainError::forbidden(format!(
            "the role {} may not manage teams, which SCIM's groups are",
            member.assigned.name()
        )));
    }
    Ok(member)
}

/// The resource type `kind` (`User` or `Group`), its location under
/// `base`.
pub fn resource_type(kind: &str, base: &str) -> Value {
    let (endpoint, schema, description) = match kind {
        "Group" => ("/Groups", GROUP_SCHEMA, "The organization's teams."),
        _ => ("/Users", USER_SCHEMA, "The organization's members."),
    };
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": kind,
        "name": kind,
        "endpoint": endpoint,
        "description": description,
        "schema": schema,
        "schemaExtensions": [],
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{kind}"),
        },
    })
}

/// One attribute's definition (RFC 7643 §7).
fn attribute(name: &str, kind: &str, description: &str, traits: Value) -> Value {
    let mut attribute = json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": description,
        "required": false,
        "caseExact": false,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    });
    if let (Some(to), Some(from)) = (attribute.as_object_mut(), traits.as_object()) {
        for (k, v) in from {
            to.insert(k.clone(), v.clone());
        }
    }
    attribute
}

fn user_attributes() -> Value {
    json!([
        attribute(
            "userName",
            "string",
            "The directory's name for the person (a UPN, a login), \
            unique in the organization regardless of case.",
            json!({"required": true, "uniqueness": "server"})
        ),
        attribute(
            "name",
            "complex",
            "The person's name as the directory gives it.",
            json!({"subAttributes": [
                attribute("givenName", "string", "Given name.", json!({})),
                attribute("familyName", "string", "Family name.", json!({})),
            ]})
        ),
        attribute("displayName", "string", "The name to show.", json!({})),
        attribute(
            "active",
            "boolean",
            "False suspends the membership: a non-member for every \
            other call while its grants and teams stay. Okta and Entra send it \
            with every User; a body without it leaves it as it is (true for a \
            new member), and it cannot be removed (400).",
            json!({"required": true})
        ),
        attribute(
            "emails",
            "complex",
            "Addresses; the primary one (else work, else the first) \
            finds or makes the account of a new member.",
            json!({"multiValued": true, "required": true, "subAttributes": [
                attribute("value", "string", "The address.", json!({"required": true})),
                attribute("type", "string", "work, home or other.",
                    json!({"canonicalValues": ["work", "home", "other"]})),
                attribute("primary", "boolean", "The primary address.", json!({})),
            ]})
        ),
        attribute(
            "groups",
            "complex",
            "The teams the member is in (read only).",
            json!({"multiValued": true, "mutability": "readOnly", "subAttributes": [
                attribute("value", "string", "The group's id.", json!({"mutability": "readOnly"})),
                attribute("display", "string", "The group's name.", json!({"mutability": "readOnly"})),
            ]})
        ),
    ])
}

fn group_attributes() -> Value {
    json!([
        attribute(
            "displayName",
            "string",
            "The team's name (1 to 200 characters), unique in the organization.",
            json!({"required": true, "uniqueness": "server"})
        ),
        attribute(
            "members",
            "complex",
            "The team's members: Users of the organization by id (suspended ones \
            too). A body without it makes a team without members (POST) or keeps \
            them (PUT).",
            json!({"multiValued": true, "subAttributes": [
                attribute("value", "string", "The User's id.",
                    json!({"mutability": "immutable", "caseExact": true})),
                attribute("display", "string", "The member's name as the directory \
                    gave it here, read back as written; without one, the User's \
                    displayName (else its name, else userName).", json!({})),
                attribute("$ref", "reference", "The User's URL.",
                    json!({"mutability": "immutable", "referenceTypes": ["User"]})),
                attribute("type", "string", "User.", json!({"mutability": "immutable",
                    "canonicalValues": ["User"]})),
            ]})
        ),
    ])
}

/// The schema with URN `id`, if collabd has it, its location under `base`.
pub fn schema(id: &str, base: &str) -> Option<Value> {
    let (name, description, attributes) = match id {
        USER_SCHEMA => ("User", "A member of the organization.", user_attributes()),
        GROUP_SCHEMA => ("Group", "A team of the organization.", group_attributes()),
        _ => return None,
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
    }))
}

/// `resource` with only the attributes `attributes` names (a comma-separated
/// list; `schemas`, `id` and `meta` always stay), or without those
/// `excluded` names (RFC 7644 §3.9). Names are compared regardless of case,
/// with or without their schema's URN; `name.givenName` names a
/// sub-attribute.
pub fn project(resource: &mut Value, attributes: Option<&str>, excluded: Option<&str>) {
    fn names(list: &str) -> Vec<(String, Option<String>)> {
        list.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                let local = n.rsplit_once(':').map_or(n, |(_, local)| local);
                match local.split_once('.') {
                    Some((a, s)) => (a.to_lowercase(), Some(s.to_lowercase())),
                    None => (local.to_lowercase(), None),
                }
            })
            .collect()
    }
    let Some(object) = resource.as_object_mut() else {
        return;
    };
    const ALWAYS: [&str; 3] = ["schemas", "id", "meta"];
    if let Some(list) = attributes.map(names).filter(|n| !n.is_empty()) {
        object.retain(|key, value| {
            if ALWAYS.contains(&key.as_str()) {
                return true;
            }
            let wanted: Vec<&Option<String>> = list
                .iter()
                .filter(|(a, _)| *a == key.to_lowercase())
                .map(|(_, s)| s)
                .collect();
            if wanted.is_empty() {
                return false;
            }
            if wanted.iter().all(|s| s.is_some()) {
                if let Some(inner) = value.as_object_mut() {
                    inner.retain(|k, _| {
                        wanted
                            .iter()
                            .any(|s| s.as_deref() == Some(&k.to_lowercase()))
                    });
                }
            }
            true
        });
    }
    if let Some(list) = excluded.map(names) {
        for (attribute, sub) in list {
            let key = object
                .keys()
                .find(|k| k.to_lowercase() == attribute && !ALWAYS.contains(&k.as_str()))
                .cloned();
            let Some(key) = key else { continue };
            match sub {
                None => {
                    object.remove(&key);
                }
                Some(sub) => {
                    if let Some(inner) = object.get_mut(&key).and_then(Value::as_object_mut) {
                        inner.retain(|k, _| k.to_lowercase() != sub);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_and_excluded_attributes_shape_a_resource() {
        let full = json!({"schemas": [USER_SCHEMA], "id": "1", "meta": {}, "userName": "a",
                          "name": {"givenName": "A", "familyName": "B"}, "emails": [],
                          "active": true});
        let mut only = full.clone();
        project(&mut only, Some("userName, name.givenName"), None);
        assert_eq!(
            only,
            json!({"schemas": [USER_SCHEMA], "id": "1", "meta": {}, "userName": "a",
                   "name": {"givenName": "A"}})
        );
        let mut without = full.clone();
        project(
            &mut without,
            None,
            Some("emails,urn:ietf:params:scim:schemas:core:2.0:User:active,id"),
        );
        assert!(without.get("emails").is_none() && without.get("active").is_none());
        assert_eq!(without["id"], "1", "id always stays");
    }
}
