//! Tests of the `user/*` endpoints.

mod accounts;
mod apikeys;
mod provider_tokens;
mod recovery;
