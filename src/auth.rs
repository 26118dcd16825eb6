//! API keys: generation, hashing, scopes, and checking a request's key. Refusals are `AuthError`s,
//! which `crate::error` turns into 401 and 403 problems.
//!
//! Keys carry 256 random bits, so a single SHA-256 digest is enough to store them safely (no
//! slow password hash is needed against guessing) and lets a request be authenticated with one
//! indexed lookup.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use actix_web::http::{header, Method};
use actix_web::{web, HttpMessage, HttpRequest};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::domain::site::SiteId;
use crate::sites::RequestSite;
use crate::state::AppState;
use crate::store::{self, StoreError};

const KEY_PREFIX: &str = "mrg_";

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
    pub const ALL: [Self; 3] = [Self::Cms, Self::Moderator, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cms => "cms",
            Self::Moderator => "moderator",
            Self::Admin => "admin",
        }
    }

    /// The OpenAPI security scheme of a key with this scope (`moderator_key`).
    pub fn scheme(self) -> &'static str {
        match self {
            Self::Cms => "cms_key",
            Self::Moderator => "moderator_key",
            Self::Admin => "admin_key",
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

/// Why a request's API key was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A 401: the `Authorization` header is not `Bearer <API key>`.
    #[error("{MALFORMED_HEADER}")]
    MalformedHeader,
    /// A 401: the operation needs a key and the request sent none.
    #[error("{NO_KEY}")]
    NoKey,
    /// A 401: no active key has this secret.
    #[error("{UNKNOWN_KEY}")]
    UnknownKey,
    /// A 403: the key is valid but lacks the scope; the scopes that would do, `admin` last.
    #[error("this API key lacks the scope this operation needs (one of: {})", .0.join(", "))]
    MissingScope(Vec<&'static str>),
    /// A 403: the key serves other sites than the request's.
    #[error("this API key is not for site `{0}`")]
    OtherSite(String),
    /// A 403: the operation is the installation's, and the key serves only some sites.
    #[error("this operation needs an installation-wide `admin` key (created without --site)")]
    NotInstallationWide,
    /// The application state is not registered (a wiring bug, not the caller's fault).
    #[error("app state missing")]
    StateMissing,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The bearer token of a request, if it has a well-formed `Authorization: Bearer` header.
fn bearer_token(req: &HttpRequest) -> Result<Option<String>, AuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || AuthError::MalformedHeader;
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(Some(token.to_owned()))
}

/// The answer to a malformed `Authorization` header.
pub const MALFORMED_HEADER: &str = "the Authorization header must be `Bearer <API key>`";
/// The answer to a request without a key.
pub const NO_KEY: &str = "this operation needs an API key: send `Authorization: Bearer <API key>`";
/// The answer to a key that is not (or no longer) stored.
pub const UNKNOWN_KEY: &str = "the API key is unknown or revoked";

/// Which keys an operation admits.
///
/// Published as the operation's OpenAPI `security`, one alternative per admitted scope, each
/// scope a security scheme of its own (`moderator_key`; every one is the same bearer key, and
/// OpenAPI lists scopes in a requirement for OAuth only), and enforced from that same publication
/// by `ScopePolicy`, so the scopes the document shows are by construction the ones the service
/// checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admits {
    /// Any valid key (`security: [{"api_key": []}]`).
    AnyKey,
    /// A key with one of these scopes (`[{"moderator_key": []}, {"admin_key": []}]`).
    /// `admin` may do everything, whether listed or not.
    OneOf(Vec<Scope>),
}

impl Admits {
    /// Succeeds when a key with `scopes` may call the operation.
    pub fn check(&self, scopes: &[Scope]) -> Result<(), AuthError> {
        let granted = match self {
            Self::AnyKey => true,
            Self::OneOf(allowed) => scopes
                .iter()
                .any(|scope| *scope == Scope::Admin || allowed.contains(scope)),
        };
        if granted {
            Ok(())
        } else {
            Err(self.refusal())
        }
    }

    /// The 403 of a key that lacks the scope.
    pub fn refusal(&self) -> AuthError {
        let mut names: Vec<&'static str> = match self {
            Self::AnyKey => Vec::new(),
            Self::OneOf(allowed) => allowed.iter().map(|s| s.as_str()).collect(),
        };
        if !names.contains(&Scope::Admin.as_str()) {
            names.push(Scope::Admin.as_str());
        }
        AuthError::MissingScope(names)
    }

    /// What an OpenAPI operation's `security` (as JSON) says of API keys; `None` when it takes
    /// none.
    pub fn published(security: &serde_json::Value) -> Option<Self> {
        let alternatives = security.as_array().map(Vec::as_slice).unwrap_or_default();
        let schemes = alternatives
            .iter()
            .filter_map(serde_json::Value::as_object)
            .flat_map(|requirement| requirement.keys());
        let mut scopes = Vec::new();
        for scheme in schemes {
            if scheme == API_KEY_SCHEME {
                return Some(Self::AnyKey);
            }
            scopes.extend(Scope::ALL.into_iter().find(|s| s.scheme() == scheme));
        }
        (!scopes.is_empty()).then_some(Self::OneOf(scopes))
    }
}

/// The security scheme of an API key of any scope in the OpenAPI document (each scope has its own,
/// `Scope::scheme`).
pub const API_KEY_SCHEME: &str = "api_key";

/// What each operation admits, read from the OpenAPI document the routes produced, by method and
/// route template.
#[derive(Debug, Default)]
pub struct ScopePolicy(HashMap<String, Vec<(Method, Admits)>>);

impl ScopePolicy {
    pub fn from_document(document: &utoipa::openapi::OpenApi) -> Self {
        let mut policy: HashMap<String, Vec<(Method, Admits)>> = HashMap::new();
        for (path, item) in &document.paths.paths {
            let operations = [
                (Method::GET, &item.get),
                (Method::PUT, &item.put),
                (Method::POST, &item.post),
                (Method::DELETE, &item.delete),
                (Method::PATCH, &item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                // utoipa keeps a requirement's map private; its JSON form is the published one.
                let security = serde_json::to_value(&operation.security).unwrap_or_default();
                if let Some(admits) = Admits::published(&security) {
                    policy
                        .entry(path.clone())
                        .or_default()
                        .push((method, admits));
                }
            }
        }
        Self(policy)
    }

    /// What the operation at `template` admits; `None` when it takes no API key.
    pub fn admits(&self, method: &Method, template: &str) -> Option<&Admits> {
        // HEAD is answered by the GET operation.
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        // Looked up on every request: by the borrowed template, without allocating.
        self.0
            .get(template)?
            .iter()
            .find(|(operation, _)| operation == method)
            .map(|(_, admits)| admits)
    }
}

/// Whether a path is the installation's rather than one site's (`/v1/me`, `/v1/sites…`): a key
/// of any site may call it, and sees there only the sites it serves.
fn is_installation_path(path: &str) -> bool {
    path == "/v1/me" || path == "/v1/sites" || path.starts_with("/v1/sites/")
}

/// The caller behind a valid, unrevoked API key whose scopes the operation admits.
///
/// `api::caller::authenticate` checks the key of every operation that publishes `api_key`
/// security before routing goes on, so a 401 or 403 comes before any body is parsed or anything
/// is looked up (which could tell what exists); a handler that takes an `ApiCaller` receives the
/// caller it stored. A handler on a route the document does not describe checks here, admitting
/// only `admin`.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub key_name: String,
    pub scopes: Vec<Scope>,
    /// The sites the key serves; `None`: every site.
    pub sites: Option<Vec<String>>,
    /// The key's stored digest: what a long-lived request (a moderators' live stream) checks
    /// again later, so that revoking the key ends it.
    pub key_digest: std::sync::Arc<[u8]>,
}

impl ApiCaller {
    /// The caller of `req` if its key is valid and has a scope `admits` accepts.
    pub async fn authenticate(req: &HttpRequest, admits: &Admits) -> Result<Self, AuthError> {
        let token = bearer_token(req)?.ok_or(AuthError::NoKey)?;
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or(AuthError::StateMissing)?;
        let key_digest = digest(&token);
        let key = store::api_keys::find_active(&state.pool, &key_digest)
            .await?
            .ok_or(AuthError::UnknownKey)?;
        let scopes: Vec<Scope> = key
            .scopes
            .iter()
            .filter_map(|scope| scope.parse().ok())
            .collect();
        admits.check(&scopes)?;
        let site = req
            .extensions()
            .get::<RequestSite>()
            .map_or_else(SiteId::default_site, |named| named.0.clone());
        if let Some(sites) = key
            .sites
            .as_ref()
            .filter(|_| !is_installation_path(req.path()))
        {
            if !sites.iter().any(|served| served == site.as_str()) {
                return Err(AuthError::OtherSite(site.to_string()));
            }
        }
        Ok(Self {
            key_name: key.name,
            scopes,
            sites: key.sites,
            key_digest: key_digest.into(),
        })
    }

    /// Refuses a caller whose key is not an installation-wide `admin` key: what managing sites,
    /// and data-rights requests across them, need.
    pub fn installation_admin(&self) -> Result<(), AuthError> {
        if self.sites.is_some() || !self.scopes.contains(&Scope::Admin) {
            return Err(AuthError::NotInstallationWide);
        }
        Ok(())
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
        let cms = Admits::OneOf(vec![Scope::Cms]);
        assert!(cms.check(&[Scope::Admin]).is_ok());
        assert!(cms.check(&[Scope::Cms]).is_ok());
        assert!(cms.check(&[Scope::Moderator]).is_err());
        assert!(cms.check(&[]).is_err());
        assert!(Admits::AnyKey.check(&[]).is_ok());
        let admin_only = Admits::OneOf(vec![Scope::Admin]);
        assert!(admin_only.check(&[Scope::Moderator, Scope::Cms]).is_err());
    }

    #[test]
    fn published_security_is_read_as_alternatives() {
        use serde_json::json;
        assert_eq!(Admits::published(&json!(null)), None);
        assert_eq!(Admits::published(&json!([])), None);
        assert_eq!(Admits::published(&json!([{"cms_signature": []}])), None);
        assert_eq!(
            Admits::published(&json!([{"api_key": []}])),
            Some(Admits::AnyKey)
        );
        assert_eq!(
            Admits::published(&json!([{"moderator_key": []}, {"admin_key": []}])),
            Some(Admits::OneOf(vec![Scope::Moderator, Scope::Admin]))
        );
    }
}
