//! Tests of the `invite/*` endpoints.

mod bulk;
mod flows;
mod mail;
mod rules;
