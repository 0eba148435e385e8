//! The tokens of emailed links that open an organization's row (an invite,
//! a domain claim), found by their hash in one table that spans every
//! organization: the hash is unique across them, and the row names the
//! organization, so what follows a lookup reads one organization's rows. A
//! reference table (docs/scaling.md): no foreign key into the rows it
//! names, so the code forgets a row's tokens with the row, and a token
//! whose row is gone answers as an unknown one.

use diesel::prelude::*;

use super::connection::{classify, DbConn, StoreError};
use super::kinds::LinkPurpose;
use super::rows::LinkTokenRow;
use super::schema::link_tokens;

/// Records `token_hash` as the current token of `target_id`.
pub fn issue(
    conn: &mut DbConn,
    purpose: LinkPurpose,
    organization_id: &str,
    target_id: &str,
    token_hash: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(link_tokens::table)
        .values(LinkTokenRow {
            token_hash: token_hash.to_string(),
            purpose,
            organization_id: organization_id.to_string(),
            target_id: target_id.to_string(),
            retired_at: None,
        })
        .execute(conn)
        .map_err(classify)?;
    Ok(())
}

/// The token with `token_hash`, if it is one of `purpose`.
pub fn find(
    conn: &mut DbConn,
    purpose: LinkPurpose,
    token_hash: &str,
) -> Result<Option<LinkTokenRow>, StoreError> {
    link_tokens::table
        .find(token_hash)
        .filter(link_tokens::purpose.eq(purpose))
        .select(LinkTokenRow::as_select())
        .first(conn)
        .optional()
        .map_err(classify)
}

/// Marks `token_hash` replaced at `now` (it answers 410 from then on).
pub fn retire(conn: &mut DbConn, token_hash: &str, now: i64) -> Result<(), StoreError> {
    diesel::update(link_tokens::table.find(token_hash))
        .set(link_tokens::retired_at.eq(now))
        .execute(conn)
        .map_err(classify)?;
    Ok(())
}

/// Forgets one token (a replaced domain claim's link, which then answers as
/// an unknown one).
pub fn forget(conn: &mut DbConn, token_hash: &str) -> Result<(), StoreError> {
    diesel::delete(link_tokens::table.find(token_hash))
        .execute(conn)
        .map_err(classify)?;
    Ok(())
}

/// Forgets every token of the rows `target_ids` of `organization_id`, as
/// those rows are deleted.
pub fn forget_targets(
    conn: &mut DbConn,
    organization_id: &str,
    target_ids: &[String],
) -> Result<usize, StoreError> {
    let mut forgotten = 0;
    // In slices, so no statement binds more parameters than SQLite allows.
    for ids in target_ids.chunks(500) {
        forgotten += diesel::delete(
            link_tokens::table
                .filter(link_tokens::organization_id.eq(organization_id))
                .filter(link_tokens::target_id.eq_any(ids)),
        )
        .execute(conn)
        .map_err(classify)?;
    }
    Ok(forgotten)
}

/// Forgets every token of a deleted organization.
pub fn forget_organization(conn: &mut DbConn, organization_id: &str) -> Result<(), StoreError> {
    diesel::delete(link_tokens::table.filter(link_tokens::organization_id.eq(organization_id)))
        .execute(conn)
        .map_err(classify)?;
    Ok(())
}

/// Forgets the retired tokens replaced before `cutoff`; how many.
pub fn forget_retired_before(conn: &mut DbConn, cutoff: i64) -> Result<usize, StoreError> {
    diesel::delete(link_tokens::table.filter(link_tokens::retired_at.lt(cutoff)))
        .execute(conn)
        .map_err(classify)
}
