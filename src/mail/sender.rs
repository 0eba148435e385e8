//! The mail courier: delivers outbox rows over SMTP (or as .eml files when no
//! SMTP server is configured) through the shared delivery queue
//! ([`crate::queue`]: claims, leases, backoff), and erases a message's
//! bodies and link once it is sent or dead. Messages go out [`PARALLEL`] at
//! a time over SMTP connections that stay open (`smtp.rs`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{FileTransport, Message, Transport as _};

use super::smtp::{SmtpPool, SmtpTarget};
use crate::queue::{self, Courier, Next, Outcome, Retry};
use crate::secrets::Sealer;
use crate::store::kinds::MailState;
use crate::store::rows::OutboxRow;
use crate::store::schema::outbox;
use crate::store::{classify, DbConn, Outbox, Store, StoreError};

/// Messages in flight at once, and SMTP connections kept open.
const PARALLEL: usize = 4;
/// The longest one message may take to send, connecting included.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

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

/// Delivers due mail until the runtime stops; the store wakes it when a
/// committed transaction queued some, so it goes out at once.
pub async fn run(store: Store, settings: Arc<SenderSettings>) {
    let wakeup = store.wakeup(Outbox::Mail);
    queue::run(store, settings, wakeup).await
}

impl Courier for SenderSettings {
    type Item = OutboxRow;
    type Report = ();
    const NAME: &'static str = "mail";
    const TABLE: &'static str = "outbox";
    /// Mail is one group: the SMTP server is the one endpoint.
    const GROUP: Option<&'static str> = None;
    const TARGET: Option<&'static str> = None;
    const SEND_TIMEOUT: Duration = SEND_TIMEOUT;
    const LEASE_MS: i64 = 45_000;

    fn parallel(&self) -> usize {
        PARALLEL
    }

    fn share(&self) -> usize {
        PARALLEL
    }

    fn poll(&self) -> Duration {
        self.poll
    }

    fn retry(&self) -> Retry {
        Retry {
            base_ms: self.retry_base_ms,
            max_attempts: self.max_attempts,
        }
    }

    fn id(item: &OutboxRow) -> &str {
        &item.id
    }

    fn attempts(item: &OutboxRow) -> i32 {
        item.attempts
    }

    fn load(conn: &mut DbConn, token: &str) -> Result<Vec<OutboxRow>, StoreError> {
        outbox::table
            .filter(outbox::claim.eq(token))
            .filter(outbox::state.eq(MailState::Pending))
            .order(outbox::id.asc())
            .select(OutboxRow::as_select())
            .load(conn)
            .map_err(classify)
    }

    async fn deliver(&self, item: &OutboxRow) -> (Outcome, ()) {
        (deliver(self, item).await, ())
    }

    fn record(
        conn: &mut DbConn,
        token: &str,
        row: &OutboxRow,
        outcome: &Outcome,
        _: &(),
        attempts: i32,
        next: Next,
        now: i64,
    ) -> Result<usize, StoreError> {
        let target = outbox::table
            .filter(outbox::id.eq(&row.id))
            .filter(outbox::claim.eq(token))
            .filter(outbox::state.eq(MailState::Pending));
        let error = match outcome {
            Outcome::Delivered => None,
            Outcome::Failed(e) | Outcome::Rejected(e) => Some(e.clone()),
        };
        let released = (
            outbox::attempts.eq(attempts),
            outbox::claimed_until.eq(None::<i64>),
            outbox::claim.eq(None::<String>),
        );
        match next {
            Next::Done => diesel::update(target)
                .set((
                    outbox::state.eq(MailState::Sent),
                    outbox::sent_at.eq(now),
                    released,
                    erased(),
                ))
                .execute(conn),
            Next::RetryAt(at) => diesel::update(target)
                .set((
                    outbox::next_attempt_at.eq(at),
                    outbox::last_error.eq(error),
                    released,
                ))
                .execute(conn),
            Next::GiveUp => diesel::update(target)
                .set((
                    outbox::state.eq(MailState::Dead),
                    outbox::last_error.eq(error),
                    released,
                    erased(),
                ))
                .execute(conn),
        }
        .map_err(classify)
    }
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
            Ok(()) => Outcome::Delivered,
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
            Outcome::Delivered
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
        enqueue(&store, "a@example.com");
        (dir, store)
    }

    fn enqueue(store: &Store, to: &str) {
        store
            .write(|conn| {
                crate::mail::enqueue(
                    conn,
                    &test_sealer(),
                    crate::mail::Mail {
                        to: to.into(),
                        subject: "s".into(),
                        text: "t".into(),
                        html: "h".into(),
                        link: None,
                    },
                )
            })
            .expect("enqueue");
    }

    const RETRY: Retry = Retry {
        base_ms: 1000,
        max_attempts: 0,
    };

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

    fn claim(store: &Store, token: &str) -> Vec<OutboxRow> {
        queue::claim::<SenderSettings>(store, token, &queue::Quota::open(32))
            .expect("claim")
            .items
    }

    fn sent(token: &str, row: &OutboxRow) -> queue::Attempt<SenderSettings> {
        queue::Attempt {
            token: token.into(),
            item: row.clone(),
            result: Some((Outcome::Delivered, ())),
        }
    }

    #[test]
    fn a_lost_claim_is_neither_renewed_nor_recorded() {
        let (_dir, store) = store_with_one_mail();
        let claimed = claim(&store, "round-1");
        assert_eq!(claimed.len(), 1);
        assert!(
            claim(&store, "round-2").is_empty(),
            "a claimed row is not claimed twice"
        );
        // Our lease ran out and another process's claim took the row over.
        store
            .write(|conn| {
                diesel::update(outbox::table)
                    .set(outbox::claimed_until.eq(Some(1)))
                    .execute(conn)
                    .map_err(classify)
            })
            .expect("expire");
        let taken = claim(&store, "round-3");
        assert_eq!(taken.len(), 1, "an expired claim is taken over");
        let (_, held) = queue::renew::<SenderSettings>(&store, &["round-1".into()]).expect("renew");
        assert!(held.is_empty(), "the lost row is no longer held");
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
        queue::record::<SenderSettings>(&store, RETRY, &[sent("round-1", &claimed[0])])
            .expect("record");
        let state = state_of_the_mail(&store);
        assert_eq!(state, MailState::Pending, "a stale claim records nothing");
        queue::record::<SenderSettings>(&store, RETRY, &[sent("round-3", &taken[0])])
            .expect("record");
        let state = state_of_the_mail(&store);
        assert_eq!(state, MailState::Sent, "the holder records its outcome");
    }

    #[test]
    fn a_row_not_sent_goes_back_when_it_is_recorded() {
        let (_dir, store) = store_with_one_mail();
        enqueue(&store, "b@example.com");
        let claimed = claim(&store, "round-1");
        assert_eq!(claimed.len(), 2);
        let (_, held) = queue::renew::<SenderSettings>(&store, &["round-1".into()]).expect("renew");
        assert_eq!(held.len(), 2, "both rows are held");
        // Only the first was sent (the lease was too short for the second).
        let not_sent = queue::Attempt {
            token: "round-1".into(),
            item: claimed[1].clone(),
            result: None,
        };
        queue::record::<SenderSettings>(&store, RETRY, &[sent("round-1", &claimed[0]), not_sent])
            .expect("record");
        let again = claim(&store, "round-2");
        assert_eq!(again.len(), 1, "the unsent row is free at once");
        assert_eq!(again[0].id, claimed[1].id);
        assert_eq!(again[0].attempts, 0, "and no attempt is counted");
    }

    #[test]
    fn a_claim_takes_no_more_than_its_room() {
        let (_dir, store) = store_with_one_mail();
        enqueue(&store, "b@example.com");
        let first = queue::claim::<SenderSettings>(&store, "round-1", &queue::Quota::open(1))
            .expect("claim");
        assert_eq!(first.items.len(), 1);
        let none = queue::claim::<SenderSettings>(&store, "round-2", &queue::Quota::open(0))
            .expect("claim");
        assert!(none.items.is_empty(), "no room, no claim");
        assert_eq!(claim(&store, "round-3").len(), 1, "the other row is left");
    }
}
