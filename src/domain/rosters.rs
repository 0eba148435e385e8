//! Pages of collaborators, kept rendered while nothing they show has changed.
//!
//! Every change to what a collaborator list shows (memberships, their grants,
//! project names, people's names and addresses) bumps the organization's row
//! in `roster_versions`, by database triggers in the change's own
//! transaction, whichever process makes it. A page is rendered once per
//! version: a request reads the version first and then, on a miss, the page,
//! so a page is never filed under a version newer than its rows. A request
//! that finds its page at the current version serves those bytes. Nothing
//! about who may call is kept: the caller is authenticated and checked
//! against the organization on every request, so revoked sessions and
//! changed roles take effect at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use serde_json::value::RawValue;

use super::DomainResult;
use crate::store::json_lists::in_json;
use crate::store::schema::roster_versions;
use crate::store::DbConn;

/// What one page looks like to one kind of viewer.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub organization_id: String,
    pub after: Option<String>,
    pub limit: i64,
    /// The viewer's membership when they see only some projects' grants;
    /// `None` for everyone who sees them all.
    pub restricted_to: Option<String>,
}

/// A rendered page: the JSON array of collaborators and the next cursor.
#[derive(Clone)]
pub struct RenderedPage {
    pub collaborators: Arc<RawValue>,
    pub nextcursor: Option<String>,
    /// The end of the first time-limited membership the page shows: from
    /// then on the page is stale whatever the version says.
    pub valid_until: Option<i64>,
}

struct Entry {
    version: i64,
    page: RenderedPage,
}

/// The pages rendered in this process, bounded in bytes, and the
/// organizations' member counts (SCIM's `totalResults`), kept by the same
/// version.
pub struct RosterCache {
    entries: Mutex<Cache>,
    budget: usize,
    counts: Mutex<HashMap<String, Count>>,
}

/// How many members an organization had at a version, valid until the
/// first of them ends (when one has an end).
#[derive(Clone, Copy)]
struct Count {
    version: i64,
    members: usize,
    valid_until: Option<i64>,
}

/// The most organizations whose counts are kept.
const MAX_COUNTS: usize = 10_000;

#[derive(Default)]
struct Cache {
    pages: HashMap<PageKey, Entry>,
    bytes: usize,
}

impl RosterCache {
    /// A cache holding at most `budget` bytes of rendered pages (0: none).
    pub fn new(budget: usize) -> RosterCache {
        RosterCache {
            entries: Mutex::new(Cache::default()),
            budget,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// The member count of `organization_id` kept at `version`, if none of
    /// those it counted has ended by `now`.
    pub fn count(&self, organization_id: &str, version: i64, now: i64) -> Option<usize> {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let kept = counts.get(organization_id)?;
        let fresh = kept.valid_until.is_none_or(|end| now < end);
        (kept.version == version && fresh).then_some(kept.members)
    }

    /// Keeps `members`, counted at `version`, valid until `valid_until`,
    /// unless a count at a newer version is kept.
    pub fn put_count(
        &self,
        organization_id: &str,
        version: i64,
        members: usize,
        valid_until: Option<i64>,
    ) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if counts
            .get(organization_id)
            .is_some_and(|old| old.version > version)
        {
            return;
        }
        if counts.len() >= MAX_COUNTS {
            counts.clear();
        }
        counts.insert(
            organization_id.to_string(),
            Count {
                version,
                members,
                valid_until,
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The page rendered at `version`, if it is kept and none of the
    /// memberships it shows has ended by `now`.
    pub fn get(&self, key: &PageKey, version: i64, now: i64) -> Option<RenderedPage> {
        let cache = self.lock();
        let entry = cache.pages.get(key)?;
        let fresh = entry.page.valid_until.is_none_or(|end| now < end);
        (entry.version == version && fresh).then(|| entry.page.clone())
    }

    /// Keeps `page`, rendered at `version`, unless a newer one is kept.
    pub fn put(&self, key: PageKey, version: i64, page: RenderedPage) {
        let size = entry_size(&key, &page);
        if size > self.budget / 4 {
            return;
        }
        let mut cache = self.lock();
        if cache
            .pages
            .get(&key)
            .is_some_and(|old| old.version > version)
        {
            return;
        }
        if let Some(old) = cache.pages.remove(&key) {
            cache.bytes -= entry_size(&key, &old.page);
        }
        if cache.bytes + size > self.budget {
            // Simple and bounded: start again rather than track recency.
            cache.pages.clear();
            cache.bytes = 0;
        }
        cache.bytes += size;
        cache.pages.insert(key, Entry { version, page });
    }
}

fn entry_size(key: &PageKey, page: &RenderedPage) -> usize {
    const OVERHEAD: usize = 128;
    page.collaborators.get().len()
        + page.nextcursor.as_ref().map_or(0, String::len)
        + key.organization_id.len()
        + key.after.as_ref().map_or(0, String::len)
        + key.restricted_to.as_ref().map_or(0, String::len)
        + OVERHEAD
}

/// The organization's current roster version (0 before its first change).
pub fn version(conn: &mut DbConn, organization_id: &str) -> DomainResult<i64> {
    Ok(roster_versions::table
        .find(organization_id)
        .select(roster_versions::version)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// The current roster versions of `organizations` (0 for one before its
/// first change, or gone): one statement, an equality for one.
pub fn versions(conn: &mut DbConn, organizations: &[&str]) -> DomainResult<HashMap<String, i64>> {
    if let [one] = organizations {
        return Ok(HashMap::from([(one.to_string(), version(conn, one)?)]));
    }
    let query =
        roster_versions::table.select((roster_versions::organization_id, roster_versions::version));
    let rows: Vec<(String, i64)> = match conn {
        DbConn::Pg(c) => query
            .filter(roster_versions::organization_id.eq_any(organizations))
            .load(c)?,
        DbConn::Sqlite(c) => query
            .filter(in_json(roster_versions::organization_id, organizations))
            .load(c)?,
    };
    Ok(rows.into_iter().collect())
}
