//! The bench's part on processes (issue 20, API.md §12), on the PostgreSQL
//! database the hot paths seeded (the owner `owner@bench.example`, its
//! organization "Fifty"), and the measures it shares with `goals.rs`.
//!
//! For each N of `COLLABD_BENCH_PROCESSES` (default `1 2 4`), N `collabd
//! serve`, each on its own port, same database and secret. One wrk (`-t4
//! -c32` for every N) loads them all, its Lua `setup` giving thread i the
//! address of process i mod N, so only the servers change with N. It loads
//! the list of the 50 members, then `invite/create` with distinct addresses
//! (each queues a mail, which the processes' senders claim from the one
//! queue), then lets the mail drain. CPU per request from /proc: collabd's
//! summed over its processes, PostgreSQL's over the client backends of the
//! database (`pg_stat_activity`), wrk's; and the share of the cores they and everything took.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use diesel::dsl::sql;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::json;

use super::{agent, call, smtp, start_collabd, Load, Server};

/// wrk's threads in the processes part: as many as the most processes
/// measured by default, so each has one.
const THREADS: usize = 4;
use super::CONNECTIONS;

// ---------------------------------------------------------------- CPU

/// CPU seconds (user + system) a process has used, or `None` once it is gone.
fn cpu_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

/// CPU seconds of this process's children that have been waited for (wrk).
fn children_cpu() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The machine's CPU time so far, (busy, all), in ticks, from /proc/stat.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or("");
    // cpu user nice system idle iowait irq softirq steal (guest is in user).
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .flat_map(str::parse)
        .collect();
    let (all, idle) = (
        ticks.iter().sum::<u64>(),
        ticks.iter().skip(3).take(2).sum::<u64>(),
    );
    (all - idle, all)
}

/// The PostgreSQL backends serving the bench's database, seen from a
/// connection of the bench's own (which does not count itself).
pub(crate) struct Backends {
    conn: PgConnection,
}

impl Backends {
    pub(crate) fn open(database_url: &str) -> Backends {
        Backends {
            conn: PgConnection::establish(database_url).expect("connect to the bench database"),
        }
    }

    /// Each client backend of the database, with its CPU seconds so far.
    fn cpu(&mut self) -> HashMap<u32, f64> {
        let pids: Option<String> = diesel::select(sql::<Nullable<Text>>(
            "(SELECT string_agg(pid::text, ' ') FROM pg_stat_activity \
              WHERE datname = current_database() AND backend_type = 'client backend' \
                AND pid <> pg_backend_pid())",
        ))
        .get_result(&mut self.conn)
        .expect("pg_stat_activity");
        pids.unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .filter_map(|pid| Some((pid, cpu_of(pid)?)))
            .collect()
    }

    /// Mail not yet sent.
    fn pending_mail(&mut self) -> i64 {
        diesel::select(sql::<BigInt>(
            "(SELECT count(*) FROM outbox WHERE state = 'pending')",
        ))
        .get_result(&mut self.conn)
        .expect("outbox")
    }
}

/// What the servers, the load generator and the machine had used at one
/// moment.
struct Sample {
    collabd: f64,
    postgres: HashMap<u32, f64>,
    wrk: f64,
    machine: (u64, u64),
}

fn sample(servers: &[Server], backends: Option<&mut Backends>) -> Sample {
    Sample {
        collabd: servers.iter().map(Server::cpu_seconds).sum(),
        postgres: backends.map(Backends::cpu).unwrap_or_default(),
        wrk: children_cpu(),
        machine: machine_ticks(),
    }
}

/// A load and what it cost, per request in µs.
pub(crate) struct Measured {
    pub(crate) load: Load,
    pub(crate) collabd_us: f64,
    pub(crate) postgres_us: f64,
    pub(crate) wrk_us: f64,
    /// The share of all cores that collabd, its backends and wrk took
    /// during the load, and that everything took.
    ours: f64,
    busy: f64,
}

impl Measured {
    pub(crate) fn server_us(&self) -> f64 {
        self.collabd_us + self.postgres_us
    }
}

/// Runs `load` and measures what it cost. A backend that appeared during
/// the load counts from zero; one that ended during it is not counted (the
/// pools keep theirs open, so none does).
pub(crate) fn measure(
    servers: &[Server],
    mut backends: Option<&mut Backends>,
    load: impl FnOnce() -> Load,
) -> Measured {
    let before = sample(servers, backends.as_deref_mut());
    let load = load();
    let after = sample(servers, backends);
    let postgres: f64 = after
        .postgres
        .iter()
        .map(|(pid, cpu)| cpu - before.postgres.get(pid).copied().unwrap_or(0.0))
        .sum();
    let per_request = |seconds: f64| seconds / load.requests * 1e6;
    let (collabd, wrk) = (after.collabd - before.collabd, after.wrk - before.wrk);
    let busy = (after.machine.0 - before.machine.0) as f64;
    let all = (after.machine.1 - before.machine.1).max(1) as f64;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Measured {
        collabd_us: per_request(collabd),
        postgres_us: per_request(postgres),
        wrk_us: per_request(wrk),
        ours: (collabd + postgres + wrk) * hz / all,
        busy: busy / all,
        load,
    }
}

// ---------------------------------------------------------------- wrk

/// The Lua that spreads wrk's threads over `servers` (thread i on server
/// i mod N) and numbers them (`id`), followed by `rest`.
fn spread_script(servers: &[Server], rest: &str) -> String {
    let ports: Vec<String> = servers
        .iter()
        .map(|s| format!("\"{}\"", s.base.rsplit(':').next().unwrap_or("")))
        .collect();
    format!(
        r#"local ports = {{{}}}
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("id", threads)
  thread.addr = wrk.lookup("127.0.0.1", ports[(threads - 1) % #ports + 1])[1]
end
{rest}"#,
        ports.join(", ")
    )
}

/// `invite/create` of a new address on every request.
fn invite_body(org: &str, tag: &str) -> String {
    format!(
        r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{{"organizationid":"{org}","email":"{tag}-%d-%d@processes.bench.example"}}', id, counter)
  return wrk.format(nil, nil, nil, body)
end
"#
    )
}

/// wrk with [`THREADS`] threads and `script`; every answer must be a 2xx.
fn spread_wrk(url: &str, token: &str, seconds: u64, script: &Path) -> Load {
    let output = Command::new("wrk")
        .arg(format!("-t{THREADS}"))
        .arg(format!("-c{CONNECTIONS}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency")
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"))
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "wrk failed: {text}");
    assert!(
        !text.contains("Non-2xx"),
        "the load met error answers:\n{text}"
    );
    let after = |prefix: &str| -> Option<&str> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map(str::trim)
    };
    let ms = |value: &str| -> f64 {
        let split = value
            .find(|c: char| c.is_alphabetic())
            .unwrap_or(value.len());
        let n: f64 = value[..split].parse().unwrap_or(f64::NAN);
        n * match &value[split..] {
            "us" => 0.001,
            "ms" => 1.0,
            "s" => 1000.0,
            _ => f64::NAN,
        }
    };
    Load {
        requests: text
            .lines()
            .find(|l| l.contains("requests in"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .expect("request count"),
        per_second: after("Requests/sec:")
            .and_then(|n| n.parse().ok())
            .expect("Requests/sec"),
        p50_ms: after("50%").map(ms).expect("p50"),
        p99_ms: after("99%").map(ms).expect("p99"),
    }
}

// ---------------------------------------------------------------- the seeded data

/// A session of the seeded owner and the id of its organization "Fifty".
pub(crate) fn owner_and_fifty(agent: &ureq::Agent, base: &str) -> (String, String) {
    let login = call(
        agent,
        base,
        "/user/login",
        None,
        json!({"email": "owner@bench.example", "password": "benchmark-password"}),
    );
    let token = login["response"]["login"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let mine = call(
        agent,
        base,
        "/user/listorganizations",
        Some(&token),
        json!({}),
    );
    let fifty = mine["response"]["organizations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["name"] == "Fifty")
        .and_then(|o| o["organizationid"].as_str())
        .expect("the organization Fifty")
        .to_string();
    (token, fifty)
}

/// The 1, 5 and 15 minute load averages.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------- N processes

/// What one count of processes did.
struct Row {
    processes: usize,
    list: Measured,
    invites: Measured,
    /// Mail the invite load left in the queue, and how fast it then went.
    mail_left: i64,
    mail_per_second: f64,
}

/// The counts of processes to measure: `COLLABD_BENCH_PROCESSES`, e.g.
/// `1 2 4` (the default).
fn process_counts() -> Vec<usize> {
    let counts: Vec<usize> = std::env::var("COLLABD_BENCH_PROCESSES")
        .unwrap_or_default()
        .split([' ', ','])
        .filter_map(|n| n.trim().parse().ok())
        .filter(|n| (1..=16).contains(n))
        .collect();
    match counts.is_empty() {
        true => vec![1, 2, 4],
        false => counts,
    }
}

/// Loads 1, 2 and 4 processes on the PostgreSQL database the hot paths
/// seeded, and writes the table.
pub(crate) fn scaling(
    bin: &Path,
    database_url: &str,
    dir: &Path,
    seconds: u64,
    report: &mut String,
) {
    let mut backends = Backends::open(database_url);
    let load_before = load_average();
    let rows: Vec<Row> = process_counts()
        .into_iter()
        .map(|n| with_processes(n, bin, database_url, dir, seconds, &mut backends))
        .collect();
    write_scaling(&rows, seconds, &load_before, report);
}

/// Starts `n` processes, loads them, and stops them.
fn with_processes(
    n: usize,
    bin: &Path,
    database_url: &str,
    dir: &Path,
    seconds: u64,
    backends: &mut Backends,
) -> Row {
    eprintln!("== PostgreSQL: {n} collabd process(es) on one database");
    let sink = smtp::SmtpServer::start();
    let servers: Vec<Server> = (0..n)
        .map(|_| start_collabd(bin, database_url, &sink.url(), dir))
        .collect();
    let (token, fifty) = owner_and_fifty(&agent(), &servers[0].base);
    let base = &servers[0].base;
    let script = |name: &str, rest: &str| {
        let path = dir.join(format!("{name}-{n}.lua"));
        std::fs::write(&path, spread_script(&servers, rest)).expect("script");
        path
    };
    // Every process warms up (statements prepared on its connections)
    // before it is measured, and the warm-up's mail is gone first.
    let invite_url = format!("{base}/invite/create");
    let warm = script("warm", &invite_body(&fifty, &format!("warm{n}")));
    let _ = spread_wrk(&invite_url, &token, 1, &warm);
    drain(&sink, backends);
    let list_url = format!("{base}/customer/listcollaborators?organizationid={fifty}");
    let list_script = script("list", "");
    let _ = spread_wrk(&list_url, &token, 1, &list_script);
    let list = measure(&servers, Some(backends), || {
        spread_wrk(&list_url, &token, seconds, &list_script)
    });
    let invite_script = script("invite", &invite_body(&fifty, &format!("n{n}")));
    let invites = measure(&servers, Some(backends), || {
        spread_wrk(&invite_url, &token, seconds, &invite_script)
    });
    let mail_left = backends.pending_mail();
    let mail_per_second = drain(&sink, backends);
    Row {
        processes: n,
        list,
        invites,
        mail_left,
        mail_per_second,
    }
}

/// Waits until no mail is pending (twice in a row, 200 ms apart, so
/// invites still being answered when wrk stopped have queued theirs), and
/// returns how many went out per second meanwhile.
fn drain(sink: &smtp::SmtpServer, backends: &mut Backends) -> f64 {
    let started = Instant::now();
    let at_start = sink.count();
    let deadline = started + Duration::from_secs(600);
    let mut empty_since: Option<Instant> = None;
    loop {
        assert!(
            Instant::now() < deadline,
            "the mail went out within 10 minutes"
        );
        match (backends.pending_mail(), empty_since) {
            (0, Some(since)) if since.elapsed() >= Duration::from_millis(200) => break,
            (0, None) => empty_since = Some(Instant::now()),
            (0, Some(_)) => {}
            _ => empty_since = None,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = sink.count() - at_start;
    let took = (started.elapsed() - Duration::from_millis(200)).as_secs_f64();
    sent as f64 / took.max(0.001)
}

/// The N-processes table.
fn write_scaling(rows: &[Row], seconds: u64, load_before: &str, report: &mut String) {
    let Some(first) = rows.first() else {
        return;
    };
    let counts: Vec<String> = rows.iter().map(|r| r.processes.to_string()).collect();
    let _ = writeln!(
        report,
        "\n## PostgreSQL: {} collabd processes on one database\n\n\
         Each process is its own `collabd serve` on its own port (same database and secret, \
         the default pool of twice the CPUs plus one connections each). One wrk -t{THREADS} \
         -c{CONNECTIONS} -d{seconds}s loads them all, its thread i on process i mod N, so the load \
         generator is the same for every N. CPU per request from /proc: collabd summed over its \
         processes; PostgreSQL the client backends of the bench's database (pg_stat_activity; \
         the WAL writer, checkpointer and background writer are not counted); wrk the load \
         generator. Cores: the share of all the machine's cores that collabd, the backends \
         and wrk took during the load, then that everything took (/proc/stat); where the \
         second is near 100 % and the first is not, other work took the rest, and throughput \
         across N compares the shares the servers won as much as the servers (CPU per request \
         does not depend on it). Ratios are to the first row's {} process(es). Load average \
         before: {load_before}.\n\n\
         | load | processes | throughput | ratio | p99 | CPU per request: collabd + PostgreSQL = server | ratio | wrk | cores: ours / all |\n\
         |---|---|---|---|---|---|---|---|---|",
        counts.join(", "),
        first.processes
    );
    for (name, unit, pick) in [
        (
            "listcollaborators, 50 members",
            "req/s",
            (|r: &Row| &r.list) as fn(&Row) -> &Measured,
        ),
        (
            "invite/create, distinct addresses, mail queued",
            "invites/s",
            |r: &Row| &r.invites,
        ),
    ] {
        let base = pick(first);
        for row in rows {
            let m = pick(row);
            let _ = writeln!(
                report,
                "| {name} | {} | {:.0} {unit} | {:.2}× | {:.2} ms | {:.0} + {:.0} = {:.0} µs | {:.2}× | {:.0} µs | {:.0} % / {:.0} % |",
                row.processes,
                m.load.per_second,
                m.load.per_second / base.load.per_second,
                m.load.p99_ms,
                m.collabd_us,
                m.postgres_us,
                m.server_us(),
                m.server_us() / base.server_us(),
                m.wrk_us,
                m.ours * 100.0,
                m.busy * 100.0
            );
        }
    }
    for row in rows {
        let _ = writeln!(
            report,
            "| invitation mail left queued when the invite load ended, then sent by every process's sender | {} | {} mails, {:.0} mails/s | — | — | — | — | — | — |",
            row.processes, row.mail_left, row.mail_per_second
        );
    }
}
