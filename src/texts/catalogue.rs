//! What there is to say: every template collabd renders, when it is used
//! and the variables it gets (docs/templates.md lists the same), and the
//! built-in templates and messages compiled in, which are also the examples
//! a provider copies into `COLLABD_TEMPLATES_DIR`.

/// One template: its file name, what it is for, the variables it gets
/// beside the ones every template gets ([`GLOBALS`]).
pub struct Entry {
    pub name: &'static str,
    pub used: &'static str,
    pub variables: &'static [&'static str],
}

/// What every template gets: the product's name (`COLLABD_PRODUCT_NAME`),
/// the language it is rendered in, and `t(id, …)`, a message in that
/// language.
pub const GLOBALS: [&str; 3] = ["product", "language", "t"];

/// A built-in mail template: its name and its text, compiled in.
macro_rules! builtin {
    ($file:literal) => {
        (
            concat!("mail/", $file),
            include_str!(concat!("templates/mail/", $file)),
        )
    };
}

/// The three files of one email: subject, plain text and HTML.
macro_rules! mail {
    ($name:literal, $used:literal, [$($var:literal),*]) => {
        [
            Entry { name: concat!("mail/", $name, ".subject.txt"), used: $used, variables: &[$($var),*] },
            Entry { name: concat!("mail/", $name, ".txt"), used: $used, variables: &[$($var),*] },
            Entry { name: concat!("mail/", $name, ".html"), used: $used, variables: &[$($var),*] },
        ]
    };
}

/// Every email's templates.
pub const MAILS: [[Entry; 3]; 10] = [
    mail!(
        "invitation",
        "invite/create and invite/resend: an invitation to an organization",
        ["organization", "inviter", "role", "link", "expires"]
    ),
    mail!(
        "account_created",
        "an invitation accepted without an account made one",
        ["organization", "email", "has_password"]
    ),
    mail!(
        "verify_email",
        "user/signup: confirm the new account's address",
        ["name", "email", "link"]
    ),
    mail!(
        "confirm_new_address",
        "user/edit with a new email: confirm it",
        ["name", "email", "link"]
    ),
    mail!(
        "address_change_notice",
        "user/edit with a new email: told to the old address",
        ["name", "email", "new_email"]
    ),
    mail!(
        "password_reset",
        "user/requestpasswordreset",
        ["name", "email", "link", "minutes"]
    ),
    mail!(
        "signin_link",
        "user/requestloginlink",
        ["name", "email", "link", "minutes"]
    ),
    mail!(
        "membership_ended",
        "a time-limited membership reached its end",
        ["name", "organization"]
    ),
    mail!(
        "organization_deleted",
        "customer/deleteorganization: told to every member",
        ["organization", "by"]
    ),
    mail!(
        "verify_domain",
        "customer/adddomain with an address: verify the domain",
        ["domain", "organization", "by", "role", "link", "hours"]
    ),
];

/// The layout every HTML email extends (its blocks: `title`, `body`,
/// `link`, `button`).
pub const LAYOUT: &str = "mail/layout.html";

/// Every template's entry, in order.
pub fn entries() -> impl Iterator<Item = &'static Entry> {
    MAILS.iter().flatten()
}

/// The built-in templates, by name.
pub const BUILT_IN: &[(&str, &str)] = &[
    (LAYOUT, include_str!("templates/mail/layout.html")),
    builtin!("invitation.subject.txt"),
    builtin!("invitation.txt"),
    builtin!("invitation.html"),
    builtin!("account_created.subject.txt"),
    builtin!("account_created.txt"),
    builtin!("account_created.html"),
    builtin!("verify_email.subject.txt"),
    builtin!("verify_email.txt"),
    builtin!("verify_email.html"),
    builtin!("confirm_new_address.subject.txt"),
    builtin!("confirm_new_address.txt"),
    builtin!("confirm_new_address.html"),
    builtin!("address_change_notice.subject.txt"),
    builtin!("address_change_notice.txt"),
    builtin!("address_change_notice.html"),
    builtin!("password_reset.subject.txt"),
    builtin!("password_reset.txt"),
    builtin!("password_reset.html"),
    builtin!("signin_link.subject.txt"),
    builtin!("signin_link.txt"),
    builtin!("signin_link.html"),
    builtin!("membership_ended.subject.txt"),
    builtin!("membership_ended.txt"),
    builtin!("membership_ended.html"),
    builtin!("organization_deleted.subject.txt"),
    builtin!("organization_deleted.txt"),
    builtin!("organization_deleted.html"),
    builtin!("verify_domain.subject.txt"),
    builtin!("verify_domain.txt"),
    builtin!("verify_domain.html"),
];

/// The built-in languages' messages: English first (the fallback of every
/// message), then Swedish.
pub const LANGUAGES: [(&str, &str); 2] = [
    ("en", include_str!("locales/en.ftl")),
    ("sv", include_str!("locales/sv.ftl")),
];
