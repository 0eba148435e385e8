//! The real server (what `collabd serve` runs) on a free port.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use collabd::config::Config;

use super::TestDatabase;

/// A JWT secret the tests know, to sign tokens of their own.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// The configuration tests start with.
pub fn test_config(db: &TestDatabase) -> Config {
    let mut config = Config::defaults();
    config.listen = "127.0.0.1:0".into();
    config.database_url = db.url.clone();
    config.workers = Some(2);
    config.db_pool_size = Some(4);
    config.db_timeout_secs = 2;
    config.jwt_secret = Some(TEST_JWT_SECRET.into());
    config.mail_dir = db.dir().join("mail");
    config.log = "warn".into();
    config.mail_poll_ms = 50;
    config.mail_retry_base_ms = 100;
    // Every test signs up and guesses from 127.0.0.1; the limits are tested
    // on their own (tests/api/limits.rs).
    config.signups_per_hour = 0;
    config.token_attempts_per_minute = 0;
    config.invites_per_hour = 0;
    config
}

/// A running server.
pub struct TestServer {
    pub base: String,
    system: actix_web::rt::System,
    handle: actix_web::dev::ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(config: Config) -> TestServer {
        TestServer::start_with(config, None)
    }

    /// A server that also serves the endpoints `extra` adds.
    pub fn start_with(config: Config, extra: Option<collabd::http::Extra>) -> TestServer {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let system = actix_web::rt::System::new();
            system.block_on(async move {
                match collabd::start_with(&config, extra) {
                    Ok((server, addr)) => {
                        let _ = tx.send(Ok((
                            addr,
                            server.handle(),
                            actix_web::rt::System::current(),
                        )));
                        let _ = server.await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        });
        let (addr, handle, system) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server start timed out")
            .expect("server failed to start");
        TestServer {
            base: format!("http://{addr}"),
            system,
            handle,
            thread: Some(thread),
        }
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let handle = self.handle.clone();
        self.system.arbiter().spawn(async move {
            handle.stop(false).await;
            actix_web::rt::System::current().stop();
        });
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.shutdown();
        }
    }
}

/// The real `collabd` binary, as a separate process (to kill it with SIGKILL).
pub struct Process {
    pub base: String,
    child: std::process::Child,
}

impl Process {
    /// Starts `collabd serve` on a free port with `env` added to a test's
    /// quiet defaults, and waits until it serves.
    pub fn spawn(env: &[(&str, &str)]) -> Process {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        let mut command = Command::new(env!("CARGO_BIN_EXE_collabd"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--workers", "1"])
            .env_remove("COLLABD_SMTP_URL")
            .env("COLLABD_JWT_SECRET", super::TEST_JWT_SECRET)
            .env("COLLABD_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start collabd");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Keep reading after the address is known, so the pipe never fills.
                let _ = tx.send(line);
            }
        });
        let address = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("collabd started serving");
            if let Some(rest) = line.split("address=").nth(1) {
                break rest.split_whitespace().next().unwrap_or("").to_string();
            }
        };
        Process {
            base: format!("http://{address}"),
            child,
        }
    }

    /// The most memory the process has held (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        self.memory("VmHWM:")
    }

    /// The memory the process holds now (VmRSS), in bytes.
    pub fn rss(&self) -> u64 {
        self.memory("VmRSS:")
    }

    fn memory(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect(field)
            * 1024
    }

    /// SIGKILL: no shutdown, no cleanup, as a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
