//! Tests of the `customer/*` endpoints.

mod collaborators;
mod organizations;
