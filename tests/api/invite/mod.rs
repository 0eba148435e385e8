//! Tests of the `invite/*` endpoints.

mod authority;
mod bulk;
mod flows;
mod mail;
mod rules;
