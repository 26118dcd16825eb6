//! The links in our messages (docs/email.md): confirming an address (double opt-in) and
//! unsubscribing from everything of the site, in one click and without signing in. Opening a
//! link (`GET`) only shows a page with a button; the change is a `POST`, so that mail scanners
//! that open every link change nothing, and mail programs that support RFC 8058 unsubscribe
//! with one `POST` to the `List-Unsubscribe` address.

use actix_web::http::header::ContentType;
use actix_web::{get, post, HttpResponse};

use super::extract::{MailLink, SiteState};
use super::responses::{BadParameter, MailLinkNotFound, Unavailable};
use crate::error::ApiError;
use crate::services;
use crate::store::mail::LinkOutcome;

/// The page a confirmation link opens.
///
/// Shows a button that confirms the address (a `POST` to the same address); opening the link
/// alone changes nothing.
#[utoipa::path(
    tag = "email",
    params(("token" = String, Query, description = "The link's token (43 characters)", min_length = 43, max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$")),
    responses(
        (status = 200, description = "A page with the confirm button", content_type = "text/html", body = String),
        BadParameter, Unavailable,
    )
)]
#[get("/v1/mail/confirm")]
pub async fn confirm_page(MailLink(token): MailLink) -> HttpResponse {
    page(&pages::ask(pages::Ask::Confirm, token.as_str()))
}

/// Confirm an address.
///
/// The address the token names receives the notices its reader asked for, those that waited
/// for this confirmation first. Confirming again changes nothing; confirming after
/// unsubscribing subscribes again.
#[utoipa::path(
    tag = "email",
    params(("token" = String, Query, description = "The link's token (43 characters)", min_length = 43, max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$")),
    responses(
        (status = 200, description = "Confirmed: a page saying so", content_type = "text/html", body = String),
        BadParameter, MailLinkNotFound, Unavailable,
    )
)]
#[post("/v1/mail/confirm")]
pub async fn confirm(
    state: SiteState,
    MailLink(token): MailLink,
) -> Result<HttpResponse, ApiError> {
    match services::mail::confirm(&state, token.as_str()).await? {
        LinkOutcome::Unknown => Err(unknown_link()),
        LinkOutcome::Done { .. } => Ok(page(&pages::done(pages::Ask::Confirm))),
    }
}

/// The page an unsubscribe link opens.
///
/// Shows a button that unsubscribes (a `POST` to the same address); opening the link alone
/// changes nothing.
#[utoipa::path(
    tag = "email",
    params(("token" = String, Query, description = "The link's token (43 characters)", min_length = 43, max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$")),
    responses(
        (status = 200, description = "A page with the unsubscribe button", content_type = "text/html", body = String),
        BadParameter, Unavailable,
    )
)]
#[get("/v1/mail/unsubscribe")]
pub async fn unsubscribe_page(MailLink(token): MailLink) -> HttpResponse {
    page(&pages::ask(pages::Ask::Unsubscribe, token.as_str()))
}

/// Unsubscribe an address (RFC 8058 one-click).
///
/// The address the token names receives nothing more from this site; what was queued for it is
/// not sent. Mail programs send `List-Unsubscribe=One-Click` as a form body, which is neither
/// needed nor read. Unsubscribing twice changes nothing.
#[utoipa::path(
    tag = "email",
    params(("token" = String, Query, description = "The link's token (43 characters)", min_length = 43, max_length = 43, pattern = "^[A-Za-z0-9_-]{43}$")),
    responses(
        (status = 200, description = "Unsubscribed: a page saying so", content_type = "text/html", body = String),
        BadParameter, MailLinkNotFound, Unavailable,
    )
)]
#[post("/v1/mail/unsubscribe")]
pub async fn unsubscribe(
    state: SiteState,
    MailLink(token): MailLink,
) -> Result<HttpResponse, ApiError> {
    match services::mail::unsubscribe(&state, token.as_str()).await? {
        LinkOutcome::Unknown => Err(unknown_link()),
        LinkOutcome::Done { .. } => Ok(page(&pages::done(pages::Ask::Unsubscribe))),
    }
}

fn unknown_link() -> ApiError {
    ApiError::NotFound(
        "no address of this site has this link (erased, or a link of another site)".into(),
    )
}

fn page(html: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(html.to_owned())
}

/// The pages, in both languages: a link carries no hint of the reader's.
mod pages {
    pub enum Ask {
        Confirm,
        Unsubscribe,
    }

    const STYLE: &str =
        "body{font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em;line-height:1.5}\
        button{font-size:1rem;padding:.6em 1.2em}";

    fn document(title: &str, body: &str) -> String {
        format!(
            "<!doctype html>\n<html lang=\"uk\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
             <style>{STYLE}</style></head>\n<body><main>\n{body}</main></body></html>\n"
        )
    }

    /// The page with the button; `token` is checked to be URL-safe characters only.
    pub fn ask(ask: Ask, token: &str) -> String {
        let (title, uk, en, action, button) = match ask {
            Ask::Confirm => (
                "Підтвердження адреси / Confirm your address",
                "Підтвердьте, що хочете отримувати новини про свій відгук на цю адресу.",
                "Confirm that you want news about your review at this address.",
                "confirm",
                "Підтвердити / Confirm",
            ),
            Ask::Unsubscribe => (
                "Відписка / Unsubscribe",
                "Більше не надсилати листів від цього сайту на цю адресу.",
                "Send no more messages from this site to this address.",
                "unsubscribe",
                "Відписатися / Unsubscribe",
            ),
        };
        document(
            title,
            &format!(
                "<h1>{title}</h1>\n<p>{uk}</p>\n<p lang=\"en\">{en}</p>\n\
                 <form method=\"post\" action=\"{action}?token={token}\">\
                 <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
                 <button type=\"submit\">{button}</button></form>\n"
            ),
        )
    }

    pub fn done(ask: Ask) -> String {
        let (title, uk, en) = match ask {
            Ask::Confirm => (
                "Адресу підтверджено / Address confirmed",
                "Дякуємо! Ми повідомимо вас, коли відгук опублікують або редакція відповість.",
                "Thank you! We will tell you when your review is published or answered.",
            ),
            Ask::Unsubscribe => (
                "Ви відписалися / Unsubscribed",
                "Ми більше не надсилатимемо листів на цю адресу.",
                "We will send no more messages to this address.",
            ),
        };
        document(
            title,
            &format!("<h1>{title}</h1>\n<p>{uk}</p>\n<p lang=\"en\">{en}</p>\n"),
        )
    }
}
