//! The error answers operations share, declared once as reusable response sets: an operation lists
//! the sets it can answer with next to its own success responses.

use utoipa::IntoResponses;

use crate::error::Problem;

/// A malformed path or query parameter.
#[derive(IntoResponses)]
pub enum BadParameter {
    /// A path or query parameter is malformed; `errors` names it.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
}

/// What can be wrong with a JSON request body (and the path it is sent to).
#[derive(IntoResponses)]
pub enum BadBody {
    /// Malformed JSON, a body that is not an object, or a malformed path parameter.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// The body did not arrive within the body read deadline.
    #[response(status = 408, content_type = "application/problem+json")]
    RequestTimeout(Problem),
    /// The body is larger than the configured limit.
    #[response(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Problem),
    /// The body is not JSON in UTF-8, or is sent with a content coding.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// Fields break the rules; `errors` names each one.
    #[response(status = 422, content_type = "application/problem+json")]
    Validation(Problem),
}

/// The API key is missing, unknown, revoked, or lacks the scope the operation needs.
#[derive(IntoResponses)]
pub enum KeyRequired {
    /// No API key, or an unknown or revoked one.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The API key lacks the scope this operation needs.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
}

/// The API key is missing, unknown or revoked, for an operation that every scope may call (so
/// no key is refused for its scope).
#[derive(IntoResponses)]
pub enum KeyNeeded {
    /// No API key, or an unknown or revoked one.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
}

/// The article or review does not exist (or is not public).
#[derive(IntoResponses)]
pub enum NotFound {
    /// No such article (when unknown articles are rejected) or no such published review.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// The article takes no reviews.
#[derive(IntoResponses)]
pub enum ReviewsClosed {
    /// Reviews are closed for this article, or the CMS unpublished it.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
}

/// PostgreSQL is unreachable, stalled or saturated; the service recovers by itself.
#[derive(IntoResponses)]
pub enum Unavailable {
    /// The database is unavailable; retry after `Retry-After` seconds.
    #[response(status = 503, content_type = "application/problem+json")]
    ServiceUnavailable(Problem),
}

/// The client sent too many public writes.
#[derive(IntoResponses)]
pub enum RateLimited {
    /// Over this client address's rate limit; retry after `Retry-After` seconds.
    #[response(status = 429, content_type = "application/problem+json",
               headers(("Retry-After" = u64, description = "Seconds until a request is accepted again")))]
    TooManyRequests(Problem),
}

/// What an author's request with an edit token can meet.
#[derive(IntoResponses)]
pub enum EditTokenRequired {
    /// No `X-Edit-Token` header.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The token is not this review's.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
}

/// The change conflicts with the review's state.
#[derive(IntoResponses)]
pub enum StateConflict {
    /// The review cannot take this change now (the edit window closed, a transition that is not
    /// allowed); `errors` names the reviews when several were sent.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
}

/// A public read answered from the client's copy.
#[derive(IntoResponses)]
pub enum Revalidated {
    /// Unchanged since the ETag sent in `If-None-Match`: no body; keep using the copy.
    #[response(status = 304)]
    NotModified,
}
