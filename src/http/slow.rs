//! Slow clients (API.md §8): a request's headers must arrive within
//! [`HEAD_TIMEOUT`] and its body within `COLLABD_BODY_TIMEOUT_SECS`; slower
//! connections are closed, so trickling clients cannot hold the server's
//! connections.
//!
//! actix-http times the headers of a connection's first request only: a
//! client could send one quick request, then trickle the next one's headers
//! a byte every few seconds for hours. [`TimedStream`] wraps each connection
//! and times every request's headers, from the first byte that arrives
//! after an answer (or on a new connection) until the request reaches the
//! app; past the deadline reading fails, which closes the connection. The app
//! tells the stream when a request arrived and when it was answered through
//! the [`RequestClock`] in the connection's data ([`arrived`]).
//!
//! [`serve`] assembles the server as actix-web's `HttpServer` does, over
//! [`TimedStream`]s.
//!
//! Bodies are timed where they are read ([`super::params::read_body`]),
//! which answers 408 and closes the connection; a body nobody reads makes
//! actix close the connection after the answer.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::error::DispatchError;
use actix_http::{Extensions, HttpService, Protocol, Request, Response};
use actix_service::{
    fn_service, map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt,
};
use actix_web::dev::{AppConfig, Server, Service};
use actix_web::rt::net::TcpStream;
use actix_web::HttpRequest;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How long a request's headers may take to arrive.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Between requests: the connection is idle (actix's keep-alive timer
    /// closes it when it stays so).
    Idle,
    /// Bytes of a request's head have arrived; the request must reach the
    /// app by the deadline.
    Head(Instant),
    /// The app has the request and has not answered yet.
    Serving,
}

/// Where one connection is between its requests, shared by its stream and
/// the app.
#[derive(Debug)]
pub struct RequestClock {
    phase: Cell<Phase>,
}

impl RequestClock {
    fn new() -> RequestClock {
        RequestClock {
            phase: Cell::new(Phase::Idle),
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self.phase.get() {
            Phase::Head(deadline) => Some(deadline),
            Phase::Idle | Phase::Serving => None,
        }
    }

    /// Bytes arrived: when the connection was idle they begin a head.
    fn bytes_arrived(&self, head_timeout: Duration) {
        if self.phase.get() == Phase::Idle {
            self.phase.set(Phase::Head(Instant::now() + head_timeout));
        }
    }
}

/// Marks the request as arrived on its connection's clock, and as answered
/// when dropped (whether the answer was made or the request abandoned).
pub struct Serving(Option<Rc<RequestClock>>);

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(clock) = &self.0 {
            clock.phase.set(Phase::Idle);
        }
    }
}

/// Called as a request enters the app: its head has arrived. Keep the guard
/// until the request is answered.
pub fn arrived(req: &HttpRequest) -> Serving {
    let clock = req.conn_data::<Rc<RequestClock>>().cloned();
    if let Some(clock) = &clock {
        clock.phase.set(Phase::Serving);
    }
    Serving(clock)
}

/// A TCP connection whose reads fail once a request's head is overdue.
pub struct TimedStream {
    io: TcpStream,
    clock: Rc<RequestClock>,
    head_timeout: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl TimedStream {
    pub fn new(io: TcpStream, head_timeout: Duration) -> TimedStream {
        TimedStream {
            io,
            clock: Rc::new(RequestClock::new()),
            head_timeout,
            timer: None,
        }
    }

    /// The clock the app is to keep, in the connection's data.
    pub fn clock(&self) -> Rc<RequestClock> {
        self.clock.clone()
    }

    /// Nothing to read yet: pending, unless a head is overdue (then an
    /// error, and the connection closes). Wakes the reader at the deadline.
    fn wait_for_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(deadline) = self.clock.deadline() else {
            return Poll::Pending;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request's headers did not arrive in time",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for TimedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.clock.bytes_arrived(this.head_timeout);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.wait_for_deadline(cx),
        }
    }
}

impl AsyncWrite for TimedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Serves `app` on `listener` with `workers` threads (one per CPU when
/// `None`), each with up to `blocking_threads` blocking threads, every
/// connection a [`TimedStream`]; otherwise as actix-web's `HttpServer`
/// would (keep-alive 5 s, a 10 s graceful shutdown).
pub fn serve<F, I, S, B>(
    listener: std::net::TcpListener,
    workers: Option<usize>,
    blocking_threads: usize,
    app: F,
) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let mut builder = Server::build()
        .shutdown_timeout(10)
        .worker_max_blocking_threads(blocking_threads.max(1));
    if let Some(workers) = workers {
        builder = builder.workers(workers.max(1));
    }
    let shutting_down = builder.graceful_shutdown_signal();
    let server = builder.listen("collabd", listener, move || {
        let shutting_down = shutting_down.clone();
        let app = app().into_factory().map_err(|e| e.into().error_response());
        let http = HttpService::build()
            .client_request_timeout(HEAD_TIMEOUT)
            .client_disconnect_timeout(Duration::from_secs(1))
            .local_addr(addr)
            .graceful_shutdown_signal(move || {
                let signal = shutting_down.clone();
                async move { signal.notified().await }
            })
            .on_connect_ext(|stream: &TimedStream, data: &mut Extensions| {
                data.insert(stream.clock());
            })
            // The app's configuration only serves `ConnectionInfo`'s
            // fallbacks and `url_for`, which collabd does not use.
            .finish(map_config(app, |_| AppConfig::default()));
        fn_service(|stream: TcpStream| async move {
            let peer = stream.peer_addr().ok();
            let stream = TimedStream::new(stream, HEAD_TIMEOUT);
            Ok::<_, DispatchError>((stream, Protocol::Http1, peer))
        })
        .and_then(http)
    })?;
    Ok(server.run())
}
