//! SMTP connections that stay open between messages and never wait on
//! Nagle's algorithm.
//!
//! lettre writes a message's body and its closing `.` in two writes. Without
//! `TCP_NODELAY`, the closing write waits for the server to acknowledge the
//! body, and servers delay that acknowledgement by 40 ms: about 20 messages
//! a second per connection, whatever the server. lettre 0.11 does not set
//! the option, but takes a stream we open ourselves
//! (`AsyncSmtpConnection::connect_with_transport`), so collabd opens the TCP
//! connection, sets `TCP_NODELAY`, and lets lettre speak SMTP over it
//! (EHLO, STARTTLS, AUTH, the message). Implicit TLS (`smtps://`) goes
//! through lettre's own connect, which keeps Nagle on.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

/// Why a message was not delivered.
#[derive(Debug)]
pub struct SendError {
    /// The server refused it for good (5xx): trying again will not help.
    pub permanent: bool,
    pub message: String,
}

impl From<lettre::transport::smtp::Error> for SendError {
    fn from(e: lettre::transport::smtp::Error) -> SendError {
        SendError {
            permanent: e.is_permanent(),
            message: e.to_string(),
        }
    }
}

fn transient(message: String) -> SendError {
    SendError {
        permanent: false,
        message,
    }
}

/// How a connection is secured, as `COLLABD_SMTP_URL` says (the same URL
/// forms as lettre's `from_url`).
enum Security {
    /// `smtp://host` (port 25): plain.
    None,
    /// `smtp://host?tls=opportunistic` (port 587): STARTTLS when offered.
    Opportunistic(TlsParameters),
    /// `smtp://host?tls=required` (port 587): STARTTLS or nothing.
    Required(TlsParameters),
    /// `smtps://host` (port 465): TLS from the first byte.
    Implicit(TlsParameters),
}

/// Where mail goes and how to log in.
pub struct SmtpTarget {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
}

impl SmtpTarget {
    /// Reads `smtp[s]://[user[:password]@]host[:port][/hello-name][?tls=…]`.
    pub fn parse(url: &str) -> Result<SmtpTarget, String> {
        let url = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        let host = url
            .host_str()
            .ok_or("the URL names no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let parameters = || TlsParameters::new(host.clone()).map_err(|e| format!("TLS: {e}"));
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::None, 25),
            ("smtp", Some("opportunistic")) => (Security::Opportunistic(parameters()?), 587),
            ("smtp", Some("required")) => (Security::Required(parameters()?), 587),
            ("smtps", None) => (Security::Implicit(parameters()?), 465),
            (scheme, tls) => {
                return Err(format!(
                    "unknown scheme {scheme:?} or tls={tls:?} (smtp://, smtp://…?tls=opportunistic, smtp://…?tls=required or smtps://)"
                ))
            }
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|e| format!("credentials: {e}"))
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_string()),
        };
        Ok(SmtpTarget {
            port: url.port().unwrap_or(default_port),
            host,
            security,
            credentials,
            hello,
        })
    }

    async fn connect(&self, timeout: Duration) -> Result<AsyncSmtpConnection, SendError> {
        let mut connection = match &self.security {
            Security::Implicit(tls) => {
                AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(timeout),
                    &self.hello,
                    Some(tls.clone()),
                    None,
                )
                .await?
            }
            _ => {
                let stream = tokio::time::timeout(
                    timeout,
                    tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
                )
                .await
                .map_err(|_| transient("connecting timed out".into()))?
                .map_err(|e| transient(format!("connecting: {e}")))?;
                stream
                    .set_nodelay(true)
                    .map_err(|e| transient(format!("TCP_NODELAY: {e}")))?;
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello).await?
            }
        };
        match &self.security {
            Security::Required(tls) => connection.starttls(tls.clone(), &self.hello).await?,
            Security::Opportunistic(tls) if connection.can_starttls() => {
                connection.starttls(tls.clone(), &self.hello).await?
            }
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await?;
        }
        Ok(connection)
    }
}

/// Open connections to one server, reused while they work.
pub struct SmtpPool {
    target: SmtpTarget,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    /// The most connections kept open between messages.
    keep: usize,
    timeout: Duration,
}

/// A connection unused this long is closed rather than reused (servers
/// drop idle clients after a minute or more).
const IDLE_LIMIT: Duration = Duration::from_secs(30);

impl SmtpPool {
    pub fn new(target: SmtpTarget, keep: usize, timeout: Duration) -> SmtpPool {
        SmtpPool {
            target,
            idle: Mutex::new(Vec::new()),
            keep,
            timeout,
        }
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((connection, since)) = idle.pop() {
            if since.elapsed() < IDLE_LIMIT && !connection.has_broken() {
                return Some(connection);
            }
        }
        None
    }

    fn give_back(&self, connection: AsyncSmtpConnection) {
        if connection.has_broken() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.keep {
            idle.push((connection, Instant::now()));
        }
    }

    /// Sends one message, on an open connection when there is one. A reused
    /// connection that fails before the message was accepted is replaced
    /// once by a new one (the server may have closed it meanwhile).
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        let reused = self.take_idle();
        let was_reused = reused.is_some();
        let mut connection = match reused {
            Some(connection) => connection,
            None => self.target.connect(self.timeout).await?,
        };
        match self.send_on(&mut connection, envelope, message).await {
            Ok(()) => {
                self.give_back(connection);
                Ok(())
            }
            Err(e) if was_reused && !e.permanent => {
                connection.abort().await;
                let mut fresh = self.target.connect(self.timeout).await?;
                self.send_on(&mut fresh, envelope, message).await?;
                self.give_back(fresh);
                Ok(())
            }
            Err(e) => {
                connection.abort().await;
                Err(e)
            }
        }
    }

    async fn send_on(
        &self,
        connection: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<(), SendError> {
        tokio::time::timeout(self.timeout, connection.send(envelope, message))
            .await
            .map_err(|_| transient("the server did not answer in time".into()))?
            .map(drop)
            .map_err(SendError::from)
    }
}
