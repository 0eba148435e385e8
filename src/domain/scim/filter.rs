//! SCIM filters and attribute paths (RFC 7644 §3.4.2.2, §3.5.2), parsed
//! with `nom`: what `GET /Users?filter=…` and a PATCH operation's `path`
//! name. collabd takes `eq` joined by `and` (API.md §11), in any case, with
//! parentheses; an attribute path may carry its schema's URN, a value
//! filter in brackets (`emails[type eq "work"]`) and a sub-attribute
//! (`.value`). Anything else is refused with why, for `invalidFilter` or
//! `invalidPath`.

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_while1};
use nom::character::complete::{char, multispace0, multispace1};
use nom::combinator::{all_consuming, map, opt, recognize, value};
use nom::multi::separated_list1;
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};
use serde_json::Value;

/// An attribute path: `[schema:]attribute[[filter]][.sub]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The schema URN it names, if any (`urn:…:User`).
    pub schema: Option<String>,
    /// As written; compare with `eq_ignore_ascii_case`.
    pub attribute: String,
    /// A value filter on a multi-valued attribute (`emails[type eq "work"]`).
    pub filter: Option<Box<Filter>>,
    pub sub: Option<String>,
}

impl Path {
    /// True when the path is `attribute` (any case), with no sub-attribute
    /// or value filter.
    pub fn is(&self, attribute: &str) -> bool {
        self.attribute.eq_ignore_ascii_case(attribute)
            && self.sub.is_none()
            && self.filter.is_none()
    }

    /// True when the path is `attribute.sub` (any case), with no value filter.
    pub fn is_sub(&self, attribute: &str, sub: &str) -> bool {
        self.attribute.eq_ignore_ascii_case(attribute)
            && self.filter.is_none()
            && self
                .sub
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(sub))
    }
}

/// A filter: equalities, all of which must hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Eq(Path, Value),
    And(Vec<Filter>),
}

impl Filter {
    /// The equalities of the filter, flattened (every one must hold).
    pub fn equalities(&self) -> Vec<(&Path, &Value)> {
        match self {
            Filter::Eq(path, value) => vec![(path, value)],
            Filter::And(all) => all.iter().flat_map(Filter::equalities).collect(),
        }
    }
}

/// The longest filter or path taken.
const MAX_LEN: usize = 1024;

/// `text` as a filter; why not otherwise.
pub fn parse_filter(text: &str) -> Result<Filter, String> {
    if text.len() > MAX_LEN {
        return Err(format!("a filter is at most {MAX_LEN} characters"));
    }
    match all_consuming(delimited(multispace0, filter, multispace0)).parse(text) {
        Ok((_, parsed)) => Ok(parsed),
        Err(_) => Err(format!(
            "cannot read the filter {text:?}: collabd takes `eq` comparisons joined by `and`, \
             such as userName eq \"bjensen\""
        )),
    }
}

/// `text` as an attribute path (a PATCH operation's `path`); why not
/// otherwise.
pub fn parse_path(text: &str) -> Result<Path, String> {
    if text.len() > MAX_LEN {
        return Err(format!("a path is at most {MAX_LEN} characters"));
    }
    match all_consuming(delimited(multispace0, path, multispace0)).parse(text) {
        Ok((_, parsed)) => Ok(parsed),
        Err(_) => Err(format!("cannot read the path {text:?}")),
    }
}

fn filter(input: &str) -> IResult<&str, Filter> {
    map(
        separated_list1((multispace1, tag_no_case("and"), multispace1), term),
        |mut terms| match terms.len() {
            1 => terms.remove(0),
            _ => Filter::And(terms),
        },
    )
    .parse(input)
}

fn term(input: &str) -> IResult<&str, Filter> {
    alt((
        delimited((char('('), multispace0), filter, (multispace0, char(')'))),
        map(
            (
                path,
                multispace1,
                tag_no_case("eq"),
                multispace1,
                comp_value,
            ),
            |(path, _, _, _, value)| Filter::Eq(path, value),
        ),
    ))
    .parse(input)
}

/// A name: letters, digits, `-`, `_`, `$`; with its schema's URN, also `:`
/// and `.` (split afterwards: the URN ends at the last `:`).
fn name(input: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$' | ':' | '.'))
        .parse(input)
}

fn path(input: &str) -> IResult<&str, Path> {
    let (rest, (written, filter, sub)) = (
        name,
        opt(delimited(
            (char('['), multispace0),
            filter,
            (multispace0, char(']')),
        )),
        opt(preceded(
            char('.'),
            take_while1(|c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$')),
        )),
    )
        .parse(input)?;
    let (schema, local) = match written.rfind(':') {
        Some(at) => (Some(written[..at].to_string()), &written[at + 1..]),
        None => (None, written),
    };
    // `name.givenName`: the sub-attribute written in the name itself.
    let (attribute, inner_sub) = match local.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (local, None),
    };
    let valid = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && !s.contains(['.', ':'])
    };
    if !valid(attribute)
        || inner_sub.is_some_and(|s| !valid(s))
        || (inner_sub.is_some() && (sub.is_some() || filter.is_some()))
    {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok((
        rest,
        Path {
            schema,
            attribute: attribute.to_string(),
            filter: filter.map(Box::new),
            sub: sub.or(inner_sub).map(str::to_string),
        },
    ))
}

fn comp_value(input: &str) -> IResult<&str, Value> {
    alt((
        value(Value::Bool(true), tag_no_case("true")),
        value(Value::Bool(false), tag_no_case("false")),
        value(Value::Null, tag_no_case("null")),
        json_string,
        number,
    ))
    .parse(input)
}

/// A JSON string, escapes and all (serde_json reads what nom delimits).
fn json_string(input: &str) -> IResult<&str, Value> {
    let (rest, raw) = recognize((
        char('"'),
        nom::multi::many0(alt((
            recognize((char('\\'), nom::character::complete::anychar)),
            take_while1(|c: char| c != '"' && c != '\\'),
        ))),
        char('"'),
    ))
    .parse(input)?;
    match serde_json::from_str::<String>(raw) {
        Ok(text) => Ok((rest, Value::String(text))),
        Err(_) => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Verify,
        ))),
    }
}

fn number(input: &str) -> IResult<&str, Value> {
    let (rest, raw) = recognize((
        opt(tag("-")),
        take_while1(|c: char| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')),
    ))
    .parse(input)?;
    match serde_json::from_str::<serde_json::Number>(raw) {
        Ok(n) => Ok((rest, Value::Number(n))),
        Err(_) => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Verify,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eq(path: Path, v: Value) -> Filter {
        Filter::Eq(path, v)
    }

    fn attr(a: &str) -> Path {
        Path {
            schema: None,
            attribute: a.into(),
            filter: None,
            sub: None,
        }
    }

    #[test]
    fn what_okta_and_entra_send_is_read() {
        assert_eq!(
            parse_filter(r#"userName eq "bjensen@example.com""#).expect("parses"),
            eq(attr("userName"), json!("bjensen@example.com"))
        );
        assert_eq!(
            parse_filter(r#"USERNAME EQ "a""#).expect("parses"),
            eq(attr("USERNAME"), json!("a"))
        );
        let work = parse_filter(r#"emails[type eq "work"].value eq "x@y.z""#).expect("parses");
        let Filter::Eq(path, value) = work else {
            panic!("an equality")
        };
        assert!(path.attribute == "emails" && path.sub.as_deref() == Some("value"));
        assert_eq!(
            *path.filter.expect("parses"),
            eq(attr("type"), json!("work"))
        );
        assert_eq!(value, json!("x@y.z"));
        assert_eq!(
            parse_filter(r#"externalId eq "e-1" and active eq true"#).expect("parses"),
            Filter::And(vec![
                eq(attr("externalId"), json!("e-1")),
                eq(attr("active"), json!(true))
            ])
        );
        assert_eq!(
            parse_filter(r#"(displayName eq "Ops")"#).expect("parses"),
            eq(attr("displayName"), json!("Ops"))
        );
        let urn =
            parse_filter(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "q\"uote""#)
                .expect("parses");
        let Filter::Eq(path, value) = urn else {
            panic!("an equality")
        };
        assert_eq!(
            path.schema.as_deref(),
            Some("urn:ietf:params:scim:schemas:core:2.0:User")
        );
        assert_eq!(path.attribute, "userName");
        assert_eq!(value, json!("q\"uote"));
        assert!(parse_filter(r#"emails.value eq "a@b.c""#)
            .expect("parses")
            .equalities()[0]
            .0
            .is_sub("emails", "value"));
    }

    #[test]
    fn what_collabd_does_not_take_is_refused() {
        for bad in [
            "",
            "userName",
            r#"userName co "a""#,
            r#"userName eq "a" or userName eq "b""#,
            r#"userName eq "unterminated"#,
            r#"userName eq "a")"#,
            r#"1userName eq "a""#,
            "userName eq",
            r#"not (userName eq "a")"#,
        ] {
            assert!(parse_filter(bad).is_err(), "{bad:?}");
        }
        assert!(parse_filter(&"a".repeat(2000)).is_err());
    }

    #[test]
    fn patch_paths_are_read() {
        let members = parse_path(r#"members[value eq "2819c223"]"#).expect("parses");
        assert!(members.attribute == "members" && members.sub.is_none());
        assert_eq!(
            *members.filter.expect("parses"),
            eq(attr("value"), json!("2819c223"))
        );
        assert!(parse_path("name.givenName")
            .expect("parses")
            .is_sub("name", "givenName"));
        assert!(parse_path("active").expect("parses").is("ACTIVE"));
        let enterprise =
            parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department")
                .expect("parses");
        assert_eq!(enterprise.attribute, "department");
        assert!(parse_path("members[value eq").is_err());
        assert!(parse_path("name.given.name").is_err());
    }
}
