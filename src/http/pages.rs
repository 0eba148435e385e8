//! The pages email links open: `GET /invite/{token}` and `GET /confirm/{token}`.
//! A GET never accepts or confirms anything by itself, because mail scanners
//! follow links: the page asks, and its button posts to the API.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::run;
use crate::domain::invites;
use crate::domain::Ctx;
use crate::mail::templates::escape_html;

fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em}}\
         input{{display:block;margin:.3em 0 1em;padding:.4em;width:100%}}\
         button{{padding:.6em 1.2em;margin-right:.5em}}#result{{margin-top:1em;font-weight:bold}}</style>\
         </head><body><h1>{title}</h1>\n{body}\n</body></html>\n",
        title = escape_html(title),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        // The token is in the URL: keep it out of Referer headers and caches.
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'none'",
        ))
        .body(html)
}

fn well_formed(token: &str) -> bool {
    super::params::valid_token(token).is_ok()
}

/// The script behind a page's buttons: posts JSON to `path` and shows the answer.
fn poster(token: &str) -> String {
    // The token is base64url (checked), so it is safe inside a JS string.
    format!(
        "<script>\nconst token = \"{token}\";\n\
         async function post(path, extra) {{\n\
           const body = Object.assign({{token}}, extra || {{}});\n\
           const r = await fetch(path, {{method: 'POST', headers: {{'content-type': 'application/json'}}, body: JSON.stringify(body)}});\n\
           const j = await r.json();\n\
           document.getElementById('result').textContent = j.response.status.code === 200 ? 'Done.' : j.response.status.text;\n\
           if (j.response.status.code === 200) for (const b of document.querySelectorAll('button')) b.disabled = true;\n\
         }}\n</script>"
    )
}

/// `GET /invite/{token}`: shows the invite and asks.
pub async fn invite_page(
    ctx: web::Data<Ctx>,
    client: super::client::ClientAddress,
    token: web::Path<String>,
) -> HttpResponse {
    let token = token.into_inner();
    let client = client.0;
    if !well_formed(&token) {
        return page(
            StatusCode::NOT_FOUND,
            "Invitation not found",
            "<p>This link is not valid.</p>",
        );
    }
    let lookup = token.clone();
    let invite = match run(ctx, move |ctx| {
        ctx.limits
            .token_call(client, || invites::details(ctx, &lookup))
    })
    .await
    {
        Ok(invite) => invite,
        Err(e) => {
            let (status, text) = match &e {
                super::error::ApiError::Gone { message, .. } => (StatusCode::GONE, message.clone()),
                super::error::ApiError::NotFound(_) => (
                    StatusCode::NOT_FOUND,
                    "This invitation does not exist.".to_string(),
                ),
                super::error::ApiError::RateLimited(seconds) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Too many unknown links from your address; try again in {seconds} s."),
                ),
                _ => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Please try again later.".to_string(),
                ),
            };
            return page(
                status,
                "Invitation",
                &format!("<p>{}</p>", escape_html(&text)),
            );
        }
    };
    let body = format!(
        "<p>{inviter} ({inviter_email}) invited <strong>{email}</strong> to join <strong>{org}</strong> as <strong>{role}</strong>.</p>\n\
         <p>The invitation is valid until {expires} (UTC).</p>\n\
         <p>If you have no account yet, accepting makes one for this address. Name and password are optional.</p>\n\
         <label>Name<input id=\"name\" autocomplete=\"name\"></label>\n\
         <label>Password<input id=\"password\" type=\"password\" autocomplete=\"new-password\"></label>\n\
         <button onclick=\"const n=document.getElementById('name').value.trim(), p=document.getElementById('password').value; post('/invite/accept', Object.assign(n?{{name:n}}:{{}}, p?{{password:p}}:{{}}))\">Accept</button>\
         <button onclick=\"post('/invite/decline')\">Decline</button>\n<div id=\"result\"></div>\n{script}",
        inviter = escape_html(&invite.invitedby.name),
        inviter_email = escape_html(&invite.invitedby.email),
        email = escape_html(&invite.email),
        org = escape_html(&invite.organizationname),
        role = invite.role.as_str(),
        expires = escape_html(&invite.expiresat),
        script = poster(&token),
    );
    page(StatusCode::OK, "Invitation", &body)
}

/// `GET /confirm/{token}`: asks before confirming the address.
pub async fn confirm_page(token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    if !well_formed(&token) {
        return page(
            StatusCode::NOT_FOUND,
            "Confirm your address",
            "<p>This link is not valid.</p>",
        );
    }
    let body = format!(
        "<p>Confirm that this email address is yours.</p>\n\
         <button onclick=\"post('/user/confirm')\">Confirm my address</button>\n<div id=\"result\"></div>\n{}",
        poster(&token)
    );
    page(StatusCode::OK, "Confirm your address", &body)
}
