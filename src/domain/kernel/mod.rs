//! The kernel: what every feature uses and no feature owns. The context
//! and errors every domain function has; [`events`], which records what
//! happened (the audit event, its webhook deliveries, the work left for
//! after the commit); [`membership`], which makes and ends members;
//! and the shared views and checks several features answer with or apply
//! (grants on projects, the organization as a member sees it, signing in,
//! the accounts of a proven mailbox, the accounts linked to identities
//! from elsewhere, the second factor, an ended
//! membership's expiry).
//!
//! The kernel imports the store and the shared modules beside it in
//! `domain` (access, permissions, roles, sessions, passwords, limits,
//! tokens, rosters, emails), never a feature; of the kernel, those shared
//! modules import only [`error`]. Each module here imports its siblings
//! directly; this file declares them and holds nothing they use.

pub mod context;
pub mod error;
pub mod events;
pub mod expiry;
pub mod grants;
pub mod linked;
pub mod mailing;
pub mod membership;
pub mod newcomers;
pub mod organization;
pub mod second_factor;
pub mod signin;
