//! Slow clients (API.md §8): a request's headers must arrive within 5 s and
//! its body within `COLLABD_BODY_TIMEOUT_SECS`; slower connections are
//! closed, so trickling clients cannot hold the server's connections. Each
//! trickle here would take a minute or more to finish; the bounds asserted
//! are the timeouts plus a margin.

use std::time::{Duration, Instant};

use crate::on_both_backends;
use crate::support::{Backend, Event, RawConnection, TestApp};

on_both_backends!(
    a_trickled_body_is_cut_with_408,
    trickled_headers_are_cut_on_every_request_of_a_connection,
    trickling_connections_do_not_keep_others_waiting,
);

/// A login whose body is to follow.
const LOGIN_HEAD: &str =
    "POST /user/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 80\r\n";

/// The headers of a request, sent a byte at a time: 80 s in all.
const SLOW_HEAD: &[u8] =
    b"GET /api/serviceinfo HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";

/// Sends `bytes` one a second until the server answers or closes the
/// connection: what it did, and when.
fn trickle(connection: &mut RawConnection, bytes: &[u8]) -> (Event, Duration) {
    let started = Instant::now();
    for byte in bytes {
        if !connection.send(&[*byte]) {
            return (Event::Closed, started.elapsed());
        }
        match connection.within(Duration::from_secs(1)) {
            Event::Nothing => {}
            event => return (event, started.elapsed()),
        }
    }
    (Event::Nothing, started.elapsed())
}

fn a_trickled_body_is_cut_with_408(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.body_timeout_secs = 2);
    let body = [b' '; 80];
    for extra in ["", "Idempotency-Key: slow-1\r\n"] {
        let mut connection = RawConnection::open(&app.base);
        assert!(connection.send(format!("{LOGIN_HEAD}{extra}\r\n").as_bytes()));
        let (event, took) = trickle(&mut connection, &body);
        let Event::Answered(answer) = event else {
            panic!("{extra}: no answer to a trickled body: {event:?} after {took:?}");
        };
        assert_eq!(answer.status, 408, "{}", answer.head);
        assert!(
            took < Duration::from_secs(6),
            "cut after {took:?}; the body would have taken 80 s"
        );
        let json = answer.json();
        assert_eq!(json["response"]["status"]["code"], 408);
        assert_eq!(json["response"]["error"]["type"], "invalid_request");
        assert_eq!(answer.header("connection"), Some("close"));
        assert!(
            matches!(connection.within(Duration::from_secs(5)), Event::Closed),
            "the connection is closed after the answer"
        );
    }
    // A body nobody reads: the answer comes at once and the connection
    // closes rather than wait for the rest.
    let mut connection = RawConnection::open(&app.base);
    assert!(connection.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 80\r\n\r\n"));
    let (event, took) = trickle(&mut connection, &body);
    let Event::Answered(answer) = event else {
        panic!("no answer: {event:?} after {took:?}");
    };
    assert_eq!(answer.status, 200);
    let (event, took) = trickle(&mut connection, &body[1..]);
    assert!(
        matches!(event, Event::Closed) && took < Duration::from_secs(6),
        "{event:?} after {took:?}"
    );
    // The server answers others, and a body sent at once is not timed out.
    app.get("/api/serviceinfo", None).ok();
    app.post(
        "/user/login",
        None,
        serde_json::json!({"email": "nobody@example.com", "password": "wrong password"}),
    )
    .err(401, "unauthenticated");
}

fn trickled_headers_are_cut_on_every_request_of_a_connection(backend: Backend) {
    let app = TestApp::start(backend);
    let outcomes = crate::support::in_parallel(2, |i| {
        let mut connection = RawConnection::open(&app.base);
        if i == 1 {
            // A later request on a kept-alive connection.
            assert!(connection.send(b"GET /api/serviceinfo HTTP/1.1\r\nHost: t\r\n\r\n"));
            assert_eq!(connection.answer().status, 200);
        }
        let (event, took) = trickle(&mut connection, SLOW_HEAD);
        match event {
            Event::Closed => {}
            Event::Answered(answer) => {
                assert_eq!(answer.status, 408, "{}", answer.head);
                assert!(
                    matches!(connection.within(Duration::from_secs(5)), Event::Closed),
                    "closed after the 408"
                );
            }
            Event::Nothing => panic!("request {i}: still open after {took:?}"),
        }
        took
    });
    for (i, took) in outcomes.into_iter().enumerate() {
        assert!(
            took < Duration::from_secs(9),
            "request {i}: cut after {took:?}; its headers would have taken 80 s"
        );
    }
    app.get("/api/serviceinfo", None).ok();
}

fn trickling_connections_do_not_keep_others_waiting(backend: Backend) {
    let app = TestApp::start_with(backend, |c| c.body_timeout_secs = 3);
    let body = [b' '; 80];
    let login = format!("{LOGIN_HEAD}\r\n");
    // 200 connections: half trickle their headers, half their bodies.
    let mut trickling: Vec<(RawConnection, &[u8])> = (0..200)
        .map(|i| {
            let connection = RawConnection::open(&app.base);
            (connection, if i % 2 == 0 { SLOW_HEAD } else { &body[..] })
        })
        .collect();
    let started = Instant::now();
    for (connection, bytes) in &mut trickling {
        if bytes.len() == body.len() {
            assert!(connection.send(login.as_bytes()));
        }
    }
    let mut served_in = None;
    let mut sent = 0;
    while !trickling.is_empty() && started.elapsed() < Duration::from_secs(20) {
        for (connection, bytes) in &mut trickling {
            let _ = connection.send(&bytes[sent..sent + 1]);
        }
        sent += 1;
        trickling.retain_mut(|(connection, _)| {
            !matches!(
                connection.within(Duration::from_millis(1)),
                Event::Closed | Event::Answered(_)
            )
        });
        if served_in.is_none() {
            // Someone else, while all 200 are held.
            assert_eq!(trickling.len(), 200, "all still trickling");
            let asked = Instant::now();
            app.get("/api/serviceinfo", None).ok();
            served_in = Some(asked.elapsed());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let served_in = served_in.expect("asked");
    assert!(
        served_in < Duration::from_secs(2),
        "served in {served_in:?}"
    );
    assert!(
        trickling.is_empty(),
        "{} trickling connections still open after {:?}",
        trickling.len(),
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "cut after {:?}",
        started.elapsed()
    );
    app.get("/api/serviceinfo", None).ok();
}
