//! Issue 8's two blocked goals, as issue 20 restates them, on each
//! database the hot paths seeded: the list's server CPU per request
//! (collabd's, plus on PostgreSQL its backends') against the CPU per
//! request of the reference (the same bytes served from memory by
//! actix-web), both loaded in the same run by the same wrk as the hot
//! paths; and the idle RSS of a fresh process, against 25 MB for the SQLite
//! build.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::processes::{self, owner_and_fifty, Backends, Measured};
use super::{agent, get_bytes, smtp, start_collabd, start_reference, wrk, CONNECTIONS};

/// The idle RSS goal of the SQLite build (issue 20).
const IDLE_RSS_GOAL_MB: f64 = 25.0;

/// The restated goals' figures on one database.
pub(crate) struct Goal {
    label: &'static str,
    idle_rss_mb: f64,
    list: Measured,
    reference: Measured,
}

/// Measures the restated goals on `database_url`, seeded by the hot paths.
pub(crate) fn measure(
    label: &'static str,
    bin: &Path,
    database_url: &str,
    dir: &Path,
    seconds: u64,
) -> Goal {
    eprintln!("== {label}: the restated goals (server CPU per list request, idle RSS)");
    let sink = smtp::SmtpServer::start();
    let server = start_collabd(bin, database_url, &sink.url(), dir);
    std::thread::sleep(Duration::from_secs(2));
    let idle_rss_mb = server.rss_mb();
    let agent = agent();
    let (token, fifty) = owner_and_fifty(&agent, &server.base);
    let list_url = format!(
        "{}/customer/listcollaborators?organizationid={fifty}",
        server.base
    );
    let body = get_bytes(&agent, &list_url, &token);
    let reference = start_reference(&body, dir);
    let reference_url = format!("{}/customer/listcollaborators", reference.base);
    let _ = wrk(&reference_url, &token, 1, None);
    let reference = processes::measure(std::slice::from_ref(&reference), None, || {
        wrk(&reference_url, &token, seconds, None)
    });
    let mut backends = database_url
        .starts_with("postgres")
        .then(|| Backends::open(database_url));
    let _ = wrk(&list_url, &token, 1, None);
    let list = processes::measure(std::slice::from_ref(&server), backends.as_mut(), || {
        wrk(&list_url, &token, seconds, None)
    });
    Goal {
        label,
        idle_rss_mb,
        list,
        reference,
    }
}

/// The goals' table.
pub(crate) fn report(goals: &[Goal], report: &mut String) {
    let _ = writeln!(
        report,
        "\n## Issue 8's blocked goals, as issue 20 restates them\n\n\
         The list (`customer/listcollaborators`, 50 members, wrk -t2 -c{CONNECTIONS}) is judged by the \
         server's CPU per request (collabd, plus on PostgreSQL the client backends serving it) against \
         the CPU per request of the same bytes served from memory by actix-web, measured in the same \
         run: the load generator shares the cores, so throughput ratios measure wrk as much as the \
         server. Idle RSS: a fresh process 2 s after it started serving, nothing asked yet.\n\n\
         | goal | database | measured | reference (same run) | ratio |\n|---|---|---|---|---|"
    );
    for goal in goals {
        let (list, memory) = (&goal.list, &goal.reference);
        let server = match goal.label {
            "PostgreSQL" => format!(
                "{:.0} µs (collabd {:.0} + PostgreSQL {:.0}) at {:.0} req/s",
                list.server_us(),
                list.collabd_us,
                list.postgres_us,
                list.load.per_second
            ),
            _ => format!(
                "{:.0} µs (collabd) at {:.0} req/s",
                list.server_us(),
                list.load.per_second
            ),
        };
        let _ = writeln!(
            report,
            "| server CPU per list request | {} | {server} | {:.1} µs (from memory) at {:.0} req/s | {:.1}× the reference's CPU |",
            goal.label,
            memory.collabd_us,
            memory.load.per_second,
            list.server_us() / memory.collabd_us
        );
    }
    for goal in goals {
        let (target, verdict) = match goal.label {
            "SQLite" => (
                format!("goal ≤ {IDLE_RSS_GOAL_MB:.0} MB"),
                match goal.idle_rss_mb <= IDLE_RSS_GOAL_MB {
                    true => "holds",
                    false => "MISSED",
                },
            ),
            _ => ("no goal of its own".to_string(), "—"),
        };
        let _ = writeln!(
            report,
            "| idle RSS | {} | {:.1} MB | {target} | {verdict} |",
            goal.label, goal.idle_rss_mb
        );
    }
}
