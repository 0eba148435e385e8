//! No request waits on a lock forever (API.md §12): while another session
//! holds a lock, a call that needs it answers 503 `unavailable` with
//! `Retry-After` once `COLLABD_LOCK_TIMEOUT_MS` has passed, having done
//! nothing; once the lock is gone the same call succeeds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::json;

use crate::support::{Backend, Client, Member, Process, Resp, TestApp};
use crate::{on_both_backends, on_postgres};

on_postgres!(a_locked_table_answers_503_until_it_is_released);
on_both_backends!(a_held_write_lock_answers_503_until_it_is_released);
on_postgres!(a_read_waiting_for_a_lock_leaves_its_worker_free);

/// The longest a holder keeps its lock when the test never lets go (it
/// failed): far past any answer the test waits for.
const HOLD_AT_MOST: Duration = Duration::from_secs(60);

/// Another session of the database, holding what `statements` took until
/// told to let go.
struct Holder {
    release: mpsc::Sender<()>,
    released: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Holder {
    fn hold(backend: &Backend, url: &str, statements: &'static str) -> Holder {
        let (ready_tx, ready) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let released = Arc::new(AtomicBool::new(false));
        let flag = released.clone();
        let (url, postgres) = (url.to_string(), matches!(backend, Backend::Postgres(_)));
        let thread = std::thread::spawn(move || {
            let mut conn: Box<dyn SimpleConnection> = if postgres {
                Box::new(diesel::PgConnection::establish(&url).expect("a second session"))
            } else {
                Box::new(diesel::SqliteConnection::establish(&url).expect("a second connection"))
            };
            conn.batch_execute(statements).expect("take the lock");
            ready_tx.send(()).expect("tell the test");
            let _ = release_rx.recv_timeout(HOLD_AT_MOST);
            flag.store(true, Ordering::SeqCst);
            conn.batch_execute("ROLLBACK").expect("let go");
        });
        ready
            .recv_timeout(Duration::from_secs(30))
            .expect("the lock was taken");
        Holder {
            release,
            released,
            thread: Some(thread),
        }
    }

    /// True once the holder has let go (or begun to).
    fn released(&self) -> bool {
        self.released.load(Ordering::SeqCst)
    }

    fn release(mut self) {
        let _ = self.release.send(());
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the holder let go");
        }
    }
}

/// 503 `unavailable` with `Retry-After`, in the envelope, answered while
/// the lock was still held.
fn assert_refused_while_held(r: &Resp, holder: &Holder, took: Duration) {
    assert!(
        !holder.released(),
        "answered only after the lock was released ({took:?})"
    );
    assert_eq!(r.status, 503, "{:?}", r.body);
    r.assert_envelope();
    assert_eq!(r.error_type(), "unavailable");
    assert!(r.header("retry-after").is_some(), "{:?}", r.headers);
    assert!(took < HOLD_AT_MOST / 2, "took {took:?}");
}

/// An organization with an owner and a `technical` member.
fn organization_with_member(app: &TestApp) -> (String, String, Member) {
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let member = app.member(&owner, &org, "member@example.com", "technical");
    (owner, org, member)
}

fn role_of(app: &TestApp, owner: &str, org: &str, member: &Member) -> String {
    let list = app
        .get(
            &format!("/customer/listcollaborators?organizationid={org}"),
            Some(owner),
        )
        .ok();
    list.get("collaborators")
        .as_array()
        .expect("collaborators")
        .iter()
        .find(|c| c["collaboratorid"] == member.collaboratorid.as_str())
        .expect("the member is listed")["role"]
        .as_str()
        .expect("role")
        .to_string()
}

fn make_admin(app: &TestApp, owner: &str, member: &Member) -> (Resp, Duration) {
    let started = Instant::now();
    let r = app.post(
        "/customer/editcollaborator",
        Some(owner),
        json!({"collaboratorid": member.collaboratorid, "role": "admin"}),
    );
    (r, started.elapsed())
}

fn a_locked_table_answers_503_until_it_is_released(backend: Backend) {
    let app = TestApp::start_with(backend.clone(), |c| c.lock_timeout_ms = 1000);
    let (owner, org, member) = organization_with_member(&app);
    let holder = Holder::hold(
        &backend,
        &app.db.url,
        "BEGIN; LOCK TABLE memberships IN ACCESS EXCLUSIVE MODE",
    );
    let (r, took) = make_admin(&app, &owner, &member);
    assert_refused_while_held(&r, &holder, took);
    // A read waits no longer than a write.
    let started = Instant::now();
    let r = app.get(
        &format!("/customer/listcollaborators?organizationid={org}"),
        Some(&owner),
    );
    assert_refused_while_held(&r, &holder, started.elapsed());
    holder.release();
    assert_eq!(
        role_of(&app, &owner, &org, &member),
        "technical",
        "nothing was done"
    );
    make_admin(&app, &owner, &member).0.ok();
    assert_eq!(role_of(&app, &owner, &org, &member), "admin");
}

fn a_held_write_lock_answers_503_until_it_is_released(backend: Backend) {
    let app = TestApp::start_with(backend.clone(), |c| c.lock_timeout_ms = 1000);
    let (owner, org, member) = organization_with_member(&app);
    // SQLite: the database's one write lock. PostgreSQL: the member's row.
    let statements = match backend {
        // (The server may be writing a moment: wait for it first.)
        Backend::Sqlite => "PRAGMA busy_timeout = 10000; BEGIN IMMEDIATE",
        Backend::Postgres(_) => "BEGIN; SELECT 1 FROM memberships FOR UPDATE",
    };
    let holder = Holder::hold(&backend, &app.db.url, statements);
    let (r, took) = make_admin(&app, &owner, &member);
    assert_refused_while_held(&r, &holder, took);
    holder.release();
    assert_eq!(
        role_of(&app, &owner, &org, &member),
        "technical",
        "nothing was done"
    );
    make_admin(&app, &owner, &member).0.ok();
    assert_eq!(role_of(&app, &owner, &org, &member), "admin");
}

/// A read served on the HTTP worker (PostgreSQL on loopback) that meets a
/// lock (a migration's, another session's) does not wait for it there: it
/// moves to the blocking pool, which waits up to `COLLABD_LOCK_TIMEOUT_MS`,
/// and the worker goes on serving. One worker: were the read waiting on it,
/// `/healthz` would answer only after the read had.
fn a_read_waiting_for_a_lock_leaves_its_worker_free(backend: Backend) {
    let app = TestApp::start(backend.clone());
    let (owner, org, _member) = organization_with_member(&app);
    let server = Process::spawn(&[
        ("COLLABD_DATABASE_URL", app.db.url.as_str()),
        ("COLLABD_LOCK_TIMEOUT_MS", "30000"),
    ]);
    let list = format!("/customer/listcollaborators?organizationid={org}");
    let client = Client::new(&server.base);
    client.get(&list, Some(&owner)).ok();
    let holder = Holder::hold(
        &backend,
        &app.db.url,
        "BEGIN; LOCK TABLE memberships IN ACCESS EXCLUSIVE MODE",
    );
    let answered = Arc::new(AtomicBool::new(false));
    let waiting = {
        let (base, list, owner, answered) = (
            server.base.clone(),
            list.clone(),
            owner.clone(),
            answered.clone(),
        );
        std::thread::spawn(move || {
            let r = Client::new(&base).get(&list, Some(&owner));
            answered.store(true, Ordering::SeqCst);
            r
        })
    };
    // Let the list reach the lock (if it answers before, the check below
    // fails loudly rather than passing by luck).
    std::thread::sleep(Duration::from_millis(500));
    let health = client.get("/healthz", None);
    assert_eq!(health.status, 200, "{:?}", health.body);
    assert!(
        !answered.load(Ordering::SeqCst),
        "the list answered before the worker served /healthz: it was not waiting on the lock, \
         or the worker waited with it"
    );
    assert!(!holder.released());
    holder.release();
    let r = waiting.join().expect("the list's thread");
    assert_eq!(
        r.status, 200,
        "the read waited for the lock off the worker: {:?}",
        r.body
    );
}
