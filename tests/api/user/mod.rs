//! Tests of the `user/*` endpoints.

mod accounts;
mod apikeys;
mod recovery;
