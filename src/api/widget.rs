//! The embeddable review widget and its demo page, served by the binary itself: the files live in
//! `src/widget/` and are compiled in, so a deployment has nothing extra to host and the widget
//! always matches the API it talks to.

use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse};

use super::assets::{WIDGET_CSS, WIDGET_JS};
use crate::domain::article::ArticleId;
use crate::domain::text;
use crate::error::ApiError;

const DEMO_HTML: &str = include_str!("../widget/demo.html");

/// The demo page allows only this service's own scripts, styles and API: it proves the widget
/// needs nothing inline, no `eval` and no third party.
pub const DEMO_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The review widget.
///
/// A dependency-free script a newsroom embeds in an article page with a `script` element
/// carrying `data-article-id` (see docs/widget.md for the snippet). It renders into a shadow root
/// with its versioned `/widget.css?v=…` and calls the public API. Sent gzip- or
/// brotli-encoded as `Accept-Encoding` allows; cached for five minutes, or for a year under the
/// current `?v=`.
pub async fn widget_js(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    WIDGET_JS.answer(&req, "text/javascript; charset=utf-8")
}

/// The widget's styles.
///
/// Loaded by the widget into its shadow root; themable through CSS custom properties on the
/// page. Encoded and cached as the script is.
pub async fn widget_css(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    WIDGET_CSS.answer(&req, "text/css; charset=utf-8")
}

/// A demo article page embedding the widget.
///
/// For trying the widget and for the browser test: served under a strict Content-Security-Policy
/// (no inline code, nothing from other origins).
pub async fn demo(article_id: ArticleId) -> HttpResponse {
    let page = DEMO_HTML
        // Article ids cannot hold markup today; the page must stay safe if that rule ever loosens.
        .replace("{{article_id}}", &text::escape_html(article_id.as_str()))
        .replace("{{lang}}", "uk");
    HttpResponse::Ok()
        .insert_header((header::CONTENT_SECURITY_POLICY, DEMO_CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .content_type("text/html; charset=utf-8")
        .body(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_page_has_no_inline_code() {
        assert!(!DEMO_HTML.contains("<style"));
        assert!(!DEMO_HTML.contains("style="));
        assert!(!DEMO_HTML
            .split("<script")
            .skip(1)
            .any(|tag| !tag.trim_start().starts_with("src=") && !tag.contains(" src=")));
    }
}
