//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
//! under secrets written `whsec_<base64>`. The same code signs what we send and verifies what the
//! CMS sends, and the tests check both against the reference implementation.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::domain::webhook::{decode_secret, MAX_SECRET_BYTES, SECRET_PREFIX};

/// Random bytes in a generated secret (the specification asks for 24 to 64).
const GENERATED_SECRET_BYTES: usize = 32;
/// How far a request's `webhook-timestamp` may be from this server's clock, either way.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;
/// Longest `webhook-id` accepted; ids are stored to make redeliveries harmless.
pub const MAX_ID_CHARS: usize = 256;
/// Most signatures one request may carry (senders rotating secrets send two or three).
const MAX_SIGNATURES: usize = 8;

/// A signing secret. Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; GENERATED_SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Reads `whsec_<base64 of 24 to 64 bytes>`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        decode_secret(raw).map(Self)
    }

    /// The `whsec_…` form: what is shown once and stored.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC pads a key shorter than the hash's block (64 bytes for SHA-256) with zeros, so
        // padding it here gives the same MAC through the constructor that cannot fail; secrets are
        // never longer than a block.
        let mut block = [0u8; MAX_SECRET_BYTES];
        let length = self.0.len().min(MAX_SECRET_BYTES);
        block[..length].copy_from_slice(&self.0[..length]);
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// `v1,<base64 signature>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }
}

/// The `webhook-signature` value for a message signed with each of `secrets` (several while a
/// secret is being rotated, so that receivers holding either secret accept it).
pub fn signature_header(secrets: &[&Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a request's signature was refused. Logged for operators; the sender only ever learns that
/// verification failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("a webhook header is missing or malformed")]
    Headers,
    #[error("the timestamp is outside the tolerance")]
    Timestamp,
    #[error("no signature matches a configured secret")]
    Signature,
    #[error("no secret is configured")]
    NoSecret,
}

/// The three Standard Webhooks headers as received (`None` when absent or not visible ASCII).
#[derive(Debug, Clone, Copy, Default)]
pub struct SignedHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Checks a message against `secrets` at `now`: headers well formed, timestamp within
/// `TOLERANCE_SECONDS` either way, and some `v1` signature matching some secret, compared in
/// constant time. Returns the message id.
pub fn verify<'a>(
    headers: SignedHeaders<'a>,
    body: &[u8],
    secrets: &[Secret],
    now: DateTime<Utc>,
) -> Result<&'a str, Refusal> {
    if secrets.is_empty() {
        return Err(Refusal::NoSecret);
    }
    let id = headers
        .id
        .filter(|id| !id.is_empty() && id.chars().count() <= MAX_ID_CHARS)
        .ok_or(Refusal::Headers)?;
    let timestamp: i64 = headers
        .timestamp
        .filter(|raw| !raw.is_empty() && raw.len() <= 12 && raw.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|raw| raw.parse().ok())
        .ok_or(Refusal::Headers)?;
    let offered = headers.signature.ok_or(Refusal::Headers)?;
    if (now.timestamp() - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(Refusal::Timestamp);
    }
    let candidates: Vec<Vec<u8>> = offered
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .take(MAX_SIGNATURES)
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .collect();
    let matches = secrets.iter().any(|secret| {
        let mac = secret.mac(id, timestamp, body);
        candidates
            .iter()
            .any(|candidate| mac.clone().verify_slice(candidate).is_ok())
    });
    if matches {
        Ok(id)
    } else {
        Err(Refusal::Signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn headers<'a>(id: &'a str, timestamp: &'a str, signature: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            id: Some(id),
            timestamp: Some(timestamp),
            signature: Some(signature),
        }
    }

    /// The worked example of the Standard Webhooks specification.
    #[test]
    fn signs_the_specification_example() {
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret().sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn verifies_within_the_tolerance_only() {
        let body = b"{}";
        let signature = secret().sign("msg_1", 1_000_000, body);
        let verified = verify(
            headers("msg_1", "1000000", &signature),
            body,
            &[secret()],
            at(1_000_000 + 300),
        );
        assert_eq!(verified, Ok("msg_1"));
        for now in [1_000_000 + 301, 1_000_000 - 301] {
            assert_eq!(
                verify(
                    headers("msg_1", "1000000", &signature),
                    body,
                    &[secret()],
                    at(now)
                ),
                Err(Refusal::Timestamp)
            );
        }
    }

    #[test]
    fn refuses_changed_bodies_ids_and_unknown_secrets() {
        let body = b"{}";
        let signature = secret().sign("msg_1", 1_000_000, body);
        let now = at(1_000_000);
        let check = |id: &str, body: &[u8], secrets: &[Secret]| {
            verify(headers(id, "1000000", &signature), body, secrets, now).map(str::to_owned)
        };
        assert_eq!(check("msg_1", b"{ }", &[secret()]), Err(Refusal::Signature));
        assert_eq!(check("msg_2", body, &[secret()]), Err(Refusal::Signature));
        assert_eq!(
            check("msg_1", body, &[Secret::generate()]),
            Err(Refusal::Signature)
        );
        assert_eq!(check("msg_1", body, &[]), Err(Refusal::NoSecret));
        assert_eq!(
            check("msg_1", body, &[Secret::generate(), secret()]),
            Ok("msg_1".to_owned())
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let body = b"{}";
        let good = secret().sign("msg_1", 1_000_000, body);
        let now = at(1_000_000);
        let long_id = "m".repeat(MAX_ID_CHARS + 1);
        for (id, timestamp, signature) in [
            ("", "1000000", good.as_str()),
            (long_id.as_str(), "1000000", good.as_str()),
            ("msg_1", "-1000000", good.as_str()),
            ("msg_1", "1e6", good.as_str()),
            ("msg_1", "", good.as_str()),
        ] {
            assert_eq!(
                verify(headers(id, timestamp, signature), body, &[secret()], now),
                Err(Refusal::Headers),
                "{id} {timestamp}"
            );
        }
        assert_eq!(
            verify(SignedHeaders::default(), body, &[secret()], now),
            Err(Refusal::Headers)
        );
        // Other versions and garbage are skipped; one good v1 among them is enough.
        let mixed = format!("v2,abc v1,!!! {good}");
        assert_eq!(
            verify(headers("msg_1", "1000000", &mixed), body, &[secret()], now),
            Ok("msg_1")
        );
    }

    #[test]
    fn rotation_signs_with_every_secret() {
        let old = secret();
        let new = Secret::generate();
        let header = signature_header(&[&new, &old], "msg_1", 1_000_000, b"{}");
        for holder in [&old, &new] {
            let verified = verify(
                headers("msg_1", "1000000", &header),
                b"{}",
                std::slice::from_ref(holder),
                at(1_000_000),
            );
            assert_eq!(verified, Ok("msg_1"));
        }
    }

    #[test]
    fn secrets_parse_in_the_whsec_form_only() {
        let generated = Secret::generate();
        assert_eq!(Secret::parse(&generated.expose()).unwrap(), generated);
        assert!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(Secret::parse("whsec_***").is_err());
        assert!(Secret::parse("whsec_c2hvcnQ=").is_err(), "too short");
        assert_eq!(format!("{generated:?}"), "Secret(…)");
    }
}
