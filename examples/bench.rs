//! The benchmark of collabd's hot paths, each figure beside a reference
//! measured in the same run (the machine is shared; only ratios travel).
//!
//!     scripts/bench                       # SQLite
//!     COLLABD_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test scripts/bench
//!
//! `scripts/bench` builds the release binary and this example and installs
//! `wrk` when it is missing. Everything runs on 127.0.0.1 and every load is
//! bounded in time. For each database it:
//!
//! 1. starts the real `collabd` binary as its own process, seeds organizations
//!    of 50 members (with projects and grants), 200 and 100 000 members (and
//!    as many invites, projects, audit events, webhook deliveries, and
//!    invites waiting for one address) straight into the database;
//! 2. loads `customer/listcollaborators` of the 50-member organization with
//!    wrk, against an actix-web server (another process) that serves the same
//!    bytes from memory, and against collabd's own `api/serviceinfo`, reading
//!    the server's CPU time from /proc;
//! 3. times page two of every paginated list of the 100 000-row organization
//!    against the 200-row one, interleaved;
//! 4. loads `invite/create` with distinct addresses, then measures how fast
//!    the queued mail reaches an SMTP server the bench runs, against lettre
//!    sending to that server from one connection;
//! 5. kills a process that has claimed a mail and times how long another
//!    process takes to send it;
//! 6. reads RSS idle and at the end of each load;
//! 7. measures issue 8's two blocked goals as issue 20 restates them: the
//!    list's server CPU per request (on PostgreSQL with its backends')
//!    against the reference's, and a fresh process's idle RSS
//!    (`bench/goals.rs`);
//! 8. times the permission checks beside the list (`bench/checks.rs`) and
//!    SCIM's page of Users and `userName` lookup in 100 000 members against
//!    200 (`bench/scim.rs`).
//!
//! On PostgreSQL it then loads the list and `invite/create` on 1, 2 and 4
//! `collabd` processes sharing the database (`bench/processes.rs`).
//!
//! Set `COLLABD_BENCH_SECONDS` (default 8) to lengthen or shorten each load,
//! `COLLABD_BENCH_PROCESSES` (default `1 2 4`) to choose the counts.

#[allow(dead_code)]
#[path = "../tests/api/smtp.rs"]
mod smtp;

// A crate root's modules are found beside it (examples/processes.rs), where
// cargo would take each file for an example of its own.
#[path = "bench/checks.rs"]
mod checks;
#[path = "bench/goals.rs"]
mod goals;
#[path = "bench/processes.rs"]
mod processes;
#[path = "bench/scim.rs"]
mod scim;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};
use serde_json::{json, Value};

const CONNECTIONS: u32 = 32;
const BIG: usize = 100_000;

/// The rows of the large lists: 100 000, or `COLLABD_BENCH_BIG_ROWS` while
/// profiling one figure.
fn big_rows() -> usize {
    std::env::var("COLLABD_BENCH_BIG_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(BIG)
        .clamp(SMALL, 1_000_000)
}
const SMALL: usize = 200;
const PAGE_SAMPLES: usize = 60;

fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("reference-server") {
        let body = args.next().expect("body file");
        reference_server(&body);
        return;
    }
    let bin = collabd_binary();
    assert!(
        Command::new("wrk").arg("--version").output().is_ok(),
        "wrk is not installed: run scripts/bench, which installs it"
    );
    let seconds: u64 = std::env::var("COLLABD_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8)
        .clamp(2, 120);
    let mut report = String::new();
    let _ = writeln!(
        report,
        "collabd bench: {} cores, wrk -t2 -c{CONNECTIONS} -d{seconds}s over loopback, release build; load average at start {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        processes::load_average()
    );
    let scratch = tempfile::tempdir().expect("temp dir");
    let sqlite = scratch.path().join("bench.sqlite3").display().to_string();
    run_backend(
        "SQLite",
        &bin,
        &sqlite,
        scratch.path(),
        seconds,
        &mut report,
    );
    let mut restated = Vec::new();
    if !checks_only() {
        restated.push(goals::measure(
            "SQLite",
            &bin,
            &sqlite,
            scratch.path(),
            seconds,
        ));
    }
    let mut checked = vec![checks::measure(
        "SQLite",
        &bin,
        &sqlite,
        scratch.path(),
        seconds,
    )];
    let mut scim_reads = vec![scim::measure(
        "SQLite",
        &bin,
        &sqlite,
        scratch.path(),
        seconds,
    )];
    if let Ok(admin) = std::env::var("COLLABD_BENCH_POSTGRES_URL") {
        let db = ScratchPostgres::new(&admin);
        run_backend(
            "PostgreSQL",
            &bin,
            &db.url,
            scratch.path(),
            seconds,
            &mut report,
        );
        if !checks_only() {
            restated.push(goals::measure(
                "PostgreSQL",
                &bin,
                &db.url,
                scratch.path(),
                seconds,
            ));
        }
        checked.push(checks::measure(
            "PostgreSQL",
            &bin,
            &db.url,
            scratch.path(),
            seconds,
        ));
        scim_reads.push(scim::measure(
            "PostgreSQL",
            &bin,
            &db.url,
            scratch.path(),
            seconds,
        ));
        if !checks_only() {
            processes::scaling(&bin, &db.url, scratch.path(), seconds, &mut report);
        }
    } else {
        let _ = writeln!(
            report,
            "\n(PostgreSQL skipped: set COLLABD_BENCH_POSTGRES_URL to an admin URL)"
        );
    }
    if !restated.is_empty() {
        goals::report(&restated, &mut report);
    }
    checks::report(&checked, &mut report);
    scim::report(&scim_reads, &mut report);
    let _ = writeln!(
        report,
        "\nLoad average at the end: {} (the machine is shared: compare ratios within one run)",
        processes::load_average()
    );
    println!("\n{report}");
    if std::env::var_os("COLLABD_BENCH_KEEP").is_some() {
        // For profiling one figure against the seeded databases afterwards.
        eprintln!("kept the SQLite database in {}", scratch.keep().display());
    }
}

/// True with `COLLABD_BENCH_ONLY=checks`: the data is seeded as always,
/// and only the permission checks (with the list they are set against)
/// are measured.
fn checks_only() -> bool {
    std::env::var("COLLABD_BENCH_ONLY").is_ok_and(|v| v == "checks")
}

/// `target/release/collabd`, beside `target/release/examples/bench`.
fn collabd_binary() -> PathBuf {
    if let Ok(bin) = std::env::var("COLLABD_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("current exe");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("collabd");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/bench, which builds it",
        bin.display()
    );
    bin
}

// ---------------------------------------------------------------- processes

/// A process the bench started, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).expect("stat");
        // Fields after the command name, which is in parentheses.
        let rest = &stat[stat.rfind(')').expect("stat") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 =
            fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        ticks / hz
    }

    fn status_kb(&self, field: &str) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("status")
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("status field")
    }

    fn rss_mb(&self) -> f64 {
        self.status_kb("VmRSS:") / 1024.0
    }

    /// The most RSS since the last [`Server::reset_peak`], in MB.
    fn peak_mb(&self) -> f64 {
        self.status_kb("VmHWM:") / 1024.0
    }

    fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn start_collabd(bin: &Path, database_url: &str, smtp_url: &str, dir: &Path) -> Server {
    let mut command = Command::new(bin);
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("COLLABD_DATABASE_URL", database_url)
        .env("COLLABD_SMTP_URL", smtp_url)
        .env("COLLABD_MAIL_DIR", dir.join("mail"))
        .env(
            "COLLABD_JWT_SECRET",
            "bench secret of at least thirty-two bytes",
        )
        .env(
            "COLLABD_LOG",
            std::env::var("COLLABD_BENCH_LOG").unwrap_or_else(|_| "info".into()),
        )
        .env("COLLABD_INVITES_PER_HOUR", "0")
        .env("COLLABD_SIGNUPS_PER_HOUR", "0")
        .env("COLLABD_LOGIN_ATTEMPTS_PER_MINUTE", "0")
        .env("COLLABD_TOKEN_ATTEMPTS_PER_MINUTE", "0")
        .env("COLLABD_MAIL_RETRY_BASE_MS", "200");
    spawn_and_wait(command, "address=")
}

fn spawn_and_wait(mut command: Command, marker: &str) -> Server {
    command.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = command.spawn().expect("start a server");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        // Reads on after the address is known, so the pipe never fills.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let marker = marker.to_string();
    let address = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the server started serving");
        if let Some(rest) = line.split(marker.as_str()).nth(1) {
            break rest.split_whitespace().next().unwrap_or("").to_string();
        }
    };
    Server {
        child,
        base: format!("http://{address}"),
    }
}

/// The reference: actix-web serving one fixed body from memory, with the
/// same number of workers as collabd.
fn reference_server(body_file: &str) {
    use actix_web::{web, App, HttpResponse, HttpServer};
    let body = web::Bytes::from(std::fs::read(body_file).expect("body"));
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            let body = body.clone();
            App::new().default_service(web::to(move || {
                let body = body.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }))
        })
        .bind("127.0.0.1:0")
        .expect("bind");
        let address = server.addrs()[0];
        println!("reference address={address}");
        server.run().await.expect("serve");
    });
}

fn start_reference(body: &[u8], dir: &Path) -> Server {
    let file = dir.join("reference-body.json");
    std::fs::write(&file, body).expect("write body");
    let mut command = Command::new(std::env::current_exe().expect("exe"));
    command.arg("reference-server").arg(&file);
    spawn_and_wait(command, "address=")
}

// ---------------------------------------------------------------- HTTP

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
}

fn call(agent: &ureq::Agent, base: &str, path: &str, token: Option<&str>, body: Value) -> Value {
    let mut request = agent.post(&format!("{base}{path}"));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    match request.send_json(body) {
        Ok(r) => r.into_json().expect("json"),
        Err(ureq::Error::Status(code, r)) => {
            panic!("{path}: {code} {}", r.into_string().unwrap_or_default())
        }
        Err(e) => panic!("{path}: {e}"),
    }
}

fn get_bytes(agent: &ureq::Agent, url: &str, token: &str) -> Vec<u8> {
    let response = agent
        .get(url)
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let mut bytes = Vec::new();
    response
        .into_reader()
        .read_to_end(&mut bytes)
        .expect("body");
    bytes
}

/// Signs up `email` and returns a session token.
fn account(agent: &ureq::Agent, base: &str, email: &str) -> String {
    call(
        agent,
        base,
        "/user/signup",
        None,
        json!({"email": email, "password": "benchmark-password", "name": "Bench"}),
    );
    let login = call(
        agent,
        base,
        "/user/login",
        None,
        json!({"email": email, "password": "benchmark-password"}),
    );
    login["response"]["login"]["token"]
        .as_str()
        .expect("token")
        .to_string()
}

fn organization(agent: &ureq::Agent, base: &str, token: &str, name: &str) -> String {
    let org = call(
        agent,
        base,
        "/user/createorganization",
        Some(token),
        json!({ "name": name }),
    );
    org["response"]["organization"]["organizationid"]
        .as_str()
        .expect("organizationid")
        .to_string()
}

// ---------------------------------------------------------------- wrk

struct Load {
    requests: f64,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn wrk(url: &str, token: &str, seconds: u64, script: Option<&Path>) -> Load {
    let mut command = Command::new("wrk");
    command
        .arg("-t2")
        .arg(format!("-c{CONNECTIONS}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency")
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"));
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let output = command.arg(url).output().expect("run wrk");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "wrk failed: {text}");
    assert!(
        !text.contains("Non-2xx"),
        "the load met error answers:\n{text}"
    );
    let number = |prefix: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map(str::trim)
    };
    let ms = |value: &str| -> f64 {
        let (digits, unit) = value.split_at(
            value
                .find(|c: char| c.is_alphabetic())
                .unwrap_or(value.len()),
        );
        let n: f64 = digits.parse().unwrap_or(f64::NAN);
        match unit {
            "us" => n / 1000.0,
            "ms" => n,
            "s" => n * 1000.0,
            "m" => n * 60_000.0,
            _ => f64::NAN,
        }
    };
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("request count");
    Load {
        requests,
        per_second: number("Requests/sec:")
            .and_then(|n| n.parse().ok())
            .expect("Requests/sec"),
        p50_ms: number("50%").map(ms).expect("p50"),
        p99_ms: number("99%").map(ms).expect("p99"),
    }
}

/// A load on `server`, with the server's CPU time per request.
fn measured(
    server: &Server,
    url: &str,
    token: &str,
    seconds: u64,
    script: Option<&Path>,
) -> (Load, f64) {
    let before = server.cpu_seconds();
    let load = wrk(url, token, seconds, script);
    let cpu = server.cpu_seconds() - before;
    let per_request_us = cpu / load.requests * 1e6;
    (load, per_request_us)
}

// ---------------------------------------------------------------- seeding

/// Rows written straight into the database in one transaction.
fn seed(database_url: &str, sql: &[String]) {
    let run = |conn: &mut dyn FnMut(&str)| {
        for statement in sql {
            conn(statement);
        }
    };
    if database_url.starts_with("postgres") {
        let mut pg = diesel::PgConnection::establish(database_url).expect("connect");
        pg.batch_execute("BEGIN").expect("begin");
        run(&mut |s| pg.batch_execute(s).expect("seed"));
        pg.batch_execute("COMMIT; ANALYZE").expect("commit");
    } else {
        let mut lite = diesel::SqliteConnection::establish(database_url).expect("open");
        lite.batch_execute("PRAGMA busy_timeout = 30000; BEGIN IMMEDIATE")
            .expect("begin");
        run(&mut |s| lite.batch_execute(s).expect("seed"));
        // No ANALYZE: collabd never runs it on its SQLite file, and with
        // STAT4 statistics SQLite prepares statements again on new bindings.
        lite.batch_execute("COMMIT").expect("commit");
    }
}

/// `INSERT INTO table (columns) VALUES …` in chunks of 500 rows.
fn inserts(out: &mut Vec<String>, table: &str, columns: &str, rows: impl Iterator<Item = String>) {
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let chunk: Vec<String> = rows.by_ref().take(500).collect();
        out.push(format!(
            "INSERT INTO {table} ({columns}) VALUES {}",
            chunk.join(",")
        ));
    }
}

const NOW_MS: &str = "1790000000000";
const FAR_MS: &str = "4102444800000";

/// `n` members (users and memberships), `n` projects with a grant each for
/// the first members, `n` pending invites and `n` audit events in `org`.
fn seed_organization(sql: &mut Vec<String>, org: &str, tag: &str, n: usize, owner: &str) {
    inserts(
        sql,
        "users",
        "id, email, name, password_hash, email_verified, created_at",
        (0..n).map(|i| format!("('u-{tag}-{i:06}', 'm{i}@{tag}.bench.example', 'Member {i} of {tag}', NULL, TRUE, {NOW_MS})")),
    );
    inserts(
        sql,
        "memberships",
        "id, organization_id, user_id, role, can_create_projects, created_at",
        (0..n).map(|i| {
            let role = ["admin", "technical", "collaborator"][i % 3];
            format!("('m-{tag}-{i:06}', '{org}', 'u-{tag}-{i:06}', '{role}', FALSE, {NOW_MS})")
        }),
    );
    inserts(
        sql,
        "projects",
        "id, organization_id, name, created_at",
        (0..n).map(|i| format!("('p-{tag}-{i:06}', '{org}', 'Project {i:06}', {NOW_MS})")),
    );
    inserts(
        sql,
        "project_permissions",
        "organization_id, membership_id, project_id, permission",
        (0..n).flat_map(|i| {
            (0..3).map(move |j| {
                let permission = if (i + j) % 2 == 0 { "read" } else { "full" };
                format!(
                    "('{org}', 'm-{tag}-{i:06}', 'p-{tag}-{:06}', '{permission}')",
                    (i + j) % n
                )
            })
        }),
    );
    inserts(
        sql,
        "invites",
        "id, organization_id, email, role, can_create_projects, token_hash, state, invited_by, created_at, expires_at",
        (0..n).map(|i| format!("('i-{tag}-{i:06}', '{org}', 'guest{i}@{tag}.bench.example', 'collaborator', FALSE, 'h-{tag}-{i:06}', 'pending', '{owner}', {NOW_MS}, {FAR_MS})")),
    );
    inserts(
        sql,
        "link_tokens",
        "token_hash, purpose, organization_id, target_id",
        (0..n).map(|i| format!("('h-{tag}-{i:06}', 'invite', '{org}', 'i-{tag}-{i:06}')")),
    );
    inserts(
        sql,
        "audit_events",
        "id, organization_id, actor_user_id, actor_email, action, target, details, created_at",
        (0..n).map(|i| format!("('a-{tag}-{i:06}', '{org}', '{owner}', 'owner@bench.example', 'project.created', 'p-{tag}-{i:06}', '{{}}', {NOW_MS})")),
    );
    // A webhook with one delivery per audit event, every one delivered (the
    // sender has nothing to do; no last attempt, so retention keeps them),
    // subscribed to an action the bench never causes, so the invite load
    // queues no delivery.
    sql.push(format!(
        "INSERT INTO webhooks (id, organization_id, url, events, description, secret, created_at) \
         VALUES ('wh-{tag}', '{org}', 'https://93.184.216.34/hook', '[\"domain.removed\"]', NULL, 'sealed', {NOW_MS})"
    ));
    inserts(
        sql,
        "webhook_deliveries",
        "id, organization_id, webhook_id, event_id, event_type, payload, state, attempts, next_attempt_at, last_code, created_at",
        (0..n).map(|i| format!("('wd-{tag}-{i:06}', '{org}', 'wh-{tag}', 'a-{tag}-{i:06}', 'project.created', '{{}}', 'delivered', 1, {NOW_MS}, 200, {NOW_MS})")),
    );
}

/// `n` organizations, each with a pending invite to `email`.
fn seed_invites_to(sql: &mut Vec<String>, email: &str, tag: &str, n: usize, inviter: &str) {
    inserts(
        sql,
        "organizations",
        "id, name, created_at",
        (0..n).map(|i| format!("('o-{tag}-{i:06}', 'Org {i} of {tag}', {NOW_MS})")),
    );
    inserts(
        sql,
        "invites",
        "id, organization_id, email, role, can_create_projects, token_hash, state, invited_by, created_at, expires_at",
        (0..n).map(|i| format!("('j-{tag}-{i:06}', 'o-{tag}-{i:06}', '{email}', 'collaborator', FALSE, 'g-{tag}-{i:06}', 'pending', '{inviter}', {NOW_MS}, {FAR_MS})")),
    );
    inserts(
        sql,
        "link_tokens",
        "token_hash, purpose, organization_id, target_id",
        (0..n).map(|i| format!("('g-{tag}-{i:06}', 'invite', 'o-{tag}-{i:06}', 'j-{tag}-{i:06}')")),
    );
}

fn user_id(agent: &ureq::Agent, base: &str, token: &str) -> String {
    call(agent, base, "/user/details", Some(token), json!({}))["response"]["user"]["userid"]
        .as_str()
        .expect("userid")
        .to_string()
}

// ---------------------------------------------------------------- one backend

fn run_backend(
    label: &str,
    bin: &Path,
    database_url: &str,
    dir: &Path,
    seconds: u64,
    report: &mut String,
) {
    eprintln!("== {label}: seeding");
    let sink = smtp::SmtpServer::start();
    let server = start_collabd(bin, database_url, &sink.url(), dir);
    let agent = agent();
    let base = server.base.clone();
    let owner = account(&agent, &base, "owner@bench.example");
    let owner_id = user_id(&agent, &base, &owner);
    let org50 = organization(&agent, &base, &owner, "Fifty");
    let org_small = organization(&agent, &base, &owner, "Small");
    let org_big = organization(&agent, &base, &owner, "Big");
    let invitee_small = account(&agent, &base, "few@bench.example");
    let invitee_big = account(&agent, &base, "many@bench.example");
    let started = Instant::now();
    let mut sql = Vec::new();
    // The 50-member organization: 49 members besides the owner, 12 projects,
    // three grants each.
    seed_organization(&mut sql, &org50, "fifty", 49, &owner_id);
    let big = big_rows();
    seed_organization(&mut sql, &org_small, "small", SMALL, &owner_id);
    seed_organization(&mut sql, &org_big, "big", big, &owner_id);
    // Issue 23: every member of both has a directory view (SCIM).
    scim::seed_views(&mut sql, &org_small, "small", SMALL);
    scim::seed_views(&mut sql, &org_big, "big", big);
    // Teams (issue 21): 5 in the 50-member organization, and an
    // organization of 10 000 members with 500.
    let org_teams = organization(&agent, &base, &owner, "Teams");
    seed_organization(
        &mut sql,
        &org_teams,
        "teams",
        checks::TEAM_MEMBERS,
        &owner_id,
    );
    checks::seed_teams(&mut sql, &org50, "fifty", 49, 5);
    checks::seed_teams(
        &mut sql,
        &org_teams,
        "teams",
        checks::TEAM_MEMBERS,
        checks::TEAMS,
    );
    seed_invites_to(&mut sql, "few@bench.example", "few", SMALL, &owner_id);
    seed_invites_to(&mut sql, "many@bench.example", "many", big, &owner_id);
    sql.push("UPDATE users SET email_verified = TRUE WHERE email LIKE '%@bench.example'".into());
    seed(database_url, &sql);
    eprintln!("   seeded in {:.1} s", started.elapsed().as_secs_f64());
    std::thread::sleep(Duration::from_secs(1));
    if checks_only() {
        return;
    }
    let idle_rss = server.rss_mb();

    // -- listcollaborators of 50 against the same bytes from memory.
    let list_url = format!("{base}/customer/listcollaborators?organizationid={org50}");
    let body = get_bytes(&agent, &list_url, &owner);
    let listed: Value = serde_json::from_slice(&body).expect("list json");
    assert_eq!(
        listed["response"]["collaborators"].as_array().map(Vec::len),
        Some(50),
        "the organization has 50 members"
    );
    eprintln!(
        "== {label}: listcollaborators ({} bytes) against the same bytes from memory",
        body.len()
    );
    let reference = start_reference(&body, dir);
    let reference_url = format!("{}/customer/listcollaborators", reference.base);
    let _ = wrk(&reference_url, &owner, 1, None);
    let (memory, memory_cpu) = measured(&reference, &reference_url, &owner, seconds, None);
    drop(reference);
    let info_url = format!("{base}/api/serviceinfo");
    let (info, info_cpu) = measured(&server, &info_url, &owner, seconds, None);
    let _ = wrk(&list_url, &owner, 1, None);
    server.reset_peak();
    let (list, list_cpu) = measured(&server, &list_url, &owner, seconds, None);
    let list_rss = server.peak_mb();
    if std::env::var_os("COLLABD_BENCH_LIST_ONLY").is_some() {
        let _ = writeln!(
            report,
            "\n{label} list only: {:.0} req/s against {:.0} from memory ({:.2}×), p99 {:.2} ms, {list_cpu:.0} µs CPU per request, serviceinfo {info_cpu:.0} µs, peak RSS {list_rss:.1} MB",
            list.per_second, memory.per_second, list.per_second / memory.per_second, list.p99_ms
        );
        return;
    }

    // -- page two of every list, 100 000 rows against 200.
    eprintln!("== {label}: pages of 100 from {big} rows against {SMALL}");
    let by_org = |org: &str| format!("organizationid={org}");
    let lists: [(&str, &str, String, String, &str, &str); 6] = [
        (
            "customer/listcollaborators",
            "collaborators",
            by_org(&org_small),
            by_org(&org_big),
            &owner,
            &owner,
        ),
        (
            "customer/listprojects",
            "projects",
            by_org(&org_small),
            by_org(&org_big),
            &owner,
            &owner,
        ),
        (
            "invite/list",
            "invites",
            by_org(&org_small),
            by_org(&org_big),
            &owner,
            &owner,
        ),
        (
            "customer/listauditevents",
            "auditevents",
            by_org(&org_small),
            by_org(&org_big),
            &owner,
            &owner,
        ),
        (
            "customer/listwebhookdeliveries",
            "deliveries",
            "webhookid=wh-small".to_string(),
            "webhookid=wh-big".to_string(),
            &owner,
            &owner,
        ),
        (
            "user/listinvites",
            "invites",
            String::new(),
            String::new(),
            &invitee_small,
            &invitee_big,
        ),
    ];
    let mut pages = Vec::new();
    let invite_only = std::env::var_os("COLLABD_BENCH_INVITE_ONLY").is_some();
    for (path, key, small, big, small_token, big_token) in lists {
        if invite_only {
            break;
        }
        let page_two = |names: &str, token: &str| -> String {
            let query = match names {
                "" => "limit=100".to_string(),
                names => format!("{names}&limit=100"),
            };
            let first = format!("{base}/{path}?{query}");
            let answer: Value =
                serde_json::from_slice(&get_bytes(&agent, &first, token)).expect("json");
            assert_eq!(
                answer["response"][key].as_array().map(Vec::len),
                Some(100),
                "{path}: a full page"
            );
            let cursor = answer["response"]["nextcursor"]
                .as_str()
                .expect("nextcursor");
            format!("{first}&cursor={cursor}")
        };
        let (small_url, big_url) = (page_two(&small, small_token), page_two(&big, big_token));
        let mut small_times = Vec::new();
        let mut big_times = Vec::new();
        for _ in 0..PAGE_SAMPLES {
            for (url, token, times) in [
                (&small_url, small_token, &mut small_times),
                (&big_url, big_token, &mut big_times),
            ] {
                let begun = Instant::now();
                get_bytes(&agent, url, token);
                times.push(begun.elapsed().as_secs_f64() * 1000.0);
            }
        }
        pages.push((path, median(&mut small_times), median(&mut big_times)));
    }

    // -- invite/create with distinct addresses; the mail goes to the sink.
    eprintln!("== {label}: invite/create");
    let script = dir.join("invite.lua");
    std::fs::write(&script, invite_script(&org50)).expect("script");
    let invite_url = format!("{base}/invite/create");
    call(
        &agent,
        &base,
        "/invite/create",
        Some(&owner),
        json!({"organizationid": org50, "email": "first@load.bench.example"}),
    );
    server.reset_peak();
    let before_mail = sink.count();
    let (invites, invite_cpu) = measured(&server, &invite_url, &owner, seconds, Some(&script));
    let invite_rss = server.peak_mb();
    let load_end = Instant::now();
    let at_end = sink.count();
    let expected = before_mail + 1 + invites.requests as usize;
    // wrk counts the answers it read; requests in flight when it stopped
    // still make invites, so the queue is drained when the count reached
    // the answers and then stayed put for a second.
    let deadline = load_end + Duration::from_secs(300);
    let (mut count, mut last_change) = (at_end, load_end);
    while Instant::now() < deadline
        && (count < expected || last_change.elapsed() < Duration::from_secs(1))
    {
        std::thread::sleep(Duration::from_millis(10));
        let now_count = sink.count();
        if now_count != count {
            (count, last_change) = (now_count, Instant::now());
        }
    }
    assert!(count >= expected, "every invitation mail arrived");
    let mail_rate = (count - at_end) as f64 / (last_change - load_end).as_secs_f64();
    let lettre_rate = lettre_reference(&sink, 2000);
    drop(server);
    if invite_only {
        let _ = writeln!(
            report,
            "\n{label} invite only: {:.0} invites/s, p99 {:.2} ms, {invite_cpu:.0} µs CPU per invite, peak RSS {invite_rss:.1} MB; mail {mail_rate:.0}/s against lettre's {lettre_rate:.0}/s",
            invites.per_second, invites.p99_ms
        );
        return;
    }

    // -- a mail claimed by a process that is then killed.
    eprintln!("== {label}: mail of a killed process");
    let takeover = killed_claim(bin, database_url, dir, &sink);

    // -- the report.
    let _ = writeln!(report, "\n## {label}\n");
    let _ = writeln!(
        report,
        "| figure | collabd | reference | ratio |\n|---|---|---|---|"
    );
    let _ = writeln!(
        report,
        "| listcollaborators, 50 members ({} B) | {:.0} req/s | {:.0} req/s (same bytes from memory) | {:.2}× |",
        body.len(), list.per_second, memory.per_second, list.per_second / memory.per_second
    );
    let _ = writeln!(
        report,
        "| same, against collabd's api/serviceinfo | {:.0} req/s | {:.0} req/s | {:.2}× |",
        list.per_second,
        info.per_second,
        list.per_second / info.per_second
    );
    let _ = writeln!(
        report,
        "| p50 / p99 at {CONNECTIONS} connections | {:.2} / {:.2} ms | {:.2} / {:.2} ms (from memory) | {:.1}× (p99) |",
        list.p50_ms, list.p99_ms, memory.p50_ms, memory.p99_ms, list.p99_ms / memory.p99_ms
    );
    let _ = writeln!(
        report,
        "| server CPU per list request | {list_cpu:.0} µs | {info_cpu:.0} µs (api/serviceinfo); {memory_cpu:.0} µs (from memory) | {:.1}× serviceinfo |",
        list_cpu / info_cpu
    );
    for (path, small_ms, big_ms) in &pages {
        let _ = writeln!(
            report,
            "| {path}: page two of 100, {big} rows | {big_ms:.2} ms | {small_ms:.2} ms ({SMALL} rows) | {:.2}× |",
            big_ms / small_ms
        );
    }
    let _ = writeln!(
        report,
        "| invite/create, distinct addresses, mail queued | {:.0}/s, p99 {:.1} ms, {invite_cpu:.0} µs CPU each | — | — |",
        invites.per_second, invites.p99_ms
    );
    let _ = writeln!(
        report,
        "| invitation mail to a local SMTP server (after the load) | {mail_rate:.0} mails/s | {lettre_rate:.0} mails/s (one connection, lettre with TCP_NODELAY) | {:.2}× |",
        mail_rate / lettre_rate
    );
    let _ = writeln!(
        report,
        "| mail a killed process had claimed, sent after | {takeover:.1} s | — | — |"
    );
    let _ = writeln!(
        report,
        "| RSS idle / peak under the list load / under the invite load | {idle_rss:.1} / {list_rss:.1} / {invite_rss:.1} MB | — | — |"
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn invite_script(org: &str) -> String {
    format!(
        r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local counter = 0
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("id", threads)
end
request = function()
  counter = counter + 1
  local body = string.format('{{"organizationid":"{org}","email":"bulk%d-%d@load.bench.example"}}', id, counter)
  return wrk.format(nil, nil, nil, body)
end
"#
    )
}

/// How many mails per second the sink takes over one connection, from
/// lettre speaking SMTP over a socket with `TCP_NODELAY` (without it, every
/// message waits 40 ms on the server's delayed acknowledgement).
fn lettre_reference(sink: &smtp::SmtpServer, count: usize) -> f64 {
    use lettre::transport::smtp::client::AsyncSmtpConnection;
    use lettre::transport::smtp::extension::ClientId;
    use lettre::Message;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let before = sink.count();
    let started = Instant::now();
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", sink.port))
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut connection =
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &ClientId::default())
                .await
                .expect("EHLO");
        for i in 0..count {
            let message = Message::builder()
                .from("bench@example.com".parse().expect("from"))
                .to(format!("reference{i}@example.com").parse().expect("to"))
                .subject("reference")
                .body(format!("message {i}"))
                .expect("message");
            connection
                .send(message.envelope(), &message.formatted())
                .await
                .expect("send");
        }
        let _ = connection.quit().await;
    });
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(sink.count() - before, count);
    count as f64 / elapsed
}

/// Starts a process whose SMTP server never answers, has it claim one mail,
/// kills it, starts another with a working SMTP server, and returns the
/// seconds from the kill until the mail arrived.
fn killed_claim(bin: &Path, database_url: &str, dir: &Path, sink: &smtp::SmtpServer) -> f64 {
    // A server that accepts connections and never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let stop = Arc::new(AtomicBool::new(false));
    let held = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut open = Vec::new();
            silent.set_nonblocking(true).expect("nonblocking");
            while !stop.load(Ordering::SeqCst) {
                if let Ok((stream, _)) = silent.accept() {
                    open.push(stream);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let agent = agent();
    let mut first = start_collabd(
        bin,
        database_url,
        &format!("smtp://127.0.0.1:{silent_port}"),
        dir,
    );
    let login = call(
        &agent,
        &first.base,
        "/user/login",
        None,
        json!({"email": "owner@bench.example", "password": "benchmark-password"}),
    );
    let token = login["response"]["login"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let org = organization(&agent, &first.base, &token, "Killed");
    let address = "claimed@bench.example";
    call(
        &agent,
        &first.base,
        "/invite/create",
        Some(&token),
        json!({"organizationid": org, "email": address}),
    );
    // The row is claimed once the process is talking to the silent server.
    std::thread::sleep(Duration::from_millis(1500));
    first.kill();
    let killed = Instant::now();
    let _second = start_collabd(bin, database_url, &sink.url(), dir);
    sink.wait_within(address, 1, Duration::from_secs(600));
    let took = killed.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let _ = held.join();
    took
}

// ---------------------------------------------------------------- PostgreSQL

/// A database made for the run and dropped after it.
struct ScratchPostgres {
    admin: String,
    name: String,
    url: String,
}

impl ScratchPostgres {
    fn new(admin: &str) -> ScratchPostgres {
        let name = format!("collabd_bench_{}", std::process::id());
        let mut conn =
            diesel::PgConnection::establish(admin).expect("connect to COLLABD_BENCH_POSTGRES_URL");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .expect("drop");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .expect("create the bench database");
        let (without_query, query) = match admin.split_once('?') {
            Some((a, q)) => (a, format!("?{q}")),
            None => (admin, String::new()),
        };
        let authority_end = without_query
            .find("://")
            .map(|i| i + 3)
            .and_then(|start| without_query[start..].find('/').map(|i| i + start))
            .unwrap_or(without_query.len());
        // Loopback needs no TLS: unless the URL says otherwise, the bench
        // connects as a same-host deployment would (libpq's default,
        // `prefer`, would encrypt every round trip).
        let query = match query.contains("sslmode=") {
            true => query,
            false if query.is_empty() => "?sslmode=disable".to_string(),
            false => format!("{query}&sslmode=disable"),
        };
        let url = format!("{}/{name}{query}", &without_query[..authority_end]);
        ScratchPostgres {
            admin: admin.to_string(),
            name,
            url,
        }
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        if std::env::var_os("COLLABD_BENCH_KEEP").is_some() {
            eprintln!("kept the PostgreSQL database {}", self.url);
            return;
        }
        if let Ok(mut conn) = diesel::PgConnection::establish(&self.admin) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}
