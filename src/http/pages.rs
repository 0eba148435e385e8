//! The pages email links open: `GET /invite/{token}`, `/confirm/{token}`,
//! `/reset/{token}` and `/signin/{token}` (and `/domain/{token}`, in
//! `verified_domains.rs`). A GET never acts by itself,
//! because mail scanners follow links: the page says what the link is for,
//! asks, and its button posts to the API; then it says what happened and
//! what to do next.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::work::run;
use crate::domain::{accounts, invites, links, Ctx};
use crate::mail::templates::{self, escape_html};
use crate::store::kinds::TokenPurpose;

/// The HTML of a page: `title`, then `body` (HTML, escaped by the caller).
pub(super) fn page_html(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em}}\
         input{{display:block;margin:.3em 0 1em;padding:.4em;width:100%}}\
         button{{padding:.6em 1.2em;margin-right:.5em}}#result{{margin-top:1em;font-weight:bold}}\
         pre{{white-space:pre-wrap;word-break:break-all}}</style>\
         </head><body><h1>{title}</h1>\n{body}\n</body></html>\n",
        title = escape_html(title),
    )
}

/// The headers every page answers with: the token may be in the URL, so
/// keep it out of Referer headers and caches; and nothing but the page's
/// own script and style runs.
pub(super) const PAGE_HEADERS: [(&str, &str); 3] = [
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'",
    ),
];

pub(super) fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.content_type("text/html; charset=utf-8");
    for header in PAGE_HEADERS {
        response.insert_header(header);
    }
    response.body(page_html(title, body))
}

fn well_formed(token: &str) -> bool {
    super::params::valid_token(token).is_ok()
}

/// The script behind a page's buttons: posts JSON to `path` and shows the
/// answer: on success what `done(answer)` returns (JavaScript, given the
/// envelope's `response`), else the error's text.
pub(super) fn poster_with(token: &str, done: &str) -> String {
    // The token is base64url (checked), so it is safe inside a JS string.
    format!(
        "<script>\nconst token = \"{token}\";\n\
         let declining = false;\n\
         const done = {done};\n\
         async function post(path, extra) {{\n\
           const body = Object.assign({{token}}, extra || {{}});\n\
           const r = await fetch(path, {{method: 'POST', headers: {{'content-type': 'application/json'}}, body: JSON.stringify(body)}});\n\
           const j = await r.json();\n\
           const ok = j.response.status.code === 200;\n\
           document.getElementById('result').textContent = ok ? done(j.response) : j.response.status.text;\n\
           if (ok) for (const b of document.querySelectorAll('button')) b.disabled = true;\n\
           return j.response;\n\
         }}\n</script>"
    )
}

/// The page of a link that cannot be used, from the API's refusal.
fn refusal_page(title: &str, what: &str, error: &super::error::ApiError) -> HttpResponse {
    use super::error::ApiError;
    let (status, text) = match error {
        ApiError::Gone { message, .. } => (StatusCode::GONE, message.clone()),
        ApiError::NotFound(_) => (
            StatusCode::NOT_FOUND,
            format!("This {what} does not exist."),
        ),
        ApiError::RateLimited(seconds) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many unknown links from your address; try again in {seconds} s."),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Please try again later.".to_string(),
        ),
    };
    page(status, title, &format!("<p>{}</p>", escape_html(&text)))
}

/// What the emailed `token` of a page stands for, found by `find` (an
/// unknown token counts toward the client address's limit, as on the API), or
/// the page that says why there is none.
pub(super) async fn look_up<T: Send + 'static>(
    ctx: web::Data<Ctx>,
    client: std::net::IpAddr,
    token: &str,
    title: &'static str,
    what: &'static str,
    find: impl Fn(&Ctx, &str) -> crate::domain::DomainResult<T> + Send + 'static,
) -> Result<T, HttpResponse> {
    if !well_formed(token) {
        return Err(page(
            StatusCode::NOT_FOUND,
            title,
            "<p>This link is not valid.</p>",
        ));
    }
    let lookup = token.to_string();
    run(ctx, move |ctx| {
        ctx.limits.token_call(client, || find(ctx, &lookup))
    })
    .await
    .map_err(|e| refusal_page(title, what, &e))
}

/// `GET /reset/{token}`: asks for the new password, then says to sign in.
pub async fn reset_page(
    ctx: web::Data<Ctx>,
    client: super::client_address::ClientAddress,
    token: web::Path<String>,
) -> HttpResponse {
    const TITLE: &str = "Choose a new password";
    let token = token.into_inner();
    let product = escape_html(&ctx.texts.product);
    let user = match look_up(
        ctx,
        client.0,
        &token,
        TITLE,
        "password-reset link",
        |ctx, t| links::holder(ctx, TokenPurpose::Reset, t),
    )
    .await
    {
        Ok(user) => user,
        Err(page) => return page,
    };
    let email = escape_html(&user.email);
    let body = format!(
        "<p>This link sets a new password for the {product} account <strong>{email}</strong>. \
         Every session of the account ends; its API keys stay.</p>\n\
         <label>New password (8 to 128 characters)<input id=\"password\" type=\"password\" autocomplete=\"new-password\" minlength=\"8\" maxlength=\"128\"></label>\n\
         <button onclick=\"post('/user/resetpassword', {{password: document.getElementById('password').value}})\">Set the new password</button>\n\
         <div id=\"result\"></div>\n{script}",
        script = poster_with(
            &token,
            "(r) => 'Your new password is set and every earlier session has ended. Next: sign in as ' + r.user.email + ' with the new password (user/login).'"
        ),
    );
    page(StatusCode::OK, TITLE, &body)
}

/// `GET /signin/{token}`: asks (and for the code, with two-factor on), then
/// shows the session.
pub async fn signin_page(
    ctx: web::Data<Ctx>,
    client: super::client_address::ClientAddress,
    token: web::Path<String>,
) -> HttpResponse {
    const TITLE: &str = "Sign in";
    let token = token.into_inner();
    let product = escape_html(&ctx.texts.product);
    let user = match look_up(ctx, client.0, &token, TITLE, "sign-in link", |ctx, t| {
        links::holder(ctx, TokenPurpose::Signin, t)
    })
    .await
    {
        Ok(user) => user,
        Err(page) => return page,
    };
    let email = escape_html(&user.email);
    let otp = if user.twofactorenabled {
        "<label>Code from your authenticator app, or a recovery code<input id=\"otp\" autocomplete=\"one-time-code\"></label>\n"
    } else {
        ""
    };
    let body = format!(
        "<p>This link signs you in to {product} as <strong>{email}</strong>, once.</p>\n{otp}\
         <button onclick=\"const o=document.getElementById('otp'); post('/user/loginbylink', o&&o.value.trim()?{{otp:o.value.trim()}}:{{}})\">Sign in</button>\n\
         <div id=\"result\"></div>\n<pre id=\"session\"></pre>\n{script}",
        script = poster_with(
            &token,
            "(r) => { document.getElementById('session').textContent = r.login.token; return 'You are signed in as ' + r.login.user.email + ' until ' + r.login.expiresat + '. Next: use the session token below as Authorization: Bearer <token>; to sign in with a password next time, set one with user/edit or a password reset.'; }"
        ),
    );
    page(StatusCode::OK, TITLE, &body)
}

/// What the invite page says after its button: joined (with the session
/// when one was made) or declined, and what to do next.
const ACCEPTED: &str = "(r) => { \
    if (declining) return 'You declined the invitation. Nothing else happens; the organization sees it declined.'; \
    const joined = 'You joined ' + r.organization.name + ' as ' + r.collaborator.role + ' (collaborator id ' + r.collaborator.collaboratorid + '). '; \
    if (!r.login) return joined + 'Next: open the organization with customer/details?organizationid=' + r.organization.organizationid + '.'; \
    document.getElementById('session').textContent = r.login.token; \
    return joined + 'You are signed in as ' + r.login.user.email + ' until ' + r.login.expiresat + ': the session token is below. Next: open the organization with customer/details?organizationid=' + r.organization.organizationid + '. To sign in again later, use your password, or ask for a sign-in link (user/requestloginlink) or a password reset (user/requestpasswordreset) if you chose none.'; }";

/// `GET /invite/{token}`: shows the invite and asks.
pub async fn invite_page(
    ctx: web::Data<Ctx>,
    client: super::client_address::ClientAddress,
    token: web::Path<String>,
) -> HttpResponse {
    let token = token.into_inner();
    let invite = match look_up(
        ctx,
        client.0,
        &token,
        "Invitation",
        "invitation",
        invites::details,
    )
    .await
    {
        Ok(invite) => invite,
        Err(page) => return page,
    };
    let body = format!(
        "<p>{inviter} invited <strong>{email}</strong> to join <strong>{org}</strong> as <strong>{role}</strong>.</p>\n\
         <p>The invitation is valid until {expires} (UTC).</p>\n\
         <p>If you have no account yet, accepting makes one for this address. Name and password are optional.</p>\n\
         <label>Name<input id=\"name\" autocomplete=\"name\"></label>\n\
         <label>Password<input id=\"password\" type=\"password\" autocomplete=\"new-password\"></label>\n\
         <label>Code from your authenticator app, if your account has two-factor on<input id=\"otp\" autocomplete=\"one-time-code\"></label>\n\
         <button onclick=\"const n=document.getElementById('name').value.trim(), p=document.getElementById('password').value, o=document.getElementById('otp').value.trim(); declining=false; post('/invite/accept', Object.assign(n?{{name:n}}:{{}}, p?{{password:p}}:{{}}, o?{{otp:o}}:{{}}))\">Accept</button>\
         <button onclick=\"declining=true; post('/invite/decline')\">Decline</button>\n<div id=\"result\"></div>\n<pre id=\"session\"></pre>\n{script}",
        inviter = escape_html(&templates::sender(
            &invite.invitedby.name,
            &invite.invitedby.email,
            invite.invitedby.confirmed,
        )),
        email = escape_html(&invite.email),
        org = escape_html(&invite.organizationname),
        role = invite.role.as_str(),
        expires = escape_html(&invite.expiresat),
        script = poster_with(&token, ACCEPTED),
    );
    page(StatusCode::OK, "Invitation", &body)
}

/// `GET /confirm/{token}`: says which address the link confirms, asks,
/// then says what to do next.
pub async fn confirm_page(
    ctx: web::Data<Ctx>,
    client: super::client_address::ClientAddress,
    token: web::Path<String>,
) -> HttpResponse {
    const TITLE: &str = "Confirm your address";
    let token = token.into_inner();
    let product = escape_html(&ctx.texts.product);
    let (address, current) = match look_up(
        ctx,
        client.0,
        &token,
        TITLE,
        "confirmation link",
        accounts::confirmation_details,
    )
    .await
    {
        Ok(found) => found,
        Err(page) => return page,
    };
    let address = escape_html(&address);
    let says = match current {
        Some(current) => format!(
            "This link makes <strong>{address}</strong> the address of your {product} account, \
             which is now {}. You will then sign in with the new address.",
            escape_html(&current)
        ),
        None => format!(
            "This link confirms that <strong>{address}</strong> is your address, the one your \
             {product} account signs in with."
        ),
    };
    let body = format!(
        "<p>{says}</p>\n\
         <button onclick=\"post('/user/confirm')\">Confirm my address</button>\n<div id=\"result\"></div>\n{}",
        poster_with(
            &token,
            "(r) => r.user.email + ' is confirmed as the address of your account. Next: sign in with it (user/login, or ask for a sign-in link with user/requestloginlink).'"
        )
    );
    page(StatusCode::OK, TITLE, &body)
}
