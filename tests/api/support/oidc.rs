//! A real, certified OpenID Connect provider for the SSO tests (API.md §9):
//! the npm package `oidc-provider`, run by `tests/clients/oidc/provider.mjs`
//! (installed by `ensure.sh` there, with a Node new enough for it), and a
//! browser's part of a sign-in done over plain HTTP with a cookie jar: each
//! redirect followed by hand, the provider's login and consent forms posted.
//! (CI also drives the same flow in a real headless Chromium:
//! `tests/clients/oidc/signin.mjs`.)

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};

fn oidc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/oidc")
}

/// The node binary `ensure.sh` prints, once per test run.
fn node() -> &'static str {
    static NODE: OnceLock<String> = OnceLock::new();
    NODE.get_or_init(|| {
        let out = Command::new("bash")
            .arg(oidc_dir().join("ensure.sh"))
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("run tests/clients/oidc/ensure.sh");
        assert!(out.status.success(), "ensure.sh failed: {:?}", out.status);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .expect("ensure.sh prints the node path")
            .trim()
            .to_string()
    })
}

/// A running oidc-provider.
pub struct OidcProvider {
    pub issuer: String,
    child: Child,
}

impl OidcProvider {
    /// A provider with one client, `client_id`/`client_secret`, whose
    /// redirect URI is `redirect_uri`; with `deny`, every sign-in ends in
    /// `error=access_denied`.
    pub fn start(client_id: &str, client_secret: &str, redirect_uri: &str, deny: bool) -> Self {
        let clients = json!([{
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": [redirect_uri],
        }]);
        let mut child = Command::new(node())
            .arg(oidc_dir().join("provider.mjs"))
            .env("OIDC_PORT", "0")
            .env("OIDC_CLIENTS", clients.to_string())
            .env("OIDC_DENY", if deny { "1" } else { "0" })
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start provider.mjs");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("provider.mjs printed its issuer");
        let started: Value = serde_json::from_str(&line).expect("the issuer line");
        OidcProvider {
            issuer: started["issuer"].as_str().expect("issuer").to_string(),
            child,
        }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a browser's part of a sign-in ended: the last page's status,
/// address and text, and the address it was sent to before.
pub struct Landed {
    pub status: u16,
    pub url: String,
    pub body: String,
}

/// A cookie jar and a client that follows nothing by itself.
pub struct Browser {
    agent: ureq::Agent,
    cookies: BTreeMap<String, String>,
    /// Addresses not opened: a redirect to one ends the walk there.
    stop_at: Option<String>,
    /// The browser's `Accept-Language`, when it sends one.
    languages: Option<String>,
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(30))
                .build(),
            cookies: BTreeMap::new(),
            stop_at: None,
            languages: None,
        }
    }

    /// A browser that asks for `languages` (`Accept-Language`) everywhere.
    pub fn speaking(languages: &str) -> Browser {
        Browser {
            languages: Some(languages.to_string()),
            ..Browser::new()
        }
    }

    /// Makes the next redirect to an address starting with `prefix` end
    /// the walk before it is opened (its `Landed` has status 0 and that
    /// address).
    pub fn stop_at(&mut self, prefix: &str) {
        self.stop_at = Some(prefix.to_string());
    }

    /// One request; every status is an answer.
    fn send(&mut self, method: &str, url: &str, form: Option<&[(&str, &str)]>) -> ureq::Response {
        let mut request = self.agent.request(method, url);
        if let Some(languages) = &self.languages {
            request = request.set("accept-language", languages);
        }
        if !self.cookies.is_empty() {
            let header: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.set("cookie", &header.join("; "));
        }
        let sent = match form {
            Some(form) => request.send_form(form),
            None => request.call(),
        };
        let response = match sent {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {url}: {e}"),
        };
        for set in response.all("set-cookie") {
            let pair = set.split(';').next().unwrap_or("");
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let gone = value.is_empty()
                || set
                    .to_ascii_lowercase()
                    .contains("expires=thu, 01 jan 1970");
            if gone {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_string(), value.trim().to_string());
            }
        }
        response
    }

    /// GET `url` and follow redirects until a page that is no redirect.
    pub fn open(&mut self, url: &str) -> Landed {
        self.follow("GET", url, None)
    }

    fn follow(&mut self, method: &str, url: &str, form: Option<&[(&str, &str)]>) -> Landed {
        let mut response = self.send(method, url, form);
        let mut at = url.to_string();
        for _ in 0..20 {
            if !(300..400).contains(&response.status()) {
                break;
            }
            let location = response.header("location").expect("a redirect's Location");
            at = join(&at, location);
            if self.stop_at.as_ref().is_some_and(|p| at.starts_with(p)) {
                // Once: the walk may go on from there.
                self.stop_at = None;
                return Landed {
                    status: 0,
                    url: at,
                    body: String::new(),
                };
            }
            response = self.send("GET", &at, None);
        }
        let status = response.status();
        Landed {
            status,
            url: at,
            body: response.into_string().unwrap_or_default(),
        }
    }

    /// The whole sign-in from `start` (collabd's `/sso/{organizationid}`):
    /// to the provider, its login form as `login`, its consent form if it
    /// asks, and back to wherever the provider sends the browser.
    pub fn sign_in(&mut self, start: &str, login: &str) -> Landed {
        let mut page = self.open(start);
        for _ in 0..3 {
            if !page.url.contains("/interaction/") {
                return page;
            }
            let form: Vec<(&str, &str)> = if page.body.contains("value=\"login\"") {
                vec![("prompt", "login"), ("login", login), ("password", "x")]
            } else if page.body.contains("value=\"consent\"") {
                vec![("prompt", "consent")]
            } else {
                panic!("an interaction page with no form: {}", page.body);
            };
            let action = form_action(&page.body).expect("the form's action");
            let target = join(&page.url, &action);
            page = self.follow("POST", &target, Some(&form));
        }
        page
    }
}

/// The action of the first form of `html`.
fn form_action(html: &str) -> Option<String> {
    let form = html.find("<form")?;
    let rest = &html[form..];
    let action = rest.find("action=\"")? + "action=\"".len();
    let end = rest[action..].find('"')?;
    Some(rest[action..action + end].replace("&amp;", "&"))
}

/// `location` resolved against `base` (absolute, or an absolute path).
fn join(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    format!("{}{}", &base[..host_end], location)
}
