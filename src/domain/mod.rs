//! The rules of collabd. Nothing here knows HTTP.
//!
//! Each public function of a feature opens one transaction on the store,
//! passes the gate of [`access`], applies its rule, records what happened
//! through [`kernel::events`] (the audit event and its webhook deliveries)
//! and queues any email, all in that same transaction, and returns a typed
//! result or a [`DomainError`].
//!
//! Three layers, each importing only those below it:
//!
//! - the features, one use case each: [`accounts`], [`apikeys`], [`audit`]
//!   (reading the log), [`checks`] (permission checks for the provider's
//!   services, and a member's own permissions), [`invites`], [`links`], [`logins`], [`members`],
//!   [`organizations`], [`projects`], [`custom_roles`], [`twofactor`], [`verified_domains`]
//!   (verified email domains), [`webhooks`], [`teams`], [`identities`] (provider
//!   tokens), [`sso`] (organization sign-in), [`scim`] (provisioning). A feature never imports
//!   another;
//! - the [`kernel`]: the context and errors, events, membership, and the
//!   views and checks several features share;
//! - the shared modules the kernel builds on: [`access`] (the gate),
//!   [`permissions`] (what each role may do, as data), [`roles`],
//!   [`ownership`] (the rules that keep an organization owned),
//!   [`effective`] (what a member may do, and why), [`service_keys`]
//!   (the credentials of the provider's services),
//!   [`sessions`] (who is calling), [`teamwork`] (what a member's teams
//!   give them), [`passwords`], [`limits`],
//!   [`tokens`], [`paging`], [`rosters`], [`emails`], [`outbound`] (the
//!   address rule for what the server reaches at a caller's choosing), and the services
//!   [`idempotency`] and [`retention`], which import of the kernel only its
//!   errors ([`kernel::error`]); below them `store`, `mail`, `clock` and
//!   `secrets`.
//!
//! The names re-exported below are what every layer above and every
//! feature uses; they are defined in the kernel and in `clock`, and a
//! re-export is no dependency of its own: importing `domain::Ctx` is
//! importing `kernel::context`.

pub mod access;
pub mod accounts;
pub mod apikeys;
pub mod audit;
pub mod checks;
pub mod custom_roles;
pub mod effective;
pub mod emails;
pub mod idempotency;
pub mod identities;
pub mod invites;
pub mod kernel;
pub mod limits;
pub mod links;
pub mod logins;
pub mod members;
pub mod organizations;
pub mod outbound;
pub mod ownership;
pub mod paging;
pub mod passwords;
pub mod permissions;
pub mod projects;
pub mod retention;
pub mod roles;
pub mod rosters;
pub mod scim;
pub mod service_keys;
pub mod sessions;
pub mod sso;
pub mod teams;
pub mod teamwork;
pub mod tokens;
pub mod twofactor;
pub mod verified_domains;
pub mod webhooks;

pub use crate::clock::{new_id, now_ms, rfc3339, MS_PER_DAY, MS_PER_HOUR};
pub use emails::normalize_email;
pub use kernel::context::{Ctx, LinkKind, Policy, MAX_NAME_CHARS};
pub use kernel::error::{ConflictReason, DomainError, DomainResult, GoneReason, OtpReason};
