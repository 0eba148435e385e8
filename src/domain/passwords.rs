//! Password hashing with argon2id, bounded. Each hash or verification holds
//! tens of MB for a moment; unbounded, a few hundred concurrent logins for
//! made-up accounts would exhaust the machine. At most `running` run at once;
//! up to `waiting` more wait up to `wait` for a turn; anything beyond answers
//! 503 at once. When the last one finishes, the allocator is asked to give
//! freed memory back, so a burst does not leave the process large.

use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::Argon2;

use super::kernel::error::{DomainError, DomainResult};
use super::limits::Window;
use crate::store::rows::UserRow;

/// How many hashes run at once and how many may queue for a turn.
pub struct PasswordHashing {
    state: Mutex<Slots>,
    freed: Condvar,
    running: usize,
    waiting: usize,
    wait: Duration,
}

#[derive(Default)]
struct Slots {
    running: usize,
    waiting: usize,
}

/// One turn; ends when dropped.
struct Turn<'a>(&'a PasswordHashing);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let idle = {
            let mut slots = self.0.lock();
            slots.running -= 1;
            slots.running == 0 && slots.waiting == 0
        };
        self.0.freed.notify_one();
        if idle {
            give_back_memory();
        }
    }
}

impl PasswordHashing {
    /// `running` at once (at least 1), `waiting` more for up to `wait`.
    pub fn new(running: usize, waiting: usize, wait: Duration) -> PasswordHashing {
        tune_allocator();
        PasswordHashing {
            state: Mutex::new(Slots::default()),
            freed: Condvar::new(),
            running: running.max(1),
            waiting,
            wait,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        // A panic while holding this lock leaves plain counters behind.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn busy() -> DomainError {
        DomainError::Busy("too many password checks at once; retry in a moment".into())
    }

    fn turn(&self) -> DomainResult<Turn<'_>> {
        let mut slots = self.lock();
        if slots.running < self.running {
            slots.running += 1;
            return Ok(Turn(self));
        }
        if slots.waiting >= self.waiting {
            return Err(Self::busy());
        }
        slots.waiting += 1;
        let deadline = Instant::now() + self.wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if slots.running < self.running {
                slots.waiting -= 1;
                slots.running += 1;
                return Ok(Turn(self));
            }
            if left.is_zero() {
                slots.waiting -= 1;
                return Err(Self::busy());
            }
            slots = self
                .freed
                .wait_timeout(slots, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// An argon2id hash of `password` with a fresh salt.
    pub fn hash(&self, password: &str) -> DomainResult<String> {
        let _turn = self.turn()?;
        hash_now(password)
    }

    /// True when `password` is the one `stored` was made from. Without a
    /// stored hash it verifies against a fixed one anyway, so the time taken
    /// does not tell whether an account (or its password) exists.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> DomainResult<bool> {
        static DUMMY: OnceLock<String> = OnceLock::new();
        let _turn = self.turn()?;
        let dummy = DUMMY.get_or_init(|| hash_now("collabd-dummy-password").unwrap_or_default());
        let Ok(hash) = PasswordHash::new(stored.unwrap_or(dummy)) else {
            return Ok(false);
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok();
        Ok(matches && stored.is_some())
    }

    /// The password of `user`, when it has one, must be `current` (403 when
    /// missing or wrong): every change that needs the holder's say-so (a new
    /// password or address, two-factor, closing the account) asks this. An
    /// account without a password passes. Guesses count against `logins` as
    /// failed logins do.
    pub fn check_current(
        &self,
        logins: &Window<String>,
        user: &UserRow,
        current: Option<&str>,
    ) -> DomainResult<()> {
        let Some(stored) = user.password_hash.as_deref() else {
            return Ok(());
        };
        logins.check(&user.email)?;
        // Missing is refused like wrong (403), not as a bad parameter:
        // whether it is needed depends on the account, not on the request.
        let current = current.ok_or_else(|| {
            DomainError::forbidden("this account has a password: send it as currentpassword")
        })?;
        if !self.verify(current, Some(stored))? {
            let _ = logins.hit(&user.email);
            return Err(DomainError::forbidden(
                "currentpassword is not the account's password",
            ));
        }
        Ok(())
    }
}

fn hash_now(password: &str) -> DomainResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| DomainError::Internal(format!("hashing a password: {e}")))
}

/// Tunes glibc's allocator for a server of a few busy threads.
///
/// - Every buffer of 1 MiB or more is mapped on its own and unmapped when
///   freed. By default glibc raises that threshold to the size of the last
///   large buffer freed, after which argon2's 19 MiB blocks come from
///   per-thread arenas that keep them: a burst on many threads then leaves
///   hundreds of MB resident. With a fixed threshold each block goes back
///   when its hash ends.
/// - At most two arenas, where glibc's default is eight per CPU: each thread
///   that allocates would otherwise keep an arena of its own, partly
///   resident, for the handful of blocking threads that come and go.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; any value is valid.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns freed heap to the system (glibc keeps it in its arenas otherwise).
fn give_back_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory at the top of glibc's
    // heaps and in its arenas; it touches no memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_wrong_ones_do_not() {
        let hashing = PasswordHashing::new(1, 0, Duration::ZERO);
        let hash = hashing.hash("correct horse").expect("in a test");
        assert!(hashing
            .verify("correct horse", Some(&hash))
            .expect("in a test"));
        assert!(!hashing
            .verify("wrong horse", Some(&hash))
            .expect("in a test"));
        assert!(!hashing.verify("correct horse", None).expect("in a test"));
    }

    #[test]
    fn beyond_the_queue_is_busy_and_turns_come_back() {
        let hashing = PasswordHashing::new(1, 1, Duration::from_millis(50));
        let first = hashing.turn().expect("in a test");
        // One may wait; it times out while the first turn is held.
        assert!(matches!(hashing.turn(), Err(DomainError::Busy(_))));
        drop(first);
        let again = hashing.turn().expect("in a test");
        drop(again);
        let slots = hashing.lock();
        assert_eq!((slots.running, slots.waiting), (0, 0));
    }

    #[test]
    fn a_full_queue_refuses_at_once() {
        let hashing = std::sync::Arc::new(PasswordHashing::new(1, 1, Duration::from_secs(5)));
        let held = hashing.turn().expect("in a test");
        let waiter = {
            let hashing = hashing.clone();
            std::thread::spawn(move || hashing.turn().map(|_| ()).is_ok())
        };
        while hashing.lock().waiting == 0 {
            std::thread::yield_now();
        }
        // The queue is full: refused without joining it.
        assert!(matches!(hashing.turn(), Err(DomainError::Busy(_))));
        assert_eq!(hashing.lock().waiting, 1);
        drop(held);
        assert!(
            waiter.join().expect("in a test"),
            "the waiting caller gets the freed turn"
        );
    }
}
