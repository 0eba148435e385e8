//! Claiming due rows fairly: which rows a claim takes, given what this
//! process has in flight, and the SQL that takes them.
//!
//! A row belongs to a group (a webhook's organization) and, within it, to a
//! target (the webhook). A claim keeps each group within its share and each
//! target within its own (half its group's), and takes the least busy
//! first: a group's rows rank by how many it has in flight plus their place
//! in its due order, and within a group its targets' rows the same way. So
//! a group with nothing in flight comes before every group with something,
//! whatever their rows' age, and a dead endpoint's backlog never fills its
//! group's share. And rows beyond their group's first hold at most
//! [`Shares::extra`] slots (half of them): the rest are kept for groups'
//! first rows, so however many groups sit at their share with sends that
//! will time out, a group with nothing in flight finds a free slot unless
//! as many other groups as the kept slots have rows in flight.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Text};

use super::rows::{marks, placeholders, IdRow};
use super::Courier;
use crate::clock::now_ms;
use crate::store::{classify, DbConn, MultiBackend, Store, StoreError};

/// How the sender's slots are shared out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shares {
    /// Rows in flight at once.
    pub parallel: usize,
    /// The most one group may have in flight.
    pub group: usize,
    /// The most one target may have in flight.
    pub target: usize,
    /// The most slots rows beyond their group's first may hold; the others
    /// are kept for each group's first.
    pub extra: usize,
}

impl Shares {
    /// The shares of a sender of `parallel` rows at once, `share` of one
    /// group. With groups, a target may hold half its group's share (at
    /// least one row), and rows beyond their group's first half the slots
    /// (or a group's share, if more); without, there is one group and one
    /// target, which may take every slot.
    pub fn of(parallel: usize, share: usize, grouped: bool, targeted: bool) -> Shares {
        let parallel = parallel.max(1);
        let group = share.clamp(1, parallel);
        Shares {
            parallel,
            group,
            target: if targeted { (group / 2).max(1) } else { group },
            extra: if grouped {
                (parallel - parallel / 2).max(group)
            } else {
                parallel
            },
        }
    }
}

/// Where a row stands for its share: its group and its target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Lane {
    pub group: String,
    pub target: String,
}

/// What a claim may take: `room` rows in all, of which `extra` rows beyond
/// their group's first, each group within `group_share` and each target
/// within `target_share`.
#[derive(Debug, Clone, Default)]
pub struct Quota {
    pub room: usize,
    pub extra: usize,
    pub group_share: usize,
    pub target_share: usize,
    /// Rows in flight by group.
    pub groups: HashMap<String, usize>,
    /// Rows in flight by target.
    pub targets: HashMap<String, usize>,
}

impl Quota {
    /// Room for `room` rows, whatever their group.
    pub fn open(room: usize) -> Quota {
        Quota {
            room,
            extra: room,
            group_share: room,
            target_share: room,
            ..Quota::default()
        }
    }

    /// Of `candidates` (due rows, least busy first), the ones to claim: each
    /// in turn while there is room, in all and in its group and target, and
    /// for a row beyond its group's first, room for one more such.
    fn choose<'a>(&self, candidates: &'a [Candidate]) -> Vec<&'a Candidate> {
        let mut groups: HashMap<&str, usize> =
            self.groups.iter().map(|(g, &n)| (g.as_str(), n)).collect();
        let mut targets: HashMap<&str, usize> =
            self.targets.iter().map(|(t, &n)| (t.as_str(), n)).collect();
        let mut chosen = Vec::new();
        let mut extra = 0;
        for candidate in candidates {
            if chosen.len() >= self.room {
                break;
            }
            let group = groups.entry(candidate.grp.as_str()).or_insert(0);
            let beyond_first = *group > 0;
            if beyond_first && extra >= self.extra {
                // Only slots kept for first rows are left, and the rows
                // after this one are beyond their group's first too (they
                // come by their group's rows in flight), so none may take
                // one either.
                break;
            }
            let target = targets.entry(candidate.tgt.as_str()).or_insert(0);
            if *group < self.group_share && *target < self.target_share {
                *group += 1;
                *target += 1;
                extra += usize::from(beyond_first);
                chosen.push(candidate);
            }
        }
        chosen
    }
}

/// A due row a claim may take, with its group and target.
#[derive(QueryableByName, Debug)]
struct Candidate {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    grp: String,
    #[diesel(sql_type = Text)]
    tgt: String,
}

/// The rows a claim took, and until when it holds them.
pub struct Claimed<T> {
    pub items: Vec<T>,
    /// Each row's lane, by id.
    pub lanes: HashMap<String, Lane>,
    pub until: i64,
}

/// Claims for `token` the due rows `quota` leaves room for, least busy
/// first, and loads them.
pub fn claim<C: Courier>(
    store: &Store,
    token: &str,
    quota: &Quota,
) -> Result<Claimed<C::Item>, StoreError> {
    let now = now_ms();
    let until = now + C::LEASE_MS;
    let nothing = || Claimed {
        items: Vec::new(),
        lanes: HashMap::new(),
        until,
    };
    if quota.room == 0 {
        return Ok(nothing());
    }
    store.write(|conn| {
        let candidates = candidates::<C>(conn, quota, now)?;
        let chosen = quota.choose(&candidates);
        if chosen.is_empty() {
            return Ok(nothing());
        }
        let ids: Vec<&str> = chosen.iter().map(|c| c.id.as_str()).collect();
        let taken = take::<C>(conn, token, &ids, now, until)?;
        if taken.is_empty() {
            return Ok(nothing());
        }
        let lanes = chosen
            .into_iter()
            .filter(|c| taken.contains(&c.id))
            .map(|c| {
                let lane = Lane {
                    group: c.grp.clone(),
                    target: c.tgt.clone(),
                };
                (c.id.clone(), lane)
            })
            .collect();
        Ok(Claimed {
            items: C::load(conn, token)?,
            lanes,
            until,
        })
    })
}

/// `CASE column WHEN ? THEN ? … ELSE 0 END`: how many rows of each lane in
/// `busy` are in flight, for the binds [`bind_busy`] adds.
fn busy_case(column: &str, busy: &[(String, i64)]) -> String {
    if busy.is_empty() {
        return "0".to_string();
    }
    format!(
        "CASE {column} {}ELSE 0 END",
        "WHEN ? THEN ? ".repeat(busy.len())
    )
}

/// A query of this module's SQL, its binds added one by one.
type Boxed<'a> = BoxedSqlQuery<'a, MultiBackend, SqlQuery>;

/// Binds each lane of `busy` and its rows in flight, for [`busy_case`].
fn bind_busy<'a>(mut query: Boxed<'a>, busy: &[(String, i64)]) -> Boxed<'a> {
    for (lane, n) in busy {
        query = query.bind::<Text, _>(lane.clone()).bind::<BigInt, _>(*n);
    }
    query
}

/// `busy` as the binds of [`busy_case`].
fn counted(busy: &HashMap<String, usize>) -> Vec<(String, i64)> {
    busy.iter()
        .map(|(lane, &n)| (lane.clone(), i64::try_from(n).unwrap_or(i64::MAX)))
        .collect()
}

/// The due, unclaimed rows a claim might take, least busy first: only those
/// within their target's and their group's share, ranked by their group's
/// rows in flight plus their place in the group (where the group's rows
/// come by their target's rows in flight plus their place in the target,
/// then by due time), then by due time; no more than the room.
fn candidates<C: Courier>(
    conn: &mut DbConn,
    quota: &Quota,
    now: i64,
) -> Result<Vec<Candidate>, StoreError> {
    let group = C::GROUP.unwrap_or("CAST('' AS TEXT)");
    let target = C::TARGET.unwrap_or("CAST('' AS TEXT)");
    let groups = counted(&quota.groups);
    let targets = counted(&quota.targets);
    let sql = placeholders(
        conn,
        &format!(
            "SELECT id, grp, tgt FROM (\
             SELECT id, next_attempt_at, grp, tgt, ROW_NUMBER() OVER (\
             PARTITION BY grp ORDER BY tkey, next_attempt_at, id) + {group_busy} AS gkey \
             FROM (\
             SELECT id, next_attempt_at, grp, tgt, ROW_NUMBER() OVER (\
             PARTITION BY grp, tgt ORDER BY next_attempt_at, id) + {target_busy} AS tkey \
             FROM (\
             SELECT q.id, q.next_attempt_at, {group} AS grp, {target} AS tgt FROM {table} q \
             WHERE q.state = 'pending' AND q.next_attempt_at <= ? \
             AND (q.claimed_until IS NULL OR q.claimed_until < ?)\
             ) due) by_target WHERE tkey <= ?\
             ) by_group WHERE gkey <= ? ORDER BY gkey, next_attempt_at, id LIMIT ?",
            group_busy = busy_case("grp", &groups),
            target_busy = busy_case("tgt", &targets),
            table = C::TABLE,
        ),
    );
    let share = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let query = diesel::sql_query(sql).into_boxed::<MultiBackend>();
    let query = bind_busy(bind_busy(query, &groups), &targets);
    query
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(share(quota.target_share))
        .bind::<BigInt, _>(share(quota.group_share))
        .bind::<BigInt, _>(share(quota.room))
        .load(conn)
        .map_err(classify)
}

/// Claims for `token` those of rows `ids` still due and unclaimed, skipping
/// (on PostgreSQL) any another process is claiming meanwhile; answers the
/// ids taken.
fn take<C: Courier>(
    conn: &mut DbConn,
    token: &str,
    ids: &[&str],
    now: i64,
    until: i64,
) -> Result<Vec<String>, StoreError> {
    // Rows another process holds are skipped, not waited for (on SQLite the
    // write transaction already excludes every other writer).
    let skip_locked = match conn {
        DbConn::Pg(_) => " FOR UPDATE SKIP LOCKED",
        DbConn::Sqlite(_) => "",
    };
    let sql = placeholders(
        conn,
        &format!(
            "SELECT id FROM {} WHERE id IN ({}) AND state = 'pending' AND next_attempt_at <= ? \
             AND (claimed_until IS NULL OR claimed_until < ?){skip_locked}",
            C::TABLE,
            marks(ids.len()),
        ),
    );
    let mut free = diesel::sql_query(sql).into_boxed::<MultiBackend>();
    for id in ids {
        free = free.bind::<Text, _>(id.to_string());
    }
    let free: Vec<IdRow> = free
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(now)
        .load(conn)
        .map_err(classify)?;
    let taken: Vec<String> = free.into_iter().map(|r| r.id).collect();
    if taken.is_empty() {
        return Ok(taken);
    }
    let sql = placeholders(
        conn,
        &format!(
            "UPDATE {} SET claim = ?, claimed_until = ? WHERE id IN ({})",
            C::TABLE,
            marks(taken.len())
        ),
    );
    let mut taking = diesel::sql_query(sql)
        .into_boxed::<MultiBackend>()
        .bind::<Text, _>(token.to_string())
        .bind::<BigInt, _>(until);
    for id in &taken {
        taking = taking.bind::<Text, _>(id.clone());
    }
    taking.execute(conn).map_err(classify)?;
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(rows: &[(&str, &str, &str)]) -> Vec<Candidate> {
        rows.iter()
            .map(|(id, grp, tgt)| Candidate {
                id: id.to_string(),
                grp: grp.to_string(),
                tgt: tgt.to_string(),
            })
            .collect()
    }

    fn ids(chosen: Vec<&Candidate>) -> Vec<&str> {
        chosen.into_iter().map(|c| c.id.as_str()).collect()
    }

    fn busy(lanes: &[(&str, usize)]) -> HashMap<String, usize> {
        lanes.iter().map(|(l, n)| (l.to_string(), *n)).collect()
    }

    #[test]
    fn shares_keep_slots_for_first_rows_only_when_there_are_groups() {
        let webhooks = Shares::of(64, 8, true, true);
        assert_eq!(
            webhooks,
            Shares {
                parallel: 64,
                group: 8,
                target: 4,
                extra: 32
            }
        );
        // A group's share never shrinks for the kept slots.
        assert_eq!(Shares::of(8, 6, true, true).extra, 6);
        assert_eq!(Shares::of(7, 2, true, true).extra, 4);
        // A share above the whole is the whole.
        let one = Shares::of(1, 8, true, true);
        assert_eq!((one.group, one.target, one.extra), (1, 1, 1));
        let mail = Shares::of(16, 16, false, false);
        assert_eq!((mail.group, mail.target, mail.extra), (16, 16, 16));
    }

    /// The review's case, scaled down: every slot but one is held by groups
    /// with backlogs older than anything else, one of their slots having
    /// just freed. The group with nothing in flight takes the slot kept for
    /// first rows; the older backlog does not.
    #[test]
    fn once_the_extra_slots_are_held_only_a_first_row_is_taken() {
        let quota = Quota {
            room: 3,
            extra: 0,
            group_share: 2,
            target_share: 1,
            groups: busy(&[("a", 1), ("b", 2), ("c", 1)]),
            targets: busy(&[("a1", 1), ("b1", 1), ("b2", 1), ("c1", 1)]),
        };
        // As the SQL orders them: the idle group's first row, then the rows
        // of groups with one in flight.
        let candidates = due(&[("x1", "x", "x1"), ("a2", "a", "a2"), ("c2", "c", "c2")]);
        assert_eq!(ids(quota.choose(&candidates)), ["x1"]);
        // Extra slots go to the busy groups, least busy first, and no
        // further.
        let one = Quota { extra: 1, ..quota };
        assert_eq!(ids(one.choose(&candidates)), ["x1", "a2"]);
        let two = Quota { extra: 2, ..one };
        assert_eq!(ids(two.choose(&candidates)), ["x1", "a2", "c2"]);
    }

    #[test]
    fn every_idle_group_gets_its_first_row_before_any_gets_a_second() {
        let quota = Quota {
            room: 4,
            extra: 1,
            group_share: 4,
            target_share: 4,
            ..Quota::default()
        };
        let candidates = due(&[
            ("x1", "x", "t"),
            ("y1", "y", "u"),
            ("z1", "z", "v"),
            ("x2", "x", "t"),
            ("y2", "y", "u"),
        ]);
        assert_eq!(ids(quota.choose(&candidates)), ["x1", "y1", "z1", "x2"]);
    }

    #[test]
    fn a_claim_keeps_each_group_and_target_within_its_share() {
        let quota = Quota {
            room: 8,
            extra: 8,
            group_share: 3,
            target_share: 2,
            groups: busy(&[("a", 1)]),
            targets: busy(&[("w1", 1)]),
        };
        let candidates = due(&[
            ("1", "a", "w1"),
            ("2", "a", "w2"),
            ("3", "a", "w1"),
            ("4", "a", "w2"),
            ("5", "b", "w3"),
            ("6", "b", "w3"),
            ("7", "b", "w3"),
        ]);
        // a: one in flight, room for two more, w1 for one more; b's w3 for
        // two.
        assert_eq!(ids(quota.choose(&candidates)), ["1", "2", "5", "6"]);
    }

    #[test]
    fn an_open_quota_takes_rows_in_order_up_to_its_room() {
        let open = Quota::open(3);
        let candidates = due(&[("1", "", ""), ("2", "", ""), ("3", "", ""), ("4", "", "")]);
        assert_eq!(ids(open.choose(&candidates)), ["1", "2", "3"]);
    }

    #[test]
    fn busy_lanes_are_a_case_with_a_pair_of_binds_each() {
        assert_eq!(busy_case("grp", &[]), "0");
        let two = [("a".to_string(), 1), ("b".to_string(), 2)];
        assert_eq!(
            busy_case("grp", &two),
            "CASE grp WHEN ? THEN ? WHEN ? THEN ? ELSE 0 END"
        );
    }
}
