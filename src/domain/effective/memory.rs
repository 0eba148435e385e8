//! What the checks have read, kept between requests while it still stands.
//!
//! A batch of checks asks about many people at once; reading their
//! memberships, grants and teams anew for every batch cost it 15 to 20 times
//! a single check. So each process keeps, per organization, what it has read
//! of the people asked about (everything a member holds, or that the person
//! is no member) and of the projects asked about (whether the organization
//! has them), filed under the organization's roster version
//! ([`crate::domain::rosters`]). Database triggers move that version in the
//! transaction of every change an answer depends on (memberships and their
//! grants, teams with their members and grants, custom roles' permissions,
//! projects renamed or deleted, people's addresses), whichever process
//! makes it; project ids are never reused, so a new project changes no
//! answer kept about an id. A request reads the version first and answers from memory only what
//! was read at that same version; the rest it reads and files under the
//! version it read first, so nothing is ever filed under a version newer
//! than its rows (at worst it is read once more). A time-limited membership
//! is kept with its end and is no membership from that instant, whatever
//! the version says. Nothing about who asks is kept: the key is judged on
//! every request.
//!
//! Bounded: at most `budget` entries (a person, each of their grants, a
//! project) in all; past it, everything is dropped and read again as asked
//! (as the collaborator pages are).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::decision::{Asked, Decision, Effective, Person, Reason};

/// A member as read: what they hold, and when their membership ends.
#[derive(Debug, Clone)]
pub struct Holder {
    pub effective: Effective,
    /// The end of a time-limited membership (ms since the epoch).
    pub until: Option<i64>,
}

/// The entries a person's reading counts for: one, and one per grant.
fn size_of(holder: &Option<Holder>) -> usize {
    holder.as_ref().map_or(1, |h| {
        1 + h.effective.grants.len() + h.effective.teams.grants.len()
    })
}

/// What was read of one organization at one version.
#[derive(Debug, Default)]
pub struct Readings {
    /// Each person asked about: what they hold, or `None` for no member.
    pub people: HashMap<Person, Option<Holder>>,
    /// Each project asked about whose existence decides an answer.
    pub projects: HashMap<String, bool>,
}

impl Readings {
    /// The answer to `asked` from what was read, if enough was.
    pub fn answer(&self, asked: &Asked, now: i64) -> Option<Decision> {
        let Some(holder) = self.people.get(&asked.person)? else {
            return Some(Decision::no(Reason::NotMember));
        };
        if holder.until.is_some_and(|end| now >= end) {
            return Some(Decision::no(Reason::NotMember));
        }
        let effective = &holder.effective;
        let in_organization = match effective.existence_decides(&asked.question) {
            Some(project) => *self.projects.get(project)?,
            None => true,
        };
        Some(effective.decide(&asked.question, in_organization))
    }
}

struct Kept {
    version: i64,
    readings: Readings,
    /// Entries in `readings` ([`size_of`], one per project).
    size: usize,
}

#[derive(Default)]
struct Organizations {
    kept: HashMap<String, Kept>,
    size: usize,
}

/// The readings of this process, per organization, bounded.
pub struct CheckMemory {
    organizations: Mutex<Organizations>,
    budget: usize,
}

impl CheckMemory {
    /// A memory of at most `budget` entries (0: none).
    pub fn new(budget: usize) -> CheckMemory {
        CheckMemory {
            organizations: Mutex::new(Organizations::default()),
            budget,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Organizations> {
        self.organizations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The answers memory holds for `asked`, in order, of what was read at
    /// the organization's `version` (`None` where nothing was).
    pub fn answers(
        &self,
        asked: &[Asked],
        version: impl Fn(&str) -> i64,
        now: i64,
    ) -> Vec<Option<Decision>> {
        let memory = self.lock();
        asked
            .iter()
            .map(|a| {
                let kept = memory.kept.get(&a.organization_id)?;
                (kept.version == version(&a.organization_id))
                    .then(|| kept.readings.answer(a, now))
                    .flatten()
            })
            .collect()
    }

    /// Files `readings` of `organization_id`, read at `version`: beside what
    /// is kept at that version, instead of what is kept at an older one,
    /// and not at all when a newer one is kept.
    pub fn keep(&self, organization_id: &str, version: i64, readings: Readings) {
        let size = readings.projects.len() + readings.people.values().map(size_of).sum::<usize>();
        if size > self.budget / 4 {
            return;
        }
        let mut memory = self.lock();
        let memory = &mut *memory;
        match memory.kept.get(organization_id) {
            Some(kept) if kept.version > version => return,
            Some(kept) if kept.version < version => {
                memory.size -= kept.size;
                memory.kept.remove(organization_id);
            }
            _ => {}
        }
        if memory.size + size > self.budget {
            // Simple and bounded: start again rather than track recency.
            memory.kept.clear();
            memory.size = 0;
        }
        let kept = memory
            .kept
            .entry(organization_id.to_string())
            .or_insert_with(|| Kept {
                version,
                readings: Readings::default(),
                size: 0,
            });
        // What a reading replaces no longer counts.
        let mut replaced = 0;
        for (person, holder) in readings.people {
            replaced += kept
                .readings
                .people
                .insert(person, holder)
                .as_ref()
                .map_or(0, size_of);
        }
        for (project, exists) in readings.projects {
            replaced += usize::from(kept.readings.projects.insert(project, exists).is_some());
        }
        kept.size = kept.size + size - replaced;
        memory.size = memory.size + size - replaced;
    }
}

#[cfg(test)]
mod tests {
    use super::super::decision::Question;
    use super::*;
    use crate::domain::permissions::{Permission, PermissionSet};
    use crate::store::kinds::Permission as Level;

    fn asked(person: &str, question: Question) -> Asked {
        Asked {
            organization_id: "o".into(),
            person: Person::UserId(person.into()),
            question,
        }
    }

    fn project(id: &str) -> Question {
        Question::Project {
            project_id: id.into(),
            level: Level::Read,
        }
    }

    fn reader(until: Option<i64>) -> Holder {
        Holder {
            effective: Effective {
                role: PermissionSet::of(&[Permission::ProjectsRead]),
                ..Effective::default()
            },
            until,
        }
    }

    fn readings(people: &[(&str, Option<Holder>)], projects: &[(&str, bool)]) -> Readings {
        Readings {
            people: people
                .iter()
                .map(|(id, h)| (Person::UserId((*id).into()), h.clone()))
                .collect(),
            projects: projects.iter().map(|(p, e)| ((*p).into(), *e)).collect(),
        }
    }

    #[test]
    fn answers_only_what_was_read_at_the_version_asked() {
        let memory = CheckMemory::new(100);
        let q = asked("a", Question::Organization(Permission::ProjectsRead));
        assert_eq!(
            memory.answers(std::slice::from_ref(&q), |_| 3, 0),
            vec![None]
        );
        memory.keep(
            "o",
            3,
            readings(&[("a", Some(reader(None))), ("b", None)], &[]),
        );
        let b = asked("b", Question::Organization(Permission::ProjectsRead));
        let c = asked("c", Question::Organization(Permission::ProjectsRead));
        assert_eq!(
            memory.answers(&[q.clone(), b.clone(), c], |_| 3, 0),
            vec![
                Some(Decision::yes(Reason::Role)),
                Some(Decision::no(Reason::NotMember)),
                None
            ]
        );
        // A newer version: nothing kept answers; an older reading is not filed over it.
        assert_eq!(
            memory.answers(std::slice::from_ref(&q), |_| 4, 0),
            vec![None]
        );
        memory.keep("o", 4, readings(&[("b", Some(reader(None)))], &[]));
        memory.keep("o", 3, readings(&[("a", None)], &[]));
        assert_eq!(
            memory.answers(&[q, b], |_| 4, 0),
            vec![None, Some(Decision::yes(Reason::Role))]
        );
    }

    #[test]
    fn a_membership_ends_at_its_end_and_a_project_must_be_known() {
        let memory = CheckMemory::new(100);
        memory.keep(
            "o",
            1,
            readings(
                &[("a", Some(reader(Some(1_000))))],
                &[("p", true), ("gone", false)],
            ),
        );
        let on = |p: &str| asked("a", project(p));
        assert_eq!(
            memory.answers(&[on("p"), on("gone"), on("unknown")], |_| 1, 999),
            vec![
                Some(Decision::yes(Reason::Role)),
                Some(Decision::no(Reason::NotGranted)),
                None
            ]
        );
        assert_eq!(
            memory.answers(&[on("p")], |_| 1, 1_000),
            vec![Some(Decision::no(Reason::NotMember))]
        );
    }

    #[test]
    fn stays_within_its_budget() {
        let memory = CheckMemory::new(8);
        let person = |id: &str| asked(id, Question::Organization(Permission::ProjectsRead));
        memory.keep("o", 1, readings(&[("a", None), ("b", None)], &[]));
        memory.keep("o", 1, readings(&[("c", None), ("d", None)], &[]));
        assert!(memory.lock().size <= 8);
        // Past the budget everything goes, then the new reading is kept.
        memory.keep("o", 1, readings(&[("e", None), ("f", None)], &[]));
        memory.keep("o", 1, readings(&[("g", None), ("h", None)], &[]));
        memory.keep("o", 1, readings(&[("i", None)], &[]));
        assert!(memory.lock().size <= 8);
        let answers = memory.answers(&[person("a"), person("i")], |_| 1, 0);
        assert_eq!(answers, vec![None, Some(Decision::no(Reason::NotMember))]);
        // More than a quarter of the budget at once is not kept at all.
        memory.keep(
            "p",
            1,
            readings(&[("x", None), ("y", None), ("z", None)], &[]),
        );
        assert!(!memory.lock().kept.contains_key("p"));
    }
}
