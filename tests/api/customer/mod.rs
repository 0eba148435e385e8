//! Tests of the `customer/*` endpoints.

mod collaborators;
mod deletion;
mod organizations;
