//! Session tokens (JWT) and the bearer-token check that turns a token into a
//! [`Caller`]: either a live session or a live API key.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use diesel::prelude::*;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::kernel::error::{DomainError, DomainResult};
use super::tokens::hash_secret;
use crate::clock::now_ms;
use crate::store::rows::{ApiKeyRow, SessionRow, UserRow};
use crate::store::schema::{api_keys, sessions};
use crate::store::{DbConn, Lookups, Store};

const ISSUER: &str = "collabd";
const AUDIENCE: &str = "collabd-api";
/// `lastusedat` is kept to the minute, so a busy key does not write per request.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
}

/// The keys that sign and check session tokens, with one fixed algorithm.
pub struct SessionKeys {
    encoding: EncodingKey,
    /// The current secret's first, then the previous secrets': tokens they
    /// signed stay valid while a secret is rotated.
    decoding: Vec<DecodingKey>,
    validation: Validation,
}

impl SessionKeys {
    pub fn new(secret: &[u8]) -> SessionKeys {
        SessionKeys::rotating(secret, &[])
    }

    /// Signs with `secret`; also accepts what the `previous` secrets signed.
    pub fn rotating(secret: &[u8], previous: &[Vec<u8>]) -> SessionKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.leeway = 0;
        SessionKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: std::iter::once(secret)
                .chain(previous.iter().map(Vec::as_slice))
                .map(DecodingKey::from_secret)
                .collect(),
            validation,
        }
    }

    /// A signed token for one session.
    pub fn issue(&self, session: &SessionRow) -> DomainResult<String> {
        let claims = Claims {
            sub: session.user_id.clone(),
            sid: session.id.clone(),
            iat: session.created_at / 1000,
            exp: session.expires_at / 1000,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| DomainError::Internal(format!("signing a session token: {e}")))
    }

    /// A session token's claim, if its signature and lifetime hold; the
    /// session it names is not looked up (see [`SessionClaim`]).
    pub fn claim(&self, token: &str) -> Option<SessionClaim> {
        let claims = self.verify(token)?;
        Some(SessionClaim {
            user_id: claims.sub,
            session_id: claims.sid,
            looked_up: Arc::new(AtomicBool::new(false)),
        })
    }

    fn verify(&self, token: &str) -> Option<Claims> {
        self.decoding.iter().find_map(|key| {
            jsonwebtoken::decode::<Claims>(token, key, &self.validation)
                .ok()
                .map(|data| data.claims)
        })
    }
}

/// A session token whose signature and lifetime checked out, before its
/// session is looked up: it may have been revoked since. It is not a
/// [`Caller`]; the one way to turn it into one is [`SessionClaim::confirm`]
/// on the session's row, which the hot reads fetch in the statement that
/// also reads the membership (`access::claimed_organization`), saving a
/// round trip per request. The HTTP layer looks the session up itself
/// before answering whenever that did not happen (`looked_up`), so a
/// revoked token still gets 401 first, whatever else went wrong.
#[derive(Debug, Clone)]
pub struct SessionClaim {
    pub user_id: String,
    pub session_id: String,
    looked_up: Arc<AtomicBool>,
}

impl SessionClaim {
    /// The caller, if `session` (the row of this claim's id, if any) is
    /// live and belongs to the claimed user; 401 otherwise.
    pub fn confirm(&self, session: Option<&SessionRow>, now: i64) -> DomainResult<Caller> {
        self.looked_up.store(true, Ordering::Release);
        match session {
            Some(s)
                if s.id == self.session_id
                    && s.user_id == self.user_id
                    && s.revoked_at.is_none()
                    && s.expires_at > now =>
            {
                Ok(Caller {
                    user_id: s.user_id.clone(),
                    session_id: Some(s.id.clone()),
                    api_key: None,
                    named_organization: None,
                    provider_token: false,
                    sso_organization: s.sso_organization_id.clone(),
                })
            }
            _ => Err(unauthenticated()),
        }
    }

    /// True once [`SessionClaim::confirm`] has judged the session.
    pub fn was_looked_up(&self) -> bool {
        self.looked_up.load(Ordering::Acquire)
    }
}

/// Who is calling: a user, through a session or through an API key.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub session_id: Option<String>,
    pub api_key: Option<ApiKeyScope>,
    /// The organization the user part of HTTP Basic credentials names: the
    /// `organizationid` of a request that names none.
    pub named_organization: Option<String>,
    /// True for a trusted issuer's token (API.md §9): a session of the
    /// account that collabd neither made nor can revoke.
    pub provider_token: bool,
    /// The organization whose SSO made the session, if one did: the one
    /// session an organization enforcing its SSO accepts (API.md §9).
    pub sso_organization: Option<String>,
}

impl Caller {
    /// The caller's account as it is now; 401 when it no longer exists.
    pub fn account(&self, conn: &mut DbConn) -> DomainResult<UserRow> {
        Ok(conn.user(&self.user_id)?)
    }

    /// The organization whose SSO made the caller's session, or the session
    /// that made the caller's API key.
    pub fn sso_organization(&self) -> Option<&str> {
        match &self.api_key {
            Some(key) => key.sso_organization.as_deref(),
            None => self.sso_organization.as_deref(),
        }
    }

    /// The organization the caller's API key is bound to, if it is.
    pub fn bound_organization(&self) -> Option<&str> {
        self.api_key.as_ref()?.organization_id.as_deref()
    }
}

/// The API key a caller used, and the organization it is bound to.
#[derive(Debug, Clone)]
pub struct ApiKeyScope {
    pub id: String,
    pub organization_id: Option<String>,
    /// When the key was made: keys older than an organization's SSO
    /// enforcement keep working there (API.md §9).
    pub created_at: i64,
    /// The organization whose SSO made the session that made the key.
    pub sso_organization: Option<String>,
}

/// The prefix of every API-key secret, so tokens say what they are.
pub const API_KEY_PREFIX: &str = "cdk_";

/// A bearer token's caller, and whether the API key it used is due a
/// `lastusedat` write (see [`note_key_use`]).
pub struct Identified {
    pub caller: Caller,
    pub key_use_due: bool,
}

/// Turns a bearer token into a caller, or refuses it (401). It only reads,
/// so it may run wherever reads run; a due `lastusedat` is written by
/// [`note_key_use`] before the request goes on.
pub fn authenticate(store: &Store, keys: &SessionKeys, token: &str) -> DomainResult<Identified> {
    match token.strip_prefix(API_KEY_PREFIX) {
        Some(_) => authenticate_api_key(store, token),
        None => authenticate_session(store, keys, token).map(|caller| Identified {
            caller,
            key_use_due: false,
        }),
    }
}

/// Records that the API key `key_id` was used now.
pub fn note_key_use(store: &Store, key_id: &str) -> DomainResult<()> {
    let now = now_ms();
    store.write(|conn| {
        diesel::update(api_keys::table.find(key_id))
            .set(api_keys::last_used_at.eq(now))
            .execute(conn)
            .map(drop)
            .map_err(DomainError::from)
    })
}

fn unauthenticated() -> DomainError {
    DomainError::Unauthenticated("the token is invalid, expired or revoked".into())
}

fn authenticate_session(store: &Store, keys: &SessionKeys, token: &str) -> DomainResult<Caller> {
    let claim = keys.claim(token).ok_or_else(unauthenticated)?;
    let now = now_ms();
    let session: Option<SessionRow> = store.read_one(|conn| {
        sessions::table
            .find(&claim.session_id)
            .select(SessionRow::as_select())
            .first(conn)
            .optional()
            .map_err(DomainError::from)
    })?;
    claim.confirm(session.as_ref(), now)
}

fn authenticate_api_key(store: &Store, secret: &str) -> DomainResult<Identified> {
    let hash = hash_secret(secret);
    let now = now_ms();
    let key: ApiKeyRow = store
        .read_one(|conn| {
            api_keys::table
                .filter(api_keys::secret_hash.eq(&hash))
                .select(ApiKeyRow::as_select())
                .first(conn)
                .optional()
                .map_err(DomainError::from)
        })?
        .ok_or_else(unauthenticated)?;
    if key.expires_at.is_some_and(|at| at <= now) {
        return Err(unauthenticated());
    }
    let key_use_due = key
        .last_used_at
        .is_none_or(|at| now - at >= LAST_USED_GRANULARITY_MS);
    Ok(Identified {
        caller: Caller {
            user_id: key.user_id,
            session_id: None,
            api_key: Some(ApiKeyScope {
                id: key.id,
                organization_id: key.organization_id,
                created_at: key.created_at,
                sso_organization: key.sso_organization_id,
            }),
            named_organization: None,
            provider_token: false,
            sso_organization: None,
        },
        key_use_due,
    })
}

/// HTTP Basic as GleSYS clients send it (API.md §2): the password is an API
/// key's secret (a session token is refused: 401); the user part may be
/// anything, and when it has the form of an organization id it stands for
/// `organizationid` where a request names none. It is taken on its form
/// alone, never looked up: an organization that does not exist then answers
/// exactly as one the caller may not see (404, or 403 for a key bound
/// elsewhere), so the user part tells nobody which ids exist.
pub fn authenticate_basic(store: &Store, user: &str, password: &str) -> DomainResult<Identified> {
    if !password.starts_with(API_KEY_PREFIX) {
        return Err(DomainError::Unauthenticated(
            "the Basic password must be an API key; send a session token as 'Bearer <token>'"
                .into(),
        ));
    }
    let mut identified = authenticate_api_key(store, password)?;
    if has_id_form(user) {
        identified.caller.named_organization = Some(user.to_string());
    }
    Ok(identified)
}

/// True for text of the form the server's ids have: a UUID, hyphenated
/// (`new_id`). A GleSYS account name (`cl12345`) or anything else is a name,
/// and names no organization.
pub fn has_id_form(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::try_parse(text).is_ok()
}
