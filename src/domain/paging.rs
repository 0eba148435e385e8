//! Keyset pagination: `limit` (1–1000, default 100) and an opaque `cursor`
//! that names the last row of the previous page, so pages are stable while
//! rows are added.

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

use super::{DomainError, DomainResult, MAX_NAME_CHARS};

/// base64url without padding, as `nextcursor` is written; lenient about the
/// unused bits of the last character, so every string of the documented
/// pattern decodes.
const CURSOR: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// The most bytes of position a cursor carries: enough for every position
/// the server hands out, the longest being a row of a list ordered by name
/// ([`named_position`]): a name of [`MAX_NAME_CHARS`] characters of up to 4
/// bytes of UTF-8 each, the separator, and an id (36 bytes as a UUID; 64
/// leaves room), rounded up to what [`CURSOR_QUADS`] groups of base64 and a
/// last partial group encode. Anything longer is no cursor of this server.
pub const MAX_POSITION_BYTES: usize = 3 * CURSOR_QUADS + 2;

/// Whole 4-character groups of base64 in the longest cursor; the cursor's
/// documented pattern says the same.
pub const CURSOR_QUADS: usize = (4 * MAX_NAME_CHARS + 1 + 64).div_ceil(3);

/// One page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i64,
    /// The id after which this page starts.
    pub after: Option<String>,
}

impl PageRequest {
    /// Parses the `limit` and `cursor` parameters.
    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> DomainResult<PageRequest> {
        let limit = i64::from(limit.unwrap_or(DEFAULT_LIMIT as u32));
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(DomainError::invalid("limit", "must be 1 to 1000"));
        }
        let after = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(cursor) => Some(
                CURSOR
                    .decode(cursor)
                    .ok()
                    .filter(|bytes| bytes.len() <= MAX_POSITION_BYTES)
                    // A cursor names a position in id order; any text is a
                    // position, so a cursor that decodes is never refused.
                    // U+0000 is no text a database stores: it becomes U+FFFD,
                    // as bytes that are not UTF-8 do.
                    .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', "\u{fffd}"))
                    .ok_or_else(|| {
                        DomainError::invalid("cursor", "not a cursor this server issued")
                    })?,
            ),
        };
        Ok(PageRequest { limit, after })
    }

    /// Rows to fetch: one more than the page, to know whether another follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts the extra row off and returns the cursor of the next page.
    pub fn finish<T, P: AsRef<str>>(
        &self,
        rows: &mut Vec<T>,
        position_of: impl Fn(&T) -> P,
    ) -> Option<String> {
        if rows.len() as i64 <= self.limit {
            return None;
        }
        rows.truncate(self.limit as usize);
        rows.last()
            .map(|row| CURSOR.encode(position_of(row).as_ref()))
    }

    /// The position after which this page starts, for a list ordered by a
    /// name and then the id: (name, id). A cursor without the separator names
    /// the position before every row of that name.
    pub fn after_named(&self) -> Option<(String, String)> {
        let after = self.after.as_deref()?;
        Some(match after.split_once(NAME_SEPARATOR) {
            Some((name, id)) => (name.to_string(), id.to_string()),
            None => (after.to_string(), String::new()),
        })
    }
}

/// Between the name and the id of a position in a list ordered by name.
/// Names hold no control characters, so it never appears inside one.
const NAME_SEPARATOR: char = '\u{1f}';

/// The position of a row in a list ordered by name, then id.
pub fn named_position(name: &str, id: &str) -> String {
    format!("{name}{NAME_SEPARATOR}{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page of one whose last row is `name`/`id`: its cursor.
    fn cursor_after(name: &str, id: &str) -> String {
        let page = PageRequest {
            limit: 1,
            after: None,
        };
        let mut rows = vec![(name.to_string(), id.to_string()); 2];
        page.finish(&mut rows, |(name, id)| named_position(name, id))
            .expect("a next page")
    }

    #[test]
    fn every_cursor_handed_out_is_taken_back() {
        let id = "0193f7c2-7a1e-7c1a-9a4e-2b1f0c9d8e7f";
        for name in [
            "Alpha project for the quarterly numbers".to_string(),
            "a".repeat(MAX_NAME_CHARS),
            "é".repeat(MAX_NAME_CHARS),
            "\u{1F600}".repeat(MAX_NAME_CHARS),
        ] {
            let cursor = cursor_after(&name, id);
            let page = PageRequest::parse(Some(1), Some(&cursor)).expect("a cursor");
            assert_eq!(page.after_named(), Some((name, id.to_string())));
        }
    }

    #[test]
    fn cursors_past_the_longest_position_are_refused() {
        let longest = CURSOR.encode(vec![b'a'; MAX_POSITION_BYTES]);
        assert!(PageRequest::parse(None, Some(&longest)).is_ok());
        let longer = CURSOR.encode(vec![b'a'; MAX_POSITION_BYTES + 1]);
        assert!(PageRequest::parse(None, Some(&longer)).is_err());
        for garbage in ["!!!!", "a", "abc=", "ab cd"] {
            assert!(
                PageRequest::parse(None, Some(garbage)).is_err(),
                "{garbage}"
            );
        }
    }
}
