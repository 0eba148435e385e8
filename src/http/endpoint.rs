//! The endpoint table's entries: an [`Operation`] and the typed
//! [`Endpoint`] that answers it, and how the document sees them.

use std::marker::PhantomData;

use super::route::{Access, Methods, Refusal, SchemaFn};
use super::wire;

/// An operation's route and reference entry, whatever it answers.
pub struct Operation {
    pub path: &'static str,
    pub operation_id: &'static str,
    pub tag: &'static str,
    pub methods: Methods,
    pub access: Access,
    pub summary: &'static str,
    pub description: &'static str,
    /// The parameters' schema (an object); `None` for endpoints without any.
    pub params: Option<SchemaFn>,
    /// What its rules can refuse with, beyond the derived statuses.
    pub refusals: &'static [Refusal],
}

/// One endpoint: an [`Operation`] that answers `A`. In the envelope (`W`
/// left out), `A` is the payload members beside `status`; outside it, `W`
/// is the [`wire::Wire`] its family answers in and `A` its
/// [`wire::Reply`].
pub struct Endpoint<A, W = InEnvelope> {
    pub operation: Operation,
    answer: PhantomData<fn() -> (A, W)>,
}

/// The wire of an endpoint inside the envelope (API.md §1).
pub struct InEnvelope;

impl<A, W> Endpoint<A, W> {
    pub const fn new(operation: Operation) -> Endpoint<A, W> {
        Endpoint {
            operation,
            answer: PhantomData,
        }
    }
}

/// An endpoint as the document sees it, its answer type erased.
pub struct Documented {
    pub operation: &'static Operation,
    pub answer: Answers,
}

/// What an endpoint answers, for the document.
pub enum Answers {
    /// The envelope, with this object schema's members beside `status`.
    Envelope(SchemaFn),
    /// Its own media type, success and error body.
    Own(wire::Own),
}

impl std::ops::Deref for Documented {
    type Target = Operation;

    fn deref(&self) -> &Operation {
        self.operation
    }
}
