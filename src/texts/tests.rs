//! The templates and messages as a provider meets them: built-in ones in
//! both languages, overrides, and the start refusing what cannot work.

use super::*;

fn values() -> Vec<(&'static str, Value)> {
    vec![
        (
            "organization",
            Value::from("<script>alert(1)</script> & Co"),
        ),
        ("inviter", Value::from("Eve \"Mallory\" <eve@example.com>")),
        ("role", Value::from("admin")),
        ("expires", Value::from("2026-12-31T00:00:00Z")),
    ]
}

/// The invitation of [`values`] in `language`, with a plain link.
fn invitation(texts: &Texts, language: &str) -> crate::mail::Mail {
    texts
        .mail(
            "invitation",
            language,
            "a@example.com",
            &values(),
            Some("https://p/x"),
        )
        .expect("renders")
}

fn with_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("dirs");
        std::fs::write(path, text).expect("write");
    }
    dir
}

#[test]
fn every_mail_renders_in_both_languages_under_the_product_name() {
    let texts = Texts::load(None, "GleSYS Cloud", "en").expect("built-ins load");
    assert_eq!(texts.languages(), ["en", "sv"]);
    let english = texts
        .mail(
            "invitation",
            "en",
            "a@example.com",
            &values(),
            Some("https://p/x?t=1&u=2"),
        )
        .expect("renders");
    assert_eq!(
        english.subject,
        "Eve \"Mallory\" <eve@example.com> invited you to <script>alert(1)</script> & Co on GleSYS Cloud"
    );
    assert!(!english.html.contains("<script>"), "{}", english.html);
    assert!(english
        .html
        .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; Co"));
    // minijinja's escaping: `/` too; a browser reads the same address.
    assert!(english
        .html
        .contains("href=\"https:&#x2f;&#x2f;p&#x2f;x?t=1&amp;u=2\""));
    assert!(
        english.text.contains("https://p/x?t=1&u=2"),
        "the text part is plain"
    );
    assert!(!english.html.contains("collabd") && !english.text.contains("collabd"));
    let swedish = invitation(&texts, "sv");
    assert!(
        swedish.subject.contains("har bjudit in dig"),
        "{}",
        swedish.subject
    );
    assert!(swedish.html.contains("lang=\"sv\""));
}

#[test]
fn an_override_is_used_and_cannot_turn_escaping_off() {
    let dir = with_dir(&[(
        "mail/invitation.html",
        "<p>{{ product }}: {{ organization }} / {{ t(\"invitation-body\", inviter=inviter, \
         organization=organization, role=role) }}</p><a href=\"{{ link }}\">go</a>",
    )]);
    let texts = Texts::load(Some(dir.path()), "Panel", "en").expect("loads");
    let mail = invitation(&texts, "en");
    assert!(
        mail.html.starts_with("<p>Panel: &lt;script&gt;"),
        "{}",
        mail.html
    );
    assert!(!mail.html.contains("<script>") && !mail.html.contains("<eve@"));
    raw_output_is_refused_in("mail/invitation.html");
}

/// An override of `name` asking for raw output (`|safe`, `autoescape`)
/// stops the start, naming the file.
fn raw_output_is_refused_in(name: &str) {
    for raw in [
        "{{ organization|safe }}",
        "{% autoescape false %}{{ organization }}{% endautoescape %}",
    ] {
        let dir = with_dir(&[(name, raw)]);
        let refused = Texts::load(Some(dir.path()), "Panel", "en").expect_err(raw);
        assert!(refused.contains(name), "{refused}");
    }
}

#[test]
fn a_broken_or_unknown_variable_template_stops_the_start_naming_file_and_line() {
    let dir = with_dir(&[(
        "mail/signin_link.txt",
        "line one\n{{ t(\"signin-body\" }}\n",
    )]);
    let refused = Texts::load(Some(dir.path()), "collabd", "en").expect_err("broken");
    let file = dir
        .path()
        .join("mail/signin_link.txt")
        .display()
        .to_string();
    assert!(
        refused.contains(&file) && refused.contains("line 2"),
        "{refused}"
    );

    let dir = with_dir(&[("mail/password_reset.txt", "Hi\n\n{{ password }}\n")]);
    let refused = Texts::load(Some(dir.path()), "collabd", "en").expect_err("unknown");
    assert!(refused.contains("password_reset.txt, line 3"), "{refused}");
    assert!(refused.contains("\"password\""), "{refused}");

    let dir = with_dir(&[("mail/verify_email.txt", "{{ t(\"no-such-message\") }}")]);
    let refused = Texts::load(Some(dir.path()), "collabd", "en").expect_err("no message");
    assert!(refused.contains("no-such-message"), "{refused}");
}

#[test]
fn a_directory_adds_a_language_falling_back_to_english_per_message() {
    let dir = with_dir(&[(
        "locales/de.ftl",
        "signin-subject = Ihr Anmeldelink für { $product }\n",
    )]);
    let texts = Texts::load(Some(dir.path()), "collabd", "de").expect("loads");
    assert!(texts.has("de"));
    let values = [
        ("name", Value::from("Ada")),
        ("email", Value::from("ada@example.com")),
        ("minutes", Value::from("15")),
    ];
    let mail = texts
        .mail(
            "signin_link",
            "de",
            "ada@example.com",
            &values,
            Some("https://x/s"),
        )
        .expect("renders");
    assert_eq!(mail.subject, "Ihr Anmeldelink für collabd");
    assert!(
        mail.text.starts_with("Hello Ada,"),
        "English where German has none"
    );
    let bad = with_dir(&[("locales/de.ftl", "ok = fine\nthis is not fluent\n")]);
    let refused = Texts::load(Some(bad.path()), "collabd", "en").expect_err("bad ftl");
    assert!(refused.contains("de.ftl, line 2"), "{refused}");
    assert!(
        Texts::load(None, "collabd", "fr").is_err(),
        "an unknown default"
    );
}

#[test]
fn the_documentation_lists_every_template_and_its_variables() {
    let documented = include_str!("../../docs/templates.md");
    for entry in entries() {
        let row = documented
            .lines()
            .find(|l| l.starts_with("| ") && l.contains(&format!("`{}`", entry.name)))
            .unwrap_or_else(|| panic!("docs/templates.md lists {}", entry.name));
        for variable in entry.variables {
            assert!(
                row.contains(&format!("`{variable}`")),
                "{} gets {variable}: {row}",
                entry.name
            );
        }
    }
}

#[test]
fn a_text_template_included_in_html_is_escaped_too() {
    let dir = with_dir(&[(
        "mail/invitation.html",
        "<title>{% include \"mail/invitation.subject.txt\" %}</title>\
         {% set captured %}{{ organization }}{% endset %}<p>{{ captured }}</p>",
    )]);
    let texts = Texts::load(Some(dir.path()), "Panel", "en").expect("loads");
    let mail = invitation(&texts, "en");
    assert!(!mail.html.contains("<script>"), "{}", mail.html);
    assert!(mail.html.contains("&lt;script&gt;"), "{}", mail.html);
}

#[test]
fn what_the_start_refuses_besides_syntax() {
    // A file that names no template (a misspelling would be ignored).
    for (name, misspelled) in [
        ("mail/invitaton.html", "invitaton.html"),
        ("page/invitation.html", "page/invitation.html"),
    ] {
        let dir = with_dir(&[(name, "<p>x</p>")]);
        let refused = Texts::load(Some(dir.path()), "collabd", "en").expect_err("unknown name");
        assert!(refused.contains(misspelled), "{refused}");
    }
    // A page's refusal names a message of its reason: one no language has
    // stops the start, though only one reason opens it.
    let dir = with_dir(&[(
        "page/link_refused.html",
        "{% if reason == \"revoked\" %}{{ t(\"no-such-message\") }}{% endif %}",
    )]);
    let refused = Texts::load(Some(dir.path()), "collabd", "en").expect_err("a reason's branch");
    assert!(refused.contains("link_refused.html"), "{refused}");
    // A subject never carries the link (its token would be kept unsealed).
    let dir = with_dir(&[("mail/signin_link.subject.txt", "Sign in: {{ link }}")]);
    let refused = Texts::load(Some(dir.path()), "collabd", "en").expect_err("link in subject");
    assert!(
        refused.contains("signin_link.subject.txt, line 1"),
        "{refused}"
    );
    // A message missing in a branch only one value opens.
    let dir = with_dir(&[(
        "mail/account_created.txt",
        "{% if has_password %}ok{% else %}{{ t(\"no-such-message\") }}{% endif %}",
    )]);
    assert!(Texts::load(Some(dir.path()), "collabd", "en").is_err());
}

#[test]
fn counts_take_their_plural() {
    let texts = Texts::load(None, "collabd", "en").expect("loads");
    let values = |minutes: u32| {
        [
            ("name", Value::from("Ada")),
            ("email", Value::from("ada@example.com")),
            ("minutes", Value::from(minutes)),
        ]
    };
    let one = texts
        .mail(
            "signin_link",
            "en",
            "a@example.com",
            &values(1),
            Some("https://x/s"),
        )
        .expect("renders");
    assert!(one.text.contains("within 1 minute:"), "{}", one.text);
    let many = texts
        .mail(
            "signin_link",
            "sv",
            "a@example.com",
            &values(15),
            Some("https://x/s"),
        )
        .expect("renders");
    assert!(many.text.contains("inom 15 minuter"), "{}", many.text);
}

#[test]
fn an_override_failing_on_untried_values_falls_back_to_the_built_in_mail() {
    let dir = with_dir(&[(
        "mail/invitation.txt",
        "{% if role == \"owner\" %}{{ t(\"no-such-message\") }}{% else %}Custom{% endif %}",
    )]);
    let texts = Texts::load(Some(dir.path()), "Panel", "en").expect("the check tries admin");
    let mut owner = values();
    owner[2] = ("role", Value::from("owner"));
    let mail = texts
        .mail(
            "invitation",
            "sv",
            "a@example.com",
            &owner,
            Some("https://p/x"),
        )
        .expect("the built-in mail instead");
    assert!(mail.text.contains("har bjudit in dig"), "{}", mail.text);
    let admin = invitation(&texts, "en");
    assert_eq!(admin.text, "Custom");
}

/// A page's values, hostile where a person could choose them.
fn page_values() -> Vec<(&'static str, Value)> {
    vec![
        ("inviter", person("Eve <b>", "eve@example.com", false)),
        ("email", Value::from("a\"onmouseover=\"x@example.com")),
        (
            "organization",
            Value::from("<script>alert(1)</script> & Co"),
        ),
        ("role", Value::from("admin")),
        ("expires", Value::from("2026-12-31T00:00:00Z")),
        ("token", Value::from("dG9rZW4")),
    ]
}

#[test]
fn every_page_renders_in_both_languages_with_values_escaped() {
    let texts = Texts::load(None, "GleSYS Cloud", "en").expect("built-ins load");
    let english = texts.page("invite", "en", &page_values()).expect("renders");
    let swedish = texts.page("invite", "sv", &page_values()).expect("renders");
    for (page, lang, words) in [
        (&english, "en", "invited"),
        (&swedish, "sv", "har bjudit in"),
    ] {
        assert!(page.contains(&format!("<html lang=\"{lang}\">")), "{page}");
        assert!(
            page.contains(words) && page.contains("GleSYS Cloud"),
            "{page}"
        );
        assert!(
            !page.contains("collabd") && !page.contains("<script>alert"),
            "{page}"
        );
        assert!(page.contains("&lt;script&gt;alert(1)"), "{page}");
        assert!(!page.contains("\"onmouseover"), "{page}");
        assert!(page.contains("<main data-token=\"dG9rZW4\">"), "{page}");
        // The script fills these in from the API's answer.
        assert!(page.contains("{organization}"), "{page}");
    }
    assert!(
        english.contains("Eve &lt;b&gt; (address not confirmed)"),
        "{english}"
    );
    assert!(
        swedish.contains("Eve &lt;b&gt; (adressen är inte bekräftad)"),
        "{swedish}"
    );
    // Every page's preview: no template syntax left.
    let dir = tempfile::tempdir().expect("temp dir");
    texts.preview(dir.path()).expect("previews");
    for language in ["en", "sv"] {
        for entry in &PAGES {
            let name = entry.name.trim_start_matches("page/");
            let page = std::fs::read_to_string(dir.path().join(language).join("pages").join(name))
                .expect("a preview of every page");
            assert!(
                !page.contains("{{") && !page.contains("{%"),
                "{name}: {page}"
            );
        }
    }
}

#[test]
fn a_page_override_is_used_and_cannot_turn_escaping_off() {
    let dir = with_dir(&[(
        "page/invite.html",
        "<p title=\"{{ email }}\">{{ product }}: {{ organization }} {{ t(\"invite-page-body\", \
         inviter=inviter, email=email, organization=organization, role=role) }}</p>{{ token }}",
    )]);
    let texts = Texts::load(Some(dir.path()), "Panel", "en").expect("loads");
    let page = texts.page("invite", "en", &page_values()).expect("renders");
    assert!(
        page.starts_with(
            "<p title=\"a&quot;onmouseover=&quot;x@example.com\">Panel: &lt;script&gt;"
        ),
        "{page}"
    );
    assert!(
        !page.contains("<script>") && !page.contains("<b>"),
        "{page}"
    );
    raw_output_is_refused_in("page/invite.html");
}

#[test]
fn a_message_fails_the_start_in_a_variant_only_some_values_select() {
    // A misspelled value in the variant for domain links of one reason
    // only: the check renders every kind with every reason.
    let dir = with_dir(&[(
        "locales/en.ftl",
        "link-refused-used = { $kind ->\n    [domain] { $dommain } was verified.\n   *[other] Used.\n}\n",
    )]);
    let refused = Texts::load(Some(dir.path()), "collabd", "en").expect_err("a variant's typo");
    assert!(refused.contains("link_refused.html"), "{refused}");
    // A plural's `one`, which only a count of 1 selects.
    let dir = with_dir(&[(
        "locales/sv.ftl",
        "reset-body = { $minutes ->\n    [one] en { $minuter }\n   *[other] { $minutes } minuter\n}\n",
    )]);
    let refused = Texts::load(Some(dir.path()), "collabd", "en").expect_err("a plural's typo");
    assert!(refused.contains("password_reset"), "{refused}");
    // A person without a confirmed address.
    let dir = with_dir(&[(
        "locales/en.ftl",
        "person-unconfirmed = { $nmae } (address not confirmed)\n",
    )]);
    assert!(Texts::load(Some(dir.path()), "collabd", "en").is_err());
}
