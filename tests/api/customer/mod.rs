//! Tests of the `customer/*` endpoints.

mod collaborators;
mod deletion;
mod expiry;
mod organizations;
mod webhooks;
