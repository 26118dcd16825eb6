//! A reader's own review: submit it, edit it, delete it.
//!
//! Each use case takes values parsed at the edge, decides with domain functions (the rules'
//! verdict, `review::status_table` / `edited_status`), runs one store transaction and hands what
//! it changed to `after_commit`. The public representations (the answer, an event's data) are
//! rendered here, from what the store decided.

use uuid::Uuid;

use super::{after_commit, mail, readers, Committed, ServiceError};
use crate::client::Client;
use crate::domain::article::ArticleId;
use crate::domain::moderation::{matching_form, Content, ReasonCode};
use crate::domain::reader::TokenRefusal;
use crate::domain::review::{status_table, IdempotencyKey, NewReview, ReviewEdit, ReviewTitle};
use crate::domain::text::LanguageTag;
use crate::metrics;
use crate::state::AppState;
use crate::store;
use crate::store::idempotency::{self, Keyed, KeyedRequest};
use crate::store::moderation::{Author, EditPolicy};
use crate::store::reviews::{PublicReviewRow, Submission};
use crate::store::StoreError;
use crate::tokens::{self, EditToken};
use crate::views::review::{event_json, event_text, Review};

/// A submission as parsed at the edge.
pub struct Submitted<'a> {
    pub review: NewReview,
    /// The `website` field, which people leave empty.
    pub honeypot: Option<String>,
    /// The request body as sent: a retry under the same `Idempotency-Key` must send the same.
    pub body: &'a [u8],
    /// The `Marginalia-Reader` token of a signed-in reader, as sent.
    pub reader_token: Option<&'a str>,
}

/// A stored review as its author gets it, with its edit token.
pub struct Created {
    pub review: Review,
    pub edit_token: String,
}

/// Submits a review to an article: the rules and the duplicate rule run, and the review is
/// stored with the status `review::initial_status` gives it, its counters, event and audit entry,
/// in one statement. Under an `Idempotency-Key`, a retry gets the first answer again.
pub async fn submit(
    state: &AppState,
    article_id: &ArticleId,
    client: &Client,
    key: Option<&IdempotencyKey>,
    submitted: Submitted<'_>,
) -> Result<Created, ServiceError> {
    let reader = state
        .readers
        .tokens
        .verify(submitted.reader_token)
        .await
        .map_err(ServiceError::Reader)?;
    let admission = readers::admit(state, reader.as_ref(), article_id).await?;
    let mut review = submitted.review;
    let vouched = mail::settle_notify(&mut review, reader.as_ref(), state.mail_enabled)?;
    if review.needs_article_language() {
        let article_language = store::articles::language(&state.pool, article_id).await?;
        review.settle_language(article_language.as_deref());
    }
    let rules = &state.moderation.rules;
    let verdict = rules.check(&Content {
        title: review.title.as_ref().map(ReviewTitle::as_str),
        body: review.body.as_str(),
        honeypot: submitted.honeypot.as_deref(),
    });
    for reason in &verdict.reasons {
        metrics::record_rule_hit(reason.as_str());
    }
    let digests = state.abuse.digests(&state.pool).await?;
    let token = EditToken::generate();
    let submission = Submission {
        review: &review,
        reasons: &verdict.reasons,
        statuses: status_table(
            verdict.action,
            rules.action(ReasonCode::Duplicate),
            admission.mode,
        ),
        duplicate_digest: Some(digests.duplicate(
            article_id,
            client.address,
            &client.user_agent,
            &matching_form(review.body.as_str()),
        )),
        edit_token_digest: &token.digest,
        create_missing_article: state.create_missing_articles,
        reader: reader.as_ref(),
        reader_sole: admission.sole,
    };
    let stored =
        store_submission(state, article_id, &submission, key, &token, submitted.body).await;
    let (created, announced) = match stored {
        // Another submission of this reader to this article committed since `admit` looked:
        // refused as `admit` would refuse it now.
        Err(ServiceError::Store(StoreError::ReaderReviewedArticle)) => {
            readers::admit(state, reader.as_ref(), article_id).await?;
            return Err(StoreError::ReaderReviewedArticle.into());
        }
        stored => stored?,
    };
    if let (true, Some(address)) = (review.notify, &review.author_email) {
        let language = review.language.as_ref().map(LanguageTag::as_str);
        mail::subscribe(state, address.as_str(), language, vouched).await;
    }
    after_commit(
        state,
        Committed {
            // A replayed answer counts too, as it always has: the metric counts 201s.
            reviews_created: 1,
            ..Committed::one_article(article_id.as_str(), announced)
        },
    )
    .await;
    Ok(created)
}

/// Stores a checked submission: plainly, or under its idempotency key.
async fn store_submission(
    state: &AppState,
    article_id: &ArticleId,
    submission: &Submission<'_>,
    key: Option<&IdempotencyKey>,
    token: &EditToken,
    body: &[u8],
) -> Result<(Created, bool), ServiceError> {
    match key {
        None => {
            let newsroom = &state.moderation.newsroom_name;
            let (row, announced) = store::reviews::insert(
                &state.pool,
                article_id,
                submission,
                |row: &PublicReviewRow| event_text(row, newsroom),
            )
            .await?;
            let review = Review::new(&row, newsroom).seen_by_author();
            let edit_token = token.secret.clone();
            Ok((Created { review, edit_token }, announced))
        }
        Some(key) => submit_keyed(state, article_id, submission, key, token, body).await,
    }
}

/// The submission under an idempotency key: stored with the key's record, whose answer is this
/// response and the sealed edit token; or a retry, answered as the first time.
async fn submit_keyed(
    state: &AppState,
    article_id: &ArticleId,
    submission: &Submission<'_>,
    key: &IdempotencyKey,
    token: &EditToken,
    body: &[u8],
) -> Result<(Created, bool), ServiceError> {
    let newsroom = &state.moderation.newsroom_name;
    let request = KeyedRequest {
        key_digest: &tokens::idempotency_key_digest(article_id, key),
        request_digest: &tokens::request_digest(body),
    };
    let answer = |row: &PublicReviewRow| {
        let review = Review::new(row, newsroom).seen_by_author();
        let response = serde_json::to_string(&review).unwrap_or_default();
        (response, token.seal(key, row.id))
    };
    let event_data = |row: &PublicReviewRow| event_text(row, newsroom);
    let keyed = idempotency::submit(
        &state.pool,
        article_id,
        submission,
        &request,
        event_data,
        answer,
    )
    .await?;
    Ok(match keyed {
        Keyed::Stored(row, announced) => {
            let review = Review::new(&row, newsroom).seen_by_author();
            let edit_token = token.secret.clone();
            (Created { review, edit_token }, announced)
        }
        Keyed::Replayed {
            review_id,
            response,
            sealed_token,
        } => (replayed(key, review_id, &response, &sealed_token)?, false),
    })
}

/// The first answer to a keyed request, read back from its record.
fn replayed(
    key: &IdempotencyKey,
    review_id: Uuid,
    response: &str,
    sealed_token: &[u8],
) -> Result<Created, ServiceError> {
    let review: Review = serde_json::from_str(response)
        .map_err(|_| idempotency::damaged("a remembered answer is not a review"))?;
    let token = EditToken::unseal(sealed_token, key, review_id)
        .ok_or_else(|| idempotency::damaged("a sealed token is damaged"))?;
    Ok(Created {
        review,
        edit_token: token.secret,
    })
}

/// How an author shows that a review is theirs.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    /// The review's `X-Edit-Token`.
    EditToken(&'a str),
    /// The `Marginalia-Reader` token of the signed-in reader who wrote it: their review from any
    /// device, where the edit token stayed on another (one review per article, docs/readers.md).
    ReaderToken(&'a str),
}

/// The author a proof names, checked: a reader token must verify, and its reader must not be
/// suspended.
enum Owner {
    EditTokenDigest(Vec<u8>),
    Reader(String),
}

impl Owner {
    async fn of(state: &AppState, proof: Proof<'_>) -> Result<Self, ServiceError> {
        match proof {
            Proof::EditToken(token) => Ok(Self::EditTokenDigest(tokens::edit_token_digest(token))),
            Proof::ReaderToken(token) => {
                let reader = state
                    .readers
                    .tokens
                    .verify_sent(Some(token))
                    .await
                    .map_err(ServiceError::Reader)?
                    .ok_or(ServiceError::Reader(TokenRefusal::Required))?;
                readers::check_not_suspended(state, &reader).await?;
                Ok(Self::Reader(reader.id))
            }
        }
    }

    fn author(&self) -> Author<'_> {
        match self {
            Self::EditTokenDigest(digest) => Author::EditToken(digest),
            Self::Reader(id) => Author::Reader(id),
        }
    }
}

/// The author edits the review within the edit window; the rules run again over the new text
/// and `review::edited_status` decides where it stands.
pub async fn edit(
    state: &AppState,
    id: Uuid,
    proof: Proof<'_>,
    edit: &ReviewEdit,
) -> Result<Review, ServiceError> {
    let owner = Owner::of(state, proof).await?;
    let newsroom = &state.moderation.newsroom_name;
    let render = |row: &PublicReviewRow| event_json(row, newsroom);
    let policy = EditPolicy {
        window: state.moderation.edit_window,
        rules: &state.moderation.rules,
        site_mode: state.moderation.site_mode,
    };
    let (row, announced) =
        store::moderation::edit(&state.pool, id, owner.author(), edit, &policy, &render).await?;
    after_commit(
        state,
        Committed::one_article(row.article_id.clone(), announced),
    )
    .await;
    Ok(Review::new(&row, newsroom).seen_by_author())
}

/// The author deletes the review, at any time.
pub async fn delete(state: &AppState, id: Uuid, proof: Proof<'_>) -> Result<(), ServiceError> {
    let owner = Owner::of(state, proof).await?;
    let newsroom = &state.moderation.newsroom_name;
    let render = |row: &PublicReviewRow| event_json(row, newsroom);
    let (changes, announced) =
        store::moderation::delete_owned(&state.pool, id, owner.author(), &render).await?;
    let committed = Committed::status_changes("author_delete", &changes, announced);
    after_commit(state, committed).await;
    Ok(())
}
