//! A public representation serialized once, with the entity tag that HTTP caching compares, and
//! how long browsers and shared caches may reuse it. The read cache keeps these as they are, so a
//! cached first page is neither serialized nor hashed again; `http_layer::cache` turns them into
//! answers (`ETag`, `Cache-Control`, 304s).

use actix_web::http::header::EntityTag;
use actix_web::web::Bytes;
use serde::Serialize;

/// How long browsers and shared caches may reuse a public read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Seconds an answer is fresh (`max-age`); 0: revalidate every time.
    pub max_age_secs: u32,
    /// Seconds after that a cache may still answer while it revalidates in the background.
    pub stale_while_revalidate_secs: u32,
}

/// A serialized public answer and its entity tag, computed once (a cached first page keeps both).
#[derive(Debug, Clone)]
pub struct TaggedBody {
    pub body: Bytes,
    pub tag: EntityTag,
}

impl TaggedBody {
    /// Weak, because the same JSON goes out gzipped, brotli-compressed or plain: one meaning,
    /// several byte sequences, which a strong tag would promise are identical.
    pub fn new(body: Bytes) -> Self {
        let tag = EntityTag::new_weak(content_tag(&body));
        Self { body, tag }
    }

    pub fn json<T: Serialize>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_vec(value).map(|bytes| Self::new(Bytes::from(bytes)))
    }
}

/// A short hash of a body's bytes (FNV-1a, 64 bits): changes whenever the body does. Cheap
/// enough for the JSON answers tagged per request.
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
