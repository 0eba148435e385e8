//! The queue's SQL besides claims: renewing claims, recording outcomes,
//! counting rows by state.

use std::borrow::Borrow;
use std::collections::HashSet;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::courier::{Courier, Next, Outcome, Retry};
use crate::clock::now_ms;
use crate::store::{classify, DbConn, MultiBackend, Store, StoreError};

/// `sql` with its `?` placeholders as the connection's backend writes them.
pub(super) fn placeholders(conn: &DbConn, sql: &str) -> String {
    numbered(matches!(conn, DbConn::Pg(_)), sql)
}

/// `$1`, `$2`, … for PostgreSQL (`numbered`), else `?` as written. The SQL
/// here is this module's own, with no `?` inside a literal.
fn numbered(numbered: bool, sql: &str) -> String {
    if !numbered {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// `?, ?, …`: `n` placeholders for an `IN` list.
pub(super) fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[derive(QueryableByName)]
pub(super) struct IdRow {
    #[diesel(sql_type = Text)]
    pub(super) id: String,
}

/// Extends every pending claim of `tokens`; returns the new end and the
/// rows they still hold. Rows are locked in id order, the order [`record`]
/// writes them in, so a renewal and a record never deadlock.
pub fn renew<C: Courier>(
    store: &Store,
    tokens: &[String],
) -> Result<(i64, HashSet<String>), StoreError> {
    let until = now_ms() + C::LEASE_MS;
    if tokens.is_empty() {
        return Ok((until, HashSet::new()));
    }
    let ids = store.write(|conn| {
        let lock = match conn {
            DbConn::Pg(_) => " ORDER BY id COLLATE \"C\" FOR UPDATE",
            DbConn::Sqlite(_) => "",
        };
        let sql = placeholders(
            conn,
            &format!(
                "UPDATE {table} SET claimed_until = ? WHERE id IN (\
                 SELECT id FROM {table} WHERE claim IN ({tokens}) AND state = 'pending'{lock})",
                table = C::TABLE,
                tokens = marks(tokens.len()),
            ),
        );
        let mut renewal = diesel::sql_query(sql)
            .into_boxed::<MultiBackend>()
            .bind::<BigInt, _>(until);
        for token in tokens {
            renewal = renewal.bind::<Text, _>(token.clone());
        }
        renewal.execute(conn).map_err(classify)?;
        let sql = placeholders(
            conn,
            &format!(
                "SELECT id FROM {} WHERE claim IN ({}) AND state = 'pending'",
                C::TABLE,
                marks(tokens.len()),
            ),
        );
        let mut held = diesel::sql_query(sql).into_boxed::<MultiBackend>();
        for token in tokens {
            held = held.bind::<Text, _>(token.clone());
        }
        held.load::<IdRow>(conn).map_err(classify)
    })?;
    Ok((until, ids.into_iter().map(|r| r.id).collect()))
}

#[derive(QueryableByName)]
struct StateCount {
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many rows of the queue are in each of `states` (0 where none), for
/// `/metrics`.
pub fn depth<C: Courier>(
    store: &Store,
    states: &[&'static str],
) -> Result<Vec<(&'static str, i64)>, StoreError> {
    let counts: Vec<StateCount> = store.read(|conn| {
        diesel::sql_query(format!(
            "SELECT state, COUNT(*) AS n FROM {} GROUP BY state",
            C::TABLE
        ))
        .load(conn)
        .map_err(classify)
    })?;
    Ok(states
        .iter()
        .map(|state| {
            let n = counts.iter().find(|c| c.state == *state).map_or(0, |c| c.n);
            (*state, n)
        })
        .collect())
}

/// A claimed row after its turn: what its send gave, or `None` when it was
/// not sent (its claim might not have outlasted the send).
pub struct Attempt<C: Courier> {
    /// The claim it was taken under.
    pub token: String,
    pub item: C::Item,
    pub result: Option<(Outcome, C::Report)>,
}

/// Records the outcomes of `attempts` in one transaction, each only while
/// its claim still holds the row; rows not sent go back at once rather than
/// when their lease runs out.
pub fn record<C: Courier>(
    store: &Store,
    retry: Retry,
    attempts: &[impl Borrow<Attempt<C>>],
) -> Result<(), StoreError> {
    let now = now_ms();
    // In id order, as [`renew`] locks them.
    let mut ordered: Vec<&Attempt<C>> = attempts.iter().map(Borrow::borrow).collect();
    ordered.sort_by(|a, b| C::id(&a.item).as_bytes().cmp(C::id(&b.item).as_bytes()));
    store.write(|conn| {
        for attempt in ordered {
            let id = C::id(&attempt.item);
            let Some((outcome, report)) = &attempt.result else {
                let sql = placeholders(
                    conn,
                    &format!(
                        "UPDATE {} SET claim = NULL, claimed_until = NULL \
                         WHERE id = ? AND claim = ? AND state = 'pending'",
                        C::TABLE
                    ),
                );
                diesel::sql_query(sql)
                    .bind::<Text, _>(id)
                    .bind::<Text, _>(&attempt.token)
                    .execute(conn)
                    .map_err(classify)?;
                continue;
            };
            let attempts = C::attempts(&attempt.item) + 1;
            let next = retry.next(outcome, attempts, now);
            match (outcome, next) {
                (Outcome::Failed(error), Next::RetryAt(_)) => {
                    tracing::warn!(queue = C::NAME, id, attempts, error = %error, "delivery failed, will retry")
                }
                (Outcome::Failed(error) | Outcome::Rejected(error), _) => {
                    tracing::error!(queue = C::NAME, id, attempts, error = %error, "giving up on this delivery")
                }
                _ => {}
            }
            let updated = C::record(
                conn,
                &attempt.token,
                &attempt.item,
                outcome,
                report,
                attempts,
                next,
                now,
            )?;
            if updated != 1 {
                tracing::warn!(
                    queue = C::NAME,
                    id,
                    "the claim ran out before the result was recorded"
                );
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        assert_eq!(numbered(false, "a = ? AND b = ?"), "a = ? AND b = ?");
        assert_eq!(numbered(true, "a = ? AND b = ?"), "a = $1 AND b = $2");
        assert_eq!(marks(3), "?, ?, ?");
    }
}
