//! API keys: generation, hashing, scopes and the request extractor that checks them.
//!
//! Keys carry 256 random bits, so a single SHA-256 digest is enough to store them safely (no
//! slow password hash is needed against guessing) and lets a request be authenticated with one
//! indexed lookup.

use std::fmt;
use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::future::LocalBoxFuture;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store;

const KEY_PREFIX: &str = "mrg_";
/// Longest name of an API key, in characters.
pub const KEY_NAME_MAX_CHARS: usize = 100;

/// What a key may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The CMS: registers and updates articles.
    Cms,
    /// Editors: moderate reviews.
    Moderator,
    /// Everything.
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cms => "cms",
            Self::Moderator => "moderator",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "cms" => Ok(Self::Cms),
            "moderator" => Ok(Self::Moderator),
            "admin" => Ok(Self::Admin),
            other => Err(format!("unknown scope `{other}`")),
        }
    }
}

/// A freshly generated key: the secret to show once, and the digest to store.
pub struct NewKey {
    pub secret: String,
    pub digest: Vec<u8>,
}

pub fn generate_key() -> NewKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let digest = digest(&secret);
    NewKey { secret, digest }
}

pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The bearer token of a request, if it has a well-formed `Authorization: Bearer` header.
fn bearer_token(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed =
        || ApiError::Unauthorized("the Authorization header must be `Bearer <API key>`");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(Some(token.to_owned()))
}

/// The caller behind a valid, unrevoked API key.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub key_name: String,
    pub scopes: Vec<Scope>,
}

impl ApiCaller {
    /// Succeeds when the key has `admin` or any of `allowed`.
    pub fn require_any(&self, allowed: &[Scope]) -> Result<(), ApiError> {
        let granted = self
            .scopes
            .iter()
            .any(|scope| *scope == Scope::Admin || allowed.contains(scope));
        if granted {
            Ok(())
        } else {
            let mut names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
            names.push(Scope::Admin.as_str());
            Err(ApiError::Forbidden(format!(
                "this API key lacks the scope this operation needs (one of: {})",
                names.join(", ")
            )))
        }
    }
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let token = token?.ok_or(ApiError::Unauthorized(
                "this operation needs an API key: send `Authorization: Bearer <API key>`",
            ))?;
            let state = state.ok_or_else(|| ApiError::Internal("app state missing".into()))?;
            let key = store::api_keys::find_active(&state.pool, &digest(&token))
                .await?
                .ok_or(ApiError::Unauthorized("the API key is unknown or revoked"))?;
            let scopes = key
                .scopes
                .iter()
                .filter_map(|scope| scope.parse().ok())
                .collect();
            Ok(ApiCaller {
                key_name: key.name,
                scopes,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn keys_are_random_and_digests_match() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(KEY_PREFIX));
        assert_eq!(a.digest, digest(&a.secret));
        assert_eq!(a.digest.len(), 32);
    }

    #[test]
    fn bearer_headers_are_parsed_strictly() {
        let with = |value: &str| {
            let req = TestRequest::default()
                .insert_header((header::AUTHORIZATION, value))
                .to_http_request();
            bearer_token(&req)
        };
        assert_eq!(with("Bearer abc").unwrap().as_deref(), Some("abc"));
        assert_eq!(with("bearer  abc ").unwrap().as_deref(), Some("abc"));
        assert!(with("Basic abc").is_err());
        assert!(with("Bearer").is_err());
        assert!(with("Bearer ").is_err());
        let none = TestRequest::default().to_http_request();
        assert_eq!(bearer_token(&none).unwrap(), None);
    }

    #[test]
    fn admin_may_do_everything_others_only_their_scope() {
        let caller = |scopes: Vec<Scope>| ApiCaller {
            key_name: "test".into(),
            scopes,
        };
        assert!(caller(vec![Scope::Admin])
            .require_any(&[Scope::Cms])
            .is_ok());
        assert!(caller(vec![Scope::Cms]).require_any(&[Scope::Cms]).is_ok());
        assert!(caller(vec![Scope::Moderator])
            .require_any(&[Scope::Cms])
            .is_err());
    }
}
