//! A bounded load run against a collabd started in this process on
//! 127.0.0.1, on SQLite (or on `COLLABD_BENCH_DATABASE_URL`). It prints
//! throughput and latency percentiles per endpoint.
//!
//!     cargo run --release --example load [threads] [requests-per-thread]

use std::time::{Duration, Instant};

use collabd::config::Config;
use serde_json::{json, Value};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let threads = args.first().copied().unwrap_or(16).clamp(1, 256);
    let per_thread = args.get(1).copied().unwrap_or(500).clamp(1, 100_000);
    let dir = tempfile::tempdir().expect("temp dir");

    let mut config = Config::defaults();
    config.listen = "127.0.0.1:0".into();
    config.database_url = std::env::var("COLLABD_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| dir.path().join("bench.sqlite3").display().to_string());
    config.mail_dir = dir.path().join("mail");
    config.log = "error".into();
    config.db_pool_size = 16;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let (server, addr) = collabd::start(&config).expect("start");
            tx.send(addr).expect("send address");
            let _ = server.await;
        })
    });
    let base = format!("http://{}", rx.recv().expect("address"));
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let post = |path: &str, token: Option<&str>, body: Value| -> Value {
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
    };
    post(
        "/user/signup",
        None,
        json!({"email": "bench@example.com", "password": "benchmark-password", "name": "Bench"}),
    );
    let login = post(
        "/user/login",
        None,
        json!({"email": "bench@example.com", "password": "benchmark-password"}),
    );
    let token = login["response"]["login"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    let org = post(
        "/user/createorganization",
        Some(&token),
        json!({"name": "Bench"}),
    );
    let org = org["response"]["organization"]["organizationid"]
        .as_str()
        .expect("org")
        .to_string();

    println!(
        "collabd load: {threads} threads x {per_thread} requests per endpoint, database {}",
        if std::env::var("COLLABD_BENCH_DATABASE_URL").is_ok() {
            "from COLLABD_BENCH_DATABASE_URL"
        } else {
            "SQLite"
        }
    );
    let endpoints: [(&str, &str); 4] = [
        ("GET", "/api/serviceinfo"),
        ("GET", "/customer/details"),
        ("GET", "/customer/listcollaborators"),
        ("POST", "/invite/create"),
    ];
    for (method, path) in endpoints {
        let started = Instant::now();
        let mut latencies: Vec<Duration> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (agent, base, token, org) = (agent.clone(), base.clone(), token.clone(), org.clone());
                    s.spawn(move || {
                        let mut seen = Vec::with_capacity(per_thread);
                        for i in 0..per_thread {
                            let begun = Instant::now();
                            let query = if path == "/api/serviceinfo" { String::new() } else { format!("?organizationid={org}") };
                            let result = if method == "GET" {
                                agent
                                    .get(&format!("{base}{path}{query}"))
                                    .set("Authorization", &format!("Bearer {token}"))
                                    .call()
                            } else {
                                agent
                                    .post(&format!("{base}{path}"))
                                    .set("Authorization", &format!("Bearer {token}"))
                                    .send_json(json!({"organizationid": org, "email": format!("u{t}-{i}@example.com")}))
                            };
                            if let Err(e) = result {
                                panic!("{method} {path}: {e}");
                            }
                            seen.push(begun.elapsed());
                        }
                        seen
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("thread"))
                .collect()
        });
        let elapsed = started.elapsed();
        latencies.sort();
        let pct = |p: f64| {
            latencies[((latencies.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1000.0
        };
        println!(
            "{method:4} {path:30} {:>8.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   max {:>7.2} ms",
            latencies.len() as f64 / elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            pct(1.0)
        );
    }
}
