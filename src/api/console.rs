//! The editors' console: plain ES modules and CSS from `src/console/`, served by the binary. A
//! release build compiles the files in; a debug build reads them from the source tree on each
//! request (rust-embed's behaviour), so the console can be worked on without rebuilding.
//!
//! The console is only a client of the public API: it signs in with an API key held in the
//! tab's `sessionStorage` and sends it as a bearer token, so there are no cookies and no CSRF
//! surface, and every response here carries a CSP that allows nothing but this origin.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

use super::assets::{asset, console_forms};
use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "src/console/"]
struct ConsoleFiles;

/// Scripts, styles and API calls from this origin only; no inline code, no `eval`, no frames.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A file name the console may hold: letters, digits, `.`, `-`, `_` and `/` between names, never
/// a `..` segment (rust-embed guards its debug reads too; this keeps the rule visible here).
fn is_console_path(name: &str) -> bool {
    !name.is_empty()
        && name.split('/').all(|segment| {
            !segment.is_empty()
                && segment != ".."
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        })
}

fn console_file(req: &HttpRequest, name: &str) -> Result<HttpResponse, ApiError> {
    let file = is_console_path(name)
        .then(|| ConsoleFiles::get(name))
        .flatten()
        .ok_or_else(|| ApiError::NotFound(format!("the console has no file `{name}`")))?;
    let digest = file.metadata.sha256_hash();
    let tag: String = digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    // The page names its files without a version, so none is cached for good.
    let forms = console_forms(name, &file.data, &digest);
    let mut response = asset(req, &forms, &tag, content_type(name), false);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CONSOLE_CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    if name.ends_with(".html") {
        // The page names its scripts; always revalidate it so a release's scripts load together.
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-cache"),
        );
    }
    Ok(response)
}

/// The editors' console.
///
/// Moderation queue, replies, article view, audit log and webhook integrations in the browser,
/// for API keys of scope `moderator` or `admin` (see docs/console.md). Everything it does goes
/// through this API.
pub async fn console_page(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    console_file(&req, "index.html")
}

/// A file of the console.
///
/// Its scripts, styles and translations, named by its page; each with an ETag and the console's
/// Content-Security-Policy.
pub async fn console_asset(
    req: HttpRequest,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    console_file(&req, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_inside_the_console_are_served() {
        assert!(is_console_path("console.js"));
        assert!(is_console_path("i18n/uk.json"));
        for hostile in [
            "",
            "../Cargo.toml",
            "a/../../b",
            "/etc/passwd",
            "a//b",
            "a\\b",
            "%2e%2e",
        ] {
            assert!(!is_console_path(hostile), "{hostile}");
        }
    }

    #[test]
    fn the_page_has_no_inline_code() {
        let page = ConsoleFiles::get("index.html").expect("the console's page is embedded");
        let page = String::from_utf8_lossy(&page.data);
        assert!(!page.contains("<style"));
        assert!(!page.contains("style="));
        assert!(!page.contains(" on"), "no inline event handlers");
        assert!(page
            .split("<script")
            .skip(1)
            .all(|tag| tag.contains(" src=")));
    }
}
