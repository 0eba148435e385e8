//! What every domain function is given: the store, the keys and sealers,
//! the server's policy and the process-wide limits and caches ([`Ctx`]).

use crate::domain::effective::CheckMemory;
use crate::domain::limits::Limits;
use crate::domain::passwords::PasswordHashing;
use crate::domain::rosters::RosterCache;
use crate::domain::sessions::SessionKeys;
use crate::issuers::Issuers;
use crate::secrets::Sealer;
use crate::store::Store;

/// The most characters a name (of a project, an organization, a person, a
/// key) may have once trimmed.
pub const MAX_NAME_CHARS: usize = 200;

/// Server-wide rules taken from the configuration.
#[derive(Debug, Clone)]
pub struct Policy {
    pub invite_ttl_days: u32,
    pub max_orgs_per_user: u32,
    pub session_ttl_hours: u32,
    pub public_url: String,
    pub confirm_ttl_hours: u32,
    pub reset_ttl_minutes: u32,
    pub login_link_ttl_minutes: u32,
    /// Webhooks may target loopback and private addresses.
    pub webhook_allow_private: bool,
    /// The template of every emailed link: `{kind}` and `{token}` in it
    /// (`COLLABD_LINK_URL`, API.md §13).
    pub link_url: String,
}

/// What an emailed link is for: its `{kind}` in `COLLABD_LINK_URL`, and the
/// path of collabd's own page for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Invite,
    Confirm,
    Reset,
    Signin,
    Domain,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Invite => "invite",
            LinkKind::Confirm => "confirm",
            LinkKind::Reset => "reset",
            LinkKind::Signin => "signin",
            LinkKind::Domain => "domain",
        }
    }
}

impl Policy {
    /// The emailed link of `kind` for `token`, in the provider's form.
    pub fn link(&self, kind: LinkKind, token: &str) -> String {
        self.link_url
            .replace("{kind}", kind.as_str())
            .replace("{token}", token)
    }
}

/// What every domain function may need: the store, the session keys, the
/// policy and the login throttle. One per process, shared by all workers.
pub struct Ctx {
    pub store: Store,
    pub keys: SessionKeys,
    /// Seals what queued mail must read back (links and bodies).
    pub outbox_sealer: Sealer,
    /// Seals the answers kept for idempotency keys (a login's holds a session).
    pub answer_sealer: Sealer,
    pub totp_sealer: Sealer,
    /// Seals webhook signing secrets.
    pub webhook_sealer: Sealer,
    /// Seals SSO client secrets and the PKCE verifiers of sign-ins begun.
    pub sso_sealer: Sealer,
    pub policy: Policy,
    /// Rate limits, counted in the database for every process.
    pub limits: Limits,
    /// Bounds argon2id work (hashes and verifications) across the process.
    pub passwords: PasswordHashing,
    /// Collaborator pages rendered at their organization's current version.
    pub rosters: RosterCache,
    /// What the permission checks read, kept at the roster version it was read at.
    pub checks: CheckMemory,
    /// The OpenID issuers tokens are taken from (API.md §9), their keys kept.
    pub issuers: Issuers,
    /// The templates and messages of emails, the product's name and the
    /// default language (API.md §13).
    pub texts: crate::texts::Texts,
}
