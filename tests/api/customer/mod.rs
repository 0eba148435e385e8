//! Tests of the `customer/*` endpoints.

mod collaborators;
mod deletion;
mod domains;
mod expiry;
mod organizations;
pub(crate) mod roles;
mod sso;
mod team_access;
mod team_roles;
mod teams;
mod webhooks;
