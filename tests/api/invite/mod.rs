//! Tests of the `invite/*` endpoints.

mod flows;
mod mail;
mod rules;
