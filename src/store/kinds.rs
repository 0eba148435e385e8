//! The closed sets of words the database stores as text (each column has a
//! CHECK constraint with the same words): roles, permissions, invite and mail
//! states, audit actions. Rows hold these enums, never strings, so a typo is a
//! compile error and a word the code does not know is a read error.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

/// Defines a text enum: its words, `as_str`, `parse`, `ALL`, serde, the
/// OpenAPI enum and the Diesel mapping to `Text`.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                $name::parse(&text).ok_or_else(|| {
                    let words: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    serde::de::Error::custom(format!("must be one of {}", words.join(", ")))
                })
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<DB> ToSql<Text, DB> for $name
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB> FromSql<Text, DB> for $name
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                $name::parse(&text).ok_or_else(|| {
                    format!("{} {:?} is not a word collabd knows", stringify!($name), text).into()
                })
            }
        }
    };
}

text_enum! {
    /// A member's role, from most to least powerful.
    pub enum Role {
        Owner = "owner",
        Admin = "admin",
        Technical = "technical",
        Collaborator = "collaborator",
    }
}

text_enum! {
    /// A per-project permission.
    pub enum Permission {
        /// See the project and everything in it.
        Read = "read",
        /// Create, change and delete everything in the project.
        Full = "full",
    }
}

text_enum! {
    /// Where an invite is in its life.
    pub enum InviteState {
        Pending = "pending",
        Accepted = "accepted",
        Declined = "declined",
        Revoked = "revoked",
        Expired = "expired",
    }
}

text_enum! {
    /// What an account token (an emailed link) is for.
    pub enum TokenPurpose {
        /// `user/resetpassword`, from `/reset/{token}`.
        Reset = "reset",
        /// `user/loginbylink`, from `/signin/{token}`.
        Signin = "signin",
    }
}

text_enum! {
    /// Where a queued email is: waiting (or being retried), delivered, or given up.
    pub enum MailState {
        Pending = "pending",
        Sent = "sent",
        Dead = "dead",
    }
}

text_enum! {
    /// Where a webhook delivery is: waiting (or being retried), answered with
    /// a 2xx, or given up after the last attempt.
    pub enum DeliveryState {
        Pending = "pending",
        Delivered = "delivered",
        Failed = "failed",
    }
}

text_enum! {
    /// Whether a claimed domain's verification link was used.
    pub enum DomainState {
        Pending = "pending",
        Verified = "verified",
    }
}

text_enum! {
    /// What an emailed link opens, as `link_tokens` records it.
    pub enum LinkPurpose {
        Invite = "invite",
        Domain = "domain",
    }
}

text_enum! {
    /// What an audit event records (API.md §6).
    pub enum AuditAction {
        OrganizationCreated = "organization.created",
        OrganizationSettingsChanged = "organization.settings_changed",
        ProjectCreated = "project.created",
        ProjectRenamed = "project.renamed",
        ProjectDeleted = "project.deleted",
        InviteCreated = "invite.created",
        InviteResent = "invite.resent",
        InviteRevoked = "invite.revoked",
        InviteAccepted = "invite.accepted",
        InviteDeclined = "invite.declined",
        CollaboratorJoined = "collaborator.joined",
        CollaboratorEdited = "collaborator.edited",
        CollaboratorRemoved = "collaborator.removed",
        CollaboratorLeft = "collaborator.left",
        CollaboratorExpired = "collaborator.expired",
        WebhookCreated = "webhook.created",
        WebhookDeleted = "webhook.deleted",
        DomainAdded = "domain.added",
        DomainVerified = "domain.verified",
        DomainRemoved = "domain.removed",
        RoleCreated = "role.created",
        RoleEdited = "role.edited",
        RoleDeleted = "role.deleted",
        TeamCreated = "team.created",
        TeamEdited = "team.edited",
        TeamDeleted = "team.deleted",
        TeamMemberAdded = "team.member_added",
        TeamMemberRemoved = "team.member_removed",
        SsoConfigured = "sso.configured",
        SsoRemoved = "sso.removed",
        CollaboratorSuspended = "collaborator.suspended",
        CollaboratorReactivated = "collaborator.reactivated",
    }
}
