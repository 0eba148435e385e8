//! Running domain work from a handler: blocking work on the blocking pool in
//! a fair queue, and reads inline where the database answers from this
//! machine. A leaf of the edge: handlers, the gate and the table use it, and
//! it imports none of them.

use actix_web::web;

use super::error::ApiError;
use crate::domain::DomainResult;
use crate::store::Unavailability;

/// Runs blocking domain work (Diesel) off the async workers. Work waits its
/// turn for one of the pool's connections in a fair (first come, first
/// served) queue before it takes a blocking thread: when more requests than
/// connections are in flight, they queue here in order instead of racing
/// each other for the pool, where the unlucky ones waited longest.
pub async fn run<T, F>(ctx: web::Data<crate::domain::Ctx>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&crate::domain::Ctx) -> DomainResult<T> + Send + 'static,
{
    let turn = ctx.store.turn().await;
    blocking(ctx, work, turn).await
}

/// As [`run`], for work that spends most of its time hashing a password
/// (sign-up, login, a password change, an invite accepted with a password).
/// It takes no turn: it holds a connection only for its few statements,
/// and a turn held through a hash, or through the wait for one, would keep
/// every database call behind it waiting. `PasswordHashing` bounds these on
/// its own: its waiters park on blocking threads (up to 10 s each), of
/// which each worker may start enough for the whole queue beside the
/// database work (`collabd::start_with`).
pub async fn run_hashing<T, F>(ctx: web::Data<crate::domain::Ctx>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&crate::domain::Ctx) -> DomainResult<T> + Send + 'static,
{
    blocking(ctx, work, None).await
}

async fn blocking<T, F>(
    ctx: web::Data<crate::domain::Ctx>,
    work: F,
    turn: Option<tokio::sync::OwnedSemaphorePermit>,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&crate::domain::Ctx) -> DomainResult<T> + Send + 'static,
{
    // A turn ends with the work, on the blocking thread: the next in line
    // may start while this task waits to be resumed.
    match web::block(move || {
        let done = work(&ctx);
        // Guesses judged inside a transaction are counted now that every
        // transaction of the work is over (API.md §8).
        ctx.limits.settle();
        drop(turn);
        done
    })
    .await
    {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => Err(ApiError::Internal(format!("blocking task failed: {e}"))),
    }
}

/// Runs domain work that only reads. When the database answers from this
/// machine (SQLite, or PostgreSQL on a Unix socket or loopback) and a pooled
/// connection is idle, it runs right here on the HTTP worker: such a read
/// takes microseconds, and the two thread switches of a trip to the blocking
/// pool cost more than the read itself (they were most of a list request's
/// CPU). Otherwise, as with a database across a network, whose round trips
/// would stall the worker, it goes to the blocking pool like [`run`]. A panic
/// is the same 500 either way.
pub async fn read<T, F>(ctx: web::Data<crate::domain::Ctx>, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: Fn(&crate::domain::Ctx) -> DomainResult<T> + Send + Sync + 'static,
{
    if !ctx.store.reads_inline() {
        return run(ctx, work).await;
    }
    let inline = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ctx.store.inline(|| work(&ctx))
    }));
    match inline {
        // No idle connection after all, the database went away, or a lock
        // held elsewhere outlasted the short wait a worker allows
        // (`store::INLINE_LOCK_WAIT`): the blocking pool waits for a
        // connection, and for the lock up to `COLLABD_LOCK_TIMEOUT_MS`, as
        // it does for every other request, while this worker serves others.
        // Reads change nothing, so running one twice is safe.
        Ok(Err(e)) if e.is_unavailable() || e.is_contended() => run(ctx, work).await,
        Ok(result) => result.map_err(ApiError::from),
        Err(_) => Err(ApiError::Internal("a read panicked".into())),
    }
}
