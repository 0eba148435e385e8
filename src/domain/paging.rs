//! Keyset pagination: `limit` (1–1000, default 100) and an opaque `cursor`
//! that names the last row of the previous page, so pages are stable while
//! rows are added.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::{DomainError, DomainResult};

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

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
                URL_SAFE_NO_PAD
                    .decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .filter(|id| id.len() <= 64)
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
    pub fn finish<T>(&self, rows: &mut Vec<T>, id_of: impl Fn(&T) -> &str) -> Option<String> {
        if rows.len() as i64 <= self.limit {
            return None;
        }
        rows.truncate(self.limit as usize);
        rows.last().map(|row| URL_SAFE_NO_PAD.encode(id_of(row)))
    }
}
