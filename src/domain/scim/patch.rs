//! PATCH (RFC 7644 §3.5.2) applied to a resource as SCIM shows it: `add`,
//! `replace` and `remove`, their names in any case (Entra writes
//! `Replace`), with a `path` (`active`, `name.givenName`,
//! `emails[type eq "work"].value`, `members[value eq "…"]`) or without one
//! (Okta: `{"op": "replace", "value": {"active": false}}`). The result is
//! read back as a whole body (PUT's rules), so every value is checked once.

use serde_json::{Map, Value};

use super::filter::{parse_path, Filter, Path};
use crate::domain::{DomainError, DomainResult};

fn invalid(kind: &str, why: impl std::fmt::Display) -> DomainError {
    DomainError::invalid("Operations", format!("[{kind}] {why}"))
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// `resource` with the `Operations` of a PatchOp `body` applied.
pub fn apply(resource: &mut Value, body: &Value) -> DomainResult<()> {
    let operations = body
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("Operations")))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| invalid("invalidSyntax", "a PatchOp body needs Operations"))?;
    if operations.len() > 100 {
        return Err(invalid("tooMany", "at most 100 operations"));
    }
    for operation in operations {
        let field = |name: &str| {
            operation
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .map(|(_, v)| v.clone())
        };
        let op = match field("op")
            .as_ref()
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("add") => Op::Add,
            Some("replace") => Op::Replace,
            Some("remove") => Op::Remove,
            _ => {
                return Err(invalid(
                    "invalidSyntax",
                    "op must be add, replace or remove",
                ))
            }
        };
        let value = field("value").unwrap_or(Value::Null);
        match field("path").as_ref().and_then(Value::as_str) {
            Some(path) => {
                let path = parse_path(path).map_err(|why| invalid("invalidPath", why))?;
                at_path(resource, op, &path, value)?;
            }
            None if op == Op::Remove => {
                return Err(invalid("noTarget", "remove needs a path"));
            }
            None => {
                let Value::Object(values) = value else {
                    return Err(invalid(
                        "invalidValue",
                        "without a path, value must be an object",
                    ));
                };
                for (key, value) in values {
                    let path = parse_path(&key).map_err(|why| invalid("invalidPath", why))?;
                    at_path(resource, op, &path, value)?;
                }
            }
        }
    }
    Ok(())
}

/// The key of `object` named `name` regardless of case, or `name`.
fn key_of(object: &Map<String, Value>, name: &str) -> String {
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

fn matches(filter: &Filter, element: &Value) -> bool {
    filter.equalities().iter().all(|(path, value)| {
        let Some(object) = element.as_object() else {
            return false;
        };
        let key = key_of(object, &path.attribute);
        match (&object.get(&key), value) {
            (Some(Value::String(a)), Value::String(b)) => a.eq_ignore_ascii_case(b),
            (Some(a), b) => *a == *b,
            (None, _) => false,
        }
    })
}

/// True when two values of a multi-valued attribute are the same one:
/// their `value`s are equal (regardless of case), or they are equal.
fn same_value(a: &Value, b: &Value) -> bool {
    match (
        a.get("value").and_then(Value::as_str),
        b.get("value").and_then(Value::as_str),
    ) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

fn at_path(resource: &mut Value, op: Op, path: &Path, value: Value) -> DomainResult<()> {
    let Some(object) = resource.as_object_mut() else {
        return Err(invalid("invalidSyntax", "the resource is no object"));
    };
    let key = key_of(object, &path.attribute);
    match (&path.filter, &path.sub) {
        (None, None) => {
            match op {
                // Entra takes members out of a group this way: the values
                // to remove, matched by their `value`.
                Op::Remove => match (object.get_mut(&key), value) {
                    (Some(Value::Array(list)), Value::Array(gone)) => {
                        list.retain(|e| !gone.iter().any(|g| same_value(e, g)));
                    }
                    _ => {
                        object.remove(&key);
                    }
                },
                Op::Add => match (object.get_mut(&key), value) {
                    (Some(Value::Array(list)), Value::Array(more)) => {
                        for item in more {
                            if !list.contains(&item) {
                                list.push(item);
                            }
                        }
                    }
                    (_, value) => {
                        object.insert(key, value);
                    }
                },
                Op::Replace => {
                    object.insert(key, value);
                }
            }
            Ok(())
        }
        (None, Some(sub)) => {
            let inner = object
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            let Some(inner) = inner.as_object_mut() else {
                return Err(invalid(
                    "invalidPath",
                    format!("{} has no sub-attributes", path.attribute),
                ));
            };
            let sub_key = key_of(inner, sub);
            match op {
                Op::Remove => {
                    inner.remove(&sub_key);
                }
                _ => {
                    inner.insert(sub_key, value);
                }
            }
            Ok(())
        }
        (Some(filter), sub) => {
            let list = object
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()));
            let Some(list) = list.as_array_mut() else {
                return Err(invalid(
                    "invalidPath",
                    format!("{} is not multi-valued", path.attribute),
                ));
            };
            in_values(list, op, filter, sub.as_deref(), value)
        }
    }
}

/// `op` on the values of a multi-valued attribute that `filter` matches
/// (their `sub`-attribute when it is given).
fn in_values(
    list: &mut Vec<Value>,
    op: Op,
    filter: &Filter,
    sub: Option<&str>,
    value: Value,
) -> DomainResult<()> {
    let hit = list.iter().any(|e| matches(filter, e));
    match (op, sub) {
        (Op::Remove, None) => list.retain(|e| !matches(filter, e)),
        (Op::Remove, Some(sub)) => {
            for element in list.iter_mut().filter(|e| matches(filter, e)) {
                if let Some(o) = element.as_object_mut() {
                    let k = key_of(o, sub);
                    o.remove(&k);
                }
            }
        }
        (_, Some(sub)) if !hit => {
            // Entra sets the work address this way when there is none yet.
            let mut element = Map::new();
            for (p, v) in filter.equalities() {
                element.insert(p.attribute.clone(), v.clone());
            }
            element.insert(sub.to_string(), value);
            list.push(Value::Object(element));
        }
        (_, Some(sub)) => {
            for element in list.iter_mut().filter(|e| matches(filter, e)) {
                if let Some(o) = element.as_object_mut() {
                    let k = key_of(o, sub);
                    o.insert(k, value.clone());
                }
            }
        }
        (_, None) if !hit => return Err(invalid("noTarget", "no value matches the path's filter")),
        (_, None) => {
            for element in list.iter_mut().filter(|e| matches(filter, e)) {
                *element = value.clone();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({"userName": "a@b.c", "active": true, "name": {"givenName": "A"},
               "emails": [{"value": "a@b.c", "type": "work", "primary": true}]})
    }

    #[test]
    fn okta_and_entra_patches_apply() {
        let mut okta = user();
        apply(
            &mut okta,
            &json!({"Operations": [{"op": "replace", "value": {"active": false}}]}),
        )
        .expect("applies");
        assert_eq!(okta["active"], false);
        let mut entra = user();
        apply(
            &mut entra,
            &json!({"Operations": [
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@b.c"},
                {"op": "Add", "path": "name.familyName", "value": "B"},
                {"op": "Remove", "path": "name.givenName"},
            ]}),
        )
        .expect("applies");
        assert_eq!(entra["active"], "False");
        assert_eq!(entra["emails"][0]["value"], "new@b.c");
        assert_eq!(entra["name"], json!({"familyName": "B"}));
    }

    #[test]
    fn group_members_are_added_and_removed_as_directories_do() {
        let mut group = json!({"displayName": "Ops", "members": [
            {"value": "a", "display": "A"}, {"value": "b", "display": "B"}]});
        apply(
            &mut group,
            &json!({"Operations": [
                {"op": "Add", "path": "members", "value": [{"value": "c"}]},
                {"op": "Remove", "path": "members", "value": [{"value": "A"}]},
                {"op": "remove", "path": "members[value eq \"b\"]"},
            ]}),
        )
        .expect("applies");
        assert_eq!(group["members"], json!([{"value": "c"}]));
        apply(
            &mut group,
            &json!({"Operations": [{"op": "remove", "path": "members"}]}),
        )
        .expect("applies");
        assert!(group.get("members").is_none());
    }

    #[test]
    fn bad_patches_are_refused() {
        for body in [
            json!({}),
            json!({"Operations": [{"op": "move", "path": "active"}]}),
            json!({"Operations": [{"op": "remove"}]}),
            json!({"Operations": [{"op": "replace", "path": "emails[", "value": 1}]}),
            json!({"Operations": [{"op": "replace", "path": "emails[type eq \"home\"]", "value": {}}]}),
        ] {
            assert!(apply(&mut user(), &body).is_err(), "{body}");
        }
    }
}
