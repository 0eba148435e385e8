//! A real OpenID Connect issuer for provider tokens (API.md §9), served by
//! the test over HTTP: its discovery document and its key set (JWKS), which
//! the test may change (rotation) or take down (500s). Tokens are signed
//! here with the test keys of `tests/fixtures/issuer` (`make.py`).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/issuer")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A test key's public JWK (`kid` = its name).
pub fn public_jwk(key: &str) -> Value {
    serde_json::from_slice(&fixture(&format!("{key}.jwk.json"))).expect("JWK")
}

pub struct Issuer {
    pub url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    up: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
}

impl Issuer {
    /// An issuer publishing the public halves of `keys` (fixture names).
    pub fn start(keys: &[&str]) -> Issuer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let issuer = Issuer {
            url: url.clone(),
            keys: Arc::new(Mutex::new(keys.iter().map(|k| public_jwk(k)).collect())),
            up: Arc::new(AtomicBool::new(true)),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let (keys, up, fetches) = (
            issuer.keys.clone(),
            issuer.up.clone(),
            issuer.fetches.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // The rest of the head.
                let mut header = String::new();
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                let path = line.split(' ').nth(1).unwrap_or("").to_string();
                let (status, body) = if !up.load(Ordering::SeqCst) {
                    (500, json!({"error": "down"}))
                } else if path == "/.well-known/openid-configuration" {
                    (
                        200,
                        json!({"issuer": url, "jwks_uri": format!("{url}/jwks"),
                               "authorization_endpoint": format!("{url}/auth"),
                               "token_endpoint": format!("{url}/token")}),
                    )
                } else if path == "/jwks" {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    (200, json!({"keys": *keys.lock().expect("keys")}))
                } else {
                    (404, json!({}))
                };
                let body = body.to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        issuer
    }

    /// Publishes these keys from now on.
    pub fn publish(&self, keys: &[&str]) {
        *self.keys.lock().expect("keys") = keys.iter().map(|k| public_jwk(k)).collect();
    }

    /// Answers 500 to everything while `false`.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// How many times its key set was fetched.
    pub fn key_fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// A token of this issuer signed with `key` (a fixture name, which is
    /// also its `kid`) in `alg`, with `claims` over the usual ones (`iss`,
    /// `aud` `collabd`, `exp` in an hour); a claim set to null is left out.
    pub fn token(&self, key: &str, alg: Algorithm, claims: Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(key.to_string());
        let encoding = Self::encoding(key, alg);
        encode(&header, &self.claims(claims), &encoding).expect("sign")
    }

    /// A token with `header` as written (any JSON), signed with `key` in `alg`.
    pub fn token_with_header(
        &self,
        key: &str,
        alg: Algorithm,
        header: Value,
        claims: Value,
    ) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(self.claims(claims).to_string())
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &Self::encoding(key, alg), alg)
                .expect("sign");
        format!("{message}.{signature}")
    }

    fn claims(&self, claims: Value) -> Value {
        let now = chrono::Utc::now().timestamp();
        let mut all = json!({"iss": self.url, "aud": "collabd", "iat": now, "exp": now + 3600});
        for (name, value) in claims.as_object().expect("claims object") {
            match value {
                Value::Null => {
                    all.as_object_mut().expect("object").remove(name);
                }
                _ => all[name] = value.clone(),
            }
        }
        all
    }

    fn encoding(key: &str, alg: Algorithm) -> EncodingKey {
        let pem = fixture(&format!("{key}.pem"));
        match alg {
            Algorithm::RS256 | Algorithm::PS256 => EncodingKey::from_rsa_pem(&pem),
            Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
            // An HMAC "key": the bytes of a public key file (the old forgery).
            _ => Ok(EncodingKey::from_secret(&fixture(&format!(
                "{key}.pub.pem"
            )))),
        }
        .expect("signing key")
    }
}
