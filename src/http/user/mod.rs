//! The `user/*` endpoints, by topic: signing up, in and out
//! (`sessions.rs`); getting back into an account by an emailed link
//! (`recovery.rs`); the caller's own account, its second factor and its
//! closing (`profile.rs`); API keys (`api_keys.rs`); the caller's
//! organizations and the invites waiting for it (`organizations.rs`).

mod api_keys;
mod organizations;
mod profile;
mod recovery;
mod sessions;

use super::table::Api;

pub fn register(api: &mut Api<'_>) {
    sessions::register(api);
    profile::register(api);
    organizations::register(api);
    api_keys::register(api);
    recovery::register(api);
}
