//! The test harness, by job: databases per backend, the real server, the
//! contract-checking client, a bare connection, the app with its helpers.

mod app;
mod backend;
mod client;
mod issuer;
mod oidc;
mod raw;
mod receiver;
mod server;

pub use app::*;
pub use backend::*;
pub use client::*;
pub use issuer::*;
pub use oidc::*;
pub use raw::*;
pub use receiver::*;
pub use server::*;

/// Runs `work(i)` for each i in 0..n, all at once on n threads; the results
/// in order of i.
pub fn in_parallel<T: Send>(n: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    std::thread::scope(|s| {
        let work = &work;
        let handles: Vec<_> = (0..n).map(|i| s.spawn(move || work(i))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker thread"))
            .collect()
    })
}
