//! The `invite/*` endpoints: the invitation lifecycle of API.md §4.

use crate::domain::permissions::{Need, Permission};
use actix_web::web::Data;
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::answers::*;
use super::auth::{MaybeSignedIn, SignedIn};
use super::client_address::ClientAddress;
use super::error::ApiError;
use super::grants::{grant_requests, ProjectPermissionParam};
use super::params::{
    judge_json, text, valid_email, valid_invite_state, valid_name, valid_otp, valid_role,
    valid_token, whole_number, Params, RoleRef,
};
use super::{
    endpoint::Endpoint, endpoint::Operation, route::schema_ref, route::Access, route::Methods,
    route::Refusal, table::Api, work::read, work::run, work::run_hashing,
};
use crate::domain::invites::{self, InviteRef, InviteState, NewInvite, NewcomerDetails};
use crate::domain::paging::PageRequest;
use crate::domain::roles::Role;
use crate::domain::Ctx;

pub fn register(api: &mut Api<'_>) {
    api.add(&CREATE, create);
    api.add(&CREATE_BULK, create_bulk);
    api.add(&LIST, list);
    api.add(&DETAILS, details);
    api.add(&ACCEPT, accept);
    api.add(&DECLINE, decline);
    api.add(&REVOKE, revoke);
    api.add(&RESEND, resend);
}

/// Parameters of `invite/create`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInviteParams {
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    /// The address to invite; trimmed and compared case-insensitively.
    #[validate(custom(function = "valid_email"))]
    #[schema(value_type = text::Email, inline)]
    pub email: String,
    /// `collaborator` when left out.
    #[validate(custom(function = "valid_role"))]
    #[schema(value_type = Option<RoleRef>)]
    pub role: Option<String>,
    /// `false` when left out.
    pub cancreateprojects: Option<bool>,
    /// Grants the invitee gets on accepting; none when left out. JSON only.
    #[validate(nested)]
    pub projectpermissions: Option<Vec<ProjectPermissionParam>>,
    /// When the membership the invite makes ends: RFC 3339, in the future,
    /// at most 5 years ahead; not for owners. Lasting when left out.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub membershipexpiresat: Option<String>,
}

const CREATE: Endpoint<InviteAnswer> = Endpoint::new(Operation {
    path: "/invite/create",
    operation_id: "inviteCreate",
    tag: "invite",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::MembersInvite)),
    summary: "Invite someone",
    description: "Makes a pending invite for one address and queues the invitation email, \
        whose link `{public_url}/invite/{token}` carries a single-use token (only its hash is \
        stored; the token is never in an API answer). The invite expires after the \
        organization's `invitettldays`. Owners invite with any role, admins with admin and \
        below, technical users with technical and below; collaborators may not invite (403). \
        Inviting a member answers 409 `already_member`; an address with a pending invite, 409 \
        `invite_pending`. Below admin, one grants only project permissions one holds (at the \
        same level or lower) and `cancreateprojects` only when one has it (403 otherwise). A \
        project the organization does not have answers 404; a project named twice gets the \
        stronger of its permissions. A \
        mail outage never fails the call: mail waits in the outbox. Past \
        `COLLABD_INVITES_PER_HOUR` invites created or resent in one organization it answers 429.",
    params: Some(schema_ref::<CreateInviteParams>),
    refusals: &[
        Refusal::Forbidden,
        Refusal::NotFound,
        Refusal::Conflict,
        Refusal::RateLimited,
    ],
});

/// An invite as `invite/create` and each `invite/createbulk` row ask for
/// it, with the defaults of what was left out: role `collaborator`, no
/// project creation, no grants, a lasting membership.
fn new_invite(
    email: String,
    role: Option<&str>,
    can_create_projects: Option<bool>,
    grants: Option<&[ProjectPermissionParam]>,
    membership_expires_at: Option<String>,
) -> NewInvite {
    NewInvite {
        email,
        role: role.unwrap_or(Role::Collaborator.as_str()).to_string(),
        can_create_projects: can_create_projects.unwrap_or(false),
        grants: grants.map(grant_requests).unwrap_or_default(),
        membership_expires_at,
    }
}

async fn create(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<CreateInviteParams>,
) -> Result<InviteAnswer, ApiError> {
    let invite = run(ctx, move |ctx| {
        let new = new_invite(
            p.email,
            p.role.as_deref(),
            p.cancreateprojects,
            p.projectpermissions.as_deref(),
            p.membershipexpiresat,
        );
        invites::create(ctx, &caller, p.organizationid.as_deref(), new)
    })
    .await?;
    Ok(InviteAnswer { invite })
}

/// One row of `invite/createbulk`: the parameters of `invite/create`
/// without `organizationid`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkInviteRow {
    /// The address to invite; trimmed and compared case-insensitively.
    #[validate(custom(function = "valid_email"))]
    #[schema(value_type = text::Email, inline)]
    pub email: String,
    /// `collaborator` when left out.
    #[validate(custom(function = "valid_role"))]
    #[schema(value_type = Option<RoleRef>)]
    pub role: Option<String>,
    /// `false` when left out.
    pub cancreateprojects: Option<bool>,
    /// Grants the invitee gets on accepting; none when left out.
    #[validate(nested)]
    pub projectpermissions: Option<Vec<ProjectPermissionParam>>,
    /// As in `invite/create`.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub membershipexpiresat: Option<String>,
}

/// Parameters of `invite/createbulk`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBulkParams {
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    /// 1 to 100 rows, each judged as `invite/create` would judge it. JSON only.
    #[validate(length(min = 1, max = 100, message = "must hold 1 to 100 rows"))]
    #[schema(value_type = Vec<BulkInviteRow>, min_items = 1, max_items = 100)]
    pub invites: Vec<serde_json::Value>,
}

const CREATE_BULK: Endpoint<BulkAnswer> = Endpoint::new(Operation {
    path: "/invite/createbulk",
    operation_id: "inviteCreatebulk",
    tag: "invite",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::MembersInvite)),
    summary: "Invite many addresses at once",
    description: "Invites up to 100 addresses in one call. Each row is judged and made on its \
        own, exactly as `invite/create` would (its own transaction, rules and email); the answer \
        is 200 with `results`, one per row in the order given: `{email, code, invite}` for a row \
        that made an invite (`code` 200), or `{email, code, error}` with the status and `error` \
        (`type`, `reason`, `fields`) `invite/create` would have answered. A row repeating an \
        earlier row's address gets 409 `invite_pending`; each row counts toward \
        `COLLABD_INVITES_PER_HOUR`. Only a malformed call as a whole answers an error status: \
        `invites` not a list (400), empty or over 100 rows (422), or a caller who may not invite \
        at all (403; a non-member 404).",
    params: Some(schema_ref::<CreateBulkParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn create_bulk(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<CreateBulkParams>,
) -> Result<BulkAnswer, ApiError> {
    let organizationid = p.organizationid;
    let rows = p.invites;
    let results = run(ctx, move |ctx| {
        let organization = invites::may_invite(ctx, &caller, organizationid.as_deref())?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let email = row
                    .get("email")
                    .and_then(|e| e.as_str())
                    .unwrap_or_default()
                    .to_string();
                let made = judge_json::<BulkInviteRow>(row).and_then(|row| {
                    let new = new_invite(
                        row.email,
                        row.role.as_deref(),
                        row.cancreateprojects,
                        row.projectpermissions.as_deref(),
                        row.membershipexpiresat,
                    );
                    invites::create(ctx, &caller, Some(&organization), new).map_err(ApiError::from)
                });
                match made {
                    Ok(invite) => BulkResult::Made {
                        email,
                        code: 200,
                        invite: Box::new(invite),
                    },
                    Err(e) => BulkResult::Refused {
                        email,
                        code: actix_web::ResponseError::status_code(&e).as_u16(),
                        error: e.to_row_error(),
                    },
                }
            })
            .collect())
    })
    .await?;
    Ok(BulkAnswer { results })
}

/// Parameters of `invite/list`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInvitesParams {
    #[schema(value_type = text::Id, inline, required = true)]
    pub organizationid: Option<String>,
    /// Only invites in this state; a pending invite past its time counts as `expired`.
    #[validate(custom(function = "valid_invite_state"))]
    #[schema(value_type = Option<InviteState>)]
    pub state: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    #[validate(range(min = 1, max = 1000, message = "must be 1 to 1000"))]
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "whole_number")]
    pub limit: Option<u32>,
    /// `nextcursor` of the previous page.
    #[schema(value_type = Option<text::Cursor>, inline)]
    pub cursor: Option<String>,
}

const LIST: Endpoint<InvitesPage> = Endpoint::new(Operation {
    path: "/invite/list",
    operation_id: "inviteList",
    tag: "invite",
    methods: Methods::GetPost,
    access: Access::Member(Need::Permission(Permission::MembersRead)),
    summary: "The organization's invites",
    description: "Every invite of the organization, oldest first, optionally in one `state`, a \
        page at a time (`limit`, `cursor`; `nextcursor` is null on the last page).",
    params: Some(schema_ref::<ListInvitesParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound],
});

async fn list(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<ListInvitesParams>,
) -> Result<InvitesPage, ApiError> {
    let (list, next) = read(ctx, move |ctx| {
        let state = p.state.as_deref().and_then(InviteState::parse);
        let page = PageRequest::parse(p.limit, p.cursor.as_deref())?;
        invites::list(ctx, &caller, p.organizationid.as_deref(), state, &page)
    })
    .await?;
    Ok(InvitesPage {
        invites: list,
        nextcursor: next,
    })
}

/// A token from an email.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenParams {
    #[validate(custom(function = "valid_token"))]
    #[schema(value_type = text::Token, inline)]
    pub token: String,
}

const DETAILS: Endpoint<InviteAnswer> = Endpoint::new(Operation {
    path: "/invite/details",
    operation_id: "inviteDetails",
    tag: "invite",
    methods: Methods::GetPost,
    access: Access::Public,
    summary: "The invite behind an emailed token",
    description: "What the invitation page shows: organization, role, inviter and expiry. An \
        unknown token answers 404; an invite that has ended answers 410 with `error.reason` \
        `expired`, `revoked`, `declined` or `accepted` (a token replaced by `invite/resend` \
        answers `revoked`). Past `COLLABD_TOKEN_ATTEMPTS_PER_MINUTE` unknown tokens from one \
        client address, token calls from it answer 429 until the minute is over.",
    params: Some(schema_ref::<TokenParams>),
    refusals: &[Refusal::NotFound, Refusal::Gone, Refusal::RateLimited],
});

async fn details(
    ctx: Data<Ctx>,
    ClientAddress(client): ClientAddress,
    Params(p): Params<TokenParams>,
) -> Result<InviteAnswer, ApiError> {
    let invite = run(ctx, move |ctx| {
        ctx.limits
            .token_call(client, || invites::details(ctx, &p.token))
    })
    .await?;
    Ok(InviteAnswer { invite })
}

/// Parameters of `invite/accept`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptParams {
    /// With a session whose verified email is the invite's.
    #[schema(value_type = Option<text::Id>, inline)]
    pub inviteid: Option<String>,
    /// From the email link; with or without a session.
    #[validate(custom(function = "valid_token"))]
    #[schema(value_type = Option<text::Token>, inline)]
    pub token: Option<String>,
    /// For an account made on the spot: its name (the address's local part when left out).
    #[validate(custom(function = "valid_name"))]
    #[schema(value_type = Option<text::Name>, inline)]
    pub name: Option<String>,
    /// For an account made on the spot: its password, 8 to 128 characters (none when left out).
    #[validate(length(min = 8, max = 128, message = "must be 8 to 128 characters"))]
    #[schema(value_type = Option<text::NewPassword>, inline)]
    pub password: Option<String>,
    /// By token without a session, for an existing account with two-factor on.
    #[validate(custom(function = "valid_otp"))]
    #[schema(value_type = Option<text::Otp>, inline)]
    pub otp: Option<String>,
}

const ACCEPT: Endpoint<AcceptAnswer> = Endpoint::new(Operation {
    path: "/invite/accept",
    operation_id: "inviteAccept",
    tag: "invite",
    methods: Methods::Post,
    access: Access::Optional,
    summary: "Accept an invite",
    description: "Give either `inviteid` (with a session whose verified email is the invite's; \
        any other answers 404, exactly as an unknown id) or the emailed `token` (with or without \
        a session; a session of another user answers 403). By token, an existing account with the invite's address joins; without \
        one, an account is made on the spot with a verified email (`name` and `password` are \
        optional and used only then) and its owner is told by email. The membership gets the \
        invite's role, project permissions and `cancreateprojects` in one transaction. Called \
        without a session, the answer carries `login`, a new session for the account that \
        joined. An account whose address was never confirmed is taken over by the token's \
        holder: its old password, sessions and API keys end, and `password` (if given) becomes \
        its password. By token without a session, an existing account with two-factor on also \
        needs `otp`: without it 401 `otp_required`, wrong 401 `otp_invalid` (counted toward \
        `COLLABD_LOGIN_ATTEMPTS_PER_MINUTE`), and the invite stays pending. A token works once; \
        of concurrent accepts exactly one succeeds. An ended \
        invite answers 410 with `error.reason` `expired`, `revoked`, `declined` or `accepted`; \
        an address already a member, 409 `already_member`. An API key bound to another \
        organization answers 403.",
    params: Some(schema_ref::<AcceptParams>),
    refusals: &[
        Refusal::Unauthenticated,
        Refusal::Forbidden,
        Refusal::NotFound,
        Refusal::Conflict,
        Refusal::Gone,
        Refusal::RateLimited,
    ],
});

async fn accept(
    ctx: Data<Ctx>,
    MaybeSignedIn(caller): MaybeSignedIn,
    ClientAddress(client): ClientAddress,
    Params(p): Params<AcceptParams>,
) -> Result<AcceptAnswer, ApiError> {
    let accepted = run_hashing(ctx, move |ctx| {
        let by = InviteRef::from_params(p.inviteid.as_deref(), p.token.as_deref())?;
        let newcomer = NewcomerDetails {
            name: p.name.as_deref(),
            password: p.password.as_deref(),
        };
        let accept = || invites::accept(ctx, caller.as_ref(), by, newcomer, p.otp.as_deref());
        match p.token {
            Some(_) => ctx.limits.token_call(client, accept),
            None => accept(),
        }
    })
    .await?;
    Ok(AcceptAnswer {
        collaborator: accepted.collaborator,
        organization: accepted.organization,
        login: accepted.login,
    })
}

/// Parameters of `invite/decline`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclineParams {
    /// With a session whose verified email is the invite's.
    #[schema(value_type = Option<text::Id>, inline)]
    pub inviteid: Option<String>,
    /// From the email link.
    #[validate(custom(function = "valid_token"))]
    #[schema(value_type = Option<text::Token>, inline)]
    pub token: Option<String>,
}

const DECLINE: Endpoint<Nothing> = Endpoint::new(Operation {
    path: "/invite/decline",
    operation_id: "inviteDecline",
    tag: "invite",
    methods: Methods::Post,
    access: Access::Optional,
    summary: "Decline an invite",
    description: "Ends a pending invite as `declined`. Give either `inviteid` (with a session \
        whose verified email is the invite's; any other answers 404, exactly as an unknown id) \
        or the emailed `token`. An ended invite answers 410.",
    params: Some(schema_ref::<DeclineParams>),
    refusals: &[
        Refusal::Forbidden,
        Refusal::NotFound,
        Refusal::Gone,
        Refusal::RateLimited,
    ],
});

async fn decline(
    ctx: Data<Ctx>,
    MaybeSignedIn(caller): MaybeSignedIn,
    ClientAddress(client): ClientAddress,
    Params(p): Params<DeclineParams>,
) -> Result<Nothing, ApiError> {
    run(ctx, move |ctx| {
        let by = InviteRef::from_params(p.inviteid.as_deref(), p.token.as_deref())?;
        let decline = || invites::decline(ctx, caller.as_ref(), by);
        match p.token {
            Some(_) => ctx.limits.token_call(client, decline),
            None => decline(),
        }
    })
    .await?;
    Ok(Nothing {})
}

/// Names an invite.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteIdParams {
    #[schema(value_type = text::Id, inline)]
    pub inviteid: String,
}

const REVOKE: Endpoint<InviteAnswer> = Endpoint::new(Operation {
    path: "/invite/revoke",
    operation_id: "inviteRevoke",
    tag: "invite",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::InvitesManage)),
    summary: "Revoke an invite",
    description: "Ends a pending invite from the organization's side; its token answers 410 \
        `revoked` from then on. Members without `invites:manage` may revoke the invites they \
        sent when they hold `members:invite` (technical users). An invite that already ended answers 410.",
    params: Some(schema_ref::<InviteIdParams>),
    refusals: &[Refusal::Forbidden, Refusal::NotFound, Refusal::Gone],
});

async fn revoke(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<InviteIdParams>,
) -> Result<InviteAnswer, ApiError> {
    let invite = run(ctx, move |ctx| invites::revoke(ctx, &caller, &p.inviteid)).await?;
    Ok(InviteAnswer { invite })
}

const RESEND: Endpoint<InviteAnswer> = Endpoint::new(Operation {
    path: "/invite/resend",
    operation_id: "inviteResend",
    tag: "invite",
    methods: Methods::Post,
    access: Access::Member(Need::Permission(Permission::InvitesManage)),
    summary: "Send an invite again",
    description: "Issues a new token (the old link answers 410 from then on), restarts the \
        invite's lifetime and queues the email again. Works on pending and expired invites; \
        accepted, declined and revoked ones answer 410, as does one whose \
        `membershipexpiresat` has passed (410 `expired`: create a new invite). Who may: as for \
        `invite/revoke`, and it is judged as a new invite by the resender: their role today must \
        allow inviting with the invite's role, project grants and `cancreateprojects` (403 \
        otherwise), whoever sent it first. It counts toward `COLLABD_INVITES_PER_HOUR` (429 past it).",
    params: Some(schema_ref::<InviteIdParams>),
    refusals: &[
        Refusal::Forbidden,
        Refusal::NotFound,
        Refusal::Conflict,
        Refusal::Gone,
        Refusal::RateLimited,
    ],
});

async fn resend(
    ctx: Data<Ctx>,
    SignedIn(caller): SignedIn,
    Params(p): Params<InviteIdParams>,
) -> Result<InviteAnswer, ApiError> {
    let invite = run(ctx, move |ctx| invites::resend(ctx, &caller, &p.inviteid)).await?;
    Ok(InviteAnswer { invite })
}
