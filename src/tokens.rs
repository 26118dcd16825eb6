//! Secrets handed to clients and digests kept instead of what clients send: authors' edit
//! tokens, the keyed digests that recognize a voter or a repeated text without storing an
//! address, and idempotency keys with the answers they replay.

use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDate;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::article::ArticleId;
use crate::domain::position::Position;
use crate::domain::reaction::VoterToken;
use crate::domain::review::IdempotencyKey;

type HmacSha256 = Hmac<Sha256>;

const EDIT_TOKEN_PREFIX: &str = "edt_";
/// Random bytes in an edit token: 256 bits, far beyond guessing.
const EDIT_TOKEN_BYTES: usize = 32;

/// A new review's edit token: shown to its author once; only the digest is stored.
pub struct EditToken {
    pub secret: String,
    pub digest: Vec<u8>,
    bytes: [u8; EDIT_TOKEN_BYTES],
}

impl EditToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; EDIT_TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    fn from_bytes(bytes: [u8; EDIT_TOKEN_BYTES]) -> Self {
        let secret = format!("{EDIT_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let digest = edit_token_digest(&secret);
        Self {
            secret,
            digest,
            bytes,
        }
    }

    /// The token sealed for the idempotency record: XOR with a pad only the holder of the
    /// idempotency key can derive, so the stored record does not reveal the token.
    pub fn seal(&self, key: &IdempotencyKey, review_id: Uuid) -> Vec<u8> {
        let pad = seal_pad(key, review_id);
        self.bytes.iter().zip(pad).map(|(a, b)| a ^ b).collect()
    }

    /// The token a sealed record holds, given the same key.
    pub fn unseal(sealed: &[u8], key: &IdempotencyKey, review_id: Uuid) -> Option<Self> {
        let pad = seal_pad(key, review_id);
        let bytes: [u8; EDIT_TOKEN_BYTES] = sealed
            .iter()
            .zip(pad)
            .map(|(a, b)| a ^ b)
            .collect::<Vec<u8>>()
            .try_into()
            .ok()?;
        Some(Self::from_bytes(bytes))
    }
}

fn seal_pad(key: &IdempotencyKey, review_id: Uuid) -> [u8; 32] {
    let mut mac = keyed(key.as_str().as_bytes());
    mac.update(b"marginalia edit token seal\0");
    mac.update(review_id.as_bytes());
    mac.finalize().into_bytes().into()
}

fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

pub fn edit_token_digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// An idempotency key's identity: per article, so two articles' keys never meet.
pub fn idempotency_key_digest(article: &ArticleId, key: &IdempotencyKey) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(article.as_str().as_bytes());
    hash.update([0]);
    hash.update(key.as_str().as_bytes());
    hash.finalize().to_vec()
}

/// The request an idempotency key was first used with: its exact body.
pub fn request_digest(body: &[u8]) -> Vec<u8> {
    Sha256::digest(body).to_vec()
}

/// Keyed digests of clients, with the installation's own salt (from the database, shared by
/// every instance): without the salt, a digest cannot be turned back into an address by trying
/// all 2³² IPv4 addresses.
#[derive(Clone)]
pub struct ClientDigests {
    salt: std::sync::Arc<Vec<u8>>,
}

impl ClientDigests {
    pub fn new(salt: Vec<u8>) -> Self {
        Self {
            salt: std::sync::Arc::new(salt),
        }
    }

    /// A voter: the client-held token when sent (stable across networks), else address and
    /// user agent on the given day, so the digest changes every day and no long-lived trace
    /// of an address is kept.
    pub fn voter(
        &self,
        token: Option<&VoterToken>,
        address: IpAddr,
        user_agent: &str,
        day: NaiveDate,
    ) -> Vec<u8> {
        let day = day.to_string();
        let address = address.to_string();
        match token {
            Some(token) => self.digest(b"voter-token", &[token.as_str().as_bytes()]),
            None => self.digest(
                b"voter-client",
                &[day.as_bytes(), address.as_bytes(), user_agent.as_bytes()],
            ),
        }
    }

    /// A signed-in reader as a voter: one wherever they vote from.
    pub fn reader_voter(&self, reader_id: &str) -> Vec<u8> {
        self.digest(b"voter-reader", &[reader_id.as_bytes()])
    }

    /// The network a flag came from on the given day: the flag threshold counts distinct
    /// networks, which a client cannot invent as it can invent voter tokens.
    pub fn network(&self, address: IpAddr, day: NaiveDate) -> Vec<u8> {
        let network = crate::client::network_of(address).to_string();
        self.digest(
            b"network",
            &[day.to_string().as_bytes(), network.as_bytes()],
        )
    }

    /// A write position as clients carry it: `16/B374D848~<tag>`, the tag keyed with the
    /// installation's salt so that nobody can make up a position (one far ahead would send every
    /// read of whoever sends it to the primary, past the read cache).
    pub fn position_token(&self, position: Position) -> String {
        let text = position.to_string();
        let tag = self.digest(b"position", &[text.as_bytes()]);
        format!("{text}~{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The position of a token this installation issued; `None` for anything else.
    pub fn verify_position(&self, token: &str) -> Option<Position> {
        let (text, tag) = token.split_once('~')?;
        let position = Position::parse(text)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .ok()
            .filter(|tag| tag.len() == 16)?;
        let mut mac = keyed(&self.salt);
        mac.update(b"position");
        mac.update(b"\0");
        mac.update(text.as_bytes());
        mac.verify_truncated_left(&tag).ok()?;
        Some(position)
    }

    /// A rate-limited client: its network (an IPv6 client is its /64), with no day in it, since
    /// a bucket may span midnight.
    pub fn rate_limited(&self, address: IpAddr) -> Vec<u8> {
        let network = crate::client::network_of(address).to_string();
        self.digest(b"rate-limit", &[network.as_bytes()])
    }

    /// The same text from the same client (address and user agent, so that readers sharing one
    /// network address are told apart as far as possible) on the same article. The text is
    /// compared in its matching form, so case and spacing changes do not make it new.
    pub fn duplicate(
        &self,
        article: &ArticleId,
        address: IpAddr,
        user_agent: &str,
        matching_text: &str,
    ) -> Vec<u8> {
        let address = address.to_string();
        self.digest(
            b"duplicate",
            &[
                article.as_str().as_bytes(),
                address.as_bytes(),
                user_agent.as_bytes(),
                matching_text.as_bytes(),
            ],
        )
    }

    /// The salted digest of `parts` for one `purpose`: the purpose and each part end in a NUL
    /// (the last part excepted), so no two purposes or splits of the same bytes ever collide.
    /// Stored digests depend on this exact byte layout.
    fn digest(&self, purpose: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = keyed(&self.salt);
        mac.update(purpose);
        for part in parts {
            mac.update(b"\0");
            mac.update(part);
        }
        mac.finalize().into_bytes()[..16].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positions_this_installation_issued_are_taken() {
        let digests = ClientDigests::new(vec![1; 32]);
        let position = Position::parse("16/B374D848").unwrap();
        let token = digests.position_token(position);
        assert!(token.starts_with("16/B374D848~"), "{token}");
        assert_eq!(digests.verify_position(&token), Some(position));
        let forged = token.replace("16/B374D848", "FFFFFFFF/FFFFFFFF");
        assert_eq!(digests.verify_position(&forged), None, "a position made up");
        assert_eq!(digests.verify_position("16/B374D848"), None, "no tag");
        assert_eq!(
            digests.verify_position("16/B374D848~"),
            None,
            "an empty tag"
        );
        let elsewhere = ClientDigests::new(vec![2; 32]);
        assert_eq!(
            elsewhere.verify_position(&token),
            None,
            "another installation's"
        );
    }

    #[test]
    fn edit_tokens_are_random_and_sealing_needs_the_idempotency_key() {
        let token = EditToken::generate();
        assert!(token.secret.starts_with(EDIT_TOKEN_PREFIX));
        assert_ne!(token.secret, EditToken::generate().secret);
        assert_eq!(token.digest, edit_token_digest(&token.secret));
        let key = IdempotencyKey::parse("0193a1b2-0000-7000-8000-000000000001").unwrap();
        let other = IdempotencyKey::parse("0193a1b2-0000-7000-8000-000000000002").unwrap();
        let id = Uuid::now_v7();
        let sealed = token.seal(&key, id);
        assert_ne!(sealed, token.bytes.to_vec());
        assert_eq!(
            EditToken::unseal(&sealed, &key, id).unwrap().secret,
            token.secret
        );
        assert_ne!(
            EditToken::unseal(&sealed, &other, id).unwrap().secret,
            token.secret
        );
    }

    #[test]
    fn voters_without_a_token_change_digest_every_day() {
        let digests = ClientDigests::new(vec![7; 32]);
        let address: IpAddr = "203.0.113.9".parse().unwrap();
        let monday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let tuesday = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let on = |day| digests.voter(None, address, "Firefox", day);
        assert_eq!(on(monday), on(monday));
        assert_ne!(on(monday), on(tuesday));
        let token = VoterToken::parse("a-token-of-the-browser-1234").unwrap();
        assert_eq!(
            digests.voter(Some(&token), address, "Firefox", monday),
            digests.voter(
                Some(&token),
                "198.51.100.1".parse().unwrap(),
                "Chrome",
                tuesday
            )
        );
        let other_salt = ClientDigests::new(vec![8; 32]);
        assert_ne!(
            other_salt.voter(None, address, "Firefox", monday),
            on(monday)
        );
    }

    /// Digests already stored (voters, flag networks, repeated texts) stay comparable only while
    /// the bytes behind them do not change: pinned here against an HMAC written out by hand.
    #[test]
    fn digests_keep_their_byte_layout() {
        let salt = vec![7; 32];
        let digests = ClientDigests::new(salt.clone());
        let by_hand = |bytes: &[u8]| {
            let mut mac = keyed(&salt);
            mac.update(bytes);
            mac.finalize().into_bytes()[..16].to_vec()
        };
        let address: IpAddr = "203.0.113.9".parse().unwrap();
        let monday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(
            digests.voter(None, address, "Firefox", monday),
            by_hand(b"voter-client\x002026-11-23\x00203.0.113.9\x00Firefox")
        );
        let token = VoterToken::parse("a-token-of-the-browser-1234").unwrap();
        assert_eq!(
            digests.voter(Some(&token), address, "Firefox", monday),
            by_hand(b"voter-token\x00a-token-of-the-browser-1234")
        );
        assert_eq!(
            digests.network(address, monday),
            by_hand(b"network\x002026-11-23\x00203.0.113.9")
        );
        let article = ArticleId::parse("voa-2020-05-iskp-attacks", "article_id").unwrap();
        assert_eq!(
            digests.duplicate(&article, address, "Firefox", "same text"),
            by_hand(
                b"duplicate\x00voa-2020-05-iskp-attacks\x00203.0.113.9\x00Firefox\x00same text"
            )
        );
    }
}
