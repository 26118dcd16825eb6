//! Static files the binary serves itself (the widget, the editors' console). build.rs compresses
//! them with gzip and brotli at build time; each answer picks the form the client accepts
//! (`Accept-Encoding` with its q-values), whatever `MARGINALIA_COMPRESSION` says, with an ETag per
//! form. A URL versioned by content hash (`?v=`) is cached for a year; others briefly, then
//! revalidated.

use actix_web::http::header::{self, CacheControl, CacheDirective, EntityTag, Header, IfNoneMatch};
use actix_web::{HttpRequest, HttpResponse};

use super::extract::query_pairs;
use crate::domain::{FieldError, FieldErrorCode};
use crate::error::ApiError;

include!(concat!(env!("OUT_DIR"), "/static_assets.rs"));

/// A static file's `?v=` version: the first 16 hex digits of its SHA-256 (`is_versioned` reads
/// it; the pattern states the rule for readers and pins `is_version` in a unit test).
pub struct ContentVersion;

impl ContentVersion {
    pub const PATTERN: &'static str = "^[0-9a-f]{16}$";
}

fn is_version(value: &str) -> bool {
    value.len() == 16
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A file as build.rs prepared it: plain and precompressed, with a content hash.
pub struct Precompressed {
    pub plain: &'static [u8],
    pub gzip: &'static [u8],
    pub brotli: &'static [u8],
    /// The first 16 hex digits of the plain file's SHA-256: its ETag and its `?v=` version.
    pub tag: &'static str,
}

/// A console file precompressed by build.rs, with the SHA-256 of the plain file it was made from.
pub struct ConsoleFile {
    pub name: &'static str,
    pub sha256: [u8; 32],
    pub gzip: &'static [u8],
    pub brotli: &'static [u8],
}

/// How long browsers and CDNs may reuse an unversioned file without asking: short, so a new
/// release reaches readers within minutes; revalidation is cheap through the ETag.
const ASSET_MAX_AGE_SECS: u32 = 300;

/// A versioned URL names one content forever: a release changes the version, not the file.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A content coding the server can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    /// The `Content-Encoding` token; none for the plain file.
    fn token(self) -> Option<&'static str> {
        match self {
            Self::Brotli => Some("br"),
            Self::Gzip => Some("gzip"),
            Self::Identity => None,
        }
    }
}

/// The encodings `accept_encoding` allows, best first: by q-value, and on a tie brotli (smallest),
/// then gzip, then the plain file. Without the header, or when it refuses everything, the plain
/// file (RFC 9110 §12.5.3 lets a server send it rather than a 406, and every client reads it).
pub fn negotiate(accept_encoding: Option<&str>) -> Encoding {
    let Some(accept) = accept_encoding else {
        return Encoding::Identity;
    };
    let mut listed: Vec<(String, f32)> = Vec::new();
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        if coding.is_empty() {
            continue;
        }
        let mut weight = Some(1.0);
        for parameter in parts {
            if let Some((name, value)) = parameter.split_once('=') {
                if name.trim().eq_ignore_ascii_case("q") {
                    weight = value
                        .trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q));
                }
            }
        }
        // An item with a malformed q-value is ignored rather than guessed at.
        if let Some(weight) = weight {
            let coding = if coding == "x-gzip" {
                "gzip".into()
            } else {
                coding
            };
            listed.push((coding, weight));
        }
    }
    let weight_of = |coding: &str| {
        let named = listed.iter().find(|(name, _)| name == coding);
        let any = listed.iter().find(|(name, _)| name == "*");
        match (named, any) {
            (Some((_, q)), _) | (None, Some((_, q))) => *q,
            // Unlisted: the plain file stays acceptable, but below anything the client named (a
            // q-value has three decimals at most, so this is the least one).
            (None, None) if coding == "identity" => 0.001,
            (None, None) => 0.0,
        }
    };
    let candidates = [
        (Encoding::Brotli, weight_of("br")),
        (Encoding::Gzip, weight_of("gzip")),
        (Encoding::Identity, weight_of("identity")),
    ];
    // In order of preference, so that on a tie the earlier (smaller) form stays.
    let mut best = (Encoding::Identity, 0.0);
    for (encoding, weight) in candidates {
        if weight > best.1 {
            best = (encoding, weight);
        }
    }
    best.0
}

/// The forms a file can be sent in: the plain bytes, and the precompressed ones when there are.
pub struct Forms<'a> {
    pub plain: &'a [u8],
    pub compressed: Option<(&'a [u8], &'a [u8])>,
}

impl Precompressed {
    pub fn forms(&self) -> Forms<'static> {
        Forms {
            plain: self.plain,
            compressed: Some((self.gzip, self.brotli)),
        }
    }

    /// Whether the request names this content's version (`?v=<tag>`): then it may be cached for
    /// good. An old or made-up version gets the short lifetime, so it cannot pin stale bytes. The
    /// query is read as every operation's is, so a value no parameter may hold is a 400.
    pub fn is_versioned(&self, req: &HttpRequest) -> Result<bool, ApiError> {
        let mut versioned = false;
        for (name, value) in query_pairs(req)? {
            if name != "v" {
                continue;
            }
            if !is_version(&value) {
                return Err(ApiError::BadRequest {
                    detail: "invalid query parameters".into(),
                    errors: vec![FieldError::new(
                        "v",
                        FieldErrorCode::Format,
                        "must be a file's content hash: 16 lowercase hexadecimal digits",
                    )],
                });
            }
            versioned |= value == self.tag;
        }
        Ok(versioned)
    }

    /// This file, answered as [`asset`] does.
    pub fn answer(
        &self,
        req: &HttpRequest,
        content_type: &'static str,
    ) -> Result<HttpResponse, ApiError> {
        Ok(asset(
            req,
            &self.forms(),
            self.tag,
            content_type,
            self.is_versioned(req)?,
        ))
    }
}

/// A file in the form the client accepts best, with that form's ETag (`tag`, suffixed by the
/// coding) and `Vary: Accept-Encoding`; `If-None-Match` with that ETag answers 304.
pub fn asset(
    req: &HttpRequest,
    forms: &Forms<'_>,
    tag: &str,
    content_type: &'static str,
    versioned: bool,
) -> HttpResponse {
    let accept = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok());
    let (encoding, body) = match (negotiate(accept), forms.compressed) {
        (Encoding::Brotli, Some((_, brotli))) => (Encoding::Brotli, brotli),
        (Encoding::Gzip, Some((gzip, _))) => (Encoding::Gzip, gzip),
        _ => (Encoding::Identity, forms.plain),
    };
    // One ETag per form: a cache holding the gzip bytes must not validate a brotli request.
    let tag = EntityTag::new_strong(match encoding.token() {
        Some(token) => format!("{tag}-{token}"),
        None => tag.to_owned(),
    });
    let fresh = req.headers().contains_key(header::IF_NONE_MATCH)
        && <IfNoneMatch as Header>::parse(req).is_ok_and(|condition| match condition {
            IfNoneMatch::Any => true,
            IfNoneMatch::Items(tags) => tags.iter().any(|candidate| candidate.weak_eq(&tag)),
        });
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header(header::ETag(tag))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if versioned {
        response.insert_header((header::CACHE_CONTROL, IMMUTABLE));
    } else {
        response.insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(ASSET_MAX_AGE_SECS),
        ]));
    }
    if let Some(token) = encoding.token() {
        // Also keeps the Compress middleware (MARGINALIA_COMPRESSION) off an encoded body.
        response.insert_header((header::CONTENT_ENCODING, token));
    }
    if fresh {
        response.finish()
    } else {
        response.content_type(content_type).body(body.to_vec())
    }
}

/// The console file `name` precompressed, if build.rs made it from exactly `plain_sha256` (a
/// debug build reads the console from disk, where the file may have changed since).
pub fn console_forms<'a>(name: &str, plain: &'a [u8], plain_sha256: &[u8; 32]) -> Forms<'a> {
    let compressed = CONSOLE_FILES
        .iter()
        .find(|file| file.name == name && &file.sha256 == plain_sha256)
        .map(|file| (file.gzip, file.brotli));
    Forms { plain, compressed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_what_its_published_pattern_says() {
        let pattern = regex::Regex::new(ContentVersion::PATTERN).unwrap();
        for value in [
            WIDGET_CSS.tag,
            "0123456789abcdef",
            "0123456789ABCDEF",
            "0123456789abcde",
            "0123456789abcdef0",
            "2",
            "",
            "0123456789abcdeg",
            "0123456789abcde\0",
        ] {
            assert_eq!(is_version(value), pattern.is_match(value), "{value:?}");
        }
        assert!(is_version(WIDGET_CSS.tag));
    }

    #[test]
    fn the_best_accepted_encoding_wins() {
        use Encoding::{Brotli, Gzip, Identity};
        for (accept, expected) in [
            (None, Identity),
            (Some(""), Identity),
            (Some("gzip, deflate, br, zstd"), Brotli),
            (Some("gzip"), Gzip),
            (Some("x-gzip"), Gzip),
            (Some("GZIP;Q=0.5, identity;q=0.4"), Gzip),
            (Some("br;q=0.5, gzip;q=0.8"), Gzip),
            (Some("br;q=0, gzip;q=0"), Identity),
            (Some("br;q=0, *"), Gzip),
            (Some("*"), Brotli),
            (Some("*;q=0, identity"), Identity),
            (Some("identity"), Identity),
            (Some("deflate"), Identity),
            (Some("br;q=2, gzip"), Gzip), // an invalid q-value drops its item
            (Some("br;q=x, gzip;q=0.1"), Gzip),
            (Some("br ; q=0.9 , gzip ; q=0.9"), Brotli),
            (Some("identity;q=1, br;q=1"), Brotli),
        ] {
            assert_eq!(negotiate(accept), expected, "{accept:?}");
        }
    }

    #[test]
    fn every_console_file_is_precompressed() {
        assert!(CONSOLE_FILES.iter().any(|file| file.name == "index.html"));
        assert!(CONSOLE_FILES
            .iter()
            .all(|file| !file.gzip.is_empty() && !file.brotli.is_empty()));
    }
}
