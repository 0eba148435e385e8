//! A small SMTP server for tests: it accepts every message and keeps it, so
//! a test can read the email collabd sent and follow its link.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One received message.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: Vec<String>,
    pub raw: String,
}

impl Email {
    /// The message with quoted-printable undone, for reading text and links.
    pub fn decoded(&self) -> String {
        decode_quoted_printable(&self.raw)
    }

    /// The outbox row's id in `Message-ID`: a UUIDv7, so messages sort by
    /// when they were queued, whatever order they arrived in.
    pub fn message_id(&self) -> String {
        self.raw
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: "))
            .unwrap_or("")
            .to_string()
    }

    pub fn subject(&self) -> String {
        self.raw
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or("")
            .to_string()
    }

    /// The token of the first `{public_url}/{kind}/{token}` link.
    pub fn token(&self, kind: &str) -> Option<String> {
        let text = self.decoded();
        let marker = format!("/{kind}/");
        let start = text.find(&marker)? + marker.len();
        let token: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        (!token.is_empty()).then_some(token)
    }
}

fn decode_quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(value) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(value);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A running SMTP server on 127.0.0.1.
pub struct SmtpServer {
    pub port: u16,
    messages: Arc<Mutex<Vec<Email>>>,
    /// Every connection accepted, to cut them when the server stops.
    open: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        SmtpServer::start_on(0)
    }

    /// Starts on `port` (0 for any free port).
    pub fn start_on(port: u16) -> SmtpServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind SMTP");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let messages = messages.clone();
            let stop = stop.clone();
            let open = open.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            if let Ok(copy) = stream.try_clone() {
                                open.lock().unwrap().push(copy);
                            }
                            let messages = messages.clone();
                            std::thread::spawn(move || {
                                let _ = serve(stream, &messages);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        SmtpServer {
            port,
            messages,
            open,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// How many messages have arrived.
    pub fn count(&self) -> usize {
        self.messages.lock().unwrap().len()
    }

    pub fn messages(&self) -> Vec<Email> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits until a message to `address` has arrived, and returns the latest.
    pub fn wait_for(&self, address: &str) -> Email {
        self.wait_for_nth(address, 1)
    }

    /// Waits until `n` messages to `address` have arrived; returns the n-th
    /// queued (the sender delivers several at once, so arrival order is not
    /// the order they were queued in).
    pub fn wait_for_nth(&self, address: &str, n: usize) -> Email {
        self.wait_within(address, n, Duration::from_secs(30))
    }

    /// As [`SmtpServer::wait_for_nth`], giving up after `limit`.
    pub fn wait_within(&self, address: &str, n: usize, limit: Duration) -> Email {
        let deadline = Instant::now() + limit;
        loop {
            let mut found: Vec<Email> = self
                .messages()
                .into_iter()
                .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
                .collect();
            found.sort_by_key(Email::message_id);
            if found.len() >= n {
                return found[n - 1].clone();
            }
            assert!(
                Instant::now() < deadline,
                "no email #{n} to {address} within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a message to `address` that `wanted` picks, whatever the
    /// order messages arrived in (the sender delivers several at once).
    pub fn wait_for_matching(&self, address: &str, wanted: impl Fn(&Email) -> bool) -> Email {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self
                .messages()
                .into_iter()
                .find(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)) && wanted(m));
            if let Some(mail) = found {
                return mail;
            }
            assert!(
                Instant::now() < deadline,
                "no such email to {address} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The token of a `/{kind}/` link mailed to `address` that is not in
    /// `taken`, which it joins: each call gets the next link asked for.
    pub fn next_link(
        &self,
        address: &str,
        kind: &str,
        taken: &mut std::collections::HashSet<String>,
    ) -> String {
        let mail = self.wait_for_matching(address, |m| {
            m.token(kind).is_some_and(|token| !taken.contains(&token))
        });
        let token = mail.token(kind).unwrap_or_default();
        taken.insert(token.clone());
        token
    }

    /// Stops, as a server that goes down: it stops listening and cuts the
    /// connections clients keep open.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.halt();
    }
}

fn serve(stream: TcpStream, messages: &Mutex<Vec<Email>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    writer.write_all(b"220 localhost test SMTP\r\n")?;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command.starts_with("EHLO") {
            writer.write_all(b"250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
        } else if command.starts_with("HELO") || command.starts_with("NOOP") {
            writer.write_all(b"250 OK\r\n")?;
        } else if command.starts_with("MAIL FROM") {
            to.clear();
            writer.write_all(b"250 OK\r\n")?;
        } else if command.starts_with("RCPT TO") {
            let address = line
                .trim_end()
                .split_once(':')
                .map(|(_, a)| {
                    a.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string()
                })
                .unwrap_or_default();
            to.push(address);
            writer.write_all(b"250 OK\r\n")?;
        } else if command == "DATA" {
            writer.write_all(b"354 go ahead\r\n")?;
            let mut raw = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                raw.push_str(unstuffed);
            }
            messages.lock().unwrap().push(Email {
                to: to.clone(),
                raw,
            });
            writer.write_all(b"250 OK queued\r\n")?;
        } else if command.starts_with("RSET") {
            to.clear();
            writer.write_all(b"250 OK\r\n")?;
        } else if command.starts_with("QUIT") {
            writer.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            writer.write_all(b"502 not implemented\r\n")?;
        }
    }
}

/// A port on which nothing listens right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
