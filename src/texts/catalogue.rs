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
    (page $file:literal) => {
        (
            concat!("page/", $file),
            include_str!(concat!("templates/page/", $file)),
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

/// Every page's template. A page's script holds no values: it reads the
/// link's token from `<main data-token>` and its sentences from hidden
/// `data-say` elements, whose `{name}`s it fills with the API's answer
/// (as text, never as HTML).
pub const PAGES: [Entry; 8] = [
    Entry {
        name: "page/invite.html",
        used: "GET /invite/{token}: an invitation, to accept or decline",
        variables: &[
            "inviter",
            "email",
            "organization",
            "role",
            "expires",
            "token",
        ],
    },
    Entry {
        name: "page/confirm.html",
        used: "GET /confirm/{token}: an address to confirm (`current` is the account's address \
            when the link changes it, else empty)",
        variables: &["email", "current", "token"],
    },
    Entry {
        name: "page/reset.html",
        used: "GET /reset/{token}: a new password to choose",
        variables: &["email", "token"],
    },
    Entry {
        name: "page/signin.html",
        used: "GET /signin/{token}: a sign-in link (`twofactor`: the account asks for a code)",
        variables: &["email", "twofactor", "token"],
    },
    Entry {
        name: "page/domain.html",
        used: "GET /domain/{token}: an organization's claim of an email domain, to verify",
        variables: &["domain", "organization", "role", "token"],
    },
    Entry {
        name: "page/link_refused.html",
        used: "any of the five pages above when its link cannot be used: `kind` is the link's \
            kind, `reason` why (see below), `seconds` the wait after too many unknown links",
        variables: &["kind", "reason", "seconds"],
    },
    Entry {
        name: "page/sso_signed_in.html",
        used: "GET /sso/callback: a sign-in through the organization's identity provider, \
            finished (`joined`: it made the account a member; `session` is the session token)",
        variables: &[
            "name",
            "email",
            "organization",
            "role",
            "joined",
            "expires",
            "session",
            "organizationid",
        ],
    },
    Entry {
        name: "page/sso_refused.html",
        used: "GET /sso/{organizationid} and GET /sso/callback, refused: `reason` (see below), \
            `detail` the provider's or the check's own words (English, may be empty); `email` \
            (the provider's) and `organization` when the person is no member any more",
        variables: &["reason", "detail", "email", "organization"],
    },
];

/// The parts pages and emails share: each template's file, what it is and
/// the variables it may name.
pub const PARTS: [Entry; 3] = [
    Entry {
        name: LAYOUT,
        used: "the frame of every HTML email",
        variables: &["link"],
    },
    Entry {
        name: "page/layout.html",
        used: "the frame of every page (blocks `title`, `heading`, `body`)",
        variables: &["token"],
    },
    Entry {
        name: "page/post.html",
        used: "included by the pages with a button: the script that posts to the API and \
            shows the answer",
        variables: &[],
    },
];

/// The kinds of emailed link, as `kind` names them (`page/link_refused.html`).
pub const LINK_KINDS: [&str; 5] = ["invite", "confirm", "reset", "signin", "domain"];

/// Why a link's page cannot go on (`reason` of `page/link_refused.html`).
pub const LINK_REFUSALS: [&str; 9] = [
    "unknown",
    "malformed",
    "too_many",
    "unavailable",
    "expired",
    "revoked",
    "declined",
    "accepted",
    "used",
];

/// Why a sign-in through an identity provider cannot go on (`reason` of
/// `page/sso_refused.html`).
pub const SSO_REFUSALS: [&str; 18] = [
    "no_sso",
    "unknown",
    "used",
    "expired",
    "other_browser",
    "changed",
    "mix_up",
    "unnamed",
    "provider_refused",
    "no_code",
    "exchange_failed",
    "token_invalid",
    "no_verified_email",
    "not_added",
    "not_linked",
    "unavailable",
    "internal",
    "other",
];

/// Every template's entry that is rendered by itself (emails' parts and
/// pages), in order.
pub fn entries() -> impl Iterator<Item = &'static Entry> {
    MAILS.iter().flatten().chain(PAGES.iter())
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
    builtin!(page "layout.html"),
    builtin!(page "post.html"),
    builtin!(page "invite.html"),
    builtin!(page "confirm.html"),
    builtin!(page "reset.html"),
    builtin!(page "signin.html"),
    builtin!(page "domain.html"),
    builtin!(page "link_refused.html"),
    builtin!(page "sso_signed_in.html"),
    builtin!(page "sso_refused.html"),
];

/// The built-in languages' messages: English first (the fallback of every
/// message), then Swedish.
pub const LANGUAGES: [(&str, &str); 2] = [
    ("en", include_str!("locales/en.ftl")),
    ("sv", include_str!("locales/sv.ftl")),
];
