//! Email: the outbox written in the caller's
//! transaction, and the sender that delivers it.

pub mod sender;
pub mod smtp;

use crate::clock::{new_id, now_ms};
use crate::secrets::Sealer;
use crate::store::kinds::MailState;
use crate::store::rows::OutboxRow;
use crate::store::schema::outbox;
use crate::store::{classify, execute, filled, DbConn, Outbox, Store, StoreError};

/// The purpose the outbox's sealing key is derived for.
pub const SEALING_PURPOSE: &str = "collabd outbox v1";

/// One rendered email, ready for the outbox.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The link the mail is about, logged when mail goes to files.
    pub link: Option<String>,
}

/// Queues `mail` in the current transaction: it is sent if and only if the
/// change that caused it commits, and the sender is woken once it has
/// ([`Outbox`]). Its link and bodies, which carry tokens, are stored sealed;
/// the sender erases them once the mail is sent or dead.
pub fn enqueue(conn: &mut DbConn, sealer: &Sealer, mail: Mail) -> Result<(), StoreError> {
    let now = now_ms();
    let row = OutboxRow {
        id: new_id(),
        recipient: mail.to,
        subject: mail.subject,
        body_text: sealer.seal(&mail.text),
        body_html: sealer.seal(&mail.html),
        link: mail.link.as_deref().map(|link| sealer.seal(link)),
        state: MailState::Pending,
        attempts: 0,
        next_attempt_at: now,
        claimed_until: None,
        last_error: None,
        created_at: now,
        sent_at: None,
        claim: None,
    };
    execute(conn, diesel::insert_into(outbox::table).values(&row)).map_err(classify)?;
    filled(Outbox::Mail);
    Ok(())
}

/// How many queued emails are in each state, for `/metrics`.
pub fn queue_depth(store: &Store) -> Result<Vec<(&'static str, i64)>, StoreError> {
    let states: Vec<&'static str> = MailState::ALL.iter().map(|s| s.as_str()).collect();
    crate::queue::depth::<sender::SenderSettings>(store, &states)
}
