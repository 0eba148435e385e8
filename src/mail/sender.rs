//! The sender: claims due outbox rows, delivers them (SMTP, or .eml files when
//! no SMTP server is configured), and marks each sent, or retries it with
//! exponential backoff until it is dead.
//!
//! Each round claims up to [`BATCH`] due rows under a token of its own, with
//! a lease of [`LEASE_MS`] taken with `FOR UPDATE SKIP LOCKED` on PostgreSQL,
//! so several collabd processes on one database never deliver one row twice.
//! While the round runs, a heartbeat renews its leases every
//! [`HEARTBEAT`]; a message is sent only while the lease is known to hold
//! for longer than one send may take. A process that dies holds its rows for
//! at most one lease: another process takes them over after that. Messages
//! go out [`PARALLEL`] at a time over SMTP connections that stay open
//! (`smtp.rs`), and a round records its outcomes in one transaction.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{FileTransport, Message, Transport as _};
use rand::Rng;
use tokio::sync::Notify;

use super::smtp::{SmtpPool, SmtpTarget};
use crate::clock::{new_id, now_ms};
use crate::secrets::Sealer;
use crate::store::kinds::MailState;
use crate::store::rows::OutboxRow;
use crate::store::schema::outbox;
use crate::store::{classify, DbConn, Store, StoreError};

/// Rows claimed per round.
const BATCH: i64 = 32;
/// Messages in flight at once, and SMTP connections kept open.
const PARALLEL: usize = 4;
/// The longest one message may take to send, connecting included.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a claim lasts without renewal: what a crashed process's mail
/// waits before another process takes it over.
const LEASE_MS: i64 = 15_000;
/// How often a running round renews its claims.
const HEARTBEAT: Duration = Duration::from_secs(3);
/// The longest wait between two attempts at one row.
const MAX_BACKOFF_MS: i64 = 3_600_000;

/// Where mail goes.
pub enum Transport {
    Smtp(Box<SmtpPool>),
    Files(PathBuf),
}

/// How the sender works.
pub struct SenderSettings {
    pub transport: Transport,
    pub from: Mailbox,
    /// The first retry waits this long; each further one twice as long.
    pub retry_base_ms: i64,
    /// After this many failed attempts a row is dead; 0 retries an outage for
    /// as long as it lasts (refusals that can never succeed are dead at once).
    pub max_attempts: i32,
    /// How often due rows are looked for when nothing wakes the sender.
    pub poll: Duration,
    /// Opens the sealed link and bodies of queued mail.
    pub sealer: Sealer,
}

impl SenderSettings {
    /// Builds the transport from `COLLABD_SMTP_URL`, or files in `mail_dir`.
    pub fn new(
        smtp_url: Option<&str>,
        mail_dir: PathBuf,
        from: &str,
        retry_base_ms: i64,
        max_attempts: i32,
        poll: Duration,
        sealer: Sealer,
    ) -> Result<SenderSettings, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("COLLABD_MAIL_FROM {from:?}: {e}"))?;
        let transport = match smtp_url {
            Some(url) => Transport::Smtp(Box::new(SmtpPool::new(
                SmtpTarget::parse(url).map_err(|e| format!("COLLABD_SMTP_URL: {e}"))?,
                PARALLEL,
                SEND_TIMEOUT,
            ))),
            None => Transport::Files(mail_dir),
        };
        Ok(SenderSettings {
            transport,
            from,
            retry_base_ms: retry_base_ms.max(1),
            max_attempts: max_attempts.max(0),
            poll,
            sealer,
        })
    }
}

/// Delivers due mail until the runtime stops. `wakeup` is notified when a
/// transaction has queued mail, so it goes out at once.
pub async fn run(store: Store, settings: Arc<SenderSettings>, wakeup: Arc<Notify>) {
    loop {
        let token = new_id();
        let round = token.clone();
        let claimed = match blocking(&store, move |store| claim(store, &round)).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "mail: cannot read the outbox");
                Vec::new()
            }
        };
        let full_batch = claimed.len() as i64 == BATCH;
        if !claimed.is_empty() {
            deliver_round(&store, &settings, &token, claimed).await;
        }
        if full_batch {
            continue;
        }
        tokio::select! {
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(settings.poll) => {}
        }
    }
}

async fn blocking<T: Send + 'static>(
    store: &Store,
    work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    actix_web::web::block(move || work(&store))
        .await
        .map_err(|e| StoreError::Unavailable(format!("blocking task failed: {e}")))?
}

/// Delivers one round's rows, renewing their claims meanwhile, and records
/// every outcome.
async fn deliver_round(
    store: &Store,
    settings: &SenderSettings,
    token: &str,
    claimed: Vec<OutboxRow>,
) {
    // Until when the claims are known to hold.
    let held_until = &AtomicI64::new(claimed[0].claimed_until.unwrap_or(0));
    let deliveries = async {
        let mut outcomes = Vec::with_capacity(claimed.len());
        for wave in claimed.chunks(PARALLEL) {
            let sends = wave.iter().map(|row| async move {
                // Never start a send the lease might not outlast.
                let margin = SEND_TIMEOUT.as_millis() as i64 / 2;
                if held_until.load(Ordering::Acquire) < now_ms() + margin.min(LEASE_MS / 2) {
                    return None;
                }
                Some((row, deliver(settings, row).await))
            });
            outcomes.extend(
                futures_util::future::join_all(sends)
                    .await
                    .into_iter()
                    .flatten(),
            );
        }
        outcomes
    };
    let heartbeat = async {
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            let token = token.to_string();
            match blocking(store, move |store| renew(store, &token)).await {
                Ok(until) => held_until.store(until, Ordering::Release),
                Err(e) => tracing::warn!(error = %e, "mail: cannot renew the claims"),
            }
        }
    };
    let outcomes = tokio::select! {
        outcomes = deliveries => outcomes,
        _ = heartbeat => unreachable!("the heartbeat never ends"),
    };
    let records: Vec<(OutboxRow, Outcome)> = outcomes
        .into_iter()
        .map(|(row, outcome)| (row.clone(), outcome))
        .collect();
    let (retry_base_ms, max_attempts) = (settings.retry_base_ms, settings.max_attempts);
    let token = token.to_string();
    if let Err(e) = blocking(store, move |store| {
        record(store, retry_base_ms, max_attempts, &token, &records)
    })
    .await
    {
        tracing::error!(error = %e, "mail: cannot record the deliveries");
    }
}

/// Extends every pending claim of round `token`; returns the new end.
fn renew(store: &Store, token: &str) -> Result<i64, StoreError> {
    let until = now_ms() + LEASE_MS;
    store.write(|conn| {
        diesel::update(
            outbox::table
                .filter(outbox::claim.eq(token))
                .filter(outbox::state.eq(MailState::Pending)),
        )
        .set(outbox::claimed_until.eq(until))
        .execute(conn)
        .map_err(classify)
    })?;
    Ok(until)
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
}

/// Claims up to [`BATCH`] due rows for round `token`.
fn claim(store: &Store, token: &str) -> Result<Vec<OutboxRow>, StoreError> {
    store.write(|conn| {
        let now = now_ms();
        let ids = due_ids(conn, now)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
            .set((
                outbox::claimed_until.eq(now + LEASE_MS),
                outbox::claim.eq(token),
            ))
            .execute(conn)
            .map_err(classify)?;
        outbox::table
            .filter(outbox::id.eq_any(&ids))
            .order(outbox::id.asc())
            .select(OutboxRow::as_select())
            .load(conn)
            .map_err(classify)
    })
}

fn due_ids(conn: &mut DbConn, now: i64) -> Result<Vec<String>, StoreError> {
    if let DbConn::Pg(_) = conn {
        let rows: Vec<IdRow> = diesel::sql_query(
            "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until < $1) \
             ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind::<diesel::sql_types::BigInt, _>(now)
        .bind::<diesel::sql_types::BigInt, _>(BATCH)
        .load(conn)
        .map_err(classify)?;
        return Ok(rows.into_iter().map(|r| r.id).collect());
    }
    outbox::table
        .filter(outbox::state.eq(MailState::Pending))
        .filter(outbox::next_attempt_at.le(now))
        .filter(
            outbox::claimed_until
                .is_null()
                .or(outbox::claimed_until.lt(now)),
        )
        .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
        .limit(BATCH)
        .select(outbox::id)
        .load(conn)
        .map_err(classify)
}

/// How one delivery went.
enum Outcome {
    Sent,
    /// Worth trying again later.
    Failed(String),
    /// Will never work (a refused address, a malformed message).
    Rejected(String),
}

fn message(settings: &SenderSettings, row: &OutboxRow) -> Result<Message, String> {
    let to: Mailbox = row
        .recipient
        .parse()
        .map_err(|e| format!("recipient: {e}"))?;
    let part = |content_type: ContentType, body: &str| {
        SinglePart::builder()
            .header(content_type)
            .header(ContentTransferEncoding::QuotedPrintable)
            .body(body.to_string())
    };
    Message::builder()
        .from(settings.from.clone())
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(format!("<{}@collabd>", row.id)))
        .multipart(
            MultiPart::alternative()
                .singlepart(part(ContentType::TEXT_PLAIN, &row.body_text))
                .singlepart(part(ContentType::TEXT_HTML, &row.body_html)),
        )
        .map_err(|e| format!("building the message: {e}"))
}

/// The row with its link and bodies opened.
fn opened(settings: &SenderSettings, row: &OutboxRow) -> Result<OutboxRow, String> {
    let open = |sealed: &str| {
        settings.sealer.open(sealed).ok_or_else(|| {
            "the message cannot be opened: it was sealed under another server secret".to_string()
        })
    };
    Ok(OutboxRow {
        body_text: open(&row.body_text)?,
        body_html: open(&row.body_html)?,
        link: row.link.as_deref().map(open).transpose()?,
        ..row.clone()
    })
}

async fn deliver(settings: &SenderSettings, row: &OutboxRow) -> Outcome {
    let row = &match opened(settings, row) {
        Ok(row) => row,
        Err(e) => return Outcome::Rejected(e),
    };
    let message = match message(settings, row) {
        Ok(m) => m,
        Err(e) => return Outcome::Rejected(e),
    };
    match &settings.transport {
        Transport::Smtp(pool) => match pool.send(message.envelope(), &message.formatted()).await {
            Ok(()) => Outcome::Sent,
            Err(e) if e.permanent => Outcome::Rejected(e.message),
            Err(e) => Outcome::Failed(e.message),
        },
        Transport::Files(dir) => {
            let (dir, recipient, subject, link) = (
                dir.clone(),
                row.recipient.clone(),
                row.subject.clone(),
                row.link.clone(),
            );
            let written = actix_web::web::block(move || {
                write_file(&dir, &message, &recipient, &subject, link.as_deref())
            })
            .await;
            match written {
                Ok(outcome) => outcome,
                Err(e) => Outcome::Failed(format!("writing the file: {e}")),
            }
        }
    }
}

fn write_file(
    dir: &std::path::Path,
    message: &Message,
    recipient: &str,
    subject: &str,
    link: Option<&str>,
) -> Outcome {
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Outcome::Failed(format!("creating {}: {e}", dir.display()));
    }
    match FileTransport::new(dir).send(message) {
        Ok(id) => {
            tracing::info!(
                to = %recipient,
                subject = %subject,
                link = link.unwrap_or("-"),
                file = %dir.join(format!("{id}.eml")).display(),
                "mail written"
            );
            Outcome::Sent
        }
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// A finished message keeps nothing that carried a token: its bodies and
/// link are erased (the subject, recipient and outcome stay for operators).
#[allow(clippy::type_complexity)] // Diesel's assignment types, spelled out once here
fn erased() -> (
    diesel::dsl::Eq<outbox::body_text, &'static str>,
    diesel::dsl::Eq<outbox::body_html, &'static str>,
    diesel::dsl::Eq<outbox::link, Option<String>>,
) {
    (
        outbox::body_text.eq(""),
        outbox::body_html.eq(""),
        outbox::link.eq(None::<String>),
    )
}

/// The wait before attempt `attempts + 1`: base · 2^(attempts−1), capped, ±20 %.
fn backoff_ms(base: i64, attempts: i32) -> i64 {
    let exponent = (attempts - 1).clamp(0, 30) as u32;
    let wait = base.saturating_mul(1i64 << exponent).min(MAX_BACKOFF_MS);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    ((wait as f64) * jitter) as i64
}

/// Records a round's outcomes in one transaction, each only while round
/// `token` still holds the row's claim.
fn record(
    store: &Store,
    retry_base_ms: i64,
    max_attempts: i32,
    token: &str,
    outcomes: &[(OutboxRow, Outcome)],
) -> Result<(), StoreError> {
    let now = now_ms();
    store.write(|conn| {
        for (row, outcome) in outcomes {
            let attempts = row.attempts + 1;
            let keep_trying = max_attempts == 0 || attempts < max_attempts;
            let target = outbox::table
                .filter(outbox::id.eq(&row.id))
                .filter(outbox::claim.eq(token))
                .filter(outbox::state.eq(MailState::Pending));
            let updated = match outcome {
                Outcome::Sent => diesel::update(target)
                    .set((
                        outbox::state.eq(MailState::Sent),
                        outbox::sent_at.eq(now),
                        outbox::attempts.eq(attempts),
                        outbox::claimed_until.eq(None::<i64>),
                        outbox::claim.eq(None::<String>),
                        erased(),
                    ))
                    .execute(conn),
                Outcome::Failed(error) if keep_trying => {
                    tracing::warn!(id = %row.id, attempts, error = %error, "mail: delivery failed, will retry");
                    diesel::update(target)
                        .set((
                            outbox::attempts.eq(attempts),
                            outbox::next_attempt_at.eq(now + backoff_ms(retry_base_ms, attempts)),
                            outbox::last_error.eq(error),
                            outbox::claimed_until.eq(None::<i64>),
                            outbox::claim.eq(None::<String>),
                        ))
                        .execute(conn)
                }
                Outcome::Failed(error) | Outcome::Rejected(error) => {
                    tracing::error!(id = %row.id, attempts, error = %error, "mail: giving up on this message");
                    diesel::update(target)
                        .set((
                            outbox::state.eq(MailState::Dead),
                            outbox::attempts.eq(attempts),
                            outbox::last_error.eq(error),
                            outbox::claimed_until.eq(None::<i64>),
                            outbox::claim.eq(None::<String>),
                            erased(),
                        ))
                        .execute(conn)
                }
            };
            if updated.map_err(classify)? != 1 {
                tracing::warn!(id = %row.id, "mail: the claim ran out before the result was recorded");
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_sealer() -> Sealer {
        Sealer::new(
            b"a test secret of thirty-two bytes",
            crate::mail::SEALING_PURPOSE,
        )
    }

    fn store_with_one_mail() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = dir.path().join("t.sqlite3").display().to_string();
        let store = Store::open(&url, 2, Duration::from_secs(5));
        store.migrate().expect("migrate");
        store
            .write(|conn| {
                crate::mail::enqueue(
                    conn,
                    &test_sealer(),
                    crate::mail::Mail {
                        to: "a@example.com".into(),
                        subject: "s".into(),
                        text: "t".into(),
                        html: "h".into(),
                        link: None,
                    },
                )
            })
            .expect("enqueue");
        (dir, store)
    }

    fn state_of_the_mail(store: &Store) -> MailState {
        store
            .read(|conn| {
                outbox::table
                    .select(outbox::state)
                    .first(conn)
                    .map_err(classify)
            })
            .expect("state")
    }

    #[test]
    fn a_lost_claim_is_neither_renewed_nor_recorded() {
        let (_dir, store) = store_with_one_mail();
        let claimed = claim(&store, "round-1").expect("claim");
        assert_eq!(claimed.len(), 1);
        assert!(
            claim(&store, "round-2").expect("claim again").is_empty(),
            "a claimed row is not claimed twice"
        );
        // Our lease ran out and another process's round took the row over.
        store
            .write(|conn| {
                diesel::update(outbox::table)
                    .set(outbox::claimed_until.eq(Some(1)))
                    .execute(conn)
                    .map_err(classify)
            })
            .expect("expire");
        let taken = claim(&store, "round-3").expect("take over");
        assert_eq!(taken.len(), 1, "an expired claim is taken over");
        renew(&store, "round-1").expect("renew");
        let holder: Option<String> = store
            .read(|conn| {
                outbox::table
                    .select(outbox::claim)
                    .first(conn)
                    .map_err(classify)
            })
            .expect("claim");
        assert_eq!(
            holder.as_deref(),
            Some("round-3"),
            "renewing a lost claim changes nothing"
        );
        record(
            &store,
            1000,
            0,
            "round-1",
            &[(claimed[0].clone(), Outcome::Sent)],
        )
        .expect("record");
        let state = state_of_the_mail(&store);
        assert_eq!(state, MailState::Pending, "a stale claim records nothing");
        record(
            &store,
            1000,
            0,
            "round-3",
            &[(taken[0].clone(), Outcome::Sent)],
        )
        .expect("record");
        let state = state_of_the_mail(&store);
        assert_eq!(state, MailState::Sent, "the holder records its outcome");
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let first = backoff_ms(1000, 1);
        assert!((800..=1200).contains(&first), "{first}");
        let fourth = backoff_ms(1000, 4);
        assert!((6400..=9600).contains(&fourth), "{fourth}");
        assert!(backoff_ms(1000, 40) <= (super::MAX_BACKOFF_MS as f64 * 1.2) as i64);
    }
}
