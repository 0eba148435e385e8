//! The sender: claims due outbox rows, delivers them (SMTP, or .eml files when
//! no SMTP server is configured), and marks each sent, or retries it with
//! exponential backoff until it is dead. Claims are leases, taken with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several collabd processes on one
//! database never deliver one row twice.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{FileTransport, Message, SmtpTransport, Transport as _};
use rand::Rng;
use tokio::sync::Notify;

use crate::clock::now_ms;
use crate::secrets::Sealer;
use crate::store::kinds::MailState;
use crate::store::rows::OutboxRow;
use crate::store::schema::outbox;
use crate::store::{classify, DbConn, Store, StoreError};

/// Rows claimed per round.
const BATCH: i64 = 10;
/// The longest one SMTP exchange may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claim lasts. It is renewed just before each message is sent, so
/// it needs to outlast one delivery (a few SMTP exchanges, each bounded by the
/// timeout); and it is what a crashed process's mail waits for before another
/// process takes it over, which API.md §4 bounds at a minute.
const LEASE_MS: i64 = 45_000;
/// The longest wait between two attempts at one row.
const MAX_BACKOFF_MS: i64 = 3_600_000;

/// Where mail goes.
pub enum Transport {
    Smtp(Box<SmtpTransport>),
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
            Some(url) => Transport::Smtp(Box::new(
                SmtpTransport::from_url(url)
                    .map_err(|e| format!("COLLABD_SMTP_URL: {e}"))?
                    .timeout(Some(SEND_TIMEOUT))
                    .build(),
            )),
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
        let (store2, settings2) = (store.clone(), settings.clone());
        let delivered = actix_web::web::block(move || deliver_due(&store2, &settings2)).await;
        let full_batch = match delivered {
            Ok(Ok(count)) => count as i64 == BATCH,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "mail: cannot read the outbox");
                false
            }
            Err(e) => {
                tracing::error!(error = %e, "mail: sender task failed");
                false
            }
        };
        if full_batch {
            continue;
        }
        tokio::select! {
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(settings.poll) => {}
        }
    }
}

/// One round: claims due rows and delivers each. Returns how many it claimed.
pub fn deliver_due(store: &Store, settings: &SenderSettings) -> Result<usize, StoreError> {
    let claimed = claim(store)?;
    for row in &claimed {
        // A fresh lease for each message: a slow round never lets another
        // process claim a row this one is about to send.
        let row = match renew(store, row) {
            Ok(Some(row)) => row,
            Ok(None) => {
                tracing::warn!(id = %row.id, "mail: claim lost before sending; another process has it");
                continue;
            }
            Err(e) => {
                tracing::warn!(id = %row.id, error = %e, "mail: cannot renew the claim");
                continue;
            }
        };
        let outcome = deliver(settings, &row);
        if let Err(e) = record(store, settings, &row, outcome) {
            tracing::error!(id = %row.id, error = %e, "mail: cannot record the delivery");
        }
    }
    Ok(claimed.len())
}

/// Extends the claim on `row` if it is still ours; `None` when it is not.
fn renew(store: &Store, row: &OutboxRow) -> Result<Option<OutboxRow>, StoreError> {
    let until = now_ms() + LEASE_MS;
    let updated = store.write(|conn| {
        diesel::update(
            outbox::table
                .filter(outbox::id.eq(&row.id))
                .filter(outbox::state.eq(MailState::Pending))
                .filter(outbox::claimed_until.eq(row.claimed_until)),
        )
        .set(outbox::claimed_until.eq(until))
        .execute(conn)
        .map_err(classify)
    })?;
    Ok((updated == 1).then(|| OutboxRow {
        claimed_until: Some(until),
        ..row.clone()
    }))
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
}

fn claim(store: &Store) -> Result<Vec<OutboxRow>, StoreError> {
    store.write(|conn| {
        let now = now_ms();
        let ids = due_ids(conn, now)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
            .set(outbox::claimed_until.eq(now + LEASE_MS))
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

fn deliver(settings: &SenderSettings, row: &OutboxRow) -> Outcome {
    let row = &match opened(settings, row) {
        Ok(row) => row,
        Err(e) => return Outcome::Rejected(e),
    };
    let message = match message(settings, row) {
        Ok(m) => m,
        Err(e) => return Outcome::Rejected(e),
    };
    match &settings.transport {
        Transport::Smtp(smtp) => match smtp.send(&message) {
            Ok(_) => Outcome::Sent,
            Err(e) if e.is_permanent() => Outcome::Rejected(e.to_string()),
            Err(e) => Outcome::Failed(e.to_string()),
        },
        Transport::Files(dir) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return Outcome::Failed(format!("creating {}: {e}", dir.display()));
            }
            match FileTransport::new(dir).send(&message) {
                Ok(id) => {
                    tracing::info!(
                        to = %row.recipient,
                        subject = %row.subject,
                        link = row.link.as_deref().unwrap_or("-"),
                        file = %dir.join(format!("{id}.eml")).display(),
                        "mail written"
                    );
                    Outcome::Sent
                }
                Err(e) => Outcome::Failed(e.to_string()),
            }
        }
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

fn record(
    store: &Store,
    settings: &SenderSettings,
    row: &OutboxRow,
    outcome: Outcome,
) -> Result<(), StoreError> {
    let now = now_ms();
    let attempts = row.attempts + 1;
    let keep_trying = settings.max_attempts == 0 || attempts < settings.max_attempts;
    store.write(|conn| {
        // Only while the claim is still ours.
        let target = outbox::table
            .filter(outbox::id.eq(&row.id))
            .filter(outbox::claimed_until.eq(row.claimed_until));
        let updated = match &outcome {
            Outcome::Sent => diesel::update(target)
                .set((
                    outbox::state.eq(MailState::Sent),
                    outbox::sent_at.eq(now),
                    outbox::attempts.eq(attempts),
                    outbox::claimed_until.eq(None::<i64>),
                    erased(),
                ))
                .execute(conn),
            Outcome::Failed(error) if keep_trying => {
                tracing::warn!(id = %row.id, attempts, error = %error, "mail: delivery failed, will retry");
                diesel::update(target)
                    .set((
                        outbox::attempts.eq(attempts),
                        outbox::next_attempt_at.eq(now + backoff_ms(settings.retry_base_ms, attempts)),
                        outbox::last_error.eq(error),
                        outbox::claimed_until.eq(None::<i64>),
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
                        erased(),
                    ))
                    .execute(conn)
            }
        };
        match updated.map_err(classify)? {
            1 => Ok(()),
            _ => {
                tracing::warn!(id = %row.id, "mail: the claim ran out before the result was recorded");
                Ok(())
            }
        }
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

    #[test]
    fn a_lost_claim_is_neither_sent_nor_recorded() {
        let (dir, store) = store_with_one_mail();
        let claimed = claim(&store).expect("claim");
        assert_eq!(claimed.len(), 1);
        assert!(
            claim(&store).expect("claim again").is_empty(),
            "a claimed row is not claimed twice"
        );
        // Another process took the row over after our lease ran out.
        store
            .write(|conn| {
                diesel::update(outbox::table)
                    .set(outbox::claimed_until.eq(Some(1)))
                    .execute(conn)
                    .map_err(classify)
            })
            .expect("steal");
        assert!(renew(&store, &claimed[0]).expect("renew").is_none());
        let settings = SenderSettings::new(
            None,
            dir.path().join("mail"),
            "c@example.com",
            1000,
            0,
            Duration::from_secs(1),
            test_sealer(),
        )
        .expect("settings");
        record(&store, &settings, &claimed[0], Outcome::Sent).expect("record");
        let state: MailState = store
            .read(|conn| {
                outbox::table
                    .select(outbox::state)
                    .first(conn)
                    .map_err(classify)
            })
            .expect("state");
        assert_eq!(state, MailState::Pending, "a stale claim records nothing");
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
