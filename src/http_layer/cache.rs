//! HTTP caching of the public reads (stats, pages of reviews, single reviews, articles): each
//! answer carries an `ETag` derived from its bytes and a short `Cache-Control` lifetime, and a
//! matching `If-None-Match` gets a bodiless 304. A newsroom's CDN or the reader's browser can then
//! absorb a widget's polling. Everything else is `no-store` (set in `shape_answers`), so nothing
//! private or for moderators is ever kept by a shared cache.

use actix_web::http::header::{self, AcceptEncoding, Encoding, Header, HeaderValue, IfNoneMatch};
use actix_web::{mime, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::error::ApiError;
use crate::views::tagged::{CachePolicy, TaggedBody};

/// Whether the request's `If-None-Match` names the answer's tag (weak comparison, as RFC 9110
/// asks for `If-None-Match`).
fn is_fresh(req: &HttpRequest, answer: &TaggedBody) -> bool {
    let Some(sent) = req.headers().get(header::IF_NONE_MATCH) else {
        return false;
    };
    // What widgets, browsers and CDNs send: the ETag they were given, byte for byte. Anything
    // else (a list, a strong form, `*`) is parsed.
    *sent == answer.etag
        || <IfNoneMatch as Header>::parse(req).is_ok_and(|condition| match condition {
            IfNoneMatch::Any => true,
            IfNoneMatch::Items(tags) => tags.iter().any(|candidate| candidate.weak_eq(&answer.tag)),
        })
}

/// App data: whether this installation compresses its answers (`MARGINALIA_COMPRESSION`). When it
/// does, a public answer goes out gzip-encoded from the encoding kept with it (`TaggedBody`), so
/// a cached first page is compressed once, not once per reader; the compression middleware
/// leaves an answer that already names its encoding alone.
#[derive(Debug, Clone, Copy)]
pub struct CompressedAnswers(pub bool);

/// Bodies shorter than this go out plain: gzip's header and trailer would eat most of the gain.
const GZIP_MIN_BYTES: usize = 1024;

/// Whether `req` takes gzip from an installation that compresses.
fn takes_gzip(req: &HttpRequest) -> bool {
    req.app_data::<CompressedAnswers>()
        .is_some_and(|compressed| compressed.0)
        && req.headers().contains_key(header::ACCEPT_ENCODING)
        && <AcceptEncoding as Header>::parse(req).is_ok_and(|accepted| {
            accepted.negotiate([Encoding::gzip(), Encoding::identity()].iter())
                == Some(Encoding::gzip())
        })
}

/// A public JSON answer: 304 when the client holds it already, 200 otherwise; both with the
/// ETag, the policy's `Cache-Control`, and `Vary` naming the request headers that change it
/// (`vary`, beyond `Accept-Encoding`).
pub fn public(
    req: &HttpRequest,
    policy: &CachePolicy,
    answer: TaggedBody,
    vary: Option<&'static str>,
) -> HttpResponse {
    let fresh = is_fresh(req, &answer);
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    let gzipped = (!fresh && answer.body.len() >= GZIP_MIN_BYTES && takes_gzip(req))
        .then(|| answer.gzipped())
        .flatten();
    response
        .insert_header((header::ETAG, answer.etag))
        .insert_header((header::CACHE_CONTROL, policy.cache_control()))
        .insert_header((
            header::VARY,
            HeaderValue::from_static(vary.unwrap_or("Accept-Encoding")),
        ));
    if fresh {
        return response.finish();
    }
    response.content_type(mime::APPLICATION_JSON);
    match gzipped {
        Some(encoded) => response
            .insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")))
            .body(encoded),
        None => response.body(answer.body),
    }
}

/// `public` for a value serialized here.
pub fn public_json<T: Serialize>(
    req: &HttpRequest,
    policy: &CachePolicy,
    value: &T,
) -> Result<HttpResponse, ApiError> {
    let answer = TaggedBody::json(value).map_err(|error| ApiError::Internal(Box::new(error)))?;
    Ok(public(req, policy, answer, None))
}

/// What a response no handler chose a caching policy for gets: kept by no cache at all.
pub const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use actix_web::web::Bytes;

    fn policy() -> CachePolicy {
        CachePolicy::new(5, 30)
    }

    #[test]
    fn a_held_tag_is_answered_with_a_304_and_another_with_the_body() {
        let answer = TaggedBody::new(Bytes::from_static(b"{\"review_count\":3}"));
        let tag = answer.tag.to_string();
        let holding = TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, tag.as_str()))
            .to_http_request();
        let response = public(&holding, &policy(), answer.clone(), None);
        assert_eq!(response.status(), 304);
        assert_eq!(response.headers().get(header::ETAG).unwrap(), tag.as_str());
        let stale = TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, "\"0000000000000000\", W/\"1\""))
            .to_http_request();
        let response = public(
            &stale,
            &policy(),
            answer.clone(),
            Some("Accept-Encoding, X-Edit-Token"),
        );
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers().get(header::CACHE_CONTROL).unwrap(),
            "public, max-age=5, stale-while-revalidate=30"
        );
        assert_eq!(
            response.headers().get(header::VARY).unwrap(),
            "Accept-Encoding, X-Edit-Token"
        );
        // A list naming it, its strong form (compared weakly) and `*` are held copies too.
        let opaque = tag.trim_start_matches("W/");
        for held in [format!("\"0\", {tag}"), opaque.to_owned(), "*".to_owned()] {
            let holding = TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, held.as_str()))
                .to_http_request();
            let response = public(&holding, &policy(), answer.clone(), None);
            assert_eq!(response.status(), 304, "{held}");
        }
        let other = TaggedBody::new(Bytes::from_static(b"{\"review_count\":4}"));
        assert_ne!(other.tag, answer.tag, "a new review changes the tag");
    }

    #[actix_web::test]
    async fn a_long_answer_goes_out_gzipped_from_its_kept_encoding_where_compression_is_on() {
        use std::io::Read;
        let long = TaggedBody::new(Bytes::from(
            "{\"body\":\"".to_owned() + &"отзыв ".repeat(400) + "\"}",
        ));
        let asking = |compressed: bool, accept: &str| {
            TestRequest::default()
                .app_data(CompressedAnswers(compressed))
                .insert_header((header::ACCEPT_ENCODING, accept))
                .to_http_request()
        };
        let response = public(
            &asking(true, "br;q=1.0, gzip;q=0.8"),
            &policy(),
            long.clone(),
            None,
        );
        assert_eq!(
            response.headers().get(header::CONTENT_ENCODING).unwrap(),
            "gzip"
        );
        let encoded = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        assert!(
            encoded.len() < long.body.len() / 4,
            "{} bytes",
            encoded.len()
        );
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&encoded[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, long.body);
        // Encoded once: a clone (what the read cache hands out) shares the encoding.
        assert_eq!(long.clone().gzipped(), Some(encoded));
        for (request, why) in [
            (asking(false, "gzip"), "compression off"),
            (asking(true, "identity"), "gzip not taken"),
            (asking(true, "gzip;q=0"), "gzip refused"),
        ] {
            let response = public(&request, &policy(), long.clone(), None);
            assert!(
                !response.headers().contains_key(header::CONTENT_ENCODING),
                "{why}"
            );
        }
        let short = TaggedBody::new(Bytes::from_static(b"{\"review_count\":3}"));
        let response = public(&asking(true, "gzip"), &policy(), short, None);
        assert!(
            !response.headers().contains_key(header::CONTENT_ENCODING),
            "short body"
        );
    }

    #[test]
    fn no_lifetime_means_revalidate_every_time() {
        assert_eq!(CachePolicy::new(0, 30).cache_control(), "no-cache");
    }
}
