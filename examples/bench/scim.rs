//! SCIM's two reads a directory makes most (API.md §11, issue 23): a page of
//! Users (Okta's connection test and every import: `startIndex=1`,
//! `count=100`) and the lookup of one by `userName eq` (before every
//! create), in the 100 000-member organization against the 200-member one,
//! on each database the hot paths seeded, every member with a directory
//! view as SCIM would have written it. Each read is timed interleaved
//! (median of many, as the lists' page two) and loaded with wrk for the
//! server's CPU per request (collabd's, plus on PostgreSQL its backends').
//! The goal: the big organization's cost within 1.2× of the small one's.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};

use super::checks::cpu;
use super::processes::{self, owner_and_fifty, Backends, Measured};
use super::{agent, get_bytes, median, smtp, start_collabd, wrk, CONNECTIONS, PAGE_SAMPLES};

/// The directory's view of the seeded members `0..n` of `org` (tag `tag`):
/// `userName` `Member.<i>@<tag>.corp.example`, a work address, a name.
pub(crate) fn seed_views(sql: &mut Vec<String>, org: &str, tag: &str, n: usize) {
    let now = super::NOW_MS;
    super::inserts(
        sql,
        "scim_users",
        "organization_id, membership_id, user_name, user_name_key, external_id, given_name, \
         family_name, display_name, emails, email_key, created_at, updated_at",
        (0..n).map(|i| {
            let email = format!("m{i}@{tag}.bench.example");
            format!(
                "('{org}', 'm-{tag}-{i:06}', 'Member.{i}@{tag}.corp.example', \
                 'member.{i}@{tag}.corp.example', 'ext-{tag}-{i}', 'Member', '{i}', \
                 'Member {i}', '[{{\"value\":\"{email}\",\"type\":\"work\",\"primary\":true}}]', \
                 '{email}', {now}, {now})"
            )
        }),
    );
}

/// One read in both organizations: the median time interleaved, and the
/// load of each.
struct Read {
    small_ms: f64,
    big_ms: f64,
    small: Measured,
    big: Measured,
}

/// The figures on one database.
pub(crate) struct Scim {
    label: &'static str,
    page: Read,
    lookup: Read,
}

/// A key bound to `org`, made by its owner (`token`), as SCIM takes.
fn bound_key(agent: &ureq::Agent, base: &str, token: &str, org: &str) -> String {
    let made = super::call(
        agent,
        base,
        "/user/createapikey",
        Some(token),
        json!({"name": "directory", "organizationid": org}),
    );
    made["response"]["apikey"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("an API key: {made}"))
        .to_string()
}

/// Measures the page and the lookup on `database_url`, one process.
pub(crate) fn measure(
    label: &'static str,
    bin: &Path,
    database_url: &str,
    dir: &Path,
    seconds: u64,
) -> Scim {
    eprintln!("== {label}: SCIM in 100 000 members against 200");
    let sink = smtp::SmtpServer::start();
    let server = start_collabd(bin, database_url, &sink.url(), dir);
    let agent = agent();
    let (token, _) = owner_and_fifty(&agent, &server.base);
    let base = &server.base;
    let small_org = super::checks::organization_named(&agent, base, &token, "Small");
    let big_org = super::checks::organization_named(&agent, base, &token, "Big");
    let small_key = bound_key(&agent, base, &token, &small_org);
    let big_key = bound_key(&agent, base, &token, &big_org);
    let mut backends = database_url
        .starts_with("postgres")
        .then(|| Backends::open(database_url));
    let mut read = |path: &dyn Fn(&str, usize) -> String, expect: usize| -> Read {
        let small_url = format!("{base}{}", path("small", super::SMALL));
        let big_url = format!("{base}{}", path("big", super::big_rows()));
        for (url, key) in [(&small_url, &small_key), (&big_url, &big_key)] {
            let answer: Value =
                serde_json::from_slice(&get_bytes(&agent, url, key)).expect("SCIM JSON");
            assert_eq!(
                answer["Resources"].as_array().map(Vec::len),
                Some(expect),
                "{url}: {answer}"
            );
        }
        let (mut small_times, mut big_times) = (Vec::new(), Vec::new());
        for _ in 0..PAGE_SAMPLES {
            for (url, key, times) in [
                (&small_url, &small_key, &mut small_times),
                (&big_url, &big_key, &mut big_times),
            ] {
                let begun = Instant::now();
                get_bytes(&agent, url, key);
                times.push(begun.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let mut load = |url: &str, key: &str| {
            let _ = wrk(url, key, 1, None);
            processes::measure(std::slice::from_ref(&server), backends.as_mut(), || {
                wrk(url, key, seconds, None)
            })
        };
        let small = load(&small_url, &small_key);
        let big = load(&big_url, &big_key);
        Read {
            small_ms: median(&mut small_times),
            big_ms: median(&mut big_times),
            small,
            big,
        }
    };
    let page = read(
        &|_, _| "/scim/v2/Users?startIndex=1&count=100".to_string(),
        100,
    );
    // A member in the middle, named in another case than written.
    let lookup = read(
        &|tag, n| {
            format!(
                "/scim/v2/Users?filter=userName%20eq%20%22MEMBER.{}@{tag}.CORP.EXAMPLE%22",
                n / 2
            )
        },
        1,
    );
    Scim {
        label,
        page,
        lookup,
    }
}

/// SCIM's table.
pub(crate) fn report(all: &[Scim], report: &mut String) {
    let _ = writeln!(
        report,
        "\n## SCIM reads (issue 23): 100 000 members against 200, same run\n\n\
         Median time of {PAGE_SAMPLES} interleaved requests, and server CPU per request under \
         wrk -t2 -c{CONNECTIONS} (collabd, plus on PostgreSQL the client backends serving it); \
         every member has a directory view.\n\n\
         | database | read | 100 000 members | 200 members | ratio (time) | CPU, 100 000 | CPU, 200 | ratio (CPU) |\n\
         |---|---|---|---|---|---|---|---|"
    );
    let mut goals = String::new();
    for s in all {
        for (name, r) in [
            ("page: startIndex=1, count=100", &s.page),
            ("userName eq (any case)", &s.lookup),
        ] {
            let cpu_ratio = r.big.server_us() / r.small.server_us();
            let _ = writeln!(
                report,
                "| {} | {name} | {:.2} ms | {:.2} ms | {:.2}× | {} | {} | {cpu_ratio:.2}× |",
                s.label,
                r.big_ms,
                r.small_ms,
                r.big_ms / r.small_ms,
                cpu(&r.big, s.label),
                cpu(&r.small, s.label),
            );
            let _ = writeln!(
                goals,
                "- {} {name}: big ≤ 1.2× small: {} (CPU {cpu_ratio:.2}×, time {:.2}×)",
                s.label,
                match cpu_ratio <= 1.2 && r.big_ms / r.small_ms <= 1.2 {
                    true => "holds",
                    false => "MISSED",
                },
                r.big_ms / r.small_ms,
            );
        }
    }
    let _ = write!(report, "\nGoals:\n{goals}");
}
