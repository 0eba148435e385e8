//! A bare HTTP/1.1 connection, for what well-behaved clients never do:
//! made-up methods, requests sent a byte at a time. It reads answers by
//! `Content-Length` (all collabd sends) and tells a closed connection apart.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One answer as it came over the wire.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    /// The status line and headers.
    pub head: String,
    pub body: Vec<u8>,
}

impl RawAnswer {
    /// A header's value (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// What the server did while a test waited.
#[derive(Debug)]
pub enum Event {
    Answered(RawAnswer),
    Closed,
    Nothing,
}

/// One connection to a test server.
pub struct RawConnection {
    stream: TcpStream,
    received: Vec<u8>,
}

impl RawConnection {
    /// Connects to `base` (`http://host:port`).
    pub fn open(base: &str) -> RawConnection {
        let stream = TcpStream::connect(base.trim_start_matches("http://")).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        RawConnection {
            stream,
            received: Vec::new(),
        }
    }

    /// Sends `bytes`; false when the server has closed the connection.
    pub fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// The next answer, waiting up to 30 s for it.
    #[track_caller]
    pub fn answer(&mut self) -> RawAnswer {
        match self.within(Duration::from_secs(30)) {
            Event::Answered(answer) => answer,
            other => panic!("no answer: {other:?}"),
        }
    }

    /// Waits up to `wait` for an answer or the connection's end.
    pub fn within(&mut self, wait: Duration) -> Event {
        let deadline = Instant::now() + wait;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(answer) = self.parse() {
                return Event::Answered(answer);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Event::Nothing;
            }
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .expect("read timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => return Event::Closed,
                Ok(n) => self.received.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Event::Closed,
            }
        }
    }

    /// Takes one whole answer off what has been received, if there is one.
    fn parse(&mut self) -> Option<RawAnswer> {
        let end = self.received.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&self.received[..end]).into_owned();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let mut answer = RawAnswer {
            status,
            head,
            body: Vec::new(),
        };
        let length: usize = answer
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if self.received.len() < end + length {
            return None;
        }
        answer.body = self.received[end..end + length].to_vec();
        self.received.drain(..end + length);
        Some(answer)
    }
}
