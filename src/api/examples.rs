//! The examples of the documented error answers: one per problem type each status of each
//! operation can answer with (a 409 lists every refusal of its own type), built from the very
//! `ApiError`s the service answers with (their messages, limits and problem types), so that
//! an example shows what a client will really get: a 404 names the thing that is missing, a 403
//! the scopes the operation admits, a 422 a field of the operation's own body.

use serde_json::{json, Map, Value};

use super::webhook_endpoints;
use crate::auth::{Admits, UNKNOWN_KEY};
use crate::domain::{FieldError, FieldErrorCode};
use crate::error::{ApiError, Refusal, PROBLEM_JSON};
use crate::store::StoreError;

/// What an example depends on besides its status.
struct Operation<'a> {
    method: &'a str,
    path: &'a str,
    /// The operation as published, for its parameters and security.
    operation: &'a Value,
    /// The first required (else first) member of the JSON body, resolved in the components.
    body_field: Option<String>,
}

/// Sets the example of every `application/problem+json` answer of every operation in `document`
/// (the document as JSON, before it is served or committed).
pub fn add_problem_examples(document: &mut Value) {
    let schemas = document["components"]["schemas"].clone();
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            let context = Operation {
                method,
                path,
                operation: &operation.clone(),
                body_field: body_field(operation, &schemas),
            };
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                let Some(content) = response
                    .get_mut("content")
                    .and_then(|content| content.get_mut(PROBLEM_JSON))
                    .and_then(Value::as_object_mut)
                else {
                    continue;
                };
                let errors = status.parse().map(|s| examples(s, &context));
                let named = named_examples(&errors.unwrap_or_default());
                if !named.is_empty() {
                    content.insert("examples".to_owned(), Value::Object(named));
                }
            }
        }
    }
}

/// Each problem under the name of its type, with what sets the type apart as its summary.
fn named_examples(errors: &[ApiError]) -> Map<String, Value> {
    errors
        .iter()
        .map(|error| {
            let problem = error.to_problem();
            let example = json!({
                "summary": problem.problem_type.summary(),
                "value": problem,
            });
            (problem.problem_type.name(), example)
        })
        .collect()
}

/// The member of the operation's JSON body a 422 example names.
fn body_field(operation: &Value, schemas: &Value) -> Option<String> {
    let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    let schema = match schema["$ref"].as_str() {
        Some(reference) => &schemas[reference.rsplit('/').next()?],
        None => schema,
    };
    let first_required = schema["required"]
        .as_array()
        .and_then(|required| required.first())
        .and_then(Value::as_str);
    let first = schema["properties"]
        .as_object()
        .and_then(|properties: &Map<String, Value>| properties.keys().next())
        .map(String::as_str);
    first_required.or(first).map(str::to_owned)
}

/// Whether one of the operation's `security` alternatives uses `scheme`.
fn secured_by(operation: &Value, scheme: &str) -> bool {
    operation["security"]
        .as_array()
        .is_some_and(|alternatives| alternatives.iter().any(|a| a.get(scheme).is_some()))
}

/// The first path (else query) parameter, which a 400 example names.
fn first_parameter(operation: &Value) -> Option<(&str, &str)> {
    let parameters = operation["parameters"].as_array()?;
    ["path", "query"].into_iter().find_map(|place| {
        parameters
            .iter()
            .find(|parameter| parameter["in"] == place)
            .and_then(|parameter| Some((parameter["name"].as_str()?, place)))
    })
}

/// The problems an operation answers with under `status`: one for most statuses, each refusal
/// of its own for a 409.
fn examples(status: u16, op: &Operation<'_>) -> Vec<ApiError> {
    let error = match status {
        400 => bad_parameter(op),
        401 => unauthorized(op),
        403 => match Admits::published(&op.operation["security"]) {
            Some(admits) => admits.refusal().into(),
            // The public writes a signed-in reader makes: refused while they are suspended.
            None if op.path.ends_with("/reviews")
                || op.path.ends_with("/votes")
                || op.path.ends_with("/flags") =>
            {
                ApiError::ReaderSuspended {
                    until: "2026-12-31T00:00:00Z".parse().ok(),
                }
            }
            None => StoreError::WrongEditToken.into(),
        },
        404 => not_found(op),
        408 => ApiError::RequestTimeout { seconds: 10 },
        409 => return refusals(op).into_iter().map(ApiError::Refused).collect(),
        413 => ApiError::PayloadTooLarge { limit: 262_144 },
        415 => ApiError::UnsupportedMediaType(
            "send the request body as JSON with `Content-Type: application/json`".into(),
        ),
        422 => {
            let field = op.body_field.as_deref().unwrap_or("body");
            ApiError::Validation(vec![FieldError::new(
                field,
                FieldErrorCode::Required,
                "is required",
            )])
        }
        429 => ApiError::TooManyRequests {
            retry_after_secs: 42,
        },
        503 => ApiError::Unavailable(String::new()),
        _ => return Vec::new(),
    };
    vec![error]
}

/// A 400 names the operation's first parameter, or its JSON body.
fn bad_parameter(op: &Operation<'_>) -> ApiError {
    match first_parameter(op.operation) {
        Some(("reader_id", _)) => ApiError::bad_parameter(FieldError::new(
            "reader_id",
            FieldErrorCode::Format,
            "must be 1 to 256 characters without control characters",
        )),
        Some((name, _)) if name.ends_with("id") && name != "article_id" => ApiError::bad_parameter(
            FieldError::new(name, FieldErrorCode::Format, "must be a UUID"),
        ),
        Some(("article_id", _)) => ApiError::bad_parameter(FieldError::new(
            "article_id",
            FieldErrorCode::Format,
            "must be letters, digits and . _ : ~ -, not only dots",
        )),
        Some((name, _)) => ApiError::bad_parameter(FieldError::new(
            name,
            FieldErrorCode::Format,
            "is not one of the accepted values",
        )),
        None => ApiError::BadRequest {
            detail: "the body is not valid JSON: expected value at line 1 column 1".into(),
            errors: Vec::new(),
        },
    }
}

/// A 401 asks for what the operation is secured by: an API key, a CMS signature or an edit token.
fn unauthorized(op: &Operation<'_>) -> ApiError {
    if Admits::published(&op.operation["security"]).is_some() {
        ApiError::Unauthorized(UNKNOWN_KEY)
    } else if secured_by(op.operation, "cms_signature") {
        ApiError::Unauthorized("the webhook signature could not be verified")
    } else {
        ApiError::Unauthorized(
            "this operation needs the review's edit token: send `X-Edit-Token: <token>`",
        )
    }
}

/// A 404 names the thing the path names that is missing.
fn not_found(op: &Operation<'_>) -> ApiError {
    if op.path.contains("/deliveries/") {
        webhook_endpoints::delivery_not_found()
    } else if op.path.starts_with("/v1/webhook-endpoints/") {
        webhook_endpoints::endpoint_not_found()
    } else if op.method == "post" && op.path == "/v1/moderation/actions" {
        ApiError::NotFoundItems {
            detail: "1 of the reviews do not exist; nothing was changed".into(),
            errors: vec![FieldError::new(
                "review_ids[1]",
                FieldErrorCode::Unknown,
                "no review with this id",
            )],
        }
    } else if op.path.contains("/reviews/{id}") {
        StoreError::ReviewNotFound.into()
    } else {
        StoreError::ArticleNotFound.into()
    }
}

/// The refusals (409) each operation can answer with, each a problem type of its own.
fn refusals(op: &Operation<'_>) -> Vec<Refusal> {
    match (op.method, op.path) {
        ("post", "/v1/articles/{article_id}/reviews") => vec![
            Refusal::ReviewsClosed,
            Refusal::ArticleUnpublished,
            Refusal::ReviewErased,
            Refusal::RequestInProgress,
            Refusal::ReviewedAlready {
                review_id: "019ab5c4-7c2e-7d43-9a1e-6f1b2c3d4e5f".parse().ok(),
            },
        ],
        ("patch", "/v1/reviews/{id}") => vec![Refusal::EditWindowClosed],
        ("post", "/v1/moderation/actions") => vec![Refusal::ActionNotAllowed {
            detail: "1 of the reviews cannot take this change; nothing was changed".into(),
            errors: vec![FieldError::new(
                "review_ids[0]",
                FieldErrorCode::Disallowed,
                "the review is deleted; it cannot be approved",
            )],
        }],
        (_, "/v1/reviews/{id}/reply") => vec![Refusal::ReviewDeleted],
        (_, path) if path.ends_with("/redeliver") => vec![Refusal::RedeliveryPending {
            next_attempt_at: "2026-12-04T16:05:00Z".parse().unwrap_or_default(),
        }],
        ("post", "/v1/webhook-endpoints") => vec![Refusal::EndpointLimit],
        _ => Vec::new(),
    }
}
