//! Row structs: one per table, as Diesel reads and writes them.

use diesel::prelude::*;

use super::kinds::{
    AuditAction, DeliveryState, DomainState, InviteState, LinkPurpose, MailState, Permission, Role,
    TokenPurpose,
};
use super::schema::*;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub email_verified: bool,
    pub created_at: i64,
    /// An address asked for with `user/edit`, until confirmed.
    pub pending_email: Option<String>,
    /// The TOTP seed, sealed.
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub totp_last_step: Option<i64>,
    /// The language of the account's emails and pages (API.md §13).
    pub language: Option<String>,
}

impl UserRow {
    /// A new account's row: no pending address, no second factor.
    pub fn new(
        id: String,
        email: String,
        name: String,
        password_hash: Option<String>,
        email_verified: bool,
        created_at: i64,
    ) -> UserRow {
        UserRow {
            id,
            email,
            name,
            password_hash,
            email_verified,
            created_at,
            pending_email: None,
            totp_secret: None,
            totp_enabled: false,
            totp_last_step: None,
            language: None,
        }
    }
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// How it was made: `password`, `link`, `invite` or `sso`.
    pub method: String,
    /// The organization whose SSO made it (`method` `sso`), while it exists.
    pub sso_organization_id: Option<String>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = organizations)]
pub struct OrganizationRow {
    pub id: String,
    pub name: String,
    pub invite_ttl_days: Option<i32>,
    pub created_at: i64,
    /// The language of mail to people without an account (API.md §13).
    pub language: Option<String>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub user_id: String,
    pub organization_id: Option<String>,
    pub name: String,
    pub secret_hash: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// The organization whose SSO made the session that made the key.
    pub sso_organization_id: Option<String>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = memberships)]
pub struct MembershipRow {
    pub id: String,
    pub organization_id: String,
    pub user_id: String,
    pub role: Role,
    pub can_create_projects: bool,
    pub created_at: i64,
    /// When the membership ends; `None` for a lasting one.
    pub expires_at: Option<i64>,
    /// The custom role held (then `role` is `collaborator`); `None` for a
    /// system role.
    pub role_id: Option<String>,
    /// When SCIM suspended it (`active: false`); `None` while in force.
    pub suspended_at: Option<i64>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = projects)]
pub struct ProjectRow {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = project_permissions)]
pub struct ProjectPermissionRow {
    pub organization_id: String,
    pub membership_id: String,
    pub project_id: String,
    pub permission: Permission,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = invites)]
pub struct InviteRow {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub role: Role,
    pub can_create_projects: bool,
    pub token_hash: String,
    pub state: InviteState,
    /// The sender's account; `None` once it has closed, when the
    /// `inviter_*` fields keep who they were.
    pub invited_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    /// When the membership this invite makes ends; `None` for a lasting one.
    pub membership_expires_at: Option<i64>,
    pub inviter_name: Option<String>,
    pub inviter_email: Option<String>,
    pub inviter_confirmed: Option<bool>,
    /// The custom role offered (then `role` is `collaborator`).
    pub role_id: Option<String>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = invite_projects)]
pub struct InviteProjectRow {
    pub organization_id: String,
    pub invite_id: String,
    pub project_id: String,
    pub permission: Permission,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = email_confirmations)]
pub struct EmailConfirmationRow {
    pub id: String,
    pub user_id: String,
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// The new address of a change; `None` confirms the account's own.
    pub new_email: Option<String>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = recovery_codes)]
pub struct RecoveryCodeRow {
    pub id: String,
    pub user_id: String,
    pub code_hash: String,
    pub used_at: Option<i64>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = account_tokens)]
pub struct AccountTokenRow {
    pub id: String,
    pub user_id: String,
    pub purpose: TokenPurpose,
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub link: Option<String>,
    pub state: MailState,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub claimed_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    /// The delivery round that holds the claim.
    pub claim: Option<String>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = audit_events)]
pub struct AuditEventRow {
    pub id: String,
    pub organization_id: String,
    pub actor_user_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: AuditAction,
    pub target: String,
    pub details: String,
    pub created_at: i64,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = webhooks)]
pub struct WebhookRow {
    pub id: String,
    pub organization_id: String,
    pub url: String,
    /// A JSON list of audit actions, or `["*"]`.
    pub events: String,
    pub description: Option<String>,
    /// The signing secret, sealed.
    pub secret: String,
    pub created_at: i64,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: String,
    pub organization_id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: AuditAction,
    /// The body sent on every try.
    pub payload: String,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub claimed_until: Option<i64>,
    /// The delivery round that holds the claim.
    pub claim: Option<String>,
    pub last_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = domains)]
pub struct DomainRow {
    pub id: String,
    pub organization_id: String,
    pub domain: String,
    pub role: Role,
    pub state: DomainState,
    pub verification_email: String,
    pub token_hash: String,
    pub token_expires_at: i64,
    pub created_at: i64,
    pub verified_at: Option<i64>,
    /// The custom role given (then `role` is `collaborator`).
    pub role_id: Option<String>,
}

/// An organization's connection to its company's OpenID provider.
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = sso_connections)]
pub struct SsoConnectionRow {
    pub organization_id: String,
    pub issuer: String,
    pub client_id: String,
    /// Sealed with the server's key.
    pub client_secret_sealed: String,
    pub role: Role,
    /// The custom role given (then `role` is `collaborator`).
    pub role_id: Option<String>,
    /// Since when the organization enforces its SSO; `None`: it does not.
    pub enforced_at: Option<i64>,
    pub created_at: i64,
}

/// An SSO sign-in begun: its state's hash, its nonce, its sealed PKCE
/// verifier.
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = sso_flows)]
pub struct SsoFlowRow {
    pub organization_id: String,
    pub state_hash: String,
    pub nonce: String,
    pub verifier_sealed: String,
    /// The hash of the cookie of the browser that began it.
    pub browser_hash: String,
    pub created_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = departures)]
pub struct DepartureRow {
    pub organization_id: String,
    pub email: String,
    pub user_id: String,
    pub departed_at: i64,
}

/// An emailed link's token, found by its hash across organizations, and the
/// organization's row it opens (a reference table: docs/scaling.md).
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = link_tokens)]
pub struct LinkTokenRow {
    pub token_hash: String,
    pub purpose: LinkPurpose,
    pub organization_id: String,
    /// The invite's or the domain claim's id.
    pub target_id: String,
    /// When `invite/resend` replaced it; `None` while it is the current one.
    pub retired_at: Option<i64>,
}

/// A custom role of an organization (API.md §10).
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = roles)]
pub struct RoleRow {
    pub organization_id: String,
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The permissions' names, space-separated, in catalogue order.
    pub permissions: String,
    pub created_at: i64,
    /// When `customer/deleterole` deleted it; `None` while it is in use.
    pub deleted_at: Option<i64>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = teams)]
pub struct TeamRow {
    pub organization_id: String,
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// The system role the team gives its members; `None` for none or a
    /// custom role.
    pub role: Option<Role>,
    pub created_at: i64,
    /// The custom role the team gives its members instead (migration
    /// 000017); `None` for a system role or none.
    pub role_id: Option<String>,
    /// The directory's id for it, when SCIM made or named it.
    pub external_id: Option<String>,
    /// When it last changed (its SCIM version); `None` since it was made.
    pub updated_at: Option<i64>,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = team_members)]
pub struct TeamMemberRow {
    pub organization_id: String,
    pub team_id: String,
    pub membership_id: String,
    pub created_at: i64,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = team_project_permissions)]
pub struct TeamGrantRow {
    pub organization_id: String,
    pub team_id: String,
    pub project_id: String,
    pub permission: Permission,
}

/// A service key: the provider's services call the permission checks with
/// it, for any organization (API.md §10). Only its hash is kept.
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = service_keys)]
pub struct ServiceKeyRow {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The directory's view of a member (SCIM, API.md §11), as last written.
#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = scim_users)]
pub struct ScimUserRow {
    pub organization_id: String,
    pub membership_id: String,
    pub user_name: String,
    /// `user_name` lower-cased: unique in the organization.
    pub user_name_key: String,
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    /// The `emails` array as written, JSON.
    pub emails: String,
    /// The primary (else work, else first) address, lower-cased.
    pub email_key: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}
