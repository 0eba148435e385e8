//! Organization sign-in through the company's OpenID Connect provider
//! (API.md §9). An owner connects the organization ([`set`], [`remove`];
//! admins may read it, [`details`]); a person signs in at
//! `/sso/{organizationid}`, which begins a flow ([`begin`]: state, nonce and
//! PKCE verifier kept in the database, so any process can finish it), and
//! the provider sends the browser back to `/sso/callback`, which takes the
//! flow once ([`take`]) and, after the HTTP edge has exchanged the code and
//! verified the ID token, finishes it ([`finish`]): the account linked or
//! found or made, a membership with the connection's role unless the person
//! departed, and a session the organization's enforcement accepts.
//!
//! The HTTP work (discovery, the code exchange, the keys) is
//! [`crate::issuers`]'s, done between these transactions, never inside one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::access::{self, Hold};
use super::kernel::events::{
    self, AfterCommit, By, CollaboratorJoined, SsoConfigured, SsoRemoved, Via,
};
use super::kernel::linked::{account_for, linked, verified_email, Vouches};
use super::kernel::membership::{self, NewMember};
use super::kernel::signin::{insert_session, login_for, new_session_row, Login, Made};
use super::outbound;
use super::permissions::Permission;
use super::retention::SSO_FLOW_TTL_MS;
use super::roles::{self, AssignedRole};
use super::sessions::{has_id_form, Caller};
use super::tokens::{hash_secret, new_secret};
use super::{now_ms, rfc3339, Ctx, DomainError, DomainResult, GoneReason};
use crate::issuers::{Discovery, IdClaims};
use crate::store::rows::{SsoConnectionRow, SsoFlowRow, UserRow};
use crate::store::schema::{sso_connections, sso_flows, verified_domains};
use crate::store::{execute, DbConn, Lookups};

/// What the client secrets are sealed for.
pub const SEALING_PURPOSE: &str = "collabd sso secrets v1";
/// The path the provider sends the browser back to.
pub const CALLBACK_PATH: &str = "/sso/callback";
/// The length of an organization's id, which leads a flow's state.
const ID_LENGTH: usize = 36;
/// The longest client id and client secret taken.
pub const MAX_CLIENT_TEXT: usize = 1024;

/// An organization's SSO connection as the API shows it (never its secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Sso {
    pub organizationid: String,
    /// The issuer, as its ID tokens' `iss` says it.
    pub issuer: String,
    pub clientid: String,
    /// What a newcomer joins as: a system role's name or a custom role's.
    pub role: String,
    /// The custom role's id; absent for a system role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roleid: Option<String>,
    /// True when the organization's members at its verified domains may
    /// act in it only with a session its SSO made.
    pub enforce: bool,
    #[schema(format = DateTime)]
    pub createdat: String,
    /// What to register at the provider as the client's redirect URI:
    /// `{public_url}/sso/callback`. People begin signing in at
    /// `{public_url}/sso/{organizationid}`.
    pub redirecturi: String,
}

/// The redirect URI of every flow: `{public_url}/sso/callback`.
pub fn redirect_uri(ctx: &Ctx) -> String {
    format!(
        "{}{CALLBACK_PATH}",
        ctx.policy.public_url.trim_end_matches('/')
    )
}

fn view(ctx: &Ctx, row: SsoConnectionRow, role: &AssignedRole) -> Sso {
    Sso {
        organizationid: row.organization_id,
        issuer: row.issuer,
        clientid: row.client_id,
        role: role.name().to_string(),
        roleid: role.role_id().map(str::to_string),
        enforce: row.enforced_at.is_some(),
        createdat: rfc3339(row.created_at),
        redirecturi: redirect_uri(ctx),
    }
}

/// An issuer as `customer/setsso` takes it: an http(s) URL by the outbound
/// address rule (API.md §6), without query or fragment, kept exactly as
/// given once trimmed (it must equal its tokens' `iss`). 422 naming
/// `issuer`. Blocks on the resolver: run it off the HTTP workers.
pub fn check_issuer(raw: &str, allow_private: bool) -> DomainResult<String> {
    let issuer = raw.trim();
    let url = outbound::check_url(issuer, allow_private, "issuer")?;
    if url.query().is_some() {
        return Err(DomainError::invalid("issuer", "must not have a query"));
    }
    // The client secret goes where the issuer's document says.
    if url.scheme() != "https" && !allow_private {
        return Err(DomainError::invalid(
            "issuer",
            "must be an https URL (http only with COLLABD_WEBHOOK_ALLOW_PRIVATE)",
        ));
    }
    Ok(issuer.to_string())
}

/// The gate of `customer/setsso`, passed before the issuer is fetched, so
/// that nobody else makes the server fetch anything.
pub fn authorize_set(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
) -> DomainResult<()> {
    ctx.store.read(|conn| {
        access::organization(
            conn,
            caller,
            organization_id,
            Permission::SsoManage,
            Hold::Nothing,
        )
        .map(drop)
    })
}

/// What `customer/setsso` asks for, its issuer checked and its discovery
/// document read.
pub struct NewSso<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    /// A system role's name (never owner), or a custom role's name or roleid.
    pub role: &'a str,
    pub enforce: bool,
}

/// Connects the organization to its company's provider, or replaces its
/// connection (keeping when it was first made); records `sso.configured`.
pub fn set(
    ctx: &Ctx,
    caller: &Caller,
    organization_id: Option<&str>,
    new: NewSso<'_>,
) -> DomainResult<Sso> {
    let sealed = ctx.sso_sealer.seal(new.client_secret);
    ctx.store.write(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Permission::SsoManage,
            Hold::Exclusive,
        )?;
        let organization_id = member.organization_id().to_string();
        let role = member.joining_role(conn, new.role)?;
        let before = connection_row(conn, &organization_id)?;
        let now = now_ms();
        let row = SsoConnectionRow {
            organization_id: organization_id.clone(),
            issuer: new.issuer.to_string(),
            client_id: new.client_id.to_string(),
            client_secret_sealed: sealed.clone(),
            role: role.system(),
            role_id: role.role_id().map(str::to_string),
            // Enforcing since it began: keys made before keep working.
            enforced_at: match new.enforce {
                true => before.as_ref().and_then(|b| b.enforced_at).or(Some(now)),
                false => None,
            },
            created_at: before.map_or(now, |b| b.created_at),
        };
        // Sign-ins under way were begun with what is replaced.
        disconnect(conn, &organization_id)?;
        execute(
            conn,
            diesel::insert_into(sso_connections::table).values(&row),
        )?;
        events::record(
            conn,
            &organization_id,
            By::Caller(caller),
            &organization_id,
            SsoConfigured {
                issuer: &row.issuer,
                clientid: &row.client_id,
                role: role.name(),
                enforce: row.enforced_at.is_some(),
            },
        )?;
        Ok(view(ctx, row, &role))
    })
}

fn connection_row(
    conn: &mut DbConn,
    organization_id: &str,
) -> DomainResult<Option<SsoConnectionRow>> {
    Ok(sso_connections::table
        .find(organization_id)
        .select(SsoConnectionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Deletes the organization's connection and ends its sign-ins under way.
fn disconnect(conn: &mut DbConn, organization_id: &str) -> DomainResult<()> {
    execute(
        conn,
        diesel::delete(sso_connections::table.find(organization_id)),
    )?;
    execute(
        conn,
        diesel::delete(sso_flows::table.filter(sso_flows::organization_id.eq(organization_id))),
    )?;
    Ok(())
}

fn not_connected() -> DomainError {
    DomainError::not_found("the organization has no SSO connection")
}

/// The organization's connection (`domains:read`: owners and admins).
pub fn details(ctx: &Ctx, caller: &Caller, organization_id: Option<&str>) -> DomainResult<Sso> {
    ctx.store.read(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Permission::DomainsRead,
            Hold::Nothing,
        )?;
        let row = connection_row(conn, member.organization_id())?.ok_or_else(not_connected)?;
        let role = roles::held(conn, &row.organization_id, row.role, row.role_id.as_deref())?;
        Ok(view(ctx, row, &role))
    })
}

/// Disconnects the organization (and ends its sign-ins under way); records
/// `sso.removed`. Sessions its SSO made stay, as ordinary sessions.
pub fn remove(ctx: &Ctx, caller: &Caller, organization_id: Option<&str>) -> DomainResult<()> {
    ctx.store.write(|conn| {
        let member = access::organization(
            conn,
            caller,
            organization_id,
            Permission::SsoManage,
            Hold::Exclusive,
        )?;
        let organization_id = member.organization_id().to_string();
        let row = connection_row(conn, &organization_id)?.ok_or_else(not_connected)?;
        disconnect(conn, &organization_id)?;
        events::record(
            conn,
            &organization_id,
            By::Caller(caller),
            &organization_id,
            SsoRemoved {
                issuer: &row.issuer,
                clientid: &row.client_id,
            },
        )
    })
}

/// The connection a sign-in at `/sso/{organizationid}` uses; 404 when the
/// organization has none (or does not exist: the same answer).
pub fn connection(ctx: &Ctx, organization_id: &str) -> DomainResult<SsoConnectionRow> {
    ctx.store
        .read(|conn| connection_row(conn, organization_id))?
        .ok_or_else(not_connected)
}

/// A flow begun: what the authorization request carries.
pub struct Begun {
    pub state: String,
    pub nonce: String,
    /// The PKCE S256 challenge of the verifier kept sealed.
    pub challenge: String,
}

/// Begins a sign-in with `organization_id`'s connection in the browser that
/// holds the cookie `browser` (only its hash is kept): a state (the
/// organization's id, then a secret; only its hash is kept), a nonce and a
/// PKCE verifier (kept sealed), written so any process can finish it.
pub fn begin(ctx: &Ctx, organization_id: &str, browser: &str) -> DomainResult<Begun> {
    let state = format!("{organization_id}{}", new_secret());
    let (nonce, verifier) = (new_secret(), new_secret());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let row = SsoFlowRow {
        state_hash: hash_secret(&state),
        organization_id: organization_id.to_string(),
        nonce: nonce.clone(),
        verifier_sealed: ctx.sso_sealer.seal(&verifier),
        browser_hash: hash_secret(browser),
        created_at: now_ms(),
        used_at: None,
    };
    ctx.store.write(|conn| {
        connection_row(conn, organization_id)?.ok_or_else(not_connected)?;
        execute(conn, diesel::insert_into(sso_flows::table).values(&row))?;
        Ok::<_, DomainError>(())
    })?;
    Ok(Begun {
        state,
        nonce,
        challenge,
    })
}

/// Where the browser goes to sign in at the provider: its authorization
/// endpoint with the code flow's parameters.
pub fn authorization_url(
    ctx: &Ctx,
    discovery: &Discovery,
    client_id: &str,
    begun: &Begun,
) -> DomainResult<String> {
    let endpoint = discovery.authorization_endpoint.as_deref().unwrap_or("");
    let mut url = url::Url::parse(endpoint).map_err(|e| {
        DomainError::Busy(format!(
            "the provider's authorization endpoint is not a URL: {e}"
        ))
    })?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", &redirect_uri(ctx))
        .append_pair("scope", "openid email profile")
        .append_pair("state", &begun.state)
        .append_pair("nonce", &begun.nonce)
        .append_pair("code_challenge", &begun.challenge)
        .append_pair("code_challenge_method", "S256");
    Ok(url.into())
}

/// A flow taken by its callback: what the code exchange and the ID token's
/// check need.
pub struct Taken {
    pub organization_id: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub nonce: String,
    pub verifier: String,
}

/// Takes the flow of `state` for its callback, once, in the browser that
/// began it (its cookie `browser`): an unknown state is 404, a used one 410
/// `used`, one begun over 10 minutes ago 410 `expired`, one begun in
/// another browser 403 (and left for that browser); a connection removed
/// since is 404. Taken, it can never be used again, whatever happens next.
pub fn take(ctx: &Ctx, state: &str, browser: Option<&str>) -> DomainResult<Taken> {
    let unknown = || DomainError::not_found("this sign-in is unknown");
    // The organization's id leads the state (see `begin`).
    let organization_id = state
        .get(..ID_LENGTH)
        .filter(|id| has_id_form(id) && state.len() > ID_LENGTH)
        .ok_or_else(unknown)?;
    let hash = hash_secret(state);
    let browser_hash = hash_secret(browser.unwrap_or(""));
    let now = now_ms();
    let (flow, row) = ctx.store.write(|conn| {
        let taken = execute(
            conn,
            diesel::update(
                sso_flows::table
                    .filter(sso_flows::organization_id.eq(organization_id))
                    .filter(sso_flows::state_hash.eq(&hash))
                    .filter(sso_flows::browser_hash.eq(&browser_hash))
                    .filter(sso_flows::used_at.is_null())
                    .filter(sso_flows::created_at.gt(now - SSO_FLOW_TTL_MS)),
            )
            .set(sso_flows::used_at.eq(now)),
        )?;
        let flow: Option<SsoFlowRow> = sso_flows::table
            .find((organization_id, &hash))
            .select(SsoFlowRow::as_select())
            .first(conn)
            .optional()?;
        let flow = flow.ok_or_else(unknown)?;
        if taken == 0 {
            return Err(not_taken(
                &flow,
                browser.is_some() && flow.browser_hash == browser_hash,
            ));
        }
        let row = connection_row(conn, &flow.organization_id)?.ok_or_else(not_connected)?;
        Ok((flow, row))
    })?;
    let unsealed = |sealed: &str| {
        ctx.sso_sealer
            .open(sealed)
            .ok_or_else(|| DomainError::Internal("an SSO secret does not open".into()))
    };
    Ok(Taken {
        client_secret: unsealed(&row.client_secret_sealed)?,
        verifier: unsealed(&flow.verifier_sealed)?,
        organization_id: flow.organization_id,
        issuer: row.issuer,
        client_id: row.client_id,
        nonce: flow.nonce,
    })
}

/// Why the flow `flow` could not be taken: used, old, or (`same_browser`
/// false) begun in another browser.
fn not_taken(flow: &SsoFlowRow, same_browser: bool) -> DomainError {
    let (reason, message) =
        match flow.used_at {
            Some(_) => (GoneReason::Used, "this sign-in was already finished"),
            None if same_browser => (
                GoneReason::Expired,
                "this sign-in began over 10 minutes ago",
            ),
            None => return DomainError::forbidden(
                "this sign-in was begun in another browser, and only that browser can finish it",
            ),
        };
    DomainError::Gone {
        reason,
        message: message.into(),
    }
}

/// The name of the organization `organization_id`, for a refused sign-in's
/// page.
pub fn organization_name(ctx: &Ctx, organization_id: &str) -> DomainResult<String> {
    ctx.store
        .read(|conn| Ok(conn.organization(organization_id)?.name))
}

/// A sign-in finished.
pub struct Finished {
    pub login: Login,
    pub organization_name: String,
    pub organization_id: String,
    /// The role the account holds in the organization.
    pub role: String,
    /// True when this sign-in made the account a member.
    pub joined: bool,
}

/// Finishes the flow `taken` with the ID token's verified `claims`: the
/// account (linked, or found or made by its verified address: 401 without
/// one), a membership with the connection's role unless it is a member or
/// departed (403, no session: SSO never adds back someone removed or who
/// left), and a session made by this organization's SSO. Collabd's own
/// second factor is not asked: the provider authenticated the person.
pub fn finish(ctx: &Ctx, taken: &Taken, claims: &IdClaims) -> DomainResult<Finished> {
    let organization_id = taken.organization_id.as_str();
    // Before anything is made or linked: the addresses the organization's
    // provider vouches for, and whether the person departed.
    let domains = ctx.store.read(|conn| {
        let candidate = match linked(conn, &taken.issuer, &claims.sub)? {
            Some(user_id) => Some(conn.user(&user_id)?),
            None => match verified_email(claims) {
                Ok(email) => conn.user_by_email(&email)?,
                Err(_) => None,
            },
        };
        if let Some(user) = candidate {
            if access::membership(conn, organization_id, &user.id)?.is_none()
                && membership::no_rejoin(conn, organization_id, &user)?
            {
                return Err(not_again(&user, &conn.organization(organization_id)?.name));
            }
        }
        Ok(verified_domains::table
            .filter(verified_domains::organization_id.eq(organization_id))
            .select(verified_domains::domain)
            .load::<String>(conn)?)
    })?;
    let user = account_for(ctx, (&taken.issuer, Vouches::Domains(&domains)), claims)?;
    let finished = ctx.store.write(|conn| {
        // Under the organization's lock, as every membership change takes it.
        conn.share_organization(organization_id)?;
        let row = connection_row(conn, organization_id)?.ok_or_else(not_connected)?;
        if row.issuer != taken.issuer || row.client_id != taken.client_id {
            return Err(DomainError::not_found(
                "the organization's SSO connection changed during this sign-in; begin again",
            ));
        }
        let organization = conn.organization(organization_id)?;
        let user = conn.user(&user.id)?;
        let (role, joined) = match access::membership(conn, organization_id, &user.id)? {
            Some(member) => (member.assigned.name().to_string(), false),
            None => join(conn, &row, &user, &organization.name)?,
        };
        let session = new_session_row(ctx, &user.id, Made::Sso(organization_id));
        insert_session(conn, &session)?;
        Ok(Finished {
            login: login_for(ctx, &session, user)?,
            organization_name: organization.name,
            organization_id: organization_id.to_string(),
            role,
            joined,
        })
    })?;
    events::after_commit(ctx, AfterCommit::SignedIn(&user));
    Ok(finished)
}

/// 403: SSO does not add again someone who departed `organization`.
fn not_again(user: &UserRow, organization: &str) -> DomainError {
    DomainError::forbidden(format!(
        "{} is no longer a member of {organization} (removed, left or ended): signing in \
         does not add it again; ask an owner for an invite",
        user.email
    ))
}

/// Makes `user`, no member in force of the organization of `row`, a member
/// with the connection's role (`collaborator.joined` via SSO): the role's
/// name, and whether this made the membership (a concurrent sign-in of the
/// same account may have). 403 when the account departed the organization.
fn join(
    conn: &mut DbConn,
    row: &SsoConnectionRow,
    user: &UserRow,
    organization: &str,
) -> DomainResult<(String, bool)> {
    let organization_id = row.organization_id.as_str();
    if membership::no_rejoin(conn, organization_id, user)? {
        return Err(not_again(user, organization));
    }
    let new = NewMember {
        organization_id,
        user_id: &user.id,
        role: row.role,
        role_id: row.role_id.as_deref(),
        can_create_projects: false,
        expires_at: None,
        grants: Vec::new(),
    };
    let Some(membership) = membership::add(conn, new, now_ms())? else {
        // Made meanwhile by a concurrent sign-in of the same account.
        return match access::membership(conn, organization_id, &user.id)? {
            Some(member) => Ok((member.assigned.name().to_string(), false)),
            None => Err(not_again(user, organization)),
        };
    };
    let role = roles::held(conn, organization_id, row.role, row.role_id.as_deref())?;
    events::record(
        conn,
        organization_id,
        By::Account(user),
        &membership.id,
        CollaboratorJoined {
            userid: &user.id,
            email: &user.email,
            role: role.name(),
            via: Via::Sso,
            domain: None,
            domainid: None,
        },
    )?;
    Ok((role.name().to_string(), true))
}
