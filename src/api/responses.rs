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
    /// The API key lacks the scope this operation needs, or serves other sites.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
}

/// The API key is missing, unknown or revoked, for an operation of the installation that every
/// key may call (so no key is refused).
#[derive(IntoResponses)]
pub enum KeyNeeded {
    /// No API key, or an unknown or revoked one.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
}

/// The API key is missing, unknown or revoked, for an operation of one site that every scope may
/// call, or it serves other sites.
#[derive(IntoResponses)]
pub enum SiteKeyNeeded {
    /// No API key, or an unknown or revoked one.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The API key serves other sites than the one in the path.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
}

/// The article is not there (or not public).
#[derive(IntoResponses)]
pub enum ArticleNotFound {
    /// No such article: the CMS deleted it, or it was never registered and `MARGINALIA_UNKNOWN_ARTICLES=reject`.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// One of the named articles is not there.
#[derive(IntoResponses)]
pub enum ArticlesNotFound {
    /// An `article_id` names an article the CMS deleted, or one never registered while `MARGINALIA_UNKNOWN_ARTICLES=reject`.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// The review is not there, or not public.
#[derive(IntoResponses)]
pub enum PublishedReviewNotFound {
    /// No published review with this id.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// The link's address is not there.
#[derive(IntoResponses)]
pub enum MailLinkNotFound {
    /// No address of this site has this token: it was erased, or the link is another site's.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// The review is not there, or not for this caller to see.
#[derive(IntoResponses)]
pub enum ReviewNotFound {
    /// No such review, or one that is not public and this is not its own `X-Edit-Token`: the two cannot be told apart.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// The review is not there.
#[derive(IntoResponses)]
pub enum ModeratedReviewNotFound {
    /// No review with this id.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// A review the action names is not there.
#[derive(IntoResponses)]
pub enum ActionTargetsNotFound {
    /// A review id names no review; `errors` names each (`review_ids[i]`) and nothing was changed.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// The webhook endpoint is not there.
#[derive(IntoResponses)]
pub enum EndpointNotFound {
    /// No webhook endpoint with this id.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// The webhook endpoint or delivery is not there.
#[derive(IntoResponses)]
pub enum DeliveryNotFound {
    /// No webhook endpoint with this id, or no delivery with this id for it.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
}

/// The article takes no reviews.
#[derive(IntoResponses)]
pub enum ReviewsClosed {
    /// Reviews are closed for this article, or the CMS unpublished it; or a retry with the same
    /// `Idempotency-Key` meets its review erased or its first request still in progress; or the
    /// site takes one review per signed-in reader and article and this reader's exists
    /// (`reviewed-already`, its id in `errors[0]`). Each is a problem `type` of its own.
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

/// A reader token that is refused, or none where the site takes reviews only from signed-in
/// readers.
#[derive(IntoResponses)]
pub enum ReaderTokenRefused {
    /// `errors[0]` names `Marginalia-Reader`, its message starting with the class: `required`,
    /// `not_accepted`, `malformed`, `unsigned`, `algorithm_not_allowed`, `unknown_key`,
    /// `bad_signature`, `expired`, `not_yet_valid`, `wrong_audience`, `wrong_site`, `bad_claims`.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
}

/// A moderator suspended the signed-in reader.
#[derive(IntoResponses)]
pub enum ReaderSuspended {
    /// Type `reader-suspended`; `errors[0]` names `Marginalia-Reader`, and `detail` says until
    /// when (or that it is for good).
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
}

/// The node holds as many live streams as it may (for all, or for this client's network).
#[derive(IntoResponses)]
pub enum TooManyStreams {
    /// Over the node's or the client network's cap on live streams; poll meanwhile and retry
    /// after `Retry-After` seconds.
    #[response(status = 429, content_type = "application/problem+json",
               headers(("Retry-After" = u64, description = "Seconds until a stream may be opened again")))]
    TooManyStreams(Problem),
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
    /// allowed, a reply to a deleted review); each is a problem `type` of its own, and `errors`
    /// names the reviews when several were sent.
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
