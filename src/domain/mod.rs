//! The rules of collabd. Each public function opens one transaction on the
//! store, checks the caller against `roles`, applies its rule, writes the audit
//! event and any outbox email in that same transaction, and returns a typed
//! result or a [`DomainError`]. Nothing here knows HTTP.

pub mod access;
pub mod accounts;
pub mod apikeys;
pub mod audit;
pub mod emails;
pub mod expiry;
pub mod idempotency;
pub mod invites;
pub mod limits;
pub mod links;
pub mod logins;
pub mod members;
pub mod newcomers;
pub mod organizations;
pub mod ownership;
pub mod paging;
pub mod passwords;
pub mod permissions;
pub mod projects;
pub mod retention;
pub mod roles;
pub mod rosters;
pub mod sessions;
pub mod tokens;
pub mod twofactor;
pub mod verified_domains;
pub mod webhooks;

use std::collections::BTreeMap;

use crate::store::{classify, StoreError};

/// Why a 409 happened; clients branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictReason {
    AlreadyMember,
    InvitePending,
    LastOwner,
    OrganizationLimit,
    EmailTaken,
    RequestInProgress,
    AlreadyVerified,
    TwoFactorEnabled,
    TwoFactorNotStarted,
    DomainTaken,
}

impl ConflictReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictReason::AlreadyMember => "already_member",
            ConflictReason::InvitePending => "invite_pending",
            ConflictReason::LastOwner => "last_owner",
            ConflictReason::OrganizationLimit => "organization_limit",
            ConflictReason::EmailTaken => "email_taken",
            ConflictReason::RequestInProgress => "request_in_progress",
            ConflictReason::AlreadyVerified => "already_verified",
            ConflictReason::TwoFactorEnabled => "twofactor_enabled",
            ConflictReason::TwoFactorNotStarted => "twofactor_not_started",
            ConflictReason::DomainTaken => "domain_taken",
        }
    }
}

/// Why a 410 happened: the state the invite ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoneReason {
    Expired,
    Revoked,
    Declined,
    Accepted,
    Used,
}

impl GoneReason {
    pub fn as_str(self) -> &'static str {
        match self {
            GoneReason::Expired => "expired",
            GoneReason::Revoked => "revoked",
            GoneReason::Declined => "declined",
            GoneReason::Accepted => "accepted",
            GoneReason::Used => "used",
        }
    }
}

/// Everything a domain function can refuse with.
/// Why a call that hands out a session wants a second factor (API.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpReason {
    Required,
    Invalid,
}

impl OtpReason {
    pub fn as_str(self) -> &'static str {
        match self {
            OtpReason::Required => "otp_required",
            OtpReason::Invalid => "otp_invalid",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Values that are well-formed but not acceptable, by parameter name.
    #[error("invalid values")]
    Invalid(BTreeMap<String, Vec<String>>),
    #[error("{0}")]
    Unauthenticated(String),
    /// 401 with a reason: the account has two-factor on.
    #[error("{message}")]
    SecondFactor { reason: OtpReason, message: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict {
        reason: ConflictReason,
        message: String,
    },
    #[error("{message}")]
    Gone { reason: GoneReason, message: String },
    #[error("too many attempts")]
    RateLimited { retry_after_secs: u64 },
    /// Too much of one kind of work at once; nothing was done.
    #[error("{0}")]
    Busy(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl DomainError {
    /// One invalid parameter.
    pub fn invalid(field: &str, message: impl Into<String>) -> DomainError {
        let mut fields = BTreeMap::new();
        fields.insert(field.to_string(), vec![message.into()]);
        DomainError::Invalid(fields)
    }

    pub fn conflict(reason: ConflictReason, message: impl Into<String>) -> DomainError {
        DomainError::Conflict {
            reason,
            message: message.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> DomainError {
        DomainError::Forbidden(message.into())
    }

    pub fn not_found(message: impl Into<String>) -> DomainError {
        DomainError::NotFound(message.into())
    }
}

impl crate::store::Unavailability for DomainError {
    fn is_unavailable(&self) -> bool {
        matches!(self, DomainError::Store(StoreError::Unavailable(_)))
    }
}

impl From<diesel::result::Error> for DomainError {
    fn from(e: diesel::result::Error) -> Self {
        DomainError::Store(classify(e))
    }
}

pub type DomainResult<T> = Result<T, DomainError>;

pub use crate::clock::{new_id, now_ms, rfc3339};

pub use emails::normalize_email;

/// The most characters a name (of a project, an organization, a person, a
/// key) may have once trimmed.
pub const MAX_NAME_CHARS: usize = 200;

pub const MS_PER_DAY: i64 = 24 * 60 * 60 * 1000;
pub const MS_PER_HOUR: i64 = 60 * 60 * 1000;

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
}

/// What every domain function may need: the store, the session keys, the
/// policy and the login throttle. One per process, shared by all workers.
pub struct Ctx {
    pub store: crate::store::Store,
    pub keys: sessions::SessionKeys,
    /// Seals what queued mail must read back (links and bodies).
    pub outbox_sealer: crate::secrets::Sealer,
    /// Seals the answers kept for idempotency keys (a login's holds a session).
    pub answer_sealer: crate::secrets::Sealer,
    pub totp_sealer: crate::secrets::Sealer,
    /// Seals webhook signing secrets.
    pub webhook_sealer: crate::secrets::Sealer,
    pub policy: Policy,
    /// Rate limits per client address and per organization.
    pub limits: limits::Limits,
    /// Bounds argon2id work (hashes and verifications) across the process.
    pub passwords: passwords::PasswordHashing,
    /// Collaborator pages rendered at their organization's current version.
    pub rosters: rosters::RosterCache,
    /// Woken after a transaction queued mail, so the sender goes at once.
    pub mail_wakeup: std::sync::Arc<tokio::sync::Notify>,
}

impl Ctx {
    /// Tells the mail sender that committed mail is waiting.
    pub fn mail_queued(&self) {
        self.mail_wakeup.notify_one();
    }
}
