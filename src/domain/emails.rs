//! Email addresses as collabd keeps and compares them (API.md §1 "Text"):
//! trimmed, lower-case, NFC, with the domain in its IDNA ASCII form, so
//! `Bob@Exämple.org` and `bob@xn--exmple-cua.org` are one address. An address
//! holding an invisible or control character is refused: IDNA would quietly
//! drop some of them (`exa\u{200B}mple.org` is `example.org` to it), and the
//! others only make two spellings look alike.
//!
//! The Unicode data comes from ICU4X (`icu_normalizer`, `icu_properties`),
//! which `idna` already uses for its own mapping: one Unicode version for
//! the mapping, the normal form and the character classes.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use icu_normalizer::ComposingNormalizerBorrowed;
use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};

use super::DomainResult;
use crate::store::kinds::InviteState;
use crate::store::schema::{departures, domains, email_confirmations, invites, settings, users};
use crate::store::{DbConn, Store};

/// The longest address, in bytes of its kept form (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

/// Why an address is refused.
pub const INVISIBLE: &str = "must not contain invisible or control characters";
pub const MALFORMED: &str = "not a valid email address";

/// True for a character that shows nothing, or steers how text shows:
/// controls (Cc), format characters (Cf: zero-width spaces and joiners,
/// bidirectional marks and overrides, the soft hyphen), line and paragraph
/// separators, and every other Default_Ignorable_Code_Point (variation
/// selectors, Hangul fillers).
pub fn is_invisible(c: char) -> bool {
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// A domain in the form collabd keeps: IDNA (UTS #46) ASCII, lower-case.
/// A name IDNA refuses is kept lower-cased as given, so that it still
/// compares equal to itself; callers that accept addresses refuse it first.
pub fn ascii_domain(domain: &str) -> String {
    idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_lowercase())
}

/// The form an address is kept and compared in: trimmed, lower-case, NFC,
/// the domain in IDNA ASCII form. Applied to every address that comes in, so
/// two spellings of one address meet in the store.
pub fn normalize_email(email: &str) -> String {
    let lowered = email.trim().to_lowercase();
    let composed = ComposingNormalizerBorrowed::new_nfc().normalize(&lowered);
    match composed.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", ascii_domain(domain)),
        None => composed.into_owned(),
    }
}

/// The part of an address after its last `@`, as stored (lower-case).
pub fn domain_of(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(_, domain)| domain)
}

/// Checks an address as it comes in: no invisible or control character, and
/// well-formed (HTML's rule for addresses, with an international domain
/// judged in its ASCII form) in at most [`MAX_EMAIL_BYTES`] once kept.
pub fn check_email(email: &str) -> Result<(), &'static str> {
    use validator::ValidateEmail;
    let trimmed = email.trim();
    if trimmed.chars().any(is_invisible) {
        return Err(INVISIBLE);
    }
    let kept = normalize_email(trimmed);
    if kept.len() <= MAX_EMAIL_BYTES && kept.validate_email() {
        Ok(())
    } else {
        Err(MALFORMED)
    }
}

/// Set by the migration that introduced the kept form
/// (`*_email_ascii_domains`): SQL cannot write punycode, so the addresses
/// stored before are rewritten here, once, right after the migrations.
const REWRITE_MARK: &str = "rewrite_email_forms";

/// Rewrites the addresses stored before they were kept in
/// [`normalize_email`]'s form, when the migration marked them for it; once
/// done, the mark goes, in the same transaction. Only addresses with a
/// character outside printable ASCII can differ (before, they were trimmed
/// and lower-cased already). An address whose new form another row already
/// holds where one is allowed (an account, a pending invite to the same
/// organization, a departure) is left as it is and logged: merging two
/// accounts is not for a migration to decide. Returns the rows rewritten.
pub fn rewrite_stored_forms(store: &Store) -> DomainResult<usize> {
    store.write(|conn| {
        let marked = diesel::delete(settings::table.find(REWRITE_MARK)).execute(conn)?;
        if marked == 0 {
            return Ok(0);
        }
        let rewritten = rewrite_users(conn)?
            + rewrite_invites(conn)?
            + rewrite_departures(conn)?
            + rewrite_unconstrained(conn)?;
        if rewritten > 0 {
            tracing::info!(
                rows = rewritten,
                "addresses rewritten with their domain in IDNA ASCII form"
            );
        }
        Ok(rewritten)
    })
}

/// A filter on `column` keeping values with a character outside printable
/// ASCII, in the backend's own words.
fn outside_ascii(conn: &DbConn, column: &str) -> diesel::expression::SqlLiteral<Bool> {
    match conn {
        DbConn::Sqlite(_) => sql::<Bool>(&format!("{column} GLOB '*[^ -~]*'")),
        DbConn::Pg(_) => sql::<Bool>(&format!("{column} ~ '[^ -~]'")),
    }
}

/// `(key, old, new)` for each value that changes.
fn changed<K>(rows: Vec<(K, String)>) -> Vec<(K, String, String)> {
    rows.into_iter()
        .filter_map(|(key, old)| {
            let new = normalize_email(&old);
            (new != old).then_some((key, old, new))
        })
        .collect()
}

fn left_as_is(table: &str, key: &str, old: &str, new: &str) {
    tracing::warn!(
        table,
        key,
        stored = old,
        kept_form = new,
        "an address was left in its old form: another row holds its new form"
    );
}

fn rewrite_users(conn: &mut DbConn) -> DomainResult<usize> {
    let filter = outside_ascii(conn, "email");
    let rows: Vec<(String, String)> = users::table
        .filter(filter)
        .select((users::id, users::email))
        .load(conn)?;
    let mut rewritten = 0;
    for (id, old, new) in changed(rows) {
        let taken: i64 = users::table
            .filter(users::email.eq(&new))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            left_as_is("users", &id, &old, &new);
            continue;
        }
        rewritten += diesel::update(users::table.find(&id))
            .set(users::email.eq(&new))
            .execute(conn)?;
    }
    let filter = outside_ascii(conn, "pending_email");
    let rows: Vec<(String, Option<String>)> = users::table
        .filter(filter)
        .select((users::id, users::pending_email))
        .load(conn)?;
    let rows = rows
        .into_iter()
        .filter_map(|(id, email)| email.map(|email| (id, email)));
    for (id, _, new) in changed(rows.collect()) {
        rewritten += diesel::update(users::table.find(&id))
            .set(users::pending_email.eq(&new))
            .execute(conn)?;
    }
    Ok(rewritten)
}

fn rewrite_invites(conn: &mut DbConn) -> DomainResult<usize> {
    let filter = outside_ascii(conn, "email");
    let rows: Vec<(String, String, InviteState, String)> = invites::table
        .filter(filter)
        .select((
            invites::id,
            invites::organization_id,
            invites::state,
            invites::email,
        ))
        .load(conn)?;
    let rows = rows
        .into_iter()
        .map(|(id, organization_id, state, email)| ((id, organization_id, state), email));
    let mut rewritten = 0;
    for ((id, organization_id, state), old, new) in changed(rows.collect()) {
        // One pending invite per organization and address.
        if state == InviteState::Pending {
            let pending: i64 = invites::table
                .filter(invites::organization_id.eq(&organization_id))
                .filter(invites::email.eq(&new))
                .filter(invites::state.eq(InviteState::Pending))
                .count()
                .get_result(conn)?;
            if pending > 0 {
                left_as_is("invites", &id, &old, &new);
                continue;
            }
        }
        rewritten += diesel::update(invites::table.find((&organization_id, &id)))
            .set(invites::email.eq(&new))
            .execute(conn)?;
    }
    Ok(rewritten)
}

fn rewrite_departures(conn: &mut DbConn) -> DomainResult<usize> {
    let filter = outside_ascii(conn, "email");
    let rows: Vec<(String, String)> = departures::table
        .filter(filter)
        .select((departures::organization_id, departures::email))
        .load(conn)?;
    let mut rewritten = 0;
    for (organization_id, old, new) in changed(rows) {
        let recorded: i64 = departures::table
            .filter(departures::organization_id.eq(&organization_id))
            .filter(departures::email.eq(&new))
            .count()
            .get_result(conn)?;
        if recorded > 0 {
            // The departure is on record under the new form already.
            left_as_is("departures", &organization_id, &old, &new);
            continue;
        }
        rewritten += diesel::update(departures::table.find((&organization_id, &old)))
            .set(departures::email.eq(&new))
            .execute(conn)?;
    }
    Ok(rewritten)
}

/// The addresses no uniqueness rests on: a change waiting for confirmation,
/// and a domain's verification address.
fn rewrite_unconstrained(conn: &mut DbConn) -> DomainResult<usize> {
    let mut rewritten = 0;
    let filter = outside_ascii(conn, "new_email");
    let rows: Vec<(String, Option<String>)> = email_confirmations::table
        .filter(filter)
        .select((email_confirmations::id, email_confirmations::new_email))
        .load(conn)?;
    let rows = rows
        .into_iter()
        .filter_map(|(id, email)| email.map(|email| (id, email)));
    for (id, _, new) in changed(rows.collect()) {
        rewritten += diesel::update(email_confirmations::table.find(&id))
            .set(email_confirmations::new_email.eq(&new))
            .execute(conn)?;
    }
    let filter = outside_ascii(conn, "verification_email");
    let rows: Vec<(String, String)> = domains::table
        .filter(filter)
        .select((domains::id, domains::verification_email))
        .load(conn)?;
    for (id, _, new) in changed(rows) {
        rewritten += diesel::update(domains::table.filter(domains::id.eq(&id)))
            .set(domains::verification_email.eq(&new))
            .execute(conn)?;
    }
    Ok(rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_spellings_of_one_address_are_kept_alike() {
        for spelling in [
            "bob@xn--exmple-cua.org",
            "bob@exämple.org",
            " Bob@EXÄMPLE.org ",
            // "ä" as "a" and a combining diaeresis: NFC makes it one.
            "bob@exa\u{308}mple.org",
            "BOB@XN--EXMPLE-CUA.ORG",
        ] {
            assert_eq!(normalize_email(spelling), "bob@xn--exmple-cua.org");
            assert_eq!(check_email(spelling), Ok(()), "{spelling}");
        }
        assert_eq!(normalize_email(" Bob@Example.COM"), "bob@example.com");
    }

    #[test]
    fn the_kept_form_is_kept() {
        for address in [
            "bob@exämple.org",
            "Ünïcode@bücher.de",
            "a@b",
            "İ@x.org",
            "no-at-sign",
            "x@xn--abc.org",
        ] {
            let once = normalize_email(address);
            assert_eq!(normalize_email(&once), once, "{address}");
        }
    }

    #[test]
    fn invisible_and_control_characters_are_refused() {
        for address in [
            "bob@exa\u{200B}mple.org",
            "bo\u{200B}b@example.org",
            "bob@exa\u{202E}mple.org",
            "bob\u{202E}@example.org",
            "bob@exa\u{200E}mple.org",
            "bob@exa\u{2066}mple.org",
            "bob@exa\u{AD}mple.org",
            "bob@exa\u{FE0F}mple.org",
            "bob@exa\u{2060}mple.org",
            "bob@exa\u{FEFF}mple.org",
            "bob@exa\u{3164}mple.org",
            "bob@exa\u{7}mple.org",
            "bob@exa\u{85}mple.org",
            "bob@exa\u{2028}mple.org",
            "bob@exa\u{0}mple.org",
        ] {
            assert_eq!(check_email(address), Err(INVISIBLE), "{address:?}");
        }
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for address in ["", "bob", "bob@", "@example.org", "bob@exa mple.org"] {
            assert_eq!(check_email(address), Err(MALFORMED), "{address:?}");
        }
        let long = format!(
            "{}@{}.{}.{}.eeeeeee",
            "a".repeat(64),
            "b".repeat(60),
            "c".repeat(60),
            "d".repeat(60)
        );
        assert_eq!(long.len(), 255);
        assert_eq!(check_email(&long), Err(MALFORMED));
        assert_eq!(check_email(&long[1..]), Ok(()));
    }
}
