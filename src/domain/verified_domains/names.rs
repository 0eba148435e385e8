//! Domain names as claimed: normalized as the domains of addresses are
//! kept, and refused when they are not names or belong to a public mail
//! provider.

use crate::domain::emails;

/// Domains of public mailbox providers: an address there proves a mailbox,
/// not control of the domain, so none of them can be claimed. A list of the
/// large providers, not of every one: a provider missing here could be
/// claimed by one of its users (a DNS record as proof would close that).
const PUBLIC_PROVIDERS: &[&str] = &[
    "126.com",
    "163.com",
    "aim.com",
    "alice.it",
    "aol.com",
    "arcor.de",
    "att.net",
    "bellsouth.net",
    "bigpond.com",
    "bk.ru",
    "bluewin.ch",
    "blueyonder.co.uk",
    "bol.com.br",
    "btinternet.com",
    "charter.net",
    "comcast.net",
    "cox.net",
    "daum.net",
    "duck.com",
    "earthlink.net",
    "fastmail.com",
    "foxmail.com",
    "free.fr",
    "freenet.de",
    "gmail.com",
    "gmx.at",
    "gmx.ch",
    "gmx.com",
    "gmx.de",
    "gmx.fr",
    "gmx.net",
    "gmx.us",
    "googlemail.com",
    "hanmail.net",
    "hey.com",
    "hispeed.ch",
    "home.nl",
    "hotmail.co.uk",
    "hotmail.com",
    "hotmail.de",
    "hotmail.es",
    "hotmail.fr",
    "hotmail.it",
    "hushmail.com",
    "icloud.com",
    "ig.com.br",
    "inbox.com",
    "inbox.ru",
    "interia.pl",
    "kpnmail.nl",
    "laposte.net",
    "libero.it",
    "list.ru",
    "live.co.uk",
    "live.com",
    "live.com.mx",
    "live.de",
    "live.fr",
    "live.nl",
    "mac.com",
    "mail.com",
    "mail.ee",
    "mail.ru",
    "mailbox.org",
    "me.com",
    "msn.com",
    "naver.com",
    "ntlworld.com",
    "o2.pl",
    "onet.pl",
    "optusnet.com.au",
    "orange.fr",
    "outlook.com",
    "outlook.com.br",
    "outlook.de",
    "outlook.es",
    "outlook.fr",
    "outlook.it",
    "passport.com",
    "planet.nl",
    "pm.me",
    "posteo.de",
    "prodigy.net.mx",
    "proton.me",
    "protonmail.ch",
    "protonmail.com",
    "qq.com",
    "rambler.ru",
    "rediffmail.com",
    "rocketmail.com",
    "rogers.com",
    "sbcglobal.net",
    "seznam.cz",
    "sfr.fr",
    "shaw.ca",
    "sina.com",
    "sky.com",
    "skynet.be",
    "sohu.com",
    "sympatico.ca",
    "t-online.de",
    "talktalk.net",
    "telenet.be",
    "terra.com.br",
    "tiscali.it",
    "tuta.io",
    "tutanota.com",
    "tutanota.de",
    "ukr.net",
    "uol.com.br",
    "verizon.net",
    "virgilio.it",
    "virginmedia.com",
    "wanadoo.fr",
    "web.de",
    "windowslive.com",
    "wp.pl",
    "ya.ru",
    "yahoo.ca",
    "yahoo.co.in",
    "yahoo.co.jp",
    "yahoo.co.uk",
    "yahoo.com",
    "yahoo.com.au",
    "yahoo.com.br",
    "yahoo.de",
    "yahoo.es",
    "yahoo.fr",
    "yahoo.it",
    "yandex.com",
    "yandex.ru",
    "yandex.ua",
    "yeah.net",
    "ymail.com",
    "ziggo.nl",
    "zoho.com",
    "zohomail.com",
];

/// `domain` as stored: trimmed, without a final dot, in IDNA ASCII form
/// (lower-case, punycode for an international name), as the domains of
/// addresses are kept; or why it cannot be claimed.
pub fn normalize_domain(domain: &str) -> Result<String, String> {
    let domain = domain.trim().trim_end_matches('.');
    if domain.chars().any(emails::is_invisible) {
        return Err(emails::INVISIBLE.into());
    }
    let Ok(domain) = idna::domain_to_ascii(domain) else {
        return Err("must be a domain name such as acme.com".into());
    };
    if domain.len() > 253 {
        return Err("must be at most 253 characters".into());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("must be a domain name such as acme.com".into());
    }
    for label in &labels {
        let well_formed = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !well_formed {
            return Err(
                "must be a domain name: labels of letters, digits and inner hyphens".into(),
            );
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("must be a domain name, not an address".into());
    }
    if PUBLIC_PROVIDERS.contains(&domain.as_str()) {
        return Err(
            "belongs to a public email provider: an address there proves a mailbox, not the \
             domain"
                .into(),
        );
    }
    Ok(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_normalized_or_refused() {
        assert_eq!(normalize_domain(" Acme.COM. ").as_deref(), Ok("acme.com"));
        for spelling in [
            "bücher.de",
            "BÜCHER.de",
            "xn--bcher-kva.de",
            "bu\u{308}cher.de",
        ] {
            assert_eq!(
                normalize_domain(spelling).as_deref(),
                Ok("xn--bcher-kva.de")
            );
        }
        assert_eq!(
            normalize_domain("eu.acme-corp.io").as_deref(),
            Ok("eu.acme-corp.io")
        );
        for refused in [
            "acme",
            "",
            "-acme.com",
            "acme-.com",
            "ac me.com",
            "acme..com",
            "10.0.0.1",
            "gmail.com",
            "GMAIL.com",
            "exa\u{200B}mple.org",
            "exa\u{202E}mple.org",
            "xn--abc.org",
            "user@acme.com",
        ] {
            assert!(normalize_domain(refused).is_err(), "{refused}");
        }
    }
}
