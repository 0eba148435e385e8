//! Made to be embedded (API.md §13): the provider's product name in every
//! email, every emailed link in the form of the provider's panel (each
//! token working with the public calls), mail and pages in the reader's
//! language, and a start that refuses a broken template, naming its file
//! and line.

use serde_json::{json, Value};

use crate::on_both_backends;
use crate::smtp::Email;
use crate::support::{Backend, TestApp};

on_both_backends!(
    the_product_name_and_the_panels_links_in_every_mail,
    mail_comes_in_the_recipients_language,
    pages_come_in_the_readers_language,
    overrides_are_used_and_hostile_names_stay_escaped,
    a_language_removed_since_is_taken_back_unchanged,
    the_default_language_and_a_named_sender,
);

const PANEL: &str = "https://panel.example/join/{kind}?t={token}";

/// An email's subject and bodies: everything a reader sees, without the
/// transport's headers.
fn seen(mail: &Email) -> String {
    let decoded = mail.decoded();
    let body = decoded
        .split_once("\r\n\r\n")
        .or_else(|| decoded.split_once("\n\n"))
        .map_or(decoded.as_str(), |(_, body)| body);
    format!("{}\n{body}", mail.subject())
}

/// The token of the panel's link of `kind` in `mail`.
fn panel_token(mail: &Email, kind: &str) -> String {
    let text = mail.decoded();
    let marker = format!("https://panel.example/join/{kind}?t=");
    let start = text
        .find(&marker)
        .unwrap_or_else(|| panic!("a {kind} link in the panel's form: {text}"))
        + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

fn the_product_name_and_the_panels_links_in_every_mail(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.product_name = "GleSYS Cloud".into();
        c.link_url = Some(PANEL.into());
    });
    // collabd's own page for a link still works, under the product's name.
    let page_of = |kind: &str, token: &str, named: bool| {
        let page = app.get(&format!("/{kind}/{token}"), None);
        let html = page.body["raw"].as_str().unwrap_or_default().to_string();
        assert_eq!(page.status, 200, "{kind}: {html}");
        assert!(!html.to_lowercase().contains("collabd"), "{html}");
        assert!(!named || html.contains("GleSYS Cloud"), "{html}");
    };
    let mail_to = |address: &str, about: &str| {
        app.mail
            .wait_for_matching(address, |m| seen(m).contains(about))
    };
    // Confirm: a new account's address.
    app.signup("ada@example.com", "correct horse battery", "Ada");
    let confirm = mail_to("ada@example.com", "Confirm");
    page_of("confirm", &panel_token(&confirm, "confirm"), true);
    app.post(
        "/user/confirm",
        None,
        json!({"token": panel_token(&confirm, "confirm")}),
    )
    .ok();
    let ada = app.login("ada@example.com", "correct horse battery");
    let org = app.organization(&ada, "Acme");
    // Invite, and the account its acceptance makes.
    app.invite(&ada, &org, "bob@example.com", "collaborator");
    let invitation = mail_to("bob@example.com", "invited you");
    page_of("invite", &panel_token(&invitation, "invite"), true);
    app.post(
        "/invite/accept",
        None,
        json!({"token": panel_token(&invitation, "invite"), "password": "another horse battery"}),
    )
    .ok();
    mail_to("bob@example.com", "account was created");
    // Reset and sign-in links.
    app.post(
        "/user/requestpasswordreset",
        None,
        json!({"email": "ada@example.com"}),
    )
    .ok();
    let reset = mail_to("ada@example.com", "Reset");
    page_of("reset", &panel_token(&reset, "reset"), true);
    app.post(
        "/user/resetpassword",
        None,
        json!({"token": panel_token(&reset, "reset"), "password": "a third horse battery"}),
    )
    .ok();
    // A link that cannot be used any more, and one that never existed: the
    // page says so under the product's name.
    for (path, status) in [
        (format!("/reset/{}", panel_token(&reset, "reset")), 410),
        (format!("/signin/{}", "A".repeat(43)), 404),
        ("/confirm/not%20a%20token".to_string(), 404),
    ] {
        let refused = app.get(&path, None);
        let html = refused.body["raw"].as_str().unwrap_or_default();
        assert_eq!(refused.status, status, "{path}: {html}");
        assert!(
            html.contains("GleSYS Cloud") && !html.to_lowercase().contains("collabd"),
            "{html}"
        );
    }
    app.post(
        "/user/requestloginlink",
        None,
        json!({"email": "bob@example.com"}),
    )
    .ok();
    let signin = mail_to("bob@example.com", "sign-in link");
    page_of("signin", &panel_token(&signin, "signin"), true);
    app.post(
        "/user/loginbylink",
        None,
        json!({"token": panel_token(&signin, "signin")}),
    )
    .ok();
    // A domain's claim.
    let ada = app.login("ada@example.com", "a third horse battery");
    app.post(
        "/customer/adddomain",
        Some(&ada),
        json!({"organizationid": org, "domain": "acme.example", "verificationemail": "it@acme.example"}),
    )
    .ok();
    let claim = mail_to("it@acme.example", "Verify");
    page_of("domain", &panel_token(&claim, "domain"), true);
    app.post(
        "/customer/verifydomain",
        None,
        json!({"token": panel_token(&claim, "domain")}),
    )
    .ok();
    // A new address (and the notice to the old one); the organization's end.
    app.post(
        "/user/edit",
        Some(&ada),
        json!({"email": "ada@new.example", "currentpassword": "a third horse battery"}),
    )
    .ok();
    let new_address = mail_to("ada@new.example", "Confirm");
    panel_token(&new_address, "confirm");
    mail_to("ada@example.com", "being changed");
    app.post(
        "/customer/delete",
        Some(&ada),
        json!({"organizationid": org, "name": "Acme"}),
    )
    .ok();
    mail_to("bob@example.com", "was deleted");

    let all = app.mail.messages();
    assert!(all.len() >= 10, "every kind of mail: {}", all.len());
    for mail in &all {
        let text = seen(mail);
        assert!(text.contains("GleSYS Cloud"), "{text}");
        assert!(
            !text.to_lowercase().contains("collabd"),
            "no email says collabd: {text}"
        );
    }
    assert!(
        all[0]
            .raw
            .contains("From: \"GleSYS Cloud\" <collabd@localhost>")
            || all[0]
                .raw
                .contains("From: GleSYS Cloud <collabd@localhost>"),
        "the default sender is the product: {}",
        all[0].raw
    );
}

/// A new account at `address` whose language is `language`; its session.
fn user_speaking(app: &TestApp, address: &str, language: &str) -> String {
    let session = app.user(address);
    let edited = app
        .post("/user/edit", Some(&session), json!({"language": language}))
        .ok();
    assert_eq!(edited.get("user")["language"], language);
    session
}

fn mail_comes_in_the_recipients_language(backend: Backend) {
    let app = TestApp::start(backend);
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    let set = app
        .post(
            "/customer/settings",
            Some(&owner),
            json!({"organizationid": org, "language": "sv"}),
        )
        .ok();
    assert_eq!(set.get("organization")["language"], "sv");
    // A newcomer reads the organization's language.
    app.invite(&owner, &org, "ny@example.com", "collaborator");
    let swedish = app.mail.wait_for("ny@example.com");
    assert!(
        seen(&swedish).contains("har bjudit in dig"),
        "{}",
        seen(&swedish)
    );
    // An account reads its own: English for an `en` one in that organization.
    user_speaking(&app, "eve@example.com", "en");
    app.invite(&owner, &org, "eve@example.com", "collaborator");
    let english = app
        .mail
        .wait_for_matching("eve@example.com", |m| seen(m).contains("invited you"));
    assert!(!seen(&english).contains("har bjudit"));
    // And Swedish for an `sv` account, whatever the organization.
    let sven = user_speaking(&app, "sven@example.com", "sv");
    app.post(
        "/user/requestloginlink",
        None,
        json!({"email": "sven@example.com"}),
    )
    .ok();
    let link = app
        .mail
        .wait_for_matching("sven@example.com", |m| seen(m).contains("minuter"));
    assert!(seen(&link).contains("logga in"), "{}", seen(&link));
    // A language collabd does not have: 422, in English, nothing changed.
    let refused = app
        .post("/user/edit", Some(&sven), json!({"language": "tlh"}))
        .err(422, "validation_failed");
    let why = refused.body["response"]["error"]["fields"]["language"].to_string();
    assert!(why.contains("has no language"), "{}", refused.body);
    app.post(
        "/customer/settings",
        Some(&owner),
        json!({"organizationid": org, "language": "xx"}),
    )
    .err(422, "validation_failed");
    let details = app.get("/user/details", Some(&sven)).ok();
    assert_eq!(details.get("user")["language"], "sv");
    // Cleared: null, and the server's default again.
    let cleared = app
        .post("/user/edit", Some(&sven), json!({"language": null}))
        .ok();
    assert_eq!(cleared.get("user")["language"], Value::Null);
}

/// GET `path` with the browser asking for `languages` (`Accept-Language`):
/// the status, the page's `lang` and its HTML.
fn page_in(app: &TestApp, path: &str, languages: Option<&str>) -> (u16, String, String) {
    let headers: Vec<(&str, &str)> = languages
        .map(|l| ("Accept-Language", l))
        .into_iter()
        .collect();
    let page = app.request("GET", path, &headers, b"");
    let html = page.body["raw"].as_str().unwrap_or_default().to_string();
    let lang = html
        .split_once("<html lang=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(lang, _)| lang.to_string())
        .unwrap_or_default();
    assert_eq!(page.header("vary"), Some("Accept-Language"), "{path}");
    // The token may be in the address: no cache, no referrer, no frame, and
    // nothing but the page's own script and style.
    assert_eq!(page.header("cache-control"), Some("no-store"), "{path}");
    assert_eq!(
        page.header("referrer-policy"),
        Some("no-referrer"),
        "{path}"
    );
    assert_eq!(
        page.header("x-content-type-options"),
        Some("nosniff"),
        "{path}"
    );
    let policy = page.header("content-security-policy").unwrap_or_default();
    assert!(
        policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"),
        "{path}: {policy}"
    );
    (page.status, lang, html)
}

fn pages_come_in_the_readers_language(backend: Backend) {
    let app = TestApp::start(backend);
    let token_for = |address: &str, kind: &str| {
        app.mail
            .wait_for_matching(address, |m| m.token(kind).is_some())
            .token(kind)
            .expect("a link")
    };
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    // A newcomer's invitation, the organization without a language: the
    // browser's decides, else the default.
    app.invite(&owner, &org, "ny@example.com", "collaborator");
    let invite = format!("/invite/{}", token_for("ny@example.com", "invite"));
    for (asked, lang, says) in [
        (Some("sv-SE,sv;q=0.9,en;q=0.5"), "sv", "har bjudit in"),
        (Some("sv"), "sv", "Tacka ja"),
        (Some("sv-SE"), "sv", "Tacka ja"),
        (Some("sv;q=0"), "en", "invited"),
        (Some("de-DE, en;q=0.8"), "en", "invited"),
        (Some("sv;q=0, en"), "en", "Accept"),
        (Some("not a language header"), "en", "invited"),
        (None, "en", "invited"),
    ] {
        let (status, shown, html) = page_in(&app, &invite, asked);
        assert_eq!((status, shown.as_str()), (200, lang), "{asked:?}: {html}");
        assert!(html.contains(says), "{asked:?}: {html}");
    }
    // The organization's language, once set, is the newcomer's, and an
    // account's without a language of its own: the page does not tell
    // whether the address has an account.
    app.post(
        "/customer/settings",
        Some(&owner),
        json!({"organizationid": org, "language": "sv"}),
    )
    .ok();
    let (_, lang, html) = page_in(&app, &invite, Some("en"));
    assert_eq!(lang, "sv", "{html}");
    app.user("quiet@example.com");
    app.invite(&owner, &org, "quiet@example.com", "collaborator");
    let quiet = format!("/invite/{}", token_for("quiet@example.com", "invite"));
    assert_eq!(page_in(&app, &quiet, Some("en")).1, "sv");
    // An account's own language comes first: English for an `en` account
    // whatever its browser or the organization say, Swedish for an `sv` one.
    user_speaking(&app, "eve@example.com", "en");
    app.invite(&owner, &org, "eve@example.com", "collaborator");
    let eves = format!("/invite/{}", token_for("eve@example.com", "invite"));
    assert_eq!(page_in(&app, &eves, Some("sv")).1, "en");
    user_speaking(&app, "sven@example.com", "sv");
    app.post(
        "/user/requestloginlink",
        None,
        json!({"email": "sven@example.com"}),
    )
    .ok();
    let signin = format!("/signin/{}", token_for("sven@example.com", "signin"));
    let (status, lang, html) = page_in(&app, &signin, Some("en-GB"));
    assert_eq!((status, lang.as_str()), (200, "sv"), "{html}");
    assert!(
        html.contains("Logga in") && html.contains("sven@example.com"),
        "{html}"
    );
    // A link that cannot be used: the browser's language.
    let unknown = format!("/reset/{}", "A".repeat(43));
    let (status, lang, html) = page_in(&app, &unknown, Some("sv"));
    assert_eq!((status, lang.as_str()), (404, "sv"), "{html}");
    assert!(html.contains("finns inte"), "{html}");
    let (_, lang, html) = page_in(&app, &unknown, None);
    assert_eq!(lang, "en");
    assert!(html.contains("does not exist"), "{html}");
    // The API's own error texts stay English, whatever the browser asks.
    let refused = app.request(
        "POST",
        "/invite/accept",
        &[
            ("Accept-Language", "sv"),
            ("Content-Type", "application/json"),
        ],
        br#"{"token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
    );
    assert_eq!(refused.status, 404);
    assert!(
        refused.body["response"]["status"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("not found")),
        "{}",
        refused.body
    );
}

/// Templates of a provider's own that try every way to print a value raw
/// that the start lets through: a text template included in HTML, a value
/// captured in a block, filters that make new strings, a person's parts.
const RAW_TRIES: &str = "{% include \"mail/invitation.subject.txt\" %}|{% set captured %}{{ organization }}{% endset %}{{ captured }}|{{ organization|string }}|{{ organization ~ \"\" }}|{{ organization|replace(\"x\", \"y\") }}|{{ inviter.name }}|{{ inviter }}";

fn overrides_are_used_and_hostile_names_stay_escaped(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in [
        ("mail/invitation.html", format!("<p>OUR MAIL {RAW_TRIES}</p>")),
        (
            "page/invite.html",
            format!("<main data-token=\"{{{{ token }}}}\"><p>OUR PAGE {RAW_TRIES} {{{{ email }}}}</p></main>"),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let app = TestApp::start_with(backend, |c| {
        c.templates_dir = Some(dir.path().to_path_buf())
    });
    let hostile = "<img src=x onerror=alert(1)>";
    app.signup("eve@example.com", "correct horse battery", hostile);
    let eve = app.login("eve@example.com", "correct horse battery");
    let org = app.organization(&eve, "<script>alert(1)</script>");
    app.invite(&eve, &org, "bob@example.com", "collaborator");
    let mail = app
        .mail
        .wait_for_matching("bob@example.com", |m| m.decoded().contains("OUR MAIL"));
    let token = mail.token("invite").expect("an invite link");
    let page = app.get(&format!("/invite/{token}"), None);
    let html = page.body["raw"].as_str().unwrap_or_default().to_string();
    assert_eq!(page.status, 200, "{html}");
    assert!(
        html.contains("OUR PAGE"),
        "the override is the page: {html}"
    );
    // The subject and the text part are plain text: the HTML part is what
    // a mail client renders.
    let decoded = mail.decoded();
    let mail_html = decoded
        .split_once("Content-Type: text/html")
        .map(|(_, part)| part.to_string())
        .expect("an HTML part");
    assert!(
        mail_html.contains("OUR MAIL"),
        "the override is the mail: {mail_html}"
    );
    for shown in [mail_html, html] {
        assert!(
            !shown.contains("<script>") && !shown.contains("<img"),
            "{shown}"
        );
        // Every try printed the value, escaped.
        assert!(shown.matches("&lt;script&gt;").count() >= 5, "{shown}");
        assert!(shown.matches("&lt;img").count() >= 2, "{shown}");
    }
}

fn a_language_removed_since_is_taken_back_unchanged(backend: Backend) {
    // A provider adds German, an account and an organization choose it.
    let dir = tempfile::tempdir().expect("temp dir");
    let locales = dir.path().join("locales");
    std::fs::create_dir_all(&locales).expect("mkdir");
    std::fs::write(locales.join("de.ftl"), "signin-subject = Ihr Anmeldelink\n").expect("write");
    let mut app = TestApp::start_with(backend, |c| {
        c.templates_dir = Some(dir.path().to_path_buf())
    });
    let hans = user_speaking(&app, "hans@example.com", "de");
    let org = app.organization(&hans, "Werk");
    app.post(
        "/customer/settings",
        Some(&hans),
        json!({"organizationid": org, "language": "de"}),
    )
    .ok();
    // The provider takes German away again.
    app.restart(|c| c.templates_dir = None);
    // Sent back as read: taken; another language collabd lacks: 422.
    let me = app.get("/user/details", Some(&hans)).ok();
    assert_eq!(me.get("user")["language"], "de");
    app.post(
        "/user/edit",
        Some(&hans),
        json!({"language": "de", "name": "Hans"}),
    )
    .ok();
    app.post("/user/edit", Some(&hans), json!({"language": "fr"}))
        .err(422, "validation_failed");
    app.post(
        "/customer/settings",
        Some(&hans),
        json!({"organizationid": org, "language": "de"}),
    )
    .ok();
    // Meanwhile the account's mail is in the default language.
    app.post(
        "/user/requestloginlink",
        None,
        json!({"email": "hans@example.com"}),
    )
    .ok();
    let link = app
        .mail
        .wait_for_matching("hans@example.com", |m| m.token("signin").is_some());
    assert!(seen(&link).contains("sign-in link"), "{}", seen(&link));
}

fn the_default_language_and_a_named_sender(backend: Backend) {
    let app = TestApp::start_with(backend, |c| {
        c.default_language = "sv".into();
        c.mail_from = Some("GleSYS Cloud <no-reply@glesys.example>".into());
    });
    let owner = app.user("owner@example.com");
    let org = app.organization(&owner, "Acme");
    // Nobody chose a language: the server's default, in mail and pages.
    app.invite(&owner, &org, "ny@example.com", "collaborator");
    let mail = app
        .mail
        .wait_for_matching("ny@example.com", |m| m.token("invite").is_some());
    assert!(seen(&mail).contains("har bjudit in dig"), "{}", seen(&mail));
    assert!(
        mail.raw
            .contains("From: GleSYS Cloud <no-reply@glesys.example>")
            || mail
                .raw
                .contains("From: \"GleSYS Cloud\" <no-reply@glesys.example>"),
        "the sender with its name: {}",
        mail.raw
    );
    let invite = format!("/invite/{}", mail.token("invite").expect("a link"));
    assert_eq!(page_in(&app, &invite, None).1, "sv");
    // A browser's own choice still comes before the default.
    assert_eq!(page_in(&app, &invite, Some("en")).1, "en");
}

/// A template that does not parse stops the start, and the message names
/// its file and line (API.md §13).
#[test]
fn a_broken_template_stops_the_start_naming_its_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = dir.path().join("mail").join("invitation.txt");
    std::fs::create_dir_all(broken.parent().expect("mail/")).expect("mkdir");
    std::fs::write(&broken, "Hello\n{% if organization %}\n{{ organization }\n").expect("write");
    let database = dir.path().join("db.sqlite3");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_collabd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--workers", "1"])
        .env("COLLABD_DATABASE_URL", database.display().to_string())
        .env("COLLABD_JWT_SECRET", crate::support::TEST_JWT_SECRET)
        .env("COLLABD_TEMPLATES_DIR", dir.path())
        .env("COLLABD_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run collabd");
    assert!(!out.status.success(), "the start is refused");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&broken.display().to_string()) && said.contains("line 3"),
        "{said}"
    );
}
