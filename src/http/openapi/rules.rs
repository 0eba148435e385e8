//! What the derived schemas cannot state: rules between parameters, added
//! to the parameter objects by name, and the tidying of what utoipa writes.

/// Rules between parameters that the derived schemas cannot state, added to
/// the parameter objects by name (JSON Schema): the server refuses (422)
/// whatever breaks them, so the document says so too.
const PARAMETER_RULES: &[(&str, &str)] = &[
    // Exactly one of `inviteid` and `token`.
    ("AcceptParams", ONE_OF_INVITE_OR_TOKEN),
    ("DeclineParams", ONE_OF_INVITE_OR_TOKEN),
    // Owners' memberships are never time-limited (API.md §6).
    ("CreateInviteParams", OWNER_LASTS_INVITED),
    ("BulkInviteRow", OWNER_LASTS_INVITED),
    (
        "EditCollaboratorParams",
        r#"{"if": {"required": ["role"], "properties": {"role": {"const": "owner"}}},
            "then": {"properties": {"expiresat": {"type": "null"}}}}"#,
    ),
    // A new password needs the current one.
    (
        "EditParams",
        r#"{"if": {"required": ["password"], "properties": {"password": {"type": "string"}}},
            "then": {"required": ["currentpassword"],
                     "properties": {"currentpassword": {"type": "string"}}}}"#,
    ),
];

/// Parameter objects whose rules above ask for a member, though none is
/// required on its own: a request to their operations needs a body.
const BODY_REQUIRED: &[&str] = &["AcceptParams", "DeclineParams"];

/// An invite as owner makes a lasting membership.
const OWNER_LASTS_INVITED: &str = r#"{
    "if": {"required": ["role"], "properties": {"role": {"const": "owner"}}},
    "then": {"properties": {"membershipexpiresat": {"type": "null"}}}
}"#;

/// Stated with `if`/`then`/`else` rather than `oneOf`, which generators turn
/// into one class per branch and lose the other parameters.
const ONE_OF_INVITE_OR_TOKEN: &str = r#"{
    "if": {"required": ["inviteid"], "properties": {"inviteid": {"type": "string"}}},
    "then": {"properties": {"token": {"type": "null"}}},
    "else": {"required": ["token"], "properties": {"token": {"type": "string"}}}
}"#;

/// Adds [`PARAMETER_RULES`], folds the one-member `oneOf` utoipa writes
/// around an inline schema with its own description into that schema, and
/// marks `Location` required wherever a response documents it (utoipa's
/// headers cannot say so): a redirect or a creation always carries it.
pub(super) fn refine(doc: &mut serde_json::Value) {
    location_required(doc);
    body_required(doc);
    for (name, rule) in PARAMETER_RULES {
        let (Some(target), Ok(serde_json::Value::Object(rule))) = (
            doc.pointer_mut(&format!("/components/schemas/{name}")),
            serde_json::from_str::<serde_json::Value>(rule),
        ) else {
            continue;
        };
        if let Some(target) = target.as_object_mut() {
            target.extend(rule);
        }
    }
    fold_single_one_of(doc);
}

fn location_required(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    let operations = paths
        .values_mut()
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut());
    let responses = operations
        .filter_map(|op| op.get_mut("responses").and_then(|r| r.as_object_mut()))
        .flat_map(|responses| responses.values_mut());
    for response in responses {
        if let Some(location) = response.pointer_mut("/headers/Location") {
            location["required"] = serde_json::Value::Bool(true);
        }
    }
}

/// Marks the request bodies of [`BODY_REQUIRED`] required.
fn body_required(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    let bodies = paths
        .values_mut()
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("requestBody"));
    for body in bodies {
        let names = body
            .get("content")
            .and_then(|c| c.as_object())
            .into_iter()
            .flat_map(|content| content.values())
            .filter_map(|media| media.pointer("/schema/$ref")?.as_str());
        let needed = names
            .filter_map(|reference| reference.rsplit('/').next())
            .any(|name| BODY_REQUIRED.contains(&name));
        if needed {
            body["required"] = serde_json::Value::Bool(true);
        }
    }
}

fn fold_single_one_of(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let single = match map.get("oneOf") {
                Some(serde_json::Value::Array(items)) if items.len() == 1 => items[0]
                    .as_object()
                    .filter(|o| !o.contains_key("$ref"))
                    .cloned(),
                _ => None,
            };
            if let Some(inner) = single {
                map.remove("oneOf");
                for (key, value) in inner {
                    map.entry(key).or_insert(value);
                }
            }
            map.values_mut().for_each(fold_single_one_of);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(fold_single_one_of),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::openapi::{document, document_json};

    #[test]
    fn every_parameter_rule_lands_on_its_schema() {
        let doc: serde_json::Value = serde_json::from_str(&document_json()).expect("JSON");
        for (name, _) in PARAMETER_RULES {
            let schema = &doc["components"]["schemas"][name];
            assert!(schema.get("if").is_some(), "{name}: {schema}");
        }
    }

    #[test]
    fn bodies_their_rules_need_are_required() {
        let doc: serde_json::Value = serde_json::from_str(&document_json()).expect("JSON");
        for path in ["/invite/accept", "/invite/decline"] {
            let body = &doc["paths"][path]["post"]["requestBody"];
            assert_eq!(body["required"], true, "{path}: {body}");
        }
    }

    #[test]
    fn no_one_member_one_of_is_left() {
        fn walk(value: &serde_json::Value, path: &str) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(list) = map.get("oneOf").and_then(|l| l.as_array()) {
                        assert!(list.len() > 1, "one-member oneOf at {path}");
                    }
                    for (key, value) in map {
                        walk(value, &format!("{path}/{key}"));
                    }
                }
                serde_json::Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        walk(item, &format!("{path}/{i}"));
                    }
                }
                _ => {}
            }
        }
        let doc: serde_json::Value = serde_json::from_str(&document_json()).expect("JSON");
        walk(&doc, "");
        // The walk sees what it looks for: the raw document has such oneOfs.
        let raw = serde_json::to_value(document()).expect("JSON");
        let folded = std::panic::catch_unwind(|| walk(&raw, ""));
        assert!(
            folded.is_err(),
            "the unfolded document has one-member oneOfs"
        );
    }
}
