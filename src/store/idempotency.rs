//! Submissions under an `Idempotency-Key`: the key's record and the review are written in one
//! transaction, so a retry (through any instance) finds either nothing, and submits, or the
//! committed answer, and replays it. Concurrent requests with one key queue on the record's
//! unique index: the first commits its review, the others then find its answer. An erasure
//! keeps the key but drops the answer, so a retry after it is refused rather than stored anew.

use chrono::TimeDelta;
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::reviews::{self, PublicReviewRow, Submission};
use super::{site_of, with_connection, StoreError};
use crate::db::schema::idempotency_keys;
use crate::db::Pool;
use crate::domain::article::ArticleId;
use crate::domain::time;

/// How long a key is remembered.
pub const KEPT_FOR: TimeDelta = TimeDelta::hours(24);

/// A remembered answer that cannot be read back (a bug, or a schema out of step with the code):
/// like any unexpected answer of the database.
pub fn damaged(what: &'static str) -> StoreError {
    StoreError::Query(std::sync::Arc::new(
        diesel::result::Error::DeserializationError(what.into()),
    ))
}

/// What a keyed submission did.
pub enum Keyed {
    /// The first request with this key: the review was stored.
    Stored(Box<PublicReviewRow>, bool),
    /// A repeat: the first request's answer and its sealed edit token.
    Replayed {
        review_id: Uuid,
        response: String,
        sealed_token: Vec<u8>,
    },
}

/// The identity of a keyed request: its key's digest and its body's.
pub struct KeyedRequest<'a> {
    pub key_digest: &'a [u8],
    pub request_digest: &'a [u8],
}

/// Submits under an idempotency key. `answer` turns the stored review into the response to
/// remember and the sealed edit token (the caller renders it; nothing here knows its shape), so
/// the record is written with its answer in the transaction of the review itself.
pub async fn submit(
    pool: &Pool,
    article: &ArticleId,
    submission: &Submission<'_>,
    request: &KeyedRequest<'_>,
    event_data: impl FnOnce(&PublicReviewRow) -> String,
    answer: impl FnOnce(&PublicReviewRow) -> (String, Vec<u8>) + Send,
) -> Result<Keyed, StoreError> {
    let site = site_of(pool)?;
    let (statement, stored) = reviews::prepare(site, article, submission, event_data);
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let now = time::now_stored();
            // A record older than the retention is taken over as if it did not exist.
            let claimed = diesel::sql_query(
                "INSERT INTO idempotency_keys (key_digest, request_digest, created_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (site_id, key_digest) DO UPDATE SET \
                 request_digest = excluded.request_digest, review_id = NULL, response = NULL, \
                 sealed_token = NULL, created_at = excluded.created_at \
                 WHERE idempotency_keys.created_at < $4",
            )
            .bind::<Bytea, _>(request.key_digest)
            .bind::<Bytea, _>(request.request_digest)
            .bind::<Timestamptz, _>(now)
            .bind::<Timestamptz, _>(now - KEPT_FOR)
            .execute(conn)
            .await?;
            if claimed == 0 {
                let (digest, review_id, response, sealed): (
                    Vec<u8>,
                    Option<Uuid>,
                    Option<String>,
                    Option<Vec<u8>>,
                ) = idempotency_keys::table
                    .find((site, request.key_digest))
                    .select((
                        idempotency_keys::request_digest,
                        idempotency_keys::review_id,
                        idempotency_keys::response,
                        idempotency_keys::sealed_token,
                    ))
                    .first(conn)
                    .await?;
                if digest != request.request_digest {
                    return Err(StoreError::IdempotencyKeyReused);
                }
                return match (review_id, response, sealed) {
                    (Some(review_id), Some(response), Some(sealed_token)) => Ok(Keyed::Replayed {
                        review_id,
                        response,
                        sealed_token,
                    }),
                    // An erasure removed the answer (it held the review's text) and kept the
                    // key: a retry must not store the erased review again.
                    (Some(_), None, None) => Err(StoreError::ReviewErased),
                    // The record is written with its answer in one transaction.
                    _ => Err(StoreError::RequestInProgress),
                };
            }
            let (row, announced) =
                reviews::insert_on(conn, &statement, stored, submission.create_missing_article)
                    .await?;
            let (response, sealed_token) = answer(&row);
            diesel::update(idempotency_keys::table.find((site, request.key_digest)))
                .set((
                    idempotency_keys::review_id.eq(Some(row.id)),
                    idempotency_keys::response.eq(Some(response)),
                    idempotency_keys::sealed_token.eq(Some(sealed_token)),
                ))
                .execute(conn)
                .await?;
            Ok(Keyed::Stored(Box::new(row), announced))
        })
        .await
    })
    .await
}

/// Forgets keys older than the retention. Returns how many.
pub async fn prune(pool: &Pool) -> Result<usize, StoreError> {
    with_connection(pool, async |conn| {
        Ok(diesel::delete(
            idempotency_keys::table
                .filter(idempotency_keys::created_at.lt(time::now_stored() - KEPT_FOR)),
        )
        .execute(conn)
        .await?)
    })
    .await
}
