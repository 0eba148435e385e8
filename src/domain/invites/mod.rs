//! The invitation lifecycle of API.md §4:
//! `pending` → `accepted` | `declined` | `revoked` | `expired`.
//!
//! Tokens are 256-bit secrets sent only by email; collabd stores their
//! SHA-256. Every transition is one conditional UPDATE on a pending,
//! unexpired row, so of many concurrent accepts exactly one succeeds.
//!
//! The submodules import each other directly; this file only names what
//! the layers above use.

mod accept;
mod lifecycle;
mod reads;
mod states;
mod values;

pub use crate::domain::kernel::newcomers::NewcomerDetails;
pub use crate::store::kinds::InviteState;
pub use accept::{accept, decline};
pub use lifecycle::{create, may_invite, resend, revoke};
pub use reads::{details, for_user, list, page_details};
pub use values::{Accepted, Invite, InviteRef, Inviter, NewInvite};
