//! The OpenID Connect issuers collabd takes tokens from (API.md §9): those
//! the operator trusts, whose JWTs are bearer tokens (provider tokens), and
//! the issuers organizations connect for sign-in (SSO), whose ID tokens
//! finish an SSO flow.
//!
//! An issuer's discovery document (`{issuer}/.well-known/openid-configuration`)
//! names its `jwks_uri` (and, for SSO, its authorization and token
//! endpoints); its keys are kept by `kid`. A token naming a `kid` not kept
//! makes collabd read both documents again, at most once per
//! [`REFRESH_EVERY`] per issuer, so an issuer can rotate its keys (or move
//! its key set) without a restart, and a stream of made-up `kid`s costs one
//! fetch each half minute. Fetches of one issuer's keys wait for each other;
//! a token whose key is kept never waits. The JOSE work is `jsonwebtoken`'s:
//! RS256, PS256, ES256 and EdDSA only (never an HMAC algorithm, whose key
//! would be the public key, never `none`), the algorithm bound to the key's
//! type (and to its `alg` when it names one), `exp` and `nbf` with
//! [`LEEWAY_SECS`] of leeway, `iss` and `aud` as expected.
//!
//! The operator chose its issuers' addresses, so they may be anywhere. An
//! organization's issuer was chosen by an owner: what collabd fetches of it
//! follows the webhook address rule (API.md §6): names resolve only to
//! public addresses, an address written in a URL is checked, redirects are
//! not followed ([`Reach::Organization`]); what each reach keeps is apart.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{decode, Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Deserializer};

mod exchange;

/// The shortest time between two fetches of one issuer's keys.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// Leeway on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 60;
/// How long an organization's discovery document is used before it is
/// read again for a new sign-in.
const DISCOVERY_KEPT: Duration = Duration::from_secs(300);
/// A fetch of a document gives up after this long.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest document taken (a discovery document or a key set).
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
const ALGORITHMS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// Why a token was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The token fails a check (401).
    Invalid(String),
    /// The issuer's keys could not be fetched and none kept matches (503).
    Unavailable(String),
}

/// Whose issuer a fetch is for, which says where it may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reach {
    /// `COLLABD_TRUSTED_ISSUERS`: anywhere.
    Operator,
    /// An organization's SSO issuer: the webhook address rule.
    Organization,
}

/// What of an issuer's discovery document collabd uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint: Option<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// RFC 9207: the provider names itself (`iss`) in every answer.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
}

impl Discovery {
    /// What an SSO flow needs of the document: both endpoints, as https
    /// URLs (the client secret and the keys travel there; http too when
    /// `allow_http`, for a provider on the same network), and PKCE S256
    /// when the document lists methods.
    pub fn check_for_sign_in(&self, allow_http: bool) -> Result<(), String> {
        let jwks = Some(self.jwks_uri.clone());
        for (what, url) in [
            ("authorization_endpoint", &self.authorization_endpoint),
            ("token_endpoint", &self.token_endpoint),
            ("jwks_uri", &jwks),
        ] {
            let Some(url) = url else {
                return Err(format!("the discovery document names no {what}"));
            };
            match url::Url::parse(url) {
                Ok(u) if u.scheme() == "https" && u.host().is_some() => {}
                Ok(u) if allow_http && u.scheme() == "http" && u.host().is_some() => {}
                _ => return Err(format!("its {what} is not an https URL")),
            }
        }
        if let Some(methods) = &self.code_challenge_methods_supported {
            if !methods.iter().any(|m| m == "S256") {
                return Err("the issuer does not take PKCE with S256".into());
            }
        }
        Ok(())
    }

    /// True when the token endpoint takes the client secret only in the
    /// form (`client_secret_post`), not as HTTP Basic (the default).
    fn secret_in_form(&self) -> bool {
        self.token_endpoint_auth_methods_supported
            .as_ref()
            .is_some_and(|m| {
                !m.iter().any(|m| m == "client_secret_basic")
                    && m.iter().any(|m| m == "client_secret_post")
            })
    }
}

/// The claims collabd reads from a provider token.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Some issuers send `"true"` as a string.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub name: Option<String>,
    /// Read so that an `nbf` that is no number fails (jsonwebtoken passes
    /// over one it cannot read).
    #[serde(default)]
    pub nbf: Option<f64>,
    /// An ID token's: the value its SSO flow sent.
    #[serde(default)]
    pub nonce: Option<String>,
    /// The audience, one or several (checked by jsonwebtoken; read here for
    /// `azp`).
    #[serde(default)]
    pub aud: Option<serde_json::Value>,
    /// An ID token's authorized party: the client it was issued to.
    #[serde(default)]
    pub azp: Option<String>,
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => Some(b),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        _ => Some(false),
    })
}

#[derive(Default)]
struct Kept {
    keys: HashMap<String, Jwk>,
    /// The discovery document the keys came with.
    discovery: Option<Discovery>,
    /// When the keys were last fetched, and whether that fetch failed.
    fetched: Option<(Instant, bool)>,
}

type Place = (Reach, String);

/// The issuers of one process and what it keeps of each.
pub struct Issuers {
    trusted: Vec<String>,
    audience: Option<String>,
    /// For the operator's issuers.
    client: reqwest::Client,
    /// For organizations' issuers: the webhook address rule.
    guarded: reqwest::Client,
    allow_private: bool,
    /// By reach and issuer.
    kept: Mutex<HashMap<Place, Kept>>,
    /// One fetch at a time per issuer.
    fetching: Mutex<HashMap<Place, Arc<tokio::sync::Mutex<()>>>>,
    /// Signatures of the tokens seen lately, so a token new to this process
    /// counts as a sign-in ([`Issuers::first_use`]).
    seen: Mutex<HashSet<[u8; 32]>>,
}

/// The most token signatures [`Issuers::first_use`] remembers.
const SEEN_TOKENS: usize = 10_000;

impl Issuers {
    /// The issuers `config` trusts, with its audience.
    pub fn from_config(config: &crate::config::Config) -> Result<Issuers, String> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .no_proxy()
            .user_agent(concat!("collabd/", env!("CARGO_PKG_VERSION"), " (openid)"))
            .build()
            .map_err(|e| format!("building the OpenID client: {e}"))?;
        let guarded = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("collabd/", env!("CARGO_PKG_VERSION"), " (openid)"))
            .dns_resolver(Arc::new(crate::webhook_sender::Guarded {
                allow_private: config.webhook_allow_private,
            }))
            .build()
            .map_err(|e| format!("building the OpenID client: {e}"))?;
        Ok(Issuers {
            guarded,
            allow_private: config.webhook_allow_private,
            trusted: config.issuers()?,
            audience: config
                .trusted_audience
                .as_deref()
                .map(|a| a.trim().to_string()),
            client,
            kept: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
            seen: Mutex::new(HashSet::new()),
        })
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<Place, Kept>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True the first time this process sees `token` (of those it keeps in
    /// mind, at most [`SEEN_TOKENS`]): each new token is a sign-in, for the
    /// rules that run at one (verified-domain joining).
    pub fn first_use(&self, token: &str) -> bool {
        use sha2::Digest;
        let signature = token.rsplit('.').next().unwrap_or(token);
        let hash: [u8; 32] = sha2::Sha256::digest(signature.as_bytes()).into();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= SEEN_TOKENS {
            seen.clear();
        }
        seen.insert(hash)
    }

    /// The trusted issuer a bearer token claims to come from, read from its
    /// payload before anything is verified; `None` for any other token.
    pub fn trusted_issuer_of(&self, token: &str) -> Option<&str> {
        if self.trusted.is_empty() {
            return None;
        }
        let mut parts = token.split('.');
        let (_, payload) = (parts.next()?, parts.next()?);
        parts.next()?;
        #[derive(Deserialize)]
        struct Iss {
            iss: String,
        }
        let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let claimed: Iss = serde_json::from_slice(&bytes).ok()?;
        self.trusted
            .iter()
            .find(|t| **t == claimed.iss)
            .map(String::as_str)
    }

    /// A provider token of the trusted `issuer`, verified.
    pub async fn verify_provider_token(
        &self,
        token: &str,
        issuer: &str,
    ) -> Result<IdClaims, Refusal> {
        let audience = self
            .audience
            .as_deref()
            .ok_or_else(|| Refusal::Invalid("no audience is configured".into()))?;
        self.verify(token, (Reach::Operator, issuer), audience)
            .await
    }

    /// An ID token from an organization's `issuer` for its `client_id`,
    /// verified, its `nonce` the one the flow sent.
    pub async fn verify_id_token(
        &self,
        token: &str,
        issuer: &str,
        client_id: &str,
        nonce: &str,
    ) -> Result<IdClaims, Refusal> {
        let claims = self
            .verify(token, (Reach::Organization, issuer), client_id)
            .await?;
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(Refusal::Invalid(
                "the ID token's nonce is not the one this sign-in sent".into(),
            ));
        }
        // OpenID Connect Core §3.1.3.7: with several audiences, `azp` names
        // this client; when present, it must.
        let audiences = match &claims.aud {
            Some(serde_json::Value::Array(list)) => list.len(),
            _ => 1,
        };
        let azp_ok = match claims.azp.as_deref() {
            Some(azp) => azp == client_id,
            None => audiences == 1,
        };
        if !azp_ok {
            return Err(Refusal::Invalid(
                "the ID token was issued to another client (azp)".into(),
            ));
        }
        Ok(claims)
    }

    /// `token` signed by a key of `issuer` (reached as `reach`), for
    /// `audience`.
    async fn verify(
        &self,
        token: &str,
        (reach, issuer): (Reach, &str),
        audience: &str,
    ) -> Result<IdClaims, Refusal> {
        let header = header_of(token)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(Refusal::Invalid(format!(
                "the algorithm {:?} is not taken (RS256, PS256, ES256, EdDSA)",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| Refusal::Invalid("the token names no key (kid)".into()))?;
        let jwk = self.key((reach, issuer), &kid).await?;
        if let Some(meant) = &jwk.common.key_algorithm {
            if format!("{meant:?}") != format!("{:?}", header.alg) {
                return Err(Refusal::Invalid(format!(
                    "the key {kid} is for {meant:?}, not {:?}",
                    header.alg
                )));
            }
        }
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| Refusal::Invalid(format!("the issuer's key {kid} is unusable: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_audience(&[audience]);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        decode::<IdClaims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| Refusal::Invalid(format!("the token does not verify: {e}")))
    }

    /// The discovery document of an organization's `issuer`: read afresh
    /// when `fresh` (connecting an organization checks it) or when what is
    /// kept is older than [`DISCOVERY_KEPT`]; else the one kept. Its keys
    /// are kept with it.
    pub async fn discovery(&self, issuer: &str, fresh: bool) -> Result<Discovery, String> {
        let place = (Reach::Organization, issuer.to_string());
        if !fresh {
            let kept = self.kept();
            if let Some(Kept {
                discovery: Some(discovery),
                fetched: Some((at, false)),
                ..
            }) = kept.get(&place)
            {
                if at.elapsed() < DISCOVERY_KEPT {
                    return Ok(discovery.clone());
                }
            }
        }
        let (discovery, keys) = self.fetch_keys((Reach::Organization, issuer)).await?;
        let mut kept = self.kept();
        let entry = kept.entry(place).or_default();
        entry.keys = keys;
        entry.discovery = Some(discovery.clone());
        entry.fetched = Some((Instant::now(), false));
        Ok(discovery)
    }

    /// The key `kid` of `issuer`: kept, or fetched again when allowed.
    async fn key(&self, (reach, issuer): (Reach, &str), kid: &str) -> Result<Jwk, Refusal> {
        let place: Place = (reach, issuer.to_string());
        if let Some(jwk) = self.kept().get(&place).and_then(|k| k.keys.get(kid)) {
            return Ok(jwk.clone());
        }
        let turn = {
            let mut fetching = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
            fetching.entry(place.clone()).or_default().clone()
        };
        let _turn = turn.lock().await;
        // Another request may have fetched while this one waited.
        let recent = {
            let kept = self.kept();
            let entry = kept.get(&place);
            if let Some(jwk) = entry.and_then(|k| k.keys.get(kid)) {
                return Ok(jwk.clone());
            }
            entry
                .and_then(|k| k.fetched)
                .filter(|(at, _)| at.elapsed() < REFRESH_EVERY)
        };
        match recent {
            Some((_, true)) => {
                return Err(Refusal::Unavailable(format!(
                    "the keys of {issuer} cannot be fetched"
                )))
            }
            Some((_, false)) => return Err(Refusal::Invalid(format!("{issuer} has no key {kid}"))),
            None => {}
        }
        // The discovery document is read again too: an issuer may move its
        // key set.
        let fetched = self.fetch_keys((reach, issuer)).await;
        let mut kept = self.kept();
        let entry = kept.entry(place).or_default();
        match fetched {
            Ok((discovery, keys)) => {
                entry.keys = keys;
                entry.discovery = Some(discovery);
                entry.fetched = Some((Instant::now(), false));
                entry
                    .keys
                    .get(kid)
                    .cloned()
                    .ok_or_else(|| Refusal::Invalid(format!("{issuer} has no key {kid}")))
            }
            Err(e) => {
                entry.fetched = Some((Instant::now(), true));
                tracing::warn!(issuer, error = %e, "the issuer's keys could not be fetched");
                Err(Refusal::Unavailable(format!(
                    "the keys of {issuer} cannot be fetched"
                )))
            }
        }
    }

    /// The discovery document of `issuer` (it must name itself as
    /// `issuer`), then the key set it names: its keys for signing, by `kid`.
    async fn fetch_keys(
        &self,
        (reach, issuer): (Reach, &str),
    ) -> Result<(Discovery, HashMap<String, Jwk>), String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let discovery: Discovery = serde_json::from_slice(&self.fetch(reach, &url).await?)
            .map_err(|e| format!("the discovery document: {e}"))?;
        if discovery.issuer != issuer {
            return Err(format!(
                "the discovery document names the issuer {:?}",
                discovery.issuer
            ));
        }
        let body = self.fetch(reach, &discovery.jwks_uri).await?;
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<serde_json::Value>,
        }
        let set: Set = serde_json::from_slice(&body).map_err(|e| format!("the key set: {e}"))?;
        // Keys of types collabd does not take, and keys for encryption, are
        // passed over, not refused.
        let keys = set
            .keys
            .into_iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
            .filter(|k| {
                matches!(
                    k.common.public_key_use,
                    None | Some(PublicKeyUse::Signature)
                )
            })
            .filter_map(|k| Some((k.common.key_id.clone()?, k)))
            .collect();
        Ok((discovery, keys))
    }

    /// `raw` as a URL the guarded client may fetch: http(s), and no private
    /// address written in it (names are the resolver's to judge).
    fn guarded_url(&self, raw: &str) -> Result<url::Url, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("{raw}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{raw}: not an http(s) URL"));
        }
        if let Some(ip) = crate::webhook_sender::private_literal(&url, self.allow_private) {
            return Err(format!("{raw}: {ip} is not a public address"));
        }
        Ok(url)
    }

    async fn fetch(&self, reach: Reach, raw: &str) -> Result<Vec<u8>, String> {
        let (client, url) = match reach {
            Reach::Operator => {
                let url = url::Url::parse(raw).map_err(|e| format!("{raw}: {e}"))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(format!("{raw}: not an http(s) URL"));
                }
                (&self.client, url)
            }
            Reach::Organization => (&self.guarded, self.guarded_url(raw)?),
        };
        let mut response = client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("{raw}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{raw}: status {}", response.status()));
        }
        read_bounded(&mut response, raw).await
    }
}

/// A response's body, refused past [`MAX_DOCUMENT_BYTES`].
async fn read_bounded(response: &mut reqwest::Response, what: &str) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("{what}: {e}"))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("{what}: over {MAX_DOCUMENT_BYTES} bytes"));
        }
    }
    Ok(body)
}

/// The token's header, read once: refused when malformed, or when it names
/// `crit` extensions (RFC 7515 §4.1.11: a reader that does not understand
/// them must refuse the token; collabd understands none).
fn header_of(token: &str) -> Result<Header, Refusal> {
    let malformed = || Refusal::Invalid("malformed token header".into());
    let encoded = token.split('.').next().ok_or_else(malformed)?;
    let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| malformed())?;
    let raw: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    if raw.get("crit").is_some() {
        return Err(Refusal::Invalid(
            "the token names critical extensions (crit), which collabd does not take".into(),
        ));
    }
    serde_json::from_value(raw).map_err(|e| Refusal::Invalid(format!("malformed token: {e}")))
}
