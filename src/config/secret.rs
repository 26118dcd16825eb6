//! Reading secrets from flags and environment without ever echoing them.
//!
//! clap's own "invalid value" error quotes the value it refused; for a secret that would put the
//! key on the terminal and in the logs of whatever runs the service, so secrets are parsed by a
//! parser whose errors name the flag and environment variable only.

use std::ffi::OsStr;

use clap::error::ErrorKind;
use secrecy::SecretString;

use crate::webhooks::signature::Secret;

/// A secret string (`DATABASE_URL`, which may hold a password) kept in `secrecy`'s wrapper.
pub fn secret_string(raw: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(raw))
}

/// The CMS's signing secrets, read once at start. `Debug` shows how many, never a key.
#[derive(Debug, Clone, Default)]
pub struct CmsSecrets(Vec<Secret>);

impl CmsSecrets {
    /// Reads comma-separated `whsec_…` secrets; blank entries are skipped.
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .filter(|secret| !secret.trim().is_empty())
            .map(Secret::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn into_vec(self) -> Vec<Secret> {
        self.0
    }

    pub fn as_slice(&self) -> &[Secret] {
        &self.0
    }
}

/// clap parser for `--cms-webhook-secrets` whose error never quotes the refused value.
#[derive(Clone)]
pub struct CmsSecretsParser;

impl clap::builder::TypedValueParser for CmsSecretsParser {
    type Value = CmsSecrets;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        _argument: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<CmsSecrets, clap::Error> {
        let refuse = |reason: String| {
            clap::Error::raw(
                ErrorKind::ValueValidation,
                format!(
                    "invalid value for --cms-webhook-secrets (MARGINALIA_CMS_WEBHOOK_SECRETS): \
                     {reason}\n"
                ),
            )
        };
        let raw = value
            .to_str()
            .ok_or_else(|| refuse("not valid UTF-8".into()))?;
        CmsSecrets::parse(raw).map_err(refuse)
    }
}
