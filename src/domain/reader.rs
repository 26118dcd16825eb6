//! Readers the newsroom knows: the settings of a site's reader tokens, the claims a token must
//! carry, and why a token is refused. The signature itself is checked by `crate::readers`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::review::AuthorEmail;
use super::text;
use super::trust::TrustPolicy;
use super::{FieldError, FieldErrorCode};

/// Limits of the settings and claims, each published into the schemas below.
pub const MAX_SECRETS: usize = 5;
/// HS256 secrets shorter than the hash are guessable offline from one token.
pub const SECRET_MIN_BYTES: usize = 32;
pub const SECRET_MAX_BYTES: usize = 512;
pub const MAX_KEYS: usize = 10;
pub const AUDIENCE_MAX_CHARS: usize = 200;
pub const URL_MAX_CHARS: usize = 2000;
pub const READER_ID_MAX_CHARS: usize = 256;
pub const NAME_MAX_CHARS: usize = 100;
pub const MAX_BADGES: usize = 10;
pub const BADGE_MAX_CHARS: usize = 32;
/// The request header a signed-in reader's token comes in (not `Authorization`, which carries
/// API keys).
pub const READER_HEADER: &str = "Marginalia-Reader";
/// The longest token read from the header; a real one is well under 2 KiB.
pub const TOKEN_MAX_BYTES: usize = 8 * 1024;

/// How a site checks the tokens its own login issues for its signed-in readers (docs/readers.md).
/// At least one of `secrets`, `keys` and `jwks_url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReaderTokenSettings {
    /// The `aud` every token must name; null: `marginalia:<site_id>`.
    #[schema(max_length = 200, example = "marginalia:uk")]
    #[serde(default)]
    pub audience: Option<String>,
    /// HS256 secrets, 32 to 512 bytes each; any of them may have signed a token (rotation: add
    /// the new one, then remove the old). Write only: reads show how many there are.
    #[schema(max_items = 5)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// Public keys (RS256 and EdDSA), as a JSON Web Key Set; each key names its `kid`, which a
    /// token's header must name too.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub keys: Option<serde_json::Value>,
    /// Where the site publishes its JSON Web Key Set (https): fetched when a token names a `kid`
    /// not yet known, at most every few seconds, so a new key works without a restart.
    #[schema(
        max_length = 2000,
        example = "https://www.example.org/.well-known/jwks.json"
    )]
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Whether reviews without a token are still taken.
    #[serde(default = "taken")]
    pub anonymous_reviews: bool,
    /// Whose reviews skip pre-moderation or wait for it, and one review per reader and article.
    #[serde(default)]
    pub trust: TrustPolicy,
}

fn taken() -> bool {
    true
}

impl ReaderTokenSettings {
    /// Checks the settings, naming each member that is wrong (under `reader_tokens.`).
    pub fn check(self) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let field = |name: &str| format!("reader_tokens.{name}");
        if let Some(audience) = &self.audience {
            if let Err(rule) = text::free_text(audience, AUDIENCE_MAX_CHARS, &[]) {
                errors.push(FieldError::broke(&field("audience"), &rule));
            }
        }
        if self.secrets.len() > MAX_SECRETS {
            errors.push(FieldError::new(
                field("secrets"),
                FieldErrorCode::TooMany,
                format!("at most {MAX_SECRETS} secrets"),
            ));
        }
        for (index, secret) in self.secrets.iter().enumerate() {
            if !(SECRET_MIN_BYTES..=SECRET_MAX_BYTES).contains(&secret.len()) {
                errors.push(FieldError::new(
                    field(&format!("secrets[{index}]")),
                    FieldErrorCode::Length,
                    format!("{SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} bytes"),
                ));
            }
        }
        if let Some(keys) = &self.keys {
            if let Err(message) = public_keys(keys) {
                errors.push(FieldError::new(
                    field("keys"),
                    FieldErrorCode::Format,
                    message,
                ));
            }
        }
        if let Some(url) = &self.jwks_url {
            let parsed = url::Url::parse(url)
                .ok()
                .filter(|u| url.len() <= URL_MAX_CHARS && matches!(u.scheme(), "https" | "http"));
            if parsed.is_none() {
                errors.push(FieldError::new(
                    field("jwks_url"),
                    FieldErrorCode::Format,
                    "must be an https URL",
                ));
            }
        }
        self.trust.check(&mut errors);
        if self.secrets.is_empty() && self.keys.is_none() && self.jwks_url.is_none() {
            errors.push(FieldError::new(
                "reader_tokens",
                FieldErrorCode::Required,
                "needs secrets, keys or jwks_url to check tokens with",
            ));
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }

    /// The settings as reads show them: the secrets counted, never shown.
    pub fn shown(&self) -> serde_json::Value {
        let mut shown = serde_json::to_value(Self {
            secrets: Vec::new(),
            ..self.clone()
        })
        .unwrap_or_default();
        shown["secrets"] = serde_json::json!(self.secrets.len());
        shown
    }

    /// The audience tokens must name on the site `site_id`.
    pub fn audience_of(&self, site_id: &str) -> String {
        self.audience
            .clone()
            .unwrap_or_else(|| default_audience(site_id))
    }
}

/// The audience of a site's tokens unless it sets its own.
pub fn default_audience(site_id: &str) -> String {
    format!("marginalia:{site_id}")
}

/// A JSON Web Key Set of at most `MAX_KEYS` public keys, each with a `kid` and usable for RS256 or
/// EdDSA.
pub fn public_keys(raw: &serde_json::Value) -> Result<jsonwebtoken::jwk::JwkSet, String> {
    use jsonwebtoken::jwk::AlgorithmParameters;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(raw.clone())
        .map_err(|error| format!("not a JSON Web Key Set: {error}"))?;
    if set.keys.is_empty() || set.keys.len() > MAX_KEYS {
        return Err(format!("1 to {MAX_KEYS} keys"));
    }
    for key in &set.keys {
        if key.common.key_id.as_deref().is_none_or(str::is_empty) {
            return Err("every key needs its `kid`".into());
        }
        match &key.algorithm {
            AlgorithmParameters::RSA(_) => {}
            AlgorithmParameters::OctetKeyPair(pair)
                if pair.curve == jsonwebtoken::jwk::EllipticCurve::Ed25519 => {}
            _ => return Err("only RSA (RS256) and Ed25519 (EdDSA) public keys".into()),
        }
    }
    Ok(set)
}

/// Why a reader token was refused: the class is told (never which secret or key was tried).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("the site takes no reader tokens")]
    NotAccepted,
    #[error("the site takes reviews only from signed-in readers: send their token")]
    Required,
    #[error("not a JSON Web Token")]
    Malformed,
    #[error("unsigned tokens (alg none) are never accepted")]
    Unsigned,
    #[error("the token's algorithm is not one the site's keys are for")]
    AlgorithmNotAllowed,
    #[error("the token names a key the site does not have")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is for another audience")]
    WrongAudience,
    #[error("the token is for another site")]
    WrongSite,
    #[error("the token's claims are missing or invalid (sub, exp, name, badges, email)")]
    BadClaims,
}

impl TokenRefusal {
    /// The class, as the problem's error code names it.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotAccepted => "not_accepted",
            Self::Required => "required",
            Self::Malformed => "malformed",
            Self::Unsigned => "unsigned",
            Self::AlgorithmNotAllowed => "algorithm_not_allowed",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongAudience => "wrong_audience",
            Self::WrongSite => "wrong_site",
            Self::BadClaims => "bad_claims",
        }
    }
}

/// The claims a verified token carries, as signed.
#[derive(Debug, Deserialize)]
pub struct ReaderClaims {
    pub sub: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub badges: Vec<String>,
    /// The reader's address, when the site's login knows it verified: used for the notices they
    /// ask for, without a confirmation (docs/email.md).
    #[serde(default)]
    pub email: Option<String>,
}

/// A reader the site's login vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReader {
    /// The site login's id for them: stable, never shown publicly.
    pub id: String,
    pub name: Option<String>,
    /// Lowercase slugs (`subscriber`, `staff`, `expert`, …).
    pub badges: Vec<String>,
    /// Their address as the login vouched for it.
    pub email: Option<AuthorEmail>,
}

impl VerifiedReader {
    /// Checks the claims of a token whose signature verified.
    pub fn from_claims(claims: ReaderClaims) -> Result<Self, TokenRefusal> {
        let id = parse_reader_id(&claims.sub).ok_or(TokenRefusal::BadClaims)?;
        let name = match claims.name {
            Some(name) => Some(
                text::free_text(&name, NAME_MAX_CHARS, &[]).map_err(|_| TokenRefusal::BadClaims)?,
            ),
            None => None,
        };
        if claims.badges.len() > MAX_BADGES {
            return Err(TokenRefusal::BadClaims);
        }
        let badge = |raw: &String| {
            is_badge(raw)
                .then(|| raw.clone())
                .ok_or(TokenRefusal::BadClaims)
        };
        let mut badges = claims
            .badges
            .iter()
            .map(badge)
            .collect::<Result<Vec<_>, _>>()?;
        badges.sort();
        badges.dedup();
        let email = claims
            .email
            .map(|raw| AuthorEmail::parse(raw.trim()).map_err(|_| TokenRefusal::BadClaims))
            .transpose()?;
        Ok(Self {
            id,
            name,
            badges,
            email,
        })
    }
}

/// A reader's id as the site's login knows them: 1 to 256 characters without control
/// characters, surrounding space trimmed.
pub fn parse_reader_id(raw: &str) -> Option<String> {
    let id = raw.trim();
    let fits = !id.is_empty()
        && id.chars().count() <= READER_ID_MAX_CHARS
        && !id.chars().any(char::is_control);
    fits.then(|| id.to_owned())
}

/// Whether `raw` is a badge: a lowercase slug of `a-z`, `0-9`, `-` and `_`.
pub fn is_badge(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= BADGE_MAX_CHARS
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The `alg` a token's header names, read without trusting anything else of it: `none` must be
/// told apart from a malformed token, and the library has no `none` to parse into.
pub fn header_algorithm(token: &str) -> Result<String, TokenRefusal> {
    use base64::Engine;
    let header = token.split('.').next().ok_or(TokenRefusal::Malformed)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| TokenRefusal::Malformed)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| TokenRefusal::Malformed)?;
    value["alg"]
        .as_str()
        .map(str::to_owned)
        .ok_or(TokenRefusal::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str, name: Option<&str>, badges: &[&str]) -> ReaderClaims {
        ReaderClaims {
            sub: sub.into(),
            name: name.map(Into::into),
            badges: badges.iter().map(|b| (*b).to_owned()).collect(),
            email: None,
        }
    }

    #[test]
    fn a_readers_claims_are_checked() {
        let reader = VerifiedReader::from_claims(claims(
            "wp-17",
            Some("Олена"),
            &["subscriber", "expert", "subscriber"],
        ))
        .unwrap();
        assert_eq!(reader.badges, vec!["expert", "subscriber"]);
        assert_eq!(reader.name.as_deref(), Some("Олена"));
        for bad in [
            claims("", None, &[]),
            claims("a\u{0}b", None, &[]),
            claims("x", Some(""), &[]),
            claims("x", None, &["Staff"]),
            claims("x", None, &["a b"]),
            claims("x", None, &["x"; 11]),
        ] {
            assert_eq!(
                VerifiedReader::from_claims(bad),
                Err(TokenRefusal::BadClaims)
            );
        }
    }

    #[test]
    fn an_unsigned_token_is_told_from_a_malformed_one() {
        // {"alg":"none","typ":"JWT"}
        assert_eq!(
            header_algorithm("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.e30.").unwrap(),
            "none"
        );
        assert_eq!(
            header_algorithm("not a token"),
            Err(TokenRefusal::Malformed)
        );
    }

    #[test]
    fn settings_need_something_to_check_with_and_keep_secrets_out_of_reads() {
        let empty: ReaderTokenSettings = serde_json::from_str("{}").unwrap();
        assert!(empty.anonymous_reviews);
        assert!(empty.check().is_err());
        let short: ReaderTokenSettings = serde_json::from_str(r#"{"secrets": ["short"]}"#).unwrap();
        let errors = short.check().unwrap_err();
        assert_eq!(errors[0].field, "reader_tokens.secrets[0]");
        let good: ReaderTokenSettings =
            serde_json::from_str(&format!(r#"{{"secrets": ["{}"]}}"#, "s".repeat(40))).unwrap();
        let good = good.check().unwrap();
        assert_eq!(good.shown()["secrets"], 1);
        assert_eq!(good.audience_of("uk"), "marginalia:uk");
        let bad_keys: ReaderTokenSettings =
            serde_json::from_str(r#"{"keys": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}"#)
                .unwrap();
        assert!(bad_keys.check().is_err());
    }
}
