//! What a domain function can refuse with ([`DomainError`]) and the reasons
//! clients branch on.

use std::collections::BTreeMap;

use crate::store::lookups::Row;
use crate::store::{classify, LookupError, StoreError, Unavailability};

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
    /// A custom role still held by a member, a pending invite, a domain, a
    /// team or an SSO connection.
    RoleInUse,
    /// A team's name another team of the organization has (SCIM's Groups;
    /// `customer/createteam` answers 422 on `name`).
    NameTaken,
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
            ConflictReason::RoleInUse => "role_in_use",
            ConflictReason::NameTaken => "name_taken",
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

/// Everything a domain function can refuse with.
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
    /// 403 `sso_required`: the organization accepts only sessions its SSO
    /// made from this member (API.md §9).
    #[error("{0}")]
    SsoRequired(String),
    #[error("{0}")]
    NotFound(String),
    /// 412: the resource is not at the version the caller named (SCIM's
    /// `If-Match`); nothing was done.
    #[error("{0}")]
    PreconditionFailed(String),
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

    /// True when a lock was not had in time (or the database gave the
    /// transaction up): nothing was done, and the same call may succeed.
    pub fn is_contended(&self) -> bool {
        matches!(self, DomainError::Store(StoreError::Contended(_)))
    }
}

impl Unavailability for DomainError {
    fn is_unavailable(&self) -> bool {
        matches!(self, DomainError::Store(StoreError::Unavailable(_)))
    }
}

impl From<diesel::result::Error> for DomainError {
    fn from(e: diesel::result::Error) -> Self {
        DomainError::Store(classify(e))
    }
}

/// What a missing row means to the rules: an account gone is a caller who no
/// longer exists (401), an organization gone is one not found (404).
impl From<LookupError> for DomainError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::Missing(Row::User) => {
                DomainError::Unauthenticated("the account no longer exists".into())
            }
            LookupError::Missing(Row::Organization) => {
                DomainError::not_found("organization not found")
            }
            LookupError::Store(e) => DomainError::Store(e),
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
