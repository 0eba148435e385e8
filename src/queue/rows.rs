//! The queue's SQL: claiming due rows fairly between groups, renewing
//! claims, recording outcomes, counting rows by state.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::courier::{Courier, Next, Outcome, Retry};
use crate::clock::now_ms;
use crate::store::{classify, DbConn, MultiBackend, Store, StoreError};

/// What a claim may take: `room` rows in all, and of each group only as
/// many as keep its rows in flight within `share`.
#[derive(Debug, Clone)]
pub struct Quota {
    pub room: usize,
    pub share: usize,
    /// Rows in flight by group.
    pub busy: HashMap<String, usize>,
}

impl Quota {
    /// Room for `room` rows, whatever their group.
    pub fn open(room: usize) -> Quota {
        Quota {
            room,
            share: room,
            busy: HashMap::new(),
        }
    }

    /// The groups at their share, whose rows a claim passes over.
    fn full(&self) -> Vec<String> {
        self.busy
            .iter()
            .filter(|(_, &n)| n >= self.share)
            .map(|(group, _)| group.clone())
            .collect()
    }

    /// Of `candidates` (due rows in due order), the ones to claim: each in
    /// turn while there is room, in all and in its group.
    fn choose<'a>(&self, candidates: &'a [Candidate]) -> Vec<&'a Candidate> {
        let mut busy: HashMap<&str, usize> =
            self.busy.iter().map(|(g, &n)| (g.as_str(), n)).collect();
        let mut chosen = Vec::new();
        for candidate in candidates {
            if chosen.len() >= self.room {
                break;
            }
            let n = busy.entry(candidate.grp.as_str()).or_insert(0);
            if *n < self.share {
                *n += 1;
                chosen.push(candidate);
            }
        }
        chosen
    }
}

/// `sql` with its `?` placeholders as the connection's backend writes them.
fn placeholders(conn: &DbConn, sql: &str) -> String {
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
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

/// A due row a claim may take, with its group.
#[derive(QueryableByName, Debug)]
struct Candidate {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    grp: String,
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

/// The rows a claim took, and until when it holds them.
pub struct Claimed<T> {
    pub items: Vec<T>,
    /// Each row's group, by id.
    pub groups: HashMap<String, String>,
    pub until: i64,
}

/// Claims for `token` the due rows `quota` leaves room for, in due order
/// (passing over groups at their share), and loads them.
pub fn claim<C: Courier>(
    store: &Store,
    token: &str,
    quota: &Quota,
) -> Result<Claimed<C::Item>, StoreError> {
    let now = now_ms();
    let until = now + C::LEASE_MS;
    let nothing = || Claimed {
        items: Vec::new(),
        groups: HashMap::new(),
        until,
    };
    if quota.room == 0 {
        return Ok(nothing());
    }
    store.write(|conn| {
        let (group, full) = match C::GROUP {
            Some(group) => (group, quota.full()),
            None => ("CAST('' AS TEXT)", Vec::new()),
        };
        let passed_over = if full.is_empty() {
            String::new()
        } else {
            format!(" AND {group} NOT IN ({})", marks(full.len()))
        };
        // Rows another process holds are skipped, not waited for (on SQLite
        // the write transaction already excludes every other writer).
        let skip_locked = match conn {
            DbConn::Pg(_) => " FOR UPDATE SKIP LOCKED",
            DbConn::Sqlite(_) => "",
        };
        let sql = placeholders(
            conn,
            &format!(
                "SELECT id, {group} AS grp FROM {table} q WHERE state = 'pending' \
                 AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)\
                 {passed_over} ORDER BY next_attempt_at, id LIMIT ?{skip_locked}",
                table = C::TABLE
            ),
        );
        let mut due = diesel::sql_query(sql)
            .into_boxed::<MultiBackend>()
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(now);
        for group in full {
            due = due.bind::<Text, _>(group);
        }
        let room = i64::try_from(quota.room).unwrap_or(i64::MAX);
        let candidates: Vec<Candidate> =
            due.bind::<BigInt, _>(room).load(conn).map_err(classify)?;
        let chosen = quota.choose(&candidates);
        if chosen.is_empty() {
            return Ok(nothing());
        }
        let sql = placeholders(
            conn,
            &format!(
                "UPDATE {} SET claim = ?, claimed_until = ? WHERE id IN ({})",
                C::TABLE,
                marks(chosen.len())
            ),
        );
        let mut taking = diesel::sql_query(sql)
            .into_boxed::<MultiBackend>()
            .bind::<Text, _>(token.to_string())
            .bind::<BigInt, _>(until);
        for candidate in &chosen {
            taking = taking.bind::<Text, _>(candidate.id.clone());
        }
        taking.execute(conn).map_err(classify)?;
        Ok(Claimed {
            items: C::load(conn, token)?,
            groups: chosen
                .into_iter()
                .map(|c| (c.id.clone(), c.grp.clone()))
                .collect(),
            until,
        })
    })
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
    attempts: &[Attempt<C>],
) -> Result<(), StoreError> {
    let now = now_ms();
    // In id order, as [`renew`] locks them.
    let mut ordered: Vec<&Attempt<C>> = attempts.iter().collect();
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
    use std::collections::HashMap;

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        assert_eq!(numbered(false, "a = ? AND b = ?"), "a = ? AND b = ?");
        assert_eq!(numbered(true, "a = ? AND b = ?"), "a = $1 AND b = $2");
        assert_eq!(marks(3), "?, ?, ?");
    }

    fn due(rows: &[(&str, &str)]) -> Vec<Candidate> {
        rows.iter()
            .map(|(id, grp)| Candidate {
                id: id.to_string(),
                grp: grp.to_string(),
            })
            .collect()
    }

    fn ids(chosen: Vec<&Candidate>) -> Vec<&str> {
        chosen.into_iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn a_claim_keeps_each_group_within_its_share() {
        let quota = Quota {
            room: 5,
            share: 2,
            busy: HashMap::from([("slow".to_string(), 1)]),
        };
        assert_eq!(quota.full(), Vec::<String>::new());
        // The slow group's backlog comes first; it gets one more, the rest
        // go to the others in due order.
        let candidates = due(&[
            ("1", "slow"),
            ("2", "slow"),
            ("3", "slow"),
            ("4", "other"),
            ("5", "other"),
            ("6", "other"),
            ("7", "third"),
        ]);
        assert_eq!(ids(quota.choose(&candidates)), ["1", "4", "5", "7"]);
        let tight = Quota { room: 2, ..quota };
        assert_eq!(ids(tight.choose(&candidates)), ["1", "4"]);
    }

    #[test]
    fn groups_at_their_share_are_passed_over() {
        let quota = Quota {
            room: 8,
            share: 2,
            busy: HashMap::from([("slow".to_string(), 2), ("other".to_string(), 1)]),
        };
        assert_eq!(quota.full(), ["slow"]);
    }

    #[test]
    fn an_open_quota_takes_rows_in_due_order_up_to_its_room() {
        let open = Quota::open(3);
        assert!(open.full().is_empty());
        let candidates = due(&[("1", ""), ("2", ""), ("3", ""), ("4", "")]);
        assert_eq!(ids(open.choose(&candidates)), ["1", "2", "3"]);
    }
}
