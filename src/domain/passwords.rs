//! Password hashing with argon2id, bounded. Each hash or verification holds
//! tens of MB for a moment; unbounded, a few hundred concurrent logins for
//! made-up accounts would exhaust the machine. At most `running` run at once;
//! up to `waiting` more (`COLLABD_HASH_QUEUE`, 256) wait up to `wait` (10 s)
//! for a turn, first come first served; only past that does a call answer
//! 503 with `Retry-After`. When the last one finishes, the allocator is
//! asked to give freed memory back, so a burst does not leave the process
//! large.
//!
//! How a request reaches a hash, and why waiting is cheap: the handler runs
//! the domain function on the blocking pool through `http::work::run_hashing`,
//! which takes no turn of the store's connection queue. The domain function
//! reads what it needs (each read checks a connection out and returns it at
//! once), refuses what it would refuse anyway (an unknown or ended token, an
//! invite already accepted, a taken address), and only then asks here for a
//! turn: no waiter and no hash holds a pooled connection or an open
//! transaction; the write that follows re-checks under its locks what the
//! hash was computed for. A waiter is a parked blocking thread (a few pages
//! of memory, no CPU), never an HTTP worker; `collabd::start_with` sizes each
//! worker's blocking pool for the whole queue beside the database work, so
//! waiters never hold back other requests' blocking work. (An async wait
//! would need every hashing call split in two around the turn; the parked
//! thread gives the same bound with the domain functions left whole.)

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::Argon2;

use super::kernel::error::{DomainError, DomainResult};
use super::limits::Window;
use crate::store::rows::UserRow;

/// How long a password check waits for a turn before answering 503.
pub const HASH_WAIT: Duration = Duration::from_secs(10);

/// How many hashes run at once and how many may queue for a turn.
pub struct PasswordHashing {
    state: Mutex<Slots>,
    running: usize,
    waiting: usize,
    wait: Duration,
}

#[derive(Default)]
struct Slots {
    running: usize,
    /// Waiters in order of arrival; a freed turn goes to the first.
    queue: VecDeque<Arc<Waiter>>,
}

/// One caller waiting for a turn, woken on its own when handed one.
#[derive(Default)]
struct Waiter {
    /// Set (under the state's lock) when a finishing turn hands its place on.
    granted: std::sync::atomic::AtomicBool,
    wake: Condvar,
}

/// One turn; ends when dropped.
struct Turn<'a>(&'a PasswordHashing);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let idle = {
            let mut slots = self.0.lock();
            match slots.queue.pop_front() {
                // The turn passes straight to the first waiter: `running`
                // stays, and no newcomer can take it in between.
                Some(next) => {
                    next.granted
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    next.wake.notify_one();
                    false
                }
                None => {
                    slots.running -= 1;
                    slots.running == 0
                }
            }
        };
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
            running: running.max(1),
            waiting,
            wait,
        }
    }

    /// Hashes that may run at once plus those that may wait: the most
    /// blocking threads password checks can hold.
    pub fn capacity(&self) -> usize {
        self.running + self.waiting
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
        if slots.running < self.running && slots.queue.is_empty() {
            slots.running += 1;
            return Ok(Turn(self));
        }
        if slots.queue.len() >= self.waiting {
            return Err(Self::busy());
        }
        let me = Arc::new(Waiter::default());
        slots.queue.push_back(me.clone());
        let deadline = Instant::now() + self.wait;
        loop {
            if me.granted.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(Turn(self));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                slots.queue.retain(|waiter| !Arc::ptr_eq(waiter, &me));
                return Err(Self::busy());
            }
            slots = me
                .wake
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
        assert_eq!((slots.running, slots.queue.len()), (0, 0));
    }

    #[test]
    fn a_full_queue_refuses_at_once() {
        let hashing = std::sync::Arc::new(PasswordHashing::new(1, 1, Duration::from_secs(5)));
        let held = hashing.turn().expect("in a test");
        let waiter = {
            let hashing = hashing.clone();
            std::thread::spawn(move || hashing.turn().map(|_| ()).is_ok())
        };
        while hashing.lock().queue.is_empty() {
            std::thread::yield_now();
        }
        // The queue is full: refused without joining it.
        assert!(matches!(hashing.turn(), Err(DomainError::Busy(_))));
        assert_eq!(hashing.lock().queue.len(), 1);
        drop(held);
        assert!(
            waiter.join().expect("in a test"),
            "the waiting caller gets the freed turn"
        );
    }

    #[test]
    fn turns_go_to_waiters_in_order_of_arrival() {
        let hashing = std::sync::Arc::new(PasswordHashing::new(1, 8, Duration::from_secs(10)));
        let held = hashing.turn().expect("in a test");
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for i in 0..4 {
            let (mine, order) = (hashing.clone(), order.clone());
            waiters.push(std::thread::spawn(move || {
                let turn = mine.turn().expect("in a test");
                order.lock().expect("in a test").push(i);
                drop(turn);
            }));
            // The next one arrives only once this one queues.
            while hashing.lock().queue.len() < i + 1 {
                std::thread::yield_now();
            }
        }
        // All four wait behind the held turn.
        assert_eq!(hashing.lock().queue.len(), 4);
        drop(held);
        for waiter in waiters {
            waiter.join().expect("in a test");
        }
        assert_eq!(*order.lock().expect("in a test"), vec![0, 1, 2, 3]);
        let slots = hashing.lock();
        assert_eq!((slots.running, slots.queue.len()), (0, 0));
    }
}
