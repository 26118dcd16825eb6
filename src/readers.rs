//! Reader tokens: checking the JSON Web Tokens a site's own login issues for its signed-in
//! readers (docs/readers.md). HS256 with the site's secrets; RS256 and EdDSA with its public
//! keys, set in its settings or fetched from its JWKS URL (again when a token names a key not yet
//! known, so a rotation needs no restart). The rules of the claims are `domain::reader`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::domain::reader::{
    self, header_algorithm, ReaderClaims, ReaderTokenSettings, TokenRefusal, VerifiedReader,
    TOKEN_MAX_BYTES,
};
use crate::domain::trust::TrustPolicy;
use crate::webhooks::sender::Sender;

/// A token's clock may be this far off the service's.
const LEEWAY_SECS: u64 = 30;
/// The JWKS URL is fetched again for an unknown `kid` at most this often (a stream of made-up
/// `kid`s must not turn into a stream of fetches).
const REFETCH_AFTER: Duration = Duration::from_secs(2);
/// The largest JWK Set read from a site.
const JWKS_MAX_BYTES: usize = 64 * 1024;

/// A site's reader tokens; cloning is cheap.
#[derive(Clone, Default)]
pub struct ReaderTokens(Option<Arc<Verifier>>);

/// What every site's state holds of reader tokens: its own, and the client that fetches JWK Sets.
#[derive(Clone)]
pub struct Readers {
    pub tokens: ReaderTokens,
    pub fetcher: Sender,
}

struct Verifier {
    /// The settings it was built from, so that a reload of unchanged settings keeps it (and the
    /// keys it fetched).
    settings: ReaderTokenSettings,
    site_id: String,
    audience: String,
    anonymous_reviews: bool,
    secrets: Vec<DecodingKey>,
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    jwks_url: Option<String>,
    fetched: tokio::sync::Mutex<Fetched>,
    fetcher: Sender,
}

#[derive(Default)]
struct Fetched {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    at: Option<Instant>,
}

impl ReaderTokens {
    /// The tokens of site `site_id` under `settings` (checked when they were stored); `fetcher`
    /// reaches the JWKS URL.
    pub fn new(
        site_id: &str,
        settings: &ReaderTokenSettings,
        fetcher: Sender,
    ) -> Result<Self, String> {
        let keys = match &settings.keys {
            Some(raw) => usable_keys(&reader::public_keys(raw)?.keys),
            None => HashMap::new(),
        };
        Ok(Self(Some(Arc::new(Verifier {
            settings: settings.clone(),
            site_id: site_id.to_owned(),
            audience: settings.audience_of(site_id),
            anonymous_reviews: settings.anonymous_reviews,
            secrets: settings
                .secrets
                .iter()
                .map(|secret| DecodingKey::from_secret(secret.as_bytes()))
                .collect::<Result<_, _>>()
                .map_err(|error| format!("a secret: {error}"))?,
            keys,
            jwks_url: settings.jwks_url.clone(),
            fetched: tokio::sync::Mutex::default(),
            fetcher,
        }))))
    }

    /// Whether these are the tokens of `settings`.
    pub fn built_from(&self, settings: &ReaderTokenSettings) -> bool {
        self.0
            .as_ref()
            .is_some_and(|verifier| &verifier.settings == settings)
    }

    /// The reader `token` vouches for; `None` for an anonymous writer where the site allows one.
    pub async fn verify(
        &self,
        token: Option<&str>,
    ) -> Result<Option<VerifiedReader>, TokenRefusal> {
        match (&self.0, token) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(TokenRefusal::NotAccepted),
            (Some(verifier), None) if verifier.anonymous_reviews => Ok(None),
            (Some(_), None) => Err(TokenRefusal::Required),
            (Some(verifier), Some(token)) => verifier.verify(token).await.map(Some),
        }
    }
}

impl ReaderTokens {
    /// The reader a token sent with a vote or flag vouches for: a reaction needs no token even
    /// where reviews do, but a token sent is checked.
    pub async fn verify_sent(
        &self,
        token: Option<&str>,
    ) -> Result<Option<VerifiedReader>, TokenRefusal> {
        match token {
            None => Ok(None),
            Some(_) => self.verify(token).await,
        }
    }

    /// The site's trust policy; the default (no policy) where it takes no tokens.
    pub fn trust(&self) -> Option<&TrustPolicy> {
        self.0.as_ref().map(|verifier| &verifier.settings.trust)
    }
}

impl Verifier {
    async fn verify(&self, token: &str) -> Result<VerifiedReader, TokenRefusal> {
        if token.len() > TOKEN_MAX_BYTES {
            return Err(TokenRefusal::Malformed);
        }
        if header_algorithm(token)?.eq_ignore_ascii_case("none") {
            return Err(TokenRefusal::Unsigned);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|error| match error.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidAlgorithmName => {
                TokenRefusal::AlgorithmNotAllowed
            }
            _ => TokenRefusal::Malformed,
        })?;
        let claims = match header.alg {
            // An HMAC token naming one of the site's public keys is the algorithm-confusion
            // attack (the public key used as a shared secret): refused as such.
            Algorithm::HS256 if self.names_public_key(header.kid.as_deref()).await => {
                return Err(TokenRefusal::AlgorithmNotAllowed);
            }
            Algorithm::HS256 => self.verify_with_secrets(token).await?,
            Algorithm::RS256 | Algorithm::EdDSA => {
                let kid = header.kid.as_deref().ok_or(TokenRefusal::UnknownKey)?;
                let (key, algorithm) = self.key(kid).await?;
                // A key is for one algorithm: an RSA public key never checks an HMAC.
                if algorithm != header.alg {
                    return Err(TokenRefusal::AlgorithmNotAllowed);
                }
                self.decode(token, &key, algorithm)?
            }
            _ => return Err(TokenRefusal::AlgorithmNotAllowed),
        };
        VerifiedReader::from_claims(claims)
    }

    /// Whether `kid` names one of the site's public keys (fetching its set if needed).
    async fn names_public_key(&self, kid: Option<&str>) -> bool {
        match kid {
            Some(kid) => self.key(kid).await.is_ok(),
            None => false,
        }
    }

    async fn verify_with_secrets(&self, token: &str) -> Result<ReaderClaims, TokenRefusal> {
        if self.secrets.is_empty() {
            return Err(TokenRefusal::AlgorithmNotAllowed);
        }
        let mut refusal = TokenRefusal::BadSignature;
        for secret in &self.secrets {
            match self.decode(token, secret, Algorithm::HS256) {
                Err(TokenRefusal::BadSignature) => {}
                Err(other) => refusal = other,
                Ok(claims) => return Ok(claims),
            }
        }
        Err(refusal)
    }

    fn decode(
        &self,
        token: &str,
        key: &DecodingKey,
        algorithm: Algorithm,
    ) -> Result<ReaderClaims, TokenRefusal> {
        use jsonwebtoken::errors::ErrorKind;
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_audience(&[self.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        match jsonwebtoken::decode::<ReaderClaims>(token, key, &validation) {
            Ok(data) => Ok(data.claims),
            Err(error) => Err(match error.kind() {
                ErrorKind::InvalidSignature => TokenRefusal::BadSignature,
                ErrorKind::ExpiredSignature => TokenRefusal::Expired,
                ErrorKind::ImmatureSignature => TokenRefusal::NotYetValid,
                ErrorKind::InvalidAudience if names_another_site(token, &self.site_id) => {
                    TokenRefusal::WrongSite
                }
                ErrorKind::InvalidAudience => TokenRefusal::WrongAudience,
                ErrorKind::InvalidAlgorithm => TokenRefusal::AlgorithmNotAllowed,
                ErrorKind::MissingRequiredClaim(_)
                | ErrorKind::InvalidClaimFormat(_)
                | ErrorKind::Json(_) => TokenRefusal::BadClaims,
                _ => TokenRefusal::Malformed,
            }),
        }
    }

    /// The public key `kid` names: the site's own setting, else its JWKS URL's (fetched again
    /// when the key is not known yet).
    async fn key(&self, kid: &str) -> Result<(DecodingKey, Algorithm), TokenRefusal> {
        if let Some(key) = self.keys.get(kid) {
            return Ok(key.clone());
        }
        let Some(url) = &self.jwks_url else {
            return Err(TokenRefusal::UnknownKey);
        };
        let mut fetched = self.fetched.lock().await;
        if let Some(key) = fetched.keys.get(kid) {
            return Ok(key.clone());
        }
        if fetched.at.is_some_and(|at| at.elapsed() < REFETCH_AFTER) {
            return Err(TokenRefusal::UnknownKey);
        }
        fetched.at = Some(Instant::now());
        match self.fetcher.fetch_json(url, JWKS_MAX_BYTES).await {
            Ok(raw) => match reader::public_keys(&raw) {
                Ok(set) => fetched.keys = usable_keys(&set.keys),
                Err(error) => tracing::warn!(site = self.site_id, url, %error, "the site's JWKS"),
            },
            Err(error) => {
                tracing::warn!(site = self.site_id, url, %error, "fetching the site's JWKS")
            }
        }
        fetched
            .keys
            .get(kid)
            .cloned()
            .ok_or(TokenRefusal::UnknownKey)
    }
}

/// The keys of a set by `kid`, each with the one algorithm it checks.
fn usable_keys(keys: &[Jwk]) -> HashMap<String, (DecodingKey, Algorithm)> {
    keys.iter()
        .filter_map(|jwk| {
            let algorithm = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                _ => return None,
            };
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some((jwk.common.key_id.clone()?, (key, algorithm)))
        })
        .collect()
}

/// Whether a token's `aud` names another site of this installation (`marginalia:<site>`): told
/// apart from an audience that is simply wrong. Read without trusting the token: only the class
/// of the refusal depends on it.
fn names_another_site(token: &str, site_id: &str) -> bool {
    use base64::Engine;
    let Some(payload) = token.split('.').nth(1) else {
        return false;
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return false;
    };
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return false;
    };
    let own = reader::default_audience(site_id);
    let audiences: Vec<&str> = match &claims["aud"] {
        serde_json::Value::String(one) => vec![one.as_str()],
        serde_json::Value::Array(many) => many.iter().filter_map(|a| a.as_str()).collect(),
        _ => Vec::new(),
    };
    audiences
        .iter()
        .any(|aud| aud.starts_with("marginalia:") && *aud != own)
}
