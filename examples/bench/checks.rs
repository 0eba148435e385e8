//! The permission checks (API.md §10), the provider's hot path, beside the
//! collaborator list in the same run, on each database the hot paths
//! seeded: a service key made by the real binary asks `access/check` (a
//! member's own grant on a project, in the 50-member organization and in the
//! 100 000-member one; a project only a team of theirs grants, in the
//! 50-member organization with 5 teams and in a 10 000-member one with 500)
//! and `access/checkbatch` of 100, and the server's CPU per request
//! (collabd's, plus on PostgreSQL its backends') is set against the list of
//! 50's. The goals (issue 21): a check costs at most what the list costs, a
//! batch of 100 at most 10× a single check, and a check in the big
//! organizations within 1.2× of the same check in the small one.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use super::processes::{self, owner_and_fifty, Backends, Measured};
use super::{agent, smtp, start_collabd, wrk, CONNECTIONS};

/// The figures on one database.
pub(crate) struct Checks {
    label: &'static str,
    list: Measured,
    check: Measured,
    big: Measured,
    team: Measured,
    team_big: Measured,
    batch: Measured,
}

/// The members and teams of the organization with many teams.
pub(crate) const TEAM_MEMBERS: usize = 10_000;
pub(crate) const TEAMS: usize = 500;

/// `teams` teams in `org` (tag `tag`, members as `seed_organization` made
/// them, `n` of them), each member in two: team `i % teams` and team
/// `(7 i + 3) % teams`. Team `j` grants `full` on projects `3j`, `3j + 1`,
/// `3j + 2` (mod `n`); every fifth carries one of ten custom roles, the
/// next one `technical`, the rest no role.
pub(crate) fn seed_teams(sql: &mut Vec<String>, org: &str, tag: &str, n: usize, teams: usize) {
    let now = super::NOW_MS;
    super::inserts(
        sql,
        "roles",
        "organization_id, id, name, description, permissions, created_at",
        (0..10).map(|k| {
            format!(
                "('{org}', 'r-{tag}-{k}', 'role-{k}', NULL, 'organization:read audit:read', {now})"
            )
        }),
    );
    super::inserts(
        sql,
        "teams",
        "organization_id, id, name, description, role, role_id, created_at",
        (0..teams).map(|j| {
            let (role, role_id) = match j % 5 {
                0 => ("NULL".to_string(), format!("'r-{tag}-{}'", j % 10)),
                1 => ("'technical'".to_string(), "NULL".to_string()),
                _ => ("NULL".to_string(), "NULL".to_string()),
            };
            format!("('{org}', 't-{tag}-{j:04}', 'Team {j:04}', NULL, {role}, {role_id}, {now})")
        }),
    );
    super::inserts(
        sql,
        "team_members",
        "organization_id, team_id, membership_id, created_at",
        (0..n).flat_map(|i| {
            let (a, b) = (i % teams, (7 * i + 3) % teams);
            let pair = if a == b { vec![a] } else { vec![a, b] };
            pair.into_iter()
                .map(move |j| format!("('{org}', 't-{tag}-{j:04}', 'm-{tag}-{i:06}', {now})"))
        }),
    );
    super::inserts(
        sql,
        "team_project_permissions",
        "organization_id, team_id, project_id, permission",
        (0..teams).flat_map(|j| {
            let mut projects: Vec<usize> = (0..3).map(|k| (3 * j + k) % n).collect();
            projects.sort_unstable();
            projects.dedup();
            projects
                .into_iter()
                .map(move |p| format!("('{org}', 't-{tag}-{j:04}', 'p-{tag}-{p:06}', 'full')"))
        }),
    );
}

/// A new service key on `database_url`, made as an operator would.
fn service_key(bin: &Path, database_url: &str) -> String {
    let out = Command::new(bin)
        .args(["servicekey", "create", "bench"])
        .env("COLLABD_DATABASE_URL", database_url)
        .env("COLLABD_LOG", "warn")
        .output()
        .expect("run collabd servicekey create");
    assert!(out.status.success(), "servicekey create: {out:?}");
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_string()
}

/// The id of an organization of the seeded owner's, by name.
pub(crate) fn organization_named(
    agent: &ureq::Agent,
    base: &str,
    token: &str,
    name: &str,
) -> String {
    let mine = super::call(
        agent,
        base,
        "/user/listorganizations",
        Some(token),
        json!({}),
    );
    mine["response"]["organizations"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["name"] == name)
        .and_then(|o| o["organizationid"].as_str())
        .unwrap_or_else(|| panic!("the organization {name}"))
        .to_string()
}

/// One check as `access/check`'s query string: seeded member 2 (a
/// collaborator) of `tag` asks for `full` on project 3, which it was
/// granted (bench.rs `seed_organization`).
fn check_query(org: &str, tag: &str) -> String {
    format!(
        "organizationid={org}&userid=u-{tag}-000002&permission=project:full&projectid=p-{tag}-000003"
    )
}

/// One check only a team answers: seeded member 2 (a collaborator, own
/// grants on projects 2 to 4) asks for `full` on project 7, which their
/// team 2 grants ([`seed_teams`]).
fn team_query(org: &str, tag: &str) -> String {
    format!(
        "organizationid={org}&userid=u-{tag}-000002&permission=project:full&projectid=p-{tag}-000007"
    )
}

/// 100 checks of the 50-member organization's 49 seeded members: a project
/// each (granted or not) and an organization permission each, and two by
/// address.
fn batch_body(org: &str) -> Value {
    let mut checks: Vec<Value> = (0..49)
        .flat_map(|i| {
            [
                json!({"organizationid": org, "userid": format!("u-fifty-{i:06}"),
                       "permission": "project:full", "projectid": format!("p-fifty-{:06}", (i + 1) % 49)}),
                json!({"organizationid": org, "userid": format!("u-fifty-{i:06}"),
                       "permission": "members:read"}),
            ]
        })
        .collect();
    for i in [5, 6] {
        checks.push(
            json!({"organizationid": org, "email": format!("m{i}@fifty.bench.example"),
                           "permission": "organization:read"}),
        );
    }
    json!({ "checks": checks })
}

/// Measures the list, the checks and the batch on `database_url`, in this
/// order, one process, one run.
pub(crate) fn measure(
    label: &'static str,
    bin: &Path,
    database_url: &str,
    dir: &Path,
    seconds: u64,
) -> Checks {
    eprintln!("== {label}: the permission checks beside the list");
    let sink = smtp::SmtpServer::start();
    let key = service_key(bin, database_url);
    let server = start_collabd(bin, database_url, &sink.url(), dir);
    let agent = agent();
    let (token, fifty) = owner_and_fifty(&agent, &server.base);
    let big = organization_named(&agent, &server.base, &token, "Big");
    let mut backends = database_url
        .starts_with("postgres")
        .then(|| Backends::open(database_url));
    let mut load = |url: &str, credential: &str, script: Option<&Path>| {
        let _ = wrk(url, credential, 1, script);
        processes::measure(std::slice::from_ref(&server), backends.as_mut(), || {
            wrk(url, credential, seconds, script)
        })
    };
    let base = &server.base;
    let list = load(
        &format!("{base}/customer/listcollaborators?organizationid={fifty}"),
        &token,
        None,
    );
    let check_url = format!("{base}/access/check?{}", check_query(&fifty, "fifty"));
    let answer = super::get_bytes(&agent, &check_url, &key);
    let answer: Value = serde_json::from_slice(&answer).expect("check JSON");
    assert_eq!(answer["response"]["check"]["reason"], "grant", "{answer}");
    let check = load(&check_url, &key, None);
    let big_url = format!("{base}/access/check?{}", check_query(&big, "big"));
    let big = load(&big_url, &key, None);
    let team_url = format!("{base}/access/check?{}", team_query(&fifty, "fifty"));
    let answer: Value =
        serde_json::from_slice(&super::get_bytes(&agent, &team_url, &key)).expect("check JSON");
    assert_eq!(answer["response"]["check"]["reason"], "team", "{answer}");
    let team = load(&team_url, &key, None);
    let many = organization_named(&agent, base, &token, "Teams");
    let team_big_url = format!("{base}/access/check?{}", team_query(&many, "teams"));
    let answer: Value =
        serde_json::from_slice(&super::get_bytes(&agent, &team_big_url, &key)).expect("check JSON");
    assert_eq!(answer["response"]["check"]["reason"], "team", "{answer}");
    let team_big = load(&team_big_url, &key, None);
    let script = dir.join("checkbatch.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = [[{}]]\n",
            batch_body(&fifty)
        ),
    )
    .expect("write the batch script");
    let batch = load(&format!("{base}/access/checkbatch"), &key, Some(&script));
    Checks {
        label,
        list,
        check,
        big,
        team,
        team_big,
        batch,
    }
}

/// Server CPU per request as the tables show it.
pub(crate) fn cpu(m: &Measured, label: &str) -> String {
    match label {
        "PostgreSQL" => format!(
            "{:.0} µs ({:.0} + PostgreSQL {:.0}) at {:.0} req/s",
            m.server_us(),
            m.collabd_us,
            m.postgres_us,
            m.load.per_second
        ),
        _ => format!("{:.0} µs at {:.0} req/s", m.server_us(), m.load.per_second),
    }
}

fn verdict(holds: bool) -> &'static str {
    match holds {
        true => "holds",
        false => "MISSED",
    }
}

/// The checks' table.
pub(crate) fn report(all: &[Checks], report: &mut String) {
    let _ = writeln!(
        report,
        "\n## Permission checks (issue 21), beside the list in the same run\n\n\
         Server CPU per request (collabd, plus on PostgreSQL the client backends serving it), \
         wrk -t2 -c{CONNECTIONS}, a service key made with `collabd servicekey create`. The \
         grant check: a member's own grant on a project (`project:full`). The team check: a \
         project only one of the member's teams grants. The batch: 100 checks of the 50-member \
         organization's members (projects, organization permissions, addresses).\n\n\
         | database | list of 50 | grant check | in 100 000 members | team check (5 teams) | in {TEAM_MEMBERS} members, {TEAMS} teams | checkbatch of 100 |\n\
         |---|---|---|---|---|---|---|"
    );
    let mut goals = String::new();
    for c in all {
        let list = c.list.server_us();
        let (check, big) = (c.check.server_us(), c.big.server_us());
        let (team, team_big) = (c.team.server_us(), c.team_big.server_us());
        let batch = c.batch.server_us();
        let _ = writeln!(
            report,
            "| {} | {} | {} ({:.2}× the list) | {} ({:.2}×) | {} ({:.2}× the list) | {} ({:.2}×) | {} ({:.1}× a grant check, {:.1} µs a check) |",
            c.label,
            cpu(&c.list, c.label),
            cpu(&c.check, c.label),
            check / list,
            cpu(&c.big, c.label),
            big / check,
            cpu(&c.team, c.label),
            team / list,
            cpu(&c.team_big, c.label),
            team_big / team,
            cpu(&c.batch, c.label),
            batch / check,
            batch / 100.0,
        );
        let _ = writeln!(
            goals,
            "- {}: check ≤ list: {} (grant), {} (team); batch ≤ 10× check: {}; big ≤ 1.2× small: {} (100 000 members), {} ({TEAM_MEMBERS} members, {TEAMS} teams)",
            c.label,
            verdict(check <= list),
            verdict(team <= list),
            verdict(batch <= 10.0 * check),
            verdict(big <= 1.2 * check),
            verdict(team_big <= 1.2 * team),
        );
    }
    let _ = write!(report, "\nGoals:\n{goals}");
}
