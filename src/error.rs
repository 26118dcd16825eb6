//! `ApiError`, the one place where failures become HTTP responses: RFC 9457
//! `application/problem+json` bodies with the right status and the offending fields.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{self, AuthError};
use crate::client::ClientError;
use crate::domain::reader::{TokenRefusal, READER_HEADER};
use crate::domain::{FieldError, FieldErrorCode};
use crate::live::LiveError;
use crate::rate_limit::{LimitError, OverLimit};
use crate::services::readers::ReaderRefusal;
use crate::store::webhook_endpoints::MAX_ENDPOINTS;
use crate::store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Syntactically wrong request: malformed JSON, bad path or query parameter.
    #[error("{detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// Well-formed request whose fields break the rules.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A reader token refused, or missing where the site wants one.
    #[error("reader token refused ({code}): {refusal}", code = .0.code(), refusal = .0)]
    ReaderRefused(TokenRefusal),
    #[error("{0}")]
    Forbidden(String),
    /// A moderator suspended the signed-in reader.
    #[error("{}", suspended_detail(.until))]
    ReaderSuspended { until: Option<DateTime<Utc>> },
    #[error("{0}")]
    NotFound(String),
    /// Named items of the request do not exist (the offending ones are in `errors`).
    #[error("{detail}")]
    NotFoundItems {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("{method} is not allowed here; allowed: {allow}")]
    MethodNotAllowed { method: String, allow: String },
    /// A well-formed, allowed request that the stored state refuses.
    #[error("{}", .0.detail())]
    Refused(Refusal),
    #[error("too many requests from this client; retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// A live stream over this node's caps.
    #[error("{detail}")]
    TooManyStreams {
        detail: String,
        retry_after_secs: u64,
    },
    #[error("the request body did not arrive within {seconds} s")]
    RequestTimeout { seconds: u64 },
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the database is unavailable; retry shortly")]
    Unavailable(String),
    /// A bug or an unexpected database answer; its source goes to the log, not the client.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn bad_parameter(error: FieldError) -> Self {
        Self::BadRequest {
            detail: format!("parameter `{}` {}", error.field, error.message),
            errors: vec![error],
        }
    }

    pub fn to_problem(&self) -> Problem {
        // A refusal names its own kind; every other variant has a status of its own, and each
        // status one kind of problem.
        let problem_type = match self {
            Self::Refused(refusal) => refusal.problem_type(),
            Self::ReaderSuspended { .. } => ProblemType::ReaderSuspended,
            _ => ProblemType::for_status(self.status_code()),
        };
        let errors = match self {
            Self::BadRequest { errors, .. }
            | Self::Validation(errors)
            | Self::NotFoundItems { errors, .. } => errors.clone(),
            Self::Refused(refusal) => refusal.errors(),
            Self::ReaderSuspended { .. } => vec![FieldError::new(
                READER_HEADER,
                FieldErrorCode::Disallowed,
                "suspended",
            )],
            Self::ReaderRefused(refusal) => vec![FieldError::new(
                READER_HEADER,
                if *refusal == TokenRefusal::Required {
                    FieldErrorCode::Required
                } else {
                    FieldErrorCode::Format
                },
                format!("{}: {refusal}", refusal.code()),
            )],
            _ => Vec::new(),
        };
        let detail = match self {
            Self::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid fields: {}", fields.join(", "))
            }
            other => other.to_string(),
        };
        Problem {
            problem_type,
            title: problem_type.title().to_owned(),
            status: self.status_code().as_u16(),
            detail,
            errors,
        }
    }
}

/// The kinds of problem this service reports: a closed list of URIs, published as an enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum ProblemType {
    #[serde(rename = "urn:marginalia:problem:bad-request")]
    BadRequest,
    #[serde(rename = "urn:marginalia:problem:validation")]
    Validation,
    #[serde(rename = "urn:marginalia:problem:unauthorized")]
    Unauthorized,
    #[serde(rename = "urn:marginalia:problem:forbidden")]
    Forbidden,
    #[serde(rename = "urn:marginalia:problem:reader-suspended")]
    ReaderSuspended,
    #[serde(rename = "urn:marginalia:problem:not-found")]
    NotFound,
    #[serde(rename = "urn:marginalia:problem:method-not-allowed")]
    MethodNotAllowed,
    #[serde(rename = "urn:marginalia:problem:conflict")]
    Conflict,
    #[serde(rename = "urn:marginalia:problem:reviews-closed")]
    ReviewsClosed,
    #[serde(rename = "urn:marginalia:problem:article-unpublished")]
    ArticleUnpublished,
    #[serde(rename = "urn:marginalia:problem:edit-window-closed")]
    EditWindowClosed,
    #[serde(rename = "urn:marginalia:problem:review-deleted")]
    ReviewDeleted,
    #[serde(rename = "urn:marginalia:problem:review-erased")]
    ReviewErased,
    #[serde(rename = "urn:marginalia:problem:request-in-progress")]
    RequestInProgress,
    #[serde(rename = "urn:marginalia:problem:action-not-allowed")]
    ActionNotAllowed,
    #[serde(rename = "urn:marginalia:problem:redelivery-pending")]
    RedeliveryPending,
    #[serde(rename = "urn:marginalia:problem:endpoint-limit")]
    EndpointLimit,
    #[serde(rename = "urn:marginalia:problem:reviewed-already")]
    ReviewedAlready,
    #[serde(rename = "urn:marginalia:problem:request-timeout")]
    RequestTimeout,
    #[serde(rename = "urn:marginalia:problem:payload-too-large")]
    PayloadTooLarge,
    #[serde(rename = "urn:marginalia:problem:unsupported-media-type")]
    UnsupportedMediaType,
    #[serde(rename = "urn:marginalia:problem:too-many-requests")]
    TooManyRequests,
    #[serde(rename = "urn:marginalia:problem:unavailable")]
    Unavailable,
    #[serde(rename = "urn:marginalia:problem:internal")]
    Internal,
}

impl ProblemType {
    pub fn title(self) -> &'static str {
        match self {
            Self::BadRequest => "Bad request",
            Self::Validation => "Invalid fields",
            Self::Unauthorized => "Authentication required",
            Self::Forbidden | Self::ReaderSuspended => "Not allowed",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            // A refusal keeps the title of the status it shares; its `type` tells it apart.
            Self::Conflict
            | Self::ReviewsClosed
            | Self::ArticleUnpublished
            | Self::EditWindowClosed
            | Self::ReviewDeleted
            | Self::ReviewErased
            | Self::RequestInProgress
            | Self::ActionNotAllowed
            | Self::RedeliveryPending
            | Self::EndpointLimit
            | Self::ReviewedAlready => "Conflict",
            Self::RequestTimeout => "Request timeout",
            Self::PayloadTooLarge => "Request body too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::TooManyRequests => "Too many requests",
            Self::Unavailable => "Service unavailable",
            Self::Internal => "Internal error",
        }
    }

    /// What sets this kind apart, for people reading the document: the title, or for a refusal
    /// (whose title is its status's) what was refused.
    pub fn summary(self) -> &'static str {
        match self {
            Self::ReviewsClosed => "Reviews are closed for the article",
            Self::ArticleUnpublished => "The article is unpublished",
            Self::EditWindowClosed => "The edit window has closed",
            Self::ReviewDeleted => "The review is deleted",
            Self::ReviewErased => "The review of this Idempotency-Key was erased",
            Self::RequestInProgress => "The first request with this Idempotency-Key is in progress",
            Self::ActionNotAllowed => "The action is not allowed from the reviews' status",
            Self::RedeliveryPending => "The delivery is still pending",
            Self::EndpointLimit => "As many webhook endpoints as allowed exist",
            other => other.title(),
        }
    }

    /// The last part of the URN (`reviews-closed`), naming this kind's example in the document.
    pub fn name(self) -> String {
        let urn = serde_json::to_value(self).unwrap_or_default();
        let urn = urn.as_str().unwrap_or_default();
        urn.rsplit(':').next().unwrap_or(urn).to_owned()
    }

    /// The kind of an error answer by its status, for answers other layers produced.
    fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => Self::Unauthorized,
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::CONFLICT => Self::Conflict,
            StatusCode::REQUEST_TIMEOUT => Self::RequestTimeout,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => Self::Validation,
            StatusCode::TOO_MANY_REQUESTS => Self::TooManyRequests,
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            other if other.is_server_error() => Self::Internal,
            _ => Self::BadRequest,
        }
    }
}

/// A request that is well-formed and allowed, refused by the state it meets: each refusal is a
/// problem `type` of its own, so that a client switches on the type rather than on the English of
/// `detail` (which may be reworded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    ReviewsClosed,
    /// The CMS unpublished the article.
    ArticleUnpublished,
    /// Past the edit window an author may still delete, no longer edit.
    EditWindowClosed,
    /// A deleted (or erased) review takes no reply.
    ReviewDeleted,
    /// A submission retried with its Idempotency-Key after its review was erased.
    ReviewErased,
    /// A submission retried while the first one with its Idempotency-Key is being answered.
    RequestInProgress,
    /// Reviews that a moderator's action names cannot take it from their status; nothing changed.
    ActionNotAllowed {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// The delivery is still queued: it waits for its next attempt or is being sent.
    RedeliveryPending {
        next_attempt_at: DateTime<Utc>,
    },
    /// As many webhook endpoints as allowed exist already.
    EndpointLimit,
    /// The site takes one review per signed-in reader and article, and this reader's exists.
    ReviewedAlready {
        review_id: Option<uuid::Uuid>,
    },
}

impl Refusal {
    pub fn problem_type(&self) -> ProblemType {
        match self {
            Self::ReviewsClosed => ProblemType::ReviewsClosed,
            Self::ArticleUnpublished => ProblemType::ArticleUnpublished,
            Self::EditWindowClosed => ProblemType::EditWindowClosed,
            Self::ReviewDeleted => ProblemType::ReviewDeleted,
            Self::ReviewErased => ProblemType::ReviewErased,
            Self::RequestInProgress => ProblemType::RequestInProgress,
            Self::ActionNotAllowed { .. } => ProblemType::ActionNotAllowed,
            Self::RedeliveryPending { .. } => ProblemType::RedeliveryPending,
            Self::EndpointLimit => ProblemType::EndpointLimit,
            Self::ReviewedAlready { .. } => ProblemType::ReviewedAlready,
        }
    }

    /// Every refusal conflicts with the stored state.
    pub fn status(&self) -> StatusCode {
        StatusCode::CONFLICT
    }

    pub fn detail(&self) -> String {
        match self {
            Self::ReviewsClosed => "reviews are closed for this article".into(),
            Self::ArticleUnpublished => "the article is unpublished: its published reviews stay \
                                         readable, but it takes no new reviews"
                .into(),
            Self::EditWindowClosed => {
                "the edit window of this review has closed; it can still be deleted".into()
            }
            Self::ReviewDeleted => "the review is deleted: it takes no reply".into(),
            Self::ReviewErased => "the review first submitted with this Idempotency-Key was \
                                   erased at its author's request; it is not stored again"
                .into(),
            Self::RequestInProgress => {
                "a request with this Idempotency-Key is still in progress".into()
            }
            Self::ActionNotAllowed { detail, .. } => detail.clone(),
            Self::RedeliveryPending { next_attempt_at } => format!(
                "the delivery is still pending; its next attempt is due at {}",
                next_attempt_at.to_rfc3339()
            ),
            Self::EndpointLimit => {
                format!("at most {MAX_ENDPOINTS} webhook endpoints; delete one first")
            }
            Self::ReviewedAlready {
                review_id: Some(review_id),
            } => format!(
                "this site takes one review per reader and article, and review {review_id} is \
                 this reader's: edit it instead"
            ),
            Self::ReviewedAlready { review_id: None } => "this site takes one review per reader \
                                                          and article, and this reader's exists: \
                                                          edit it instead"
                .into(),
        }
    }

    /// The items at fault, when the request named several, or the header that decided.
    pub fn errors(&self) -> Vec<FieldError> {
        match self {
            Self::ActionNotAllowed { errors, .. } => errors.clone(),
            Self::ReviewedAlready { review_id } => vec![FieldError::new(
                READER_HEADER,
                FieldErrorCode::Disallowed,
                match review_id {
                    Some(review_id) => format!("reviewed_already: {review_id}"),
                    None => "reviewed_already".to_owned(),
                },
            )],
            _ => Vec::new(),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:marginalia:problem:validation",
    "title": "Invalid fields",
    "status": 422,
    "detail": "invalid fields: rating",
    "errors": [{"field": "rating", "code": "range", "message": "must be an integer from 1 to 5"}]
}))]
pub struct Problem {
    /// A URI naming the kind of problem; stable, suitable for matching in code.
    #[serde(rename = "type")]
    pub problem_type: ProblemType,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong with this request, for people.
    pub detail: String,
    /// One entry per offending field, when fields are at fault; absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// The problem document for an error answer that something other than `ApiError` produced (the
/// CORS layer, an asset handler, actix's own extractors): same shape, chosen by status.
pub fn problem_for_status(status: StatusCode, detail: Option<String>) -> Problem {
    let problem_type = ProblemType::for_status(status);
    let title = problem_type.title();
    Problem {
        problem_type,
        title: title.to_owned(),
        status: status.as_u16(),
        detail: detail.unwrap_or_else(|| title.to_owned()),
        errors: Vec::new(),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) | Self::ReaderRefused(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::ReaderSuspended { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::NotFoundItems { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Refused(refusal) => refusal.status(),
            Self::TooManyRequests { .. } | Self::TooManyStreams { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Unavailable(cause) => tracing::warn!(%cause, "answering 503"),
            Self::Internal(cause) => {
                tracing::error!(cause = %cause, debug = ?cause, "answering 500")
            }
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        match self {
            Self::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            Self::TooManyRequests { retry_after_secs }
            | Self::TooManyStreams {
                retry_after_secs, ..
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            Self::MethodNotAllowed { allow, .. } => {
                response.insert_header((header::ALLOW, allow.as_str()));
            }
            _ => {}
        }
        response.json(self.to_problem())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            StoreError::ArticleNotFound => Self::NotFound(
                "no article with this id; the CMS registers articles with PUT /v1/articles/{article_id}"
                    .into(),
            ),
            StoreError::ReviewsClosed => Self::Refused(Refusal::ReviewsClosed),
            StoreError::ArticleUnpublished => Self::Refused(Refusal::ArticleUnpublished),
            StoreError::ReviewDeleted => Self::Refused(Refusal::ReviewDeleted),
            StoreError::ReviewErased => Self::Refused(Refusal::ReviewErased),
            StoreError::RequestInProgress => Self::Refused(Refusal::RequestInProgress),
            StoreError::EndpointLimit => Self::Refused(Refusal::EndpointLimit),
            StoreError::ReaderReviewedArticle => {
                Self::Refused(Refusal::ReviewedAlready { review_id: None })
            }
            StoreError::UnknownItems(items) => Self::NotFoundItems {
                detail: format!(
                    "{} of the reviews do not exist; nothing was changed",
                    items.len()
                ),
                errors: review_id_errors(items, crate::domain::FieldErrorCode::Unknown),
            },
            StoreError::ConflictingItems(items) => Self::Refused(Refusal::ActionNotAllowed {
                detail: format!(
                    "{} of the reviews cannot take this change; nothing was changed",
                    items.len()
                ),
                errors: review_id_errors(items, crate::domain::FieldErrorCode::Disallowed),
            }),
            StoreError::ReviewNotFound => Self::NotFound("no review with this id".into()),
            StoreError::WrongEditToken => Self::Forbidden(
                "the edit token does not belong to this review".into(),
            ),
            StoreError::EditWindowClosed => Self::Refused(Refusal::EditWindowClosed),
            StoreError::IdempotencyKeyReused => Self::Validation(vec![FieldError::new(
                "Idempotency-Key",
                crate::domain::FieldErrorCode::Mismatch,
                "this key was used within 24 hours with a different request body",
            )]),
            error @ (StoreError::Query(_) | StoreError::Unscoped(_)) => {
                Self::Internal(Box::new(error))
            }
        }
    }
}

/// The store refuses items of a list by position; the one list the API sends it is a moderation
/// action's `review_ids`, so that is the field each refusal names.
fn review_id_errors(
    items: Vec<crate::store::RefusedItem>,
    code: crate::domain::FieldErrorCode,
) -> Vec<FieldError> {
    items
        .into_iter()
        .map(|item| FieldError::new(format!("review_ids[{}]", item.index), code, item.reason))
        .collect()
}

impl From<crate::services::ServiceError> for ApiError {
    fn from(error: crate::services::ServiceError) -> Self {
        match error {
            crate::services::ServiceError::Invalid(errors) => Self::Validation(errors),
            crate::services::ServiceError::Reader(refusal) => Self::ReaderRefused(refusal),
            crate::services::ServiceError::ReaderRefused(refusal) => match refusal {
                ReaderRefusal::Suspended { until } => Self::ReaderSuspended { until },
                ReaderRefusal::ReviewedAlready { review_id } => {
                    Self::Refused(Refusal::ReviewedAlready {
                        review_id: Some(review_id),
                    })
                }
            },
            crate::services::ServiceError::Store(error) => error.into(),
        }
    }
}

// How the refusals of the layers below `api` become problems. Each of these modules returns its
// own error, naming what went wrong in its own terms; only here does a refusal get an HTTP status.

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::MalformedHeader => Self::Unauthorized(auth::MALFORMED_HEADER),
            AuthError::NoKey => Self::Unauthorized(auth::NO_KEY),
            AuthError::UnknownKey => Self::Unauthorized(auth::UNKNOWN_KEY),
            error @ (AuthError::MissingScope(_)
            | AuthError::OtherSite(_)
            | AuthError::NotInstallationWide) => Self::Forbidden(error.to_string()),
            error @ AuthError::StateMissing => Self::Internal(Box::new(error)),
            AuthError::Store(error) => error.into(),
        }
    }
}

impl From<ClientError> for ApiError {
    fn from(error: ClientError) -> Self {
        Self::Internal(Box::new(error))
    }
}

impl From<OverLimit> for ApiError {
    fn from(OverLimit { retry_after_secs }: OverLimit) -> Self {
        Self::TooManyRequests { retry_after_secs }
    }
}

impl From<LiveError> for ApiError {
    fn from(error: LiveError) -> Self {
        // A reader's widget polls meanwhile; a minute apart, the streams that ended make room.
        const RETRY_AFTER_SECS: u64 = 60;
        match error {
            LiveError::NodeFull(_) | LiveError::ClientFull(_) => Self::TooManyStreams {
                detail: format!("{error}; retry in {RETRY_AFTER_SECS} s, or poll meanwhile"),
                retry_after_secs: RETRY_AFTER_SECS,
            },
            LiveError::Store(error) => error.into(),
        }
    }
}

impl From<LimitError> for ApiError {
    fn from(error: LimitError) -> Self {
        match error {
            LimitError::Over(over) => over.into(),
            LimitError::Store(error) => error.into(),
        }
    }
}

fn suspended_detail(until: &Option<DateTime<Utc>>) -> String {
    match until {
        Some(until) => format!(
            "this reader is suspended until {}",
            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        None => "this reader is suspended".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn validation_errors_are_problem_documents_naming_fields() {
        let error = ApiError::Validation(vec![FieldError::new(
            "rating",
            crate::domain::FieldErrorCode::Range,
            "too big",
        )]);
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            PROBLEM_JSON
        );
        let body = to_bytes(response.into_body()).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["status"], 422);
        assert_eq!(json["type"], "urn:marginalia:problem:validation");
        assert_eq!(json["errors"][0]["field"], "rating");
    }

    #[test]
    fn internal_causes_are_not_shown_to_clients() {
        let problem = ApiError::Internal("relation \"secret\" does not exist".into()).to_problem();
        assert!(!problem.detail.contains("secret"));
    }
}
