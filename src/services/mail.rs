//! Readers' email (docs/email.md) as the write use cases see it: whom a submission's notices go
//! to, recording the address after the review is committed, and the confirmation and
//! unsubscribe links.

use crate::domain::reader::VerifiedReader;
use crate::domain::review::NewReview;
use crate::domain::{FieldError, FieldErrorCode};
use crate::state::AppState;
use crate::store;
use crate::store::mail::LinkOutcome;

use super::ServiceError;

/// Settles where a submission's notices go: a signed-in reader's address from their token when
/// the body gives none. Asking for notices without any address is refused, naming `notify`;
/// where email is not set up the wish is not kept. Returns whether the address is the one the
/// site's login vouched for (it then needs no confirmation).
pub fn settle_notify(
    review: &mut NewReview,
    reader: Option<&VerifiedReader>,
    mail_enabled: bool,
) -> Result<bool, ServiceError> {
    if !review.notify {
        return Ok(false);
    }
    let vouched_address = reader.and_then(|reader| reader.email.as_ref());
    if review.author_email.is_none() {
        review.author_email = vouched_address.cloned();
    }
    let Some(address) = &review.author_email else {
        return Err(ServiceError::Invalid(vec![FieldError::new(
            "notify",
            FieldErrorCode::Required,
            "notices need an address: give author_email (or sign in with a token carrying one)",
        )]));
    };
    review.notify = mail_enabled;
    Ok(vouched_address
        .is_some_and(|vouched| vouched.as_str().eq_ignore_ascii_case(address.as_str())))
}

/// Records the address of a committed review that asked for notices, and asks it to confirm
/// unless it is confirmed or vouched for. The review is committed already, so a failure here is
/// logged, not answered: the first notice asks for the confirmation again.
pub async fn subscribe(
    state: &AppState,
    address: &str,
    review_language: Option<&str>,
    vouched: bool,
) {
    let result = store::mail::subscribe(&state.pool, address, review_language, vouched).await;
    if let Err(error) = result {
        tracing::warn!(%error, "recording a reader's address for notices");
    }
}

/// Confirms the address a confirmation link names; its waiting notices go out.
pub async fn confirm(state: &AppState, token: &str) -> Result<LinkOutcome, ServiceError> {
    Ok(store::mail::confirm(&state.pool, token).await?)
}

/// Unsubscribes the address a link names from everything of the site.
pub async fn unsubscribe(state: &AppState, token: &str) -> Result<LinkOutcome, ServiceError> {
    Ok(store::mail::unsubscribe(&state.pool, token).await?)
}
