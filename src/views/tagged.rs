//! A public representation serialized once, with the entity tag that HTTP caching compares, and
//! how long browsers and shared caches may reuse it. The read cache keeps these as they are, so a
//! cached first page is neither serialized nor hashed again; `http_layer::cache` turns them into
//! answers (`ETag`, `Cache-Control`, 304s).

use std::io::Write;
use std::sync::{Arc, OnceLock};

use actix_web::http::header::{EntityTag, HeaderValue};
use actix_web::web::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::Serialize;

/// How long browsers and shared caches may reuse a public read: its `Cache-Control`, written
/// once for the installation rather than once per answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    cache_control: HeaderValue,
}

impl CachePolicy {
    /// Fresh for `max_age_secs` (0: revalidate every time), then usable for
    /// `stale_while_revalidate_secs` more while a cache revalidates in the background.
    pub fn new(max_age_secs: u32, stale_while_revalidate_secs: u32) -> Self {
        let cache_control = if max_age_secs == 0 {
            HeaderValue::from_static("no-cache")
        } else {
            HeaderValue::from_maybe_shared(Bytes::from(format!(
                "public, max-age={max_age_secs}, stale-while-revalidate={stale_while_revalidate_secs}"
            )))
            .unwrap_or(HeaderValue::from_static("no-cache"))
        };
        Self { cache_control }
    }

    /// The `Cache-Control` of an answer under this policy.
    pub fn cache_control(&self) -> HeaderValue {
        self.cache_control.clone()
    }
}

/// A serialized public answer and its entity tag, computed once (a cached first page keeps both),
/// and its gzip encoding, made the first time a client asks for it and then kept with it.
#[derive(Debug, Clone)]
pub struct TaggedBody {
    pub body: Bytes,
    pub tag: EntityTag,
    /// `tag` as its `ETag` header writes it, rendered with the body: a cached first page is
    /// answered (and compared with `If-None-Match`) without formatting it again.
    pub etag: HeaderValue,
    gzip: Arc<OnceLock<Option<Bytes>>>,
}

/// Room for a typical page of reviews, so that serializing one grows its buffer rarely.
const SERIALIZED_BYTES_HINT: usize = 512;

impl TaggedBody {
    /// Weak, because the same JSON goes out gzipped, brotli-compressed or plain: one meaning,
    /// several byte sequences, which a strong tag would promise are identical.
    pub fn new(body: Bytes) -> Self {
        let tag = EntityTag::new_weak(content_tag(&body));
        // A tag is hexadecimal digits in quotes, always a valid header value.
        let etag = HeaderValue::from_maybe_shared(Bytes::from(tag.to_string()))
            .unwrap_or(HeaderValue::from_static(""));
        Self {
            body,
            tag,
            etag,
            gzip: Arc::default(),
        }
    }

    pub fn json<T: Serialize>(value: &T) -> Result<Self, serde_json::Error> {
        Self::json_sized(value, 1)
    }

    /// `json` for a value of about `items` list entries: the buffer starts at a size that holds
    /// it.
    pub fn json_sized<T: Serialize>(value: &T, items: usize) -> Result<Self, serde_json::Error> {
        let mut buffer = Vec::with_capacity(SERIALIZED_BYTES_HINT.saturating_mul(items.max(1)));
        serde_json::to_writer(&mut buffer, value)?;
        Ok(Self::new(Bytes::from(buffer)))
    }

    /// The body gzip-encoded (fast level, as the compression middleware would), encoded once per
    /// body: every clone of a cached answer shares it. `None` if encoding failed (it writes to
    /// memory, so it does not): the plain body is then the answer.
    pub fn gzipped(&self) -> Option<Bytes> {
        self.gzip
            .get_or_init(|| {
                let mut encoder = GzEncoder::new(
                    Vec::with_capacity(self.body.len() / 3 + 64),
                    Compression::fast(),
                );
                encoder
                    .write_all(&self.body)
                    .and_then(|()| encoder.finish())
                    .ok()
                    .map(Bytes::from)
            })
            .clone()
    }
}

/// A short hash of a body's bytes (rapidhash v3, 64 bits, a fixed published algorithm, so every
/// node of an installation tags the same body alike): changes whenever the body does, and
/// costs a small fraction of serializing the body.
pub fn content_tag(body: &[u8]) -> String {
    format!("{:016x}", rapidhash::v3::rapidhash_v3(body))
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
