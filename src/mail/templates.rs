//! The emails collabd sends, as text and HTML. Every value from users is
//! escaped in the HTML part; the text part carries no markup.

use super::Mail;

/// Escapes text for HTML element content and quoted attributes.
pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Removes line breaks, so a value cannot forge lines in the text part or
/// headers in the subject.
fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn html_page(title: &str, paragraphs: &[String], link: &str, button: &str) -> String {
    let mut body = String::new();
    for p in paragraphs {
        body.push_str(&format!("<p>{p}</p>\n"));
    }
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif; max-width: 40em\">\n{body}\
         <p><a href=\"{link}\" style=\"display: inline-block; padding: .6em 1.2em; background: #1f6feb; color: #fff; text-decoration: none; border-radius: 4px\">{button}</a></p>\n\
         <p style=\"color: #555\">Or open this address: {link}</p>\n</body></html>\n",
        title = escape_html(title),
        link = escape_html(link),
        button = escape_html(button),
    )
}

/// What the invitation email says.
pub struct Invitation<'a> {
    pub to: &'a str,
    pub organization: &'a str,
    pub inviter_name: &'a str,
    pub inviter_email: &'a str,
    /// Whether the inviter confirmed `inviter_email`.
    pub inviter_confirmed: bool,
    pub role: &'a str,
    pub link: &'a str,
    /// RFC 3339.
    pub expires_at: &'a str,
}

/// How an invitation names its sender: "Name (address)", or, for an
/// account that never confirmed its address, "Name (address not
/// confirmed)": an address nobody proved is never shown as the sender's.
pub fn sender(name: &str, email: &str, confirmed: bool) -> String {
    let name = one_line(name);
    if confirmed {
        format!("{name} ({})", one_line(email))
    } else {
        format!("{name} (address not confirmed)")
    }
}

pub fn invitation(i: &Invitation<'_>) -> Mail {
    let organization = one_line(i.organization);
    let inviter = one_line(i.inviter_name);
    let from = sender(i.inviter_name, i.inviter_email, i.inviter_confirmed);
    let subject = format!("{inviter} invited you to {organization} on collabd");
    let text = format!(
        "{from} invited you to join {organization} as {role}.\n\n\
         Open this link to accept or decline:\n{link}\n\n\
         The invitation is valid until {expires} (UTC). If you did not expect it, ignore this email.\n",
        role = i.role,
        link = i.link,
        expires = i.expires_at,
    );
    let html = html_page(
        &subject,
        &[
            format!(
                "{} invited you to join <strong>{}</strong> as <strong>{}</strong>.",
                escape_html(&from),
                escape_html(&organization),
                escape_html(i.role)
            ),
            format!(
                "The invitation is valid until {} (UTC). If you did not expect it, ignore this email.",
                escape_html(i.expires_at)
            ),
        ],
        i.link,
        "View the invitation",
    );
    Mail {
        to: i.to.to_string(),
        subject,
        text,
        html,
        link: Some(i.link.to_string()),
    }
}

/// Tells a newcomer that accepting an invite made them an account.
pub fn account_created(to: &str, organization: &str, login_hint: &str) -> Mail {
    let organization = one_line(organization);
    let subject = format!("Your collabd account was created to join {organization}");
    let text = format!(
        "You accepted an invitation to {organization}, so an account was created for {to}.\n\n\
         {login_hint}\n\nIf this was not you, contact the organization that invited you.\n",
    );
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif; max-width: 40em\">\n\
         <p>You accepted an invitation to <strong>{org}</strong>, so an account was created for {to}.</p>\n\
         <p>{hint}</p>\n<p>If this was not you, contact the organization that invited you.</p>\n</body></html>\n",
        title = escape_html(&subject),
        org = escape_html(&organization),
        to = escape_html(to),
        hint = escape_html(login_hint),
    );
    Mail {
        to: to.to_string(),
        subject,
        text,
        html,
        link: None,
    }
}

/// Asks a new account to confirm its address.
pub fn verify_email(to: &str, name: &str, link: &str) -> Mail {
    let name = one_line(name);
    let subject = "Confirm your email address for collabd".to_string();
    let text = format!(
        "Hello {name},\n\nConfirm that {to} is your address by opening this link:\n{link}\n\n\
         If you did not sign up, ignore this email.\n"
    );
    let html = html_page(
        &subject,
        &[
            format!("Hello {},", escape_html(&name)),
            format!("Confirm that {} is your address.", escape_html(to)),
        ],
        link,
        "Confirm my address",
    );
    Mail {
        to: to.to_string(),
        subject,
        text,
        html,
        link: Some(link.to_string()),
    }
}

/// A mail whose point is one link: a greeting, what the link does, how long
/// it works, and what to do if it was not asked for.
fn link_mail(
    to: &str,
    subject: &str,
    name: &str,
    says: &str,
    link: &str,
    button: &str,
    after: &str,
) -> Mail {
    let name = one_line(name);
    let text = format!("Hello {name},\n\n{says}\n{link}\n\n{after}\n");
    let html = html_page(
        subject,
        &[
            format!("Hello {},", escape_html(&name)),
            escape_html(says),
            escape_html(after),
        ],
        link,
        button,
    );
    Mail {
        to: to.to_string(),
        subject: subject.to_string(),
        text,
        html,
        link: Some(link.to_string()),
    }
}

/// Asks for confirmation of a new address of an account (`user/edit`).
pub fn confirm_new_address(to: &str, name: &str, link: &str) -> Mail {
    link_mail(
        to,
        "Confirm your new email address for collabd",
        name,
        &format!("You asked to make {} the address of your collabd account. Confirm it by opening this link:", one_line(to)),
        link,
        "Confirm my new address",
        "Until you do, your old address stays in force. If you did not ask for this, ignore this email.",
    )
}

/// Tells the old address that a change was asked for.
pub fn address_change_notice(to: &str, name: &str, new_address: &str) -> Mail {
    let name = one_line(name);
    let new_address = one_line(new_address);
    let subject = "The address of your collabd account is being changed".to_string();
    let says = format!(
        "Someone signed in to your account asked to change its address from {to} to {new_address}. \
         The change takes effect when the new address is confirmed."
    );
    let after = "If this was not you, sign in, change your password, and turn on two-factor.";
    Mail {
        to: to.to_string(),
        subject: subject.clone(),
        text: format!("Hello {name},\n\n{says}\n\n{after}\n"),
        html: format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
             <body style=\"font-family: sans-serif; max-width: 40em\">\n<p>Hello {name},</p>\n<p>{says}</p>\n<p>{after}</p>\n</body></html>\n",
            title = escape_html(&subject),
            name = escape_html(&name),
            says = escape_html(&says),
            after = escape_html(after),
        ),
        link: None,
    }
}

/// A link to choose a new password.
pub fn password_reset(to: &str, name: &str, link: &str, minutes: u32) -> Mail {
    link_mail(
        to,
        "Reset your collabd password",
        name,
        &format!("Someone asked to reset the password of the collabd account of {}. To choose a new password, open this link within {minutes} minutes:", one_line(to)),
        link,
        "Choose a new password",
        "The link works once. If you did not ask for it, ignore this email: your password stays as it is.",
    )
}

/// A link that signs in without a password.
pub fn signin_link(to: &str, name: &str, link: &str, minutes: u32) -> Mail {
    link_mail(
        to,
        "Your collabd sign-in link",
        name,
        &format!(
            "To sign in to collabd as {}, open this link within {minutes} minutes:",
            one_line(to)
        ),
        link,
        "Sign in",
        "The link works once. If you did not ask for it, ignore this email.",
    )
}

/// Tells a person that their time-limited membership has ended.
pub fn membership_ended(to: &str, name: &str, organization: &str) -> Mail {
    let name = one_line(name);
    let organization = one_line(organization);
    let subject = format!("Your membership in {organization} has ended");
    let says = format!(
        "Your membership in {organization} on collabd was given until now, and has ended. \
         Your collabd account stays; ask the organization to invite you again if you still need access."
    );
    Mail {
        to: to.to_string(),
        subject: subject.clone(),
        text: format!("Hello {name},\n\n{says}\n"),
        html: format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
             <body style=\"font-family: sans-serif; max-width: 40em\">\n<p>Hello {name},</p>\n<p>{says}</p>\n</body></html>\n",
            title = escape_html(&subject),
            name = escape_html(&name),
            says = escape_html(&says),
        ),
        link: None,
    }
}

/// Tells a member that their organization was deleted.
pub fn organization_deleted(to: &str, organization: &str, by_name: &str, by_email: &str) -> Mail {
    let organization = one_line(organization);
    let by = format!("{} ({})", one_line(by_name), one_line(by_email));
    let subject = format!("{organization} was deleted on collabd");
    let says = format!(
        "{by} deleted the organization {organization}, with its projects, members and invites. \
         Your membership in it has ended; your collabd account stays."
    );
    Mail {
        to: to.to_string(),
        subject: subject.clone(),
        text: format!("{says}\n\nIf you did not expect this, ask {by}.\n"),
        html: format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
             <body style=\"font-family: sans-serif; max-width: 40em\">\n<p>{says}</p>\n\
             <p>If you did not expect this, ask {by}.</p>\n</body></html>\n",
            title = escape_html(&subject),
            says = escape_html(&says),
            by = escape_html(&by),
        ),
        link: None,
    }
}

/// What a domain verification mail says.
pub struct DomainClaim<'a> {
    pub to: &'a str,
    pub domain: &'a str,
    pub organization: &'a str,
    pub by_name: &'a str,
    pub by_email: &'a str,
    pub role: &'a str,
    pub link: &'a str,
    pub hours: u32,
}

/// Asks an address at a domain to prove the organization's claim of it.
pub fn verify_domain(c: &DomainClaim<'_>) -> Mail {
    let domain = one_line(c.domain);
    let organization = one_line(c.organization);
    let by = format!("{} ({})", one_line(c.by_name), one_line(c.by_email));
    link_mail(
        c.to,
        &format!("Verify {domain} for {organization} on collabd"),
        "there",
        &format!(
            "{by} claims the email domain {domain} for the organization {organization} on \
             collabd. Once verified, everyone who signs in with a verified address at {domain} \
             joins {organization} as {role}. If you manage {domain}, verify it by opening this \
             link within {hours} hours:",
            role = one_line(c.role),
            hours = c.hours,
        ),
        c.link,
        "Verify the domain",
        "If you do not know about this, ignore this email: nothing happens unless the link is used.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_in_html() {
        let mail = invitation(&Invitation {
            to: "a@example.com",
            organization: "<script>alert(1)</script>",
            inviter_name: "Eve \"&\" co\r\nBcc: x@y",
            inviter_email: "eve@example.com",
            inviter_confirmed: true,
            role: "admin",
            link: "http://localhost/invite/abc",
            expires_at: "2026-11-30T00:00:00Z",
        });
        assert!(!mail.html.contains("<script>"));
        assert!(mail.html.contains("&lt;script&gt;"));
        assert!(mail.html.contains("&quot;&amp;&quot;"));
        assert!(!mail.subject.contains('\n') && !mail.subject.contains('\r'));
        assert!(mail.text.contains("http://localhost/invite/abc"));
    }

    #[test]
    fn the_domain_claim_mail_escapes_what_people_typed() {
        let mail = verify_domain(&DomainClaim {
            to: "it@acme.com",
            domain: "acme.com",
            organization: "<img src=x>\r\nBcc: y@z",
            by_name: "<b>Owner</b>",
            by_email: "owner@example.com",
            role: "technical",
            link: "http://h/domain/t",
            hours: 48,
        });
        assert!(!mail.html.contains("<img") && !mail.html.contains("<b>"));
        assert!(mail.html.contains("&lt;img src=x&gt;"));
        assert!(!mail.subject.contains('\n') && !mail.subject.contains('\r'));
        assert!(mail.text.contains("http://h/domain/t") && mail.text.contains("48 hours"));
        assert!(
            mail.text
                .contains(" on collabd. Once verified, everyone who signs in"),
            "one line, no runs of spaces: {}",
            mail.text
        );
    }

    #[test]
    fn account_mails_escape_names_and_addresses() {
        let name = "<b>Mallory</b>\r\nBcc: x@y";
        for mail in [
            password_reset("a@example.com", name, "http://h/reset/t", 60),
            signin_link("a@example.com", name, "http://h/signin/t", 15),
            confirm_new_address("new@example.com", name, "http://h/confirm/t"),
            address_change_notice("a@example.com", name, "<i>new</i>@example.com"),
        ] {
            assert!(
                !mail.html.contains("<b>") && !mail.html.contains("<i>"),
                "{}",
                mail.html
            );
            assert!(mail.html.contains("&lt;b&gt;Mallory"));
            assert!(!mail.text.contains('\r'), "no forged lines");
            assert!(!mail.subject.contains('\n'));
        }
    }
}
