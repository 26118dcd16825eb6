//! Static files the binary serves itself (the widget, the editors' console): cached briefly,
//! revalidated through a content-derived ETag.

use actix_web::http::header::{self, CacheControl, CacheDirective, EntityTag, Header, IfNoneMatch};
use actix_web::{HttpRequest, HttpResponse};

/// How long browsers and CDNs may reuse a file without asking: short, so a new release reaches
/// readers within minutes; revalidation is cheap through the ETag.
const ASSET_MAX_AGE_SECS: u32 = 300;

/// A file with its ETag (`tag`), answering `If-None-Match` with a 304.
pub fn asset(
    req: &HttpRequest,
    body: &[u8],
    tag: &str,
    content_type: &'static str,
) -> HttpResponse {
    let tag = EntityTag::new_strong(tag.to_owned());
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
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(ASSET_MAX_AGE_SECS),
        ]))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if fresh {
        response.finish()
    } else {
        response.content_type(content_type).body(body.to_vec())
    }
}

/// A short hash of a file's bytes (FNV-1a, 64 bits): changes whenever the file does.
pub fn content_tag(body: &[u8]) -> String {
    let hash = body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_content() {
        assert_eq!(content_tag(b"a"), content_tag(b"a"));
        assert_ne!(content_tag(b"a"), content_tag(b"b"));
    }
}
