//! Where log lines go: a buffer that a thread of its own writes out in
//! batches.
//!
//! A request formats its line and appends it under a mutex; nothing else.
//! The writer thread sleeps until a line arrives in an empty buffer, lets
//! lines gather for [`GATHER`], then writes them all in one system call. Under
//! load that is one wake-up per batch rather than one per line (a channel to
//! a logging thread, as `tracing-appender` does it, wakes the thread for
//! nearly every line: about a tenth of a cheap request's CPU). Nothing is
//! ever dropped: when the reader of the output falls [`LIMIT`] bytes behind,
//! callers wait for room. The [`Flush`] guard writes what is left when it
//! drops.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the writer lets lines gather once one has arrived.
const GATHER: Duration = Duration::from_millis(20);
/// Bytes waiting beyond which callers wait for the writer.
const LIMIT: usize = 1 << 20;
/// Bytes waiting at which the writer goes at once rather than gathering on.
const BATCH: usize = 64 << 10;
/// A buffer keeps at most this much capacity between bursts.
const KEEP: usize = 256 << 10;

struct Pending {
    lines: Vec<u8>,
    closing: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    /// Signalled when the buffer gets its first bytes, reaches [`BATCH`], or
    /// closes.
    arrived: Condvar,
    /// Signalled when the writer has taken the buffer.
    taken: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding this lock cannot leave the bytes half-made:
        // carry on with them.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The `MakeWriter` handed to the subscriber.
#[derive(Clone)]
pub struct Sink {
    shared: Arc<Shared>,
}

/// Writes out what is left and stops the writer thread when dropped.
pub struct Flush {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread over `out`.
pub fn batched<W: Write + Send + 'static>(out: W) -> (Sink, Flush) {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending {
            lines: Vec::new(),
            closing: false,
        }),
        arrived: Condvar::new(),
        taken: Condvar::new(),
    });
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("collabd-log".into())
            .spawn(move || write_out(&shared, out))
            .ok()
    };
    match thread {
        Some(thread) => (
            Sink {
                shared: shared.clone(),
            },
            Flush {
                shared,
                thread: Some(thread),
            },
        ),
        // No thread to be had: the sink then writes nothing, rather than
        // filling a buffer nobody empties and stalling every caller.
        None => {
            shared.lock().closing = true;
            (
                Sink {
                    shared: shared.clone(),
                },
                Flush {
                    shared,
                    thread: None,
                },
            )
        }
    }
}

fn write_out<W: Write>(shared: &Shared, mut out: W) {
    let mut batch = Vec::new();
    loop {
        let mut pending = shared.lock();
        while pending.lines.is_empty() && !pending.closing {
            pending = shared
                .arrived
                .wait(pending)
                .unwrap_or_else(|p| p.into_inner());
        }
        if !pending.closing && pending.lines.len() < BATCH {
            pending = shared
                .arrived
                .wait_timeout(pending, GATHER)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        std::mem::swap(&mut pending.lines, &mut batch);
        let closing = pending.closing;
        drop(pending);
        shared.taken.notify_all();
        // Nowhere to report a failed write of the log itself: the lines are
        // let go, and the next batch tries again.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        batch.shrink_to(KEEP);
        if closing && shared.lock().lines.is_empty() {
            return;
        }
    }
}

impl Sink {
    fn append(&self, bytes: &[u8]) {
        let mut pending = self.shared.lock();
        if pending.closing && pending.lines.is_empty() {
            return;
        }
        while pending.lines.len() >= LIMIT && !pending.closing {
            pending = self
                .shared
                .taken
                .wait(pending)
                .unwrap_or_else(|p| p.into_inner());
        }
        let before = pending.lines.len();
        pending.lines.extend_from_slice(bytes);
        let after = pending.lines.len();
        drop(pending);
        if before == 0 || (before < BATCH && after >= BATCH) {
            self.shared.arrived.notify_one();
        }
    }
}

/// One event's writer: the subscriber formats a whole line, then writes it.
pub struct Line<'a>(&'a Sink);

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line(self)
    }
}

impl Drop for Flush {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.arrived.notify_all();
        self.shared.taken.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read back, that can be made to stall.
    #[derive(Clone, Default)]
    struct Shelf(Arc<Mutex<Vec<u8>>>);

    impl Write for Shelf {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_whole_and_in_order_from_many_threads() {
        let shelf = Shelf::default();
        let (sink, flush) = batched(shelf.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        let line = format!("thread {t} line {i} {}\n", "x".repeat(i % 300));
                        sink.make_writer()
                            .write_all(line.as_bytes())
                            .expect("write");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("join");
        }
        drop(flush);
        let written = String::from_utf8(shelf.0.lock().expect("lock").clone()).expect("utf8");
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines.len(), 20_000, "no line lost or split");
        for t in 0..4 {
            let mine: Vec<usize> = lines
                .iter()
                .filter_map(|l| l.strip_prefix(&format!("thread {t} line ")))
                .map(|rest| rest.split(' ').next().expect("n").parse().expect("number"))
                .collect();
            assert_eq!(mine, (0..5_000).collect::<Vec<_>>(), "thread {t} in order");
        }
    }

    #[test]
    fn a_lone_line_is_written_without_waiting_for_more() {
        let shelf = Shelf::default();
        let (sink, _flush) = batched(shelf.clone());
        sink.make_writer().write_all(b"alone\n").expect("write");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while shelf.0.lock().expect("lock").is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the line never came out"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(&*shelf.0.lock().expect("lock"), b"alone\n");
    }
}
