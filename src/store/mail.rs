//! The mail outbox and its recipients (docs/email.md). Notices are queued by the store module of
//! the change they tell of, in its transaction (`queue_notices`); the mail worker claims due
//! messages with `FOR UPDATE SKIP LOCKED`, so any number of nodes share the sending without
//! sending anything twice, and reads what is true at sending time (`context`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::sql_types::{
    Array, BigInt, Bool, Interval, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::answer::LoadOne;
use super::{site_of, with_connection, StoreError};
use crate::db::Pool;
use crate::domain::mail::{MailKind, MailLanguage, MailSettings, CONFIRMATION_EVERY_HOURS};

/// How many messages one worker step claims.
const CLAIM_BATCH: i64 = 20;
/// Sent, dropped and failed messages are kept this long, for support questions, then pruned.
const KEEP_DAYS: i64 = 30;

/// A new address's link token: 256 random bits, URL-safe (43 characters).
fn new_link_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A notice to queue for a review's author, if they asked for it.
#[derive(Debug, Clone, Copy)]
pub struct Notice {
    pub review_id: Uuid,
    pub kind: MailKind,
}

#[derive(QueryableByName)]
struct NoticeTarget {
    #[diesel(sql_type = SqlUuid)]
    review_id: Uuid,
    #[diesel(sql_type = Text)]
    site_id: String,
    #[diesel(sql_type = Text)]
    address: String,
    #[diesel(sql_type = Nullable<Text>)]
    review_language: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Jsonb>)]
    site_mail: Option<serde_json::Value>,
}

/// The language a site writes in where the reader's is unknown.
fn site_language(settings: Option<&serde_json::Value>) -> MailLanguage {
    settings
        .and_then(|raw| serde_json::from_value::<MailSettings>(raw.clone()).ok())
        .map(|settings| settings.language)
        .unwrap_or_default()
}

/// Queues each notice whose review's author asked for notices, in the caller's transaction:
/// at once for a confirmed address, waiting for the confirmation otherwise (which is asked for,
/// at most once a day). An address that unsubscribed gets nothing; a review hears of each kind
/// once. Returns whether a message became due.
pub(super) async fn queue_notices(
    conn: &mut AsyncPgConnection,
    notices: &[Notice],
) -> Result<bool, StoreError> {
    if notices.is_empty() {
        return Ok(false);
    }
    let ids: Vec<Uuid> = notices.iter().map(|notice| notice.review_id).collect();
    let targets: Vec<NoticeTarget> = diesel::sql_query(
        "SELECT r.id AS review_id, r.site_id, lower(r.author_email) AS address, \
         r.language AS review_language, s.mail AS site_mail \
         FROM reviews r JOIN sites s USING (site_id) \
         WHERE r.id = ANY($1) AND r.notify AND r.author_email IS NOT NULL AND r.erased_at IS NULL",
    )
    .bind::<Array<SqlUuid>, _>(&ids)
    .load(conn)
    .await?;
    let mut due = false;
    for target in targets {
        let language = MailLanguage::for_review(
            target.review_language.as_deref(),
            site_language(target.site_mail.as_ref()),
        );
        let Some(recipient) = recipient(conn, &target.site_id, &target.address, false).await?
        else {
            continue;
        };
        let state = if recipient.confirmed {
            "due"
        } else {
            "waiting"
        };
        for notice in notices.iter().filter(|n| n.review_id == target.review_id) {
            insert_message(conn, &target, notice.kind, language, state).await?;
        }
        due |= recipient.confirmed;
        if !recipient.confirmed {
            due |= ask_confirmation(conn, &target.site_id, &target.address, language).await?;
        }
    }
    Ok(due)
}

async fn insert_message(
    conn: &mut AsyncPgConnection,
    target: &NoticeTarget,
    kind: MailKind,
    language: MailLanguage,
    state: &str,
) -> Result<(), StoreError> {
    diesel::sql_query(
        "INSERT INTO mail_outbox (id, site_id, kind, address, review_id, language, state, due_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, now()) \
         ON CONFLICT (review_id, kind) WHERE review_id IS NOT NULL DO NOTHING",
    )
    .bind::<SqlUuid, _>(Uuid::now_v7())
    .bind::<Text, _>(&target.site_id)
    .bind::<Text, _>(kind.as_str())
    .bind::<Text, _>(&target.address)
    .bind::<SqlUuid, _>(target.review_id)
    .bind::<Text, _>(language.as_str())
    .bind::<Text, _>(state)
    .execute(conn)
    .await?;
    Ok(())
}

/// An address's standing, as the queue needs it.
struct Recipient {
    confirmed: bool,
}

#[derive(QueryableByName)]
struct RecipientRow {
    #[diesel(sql_type = Bool)]
    confirmed: bool,
    #[diesel(sql_type = Bool)]
    unsubscribed: bool,
}

/// The address's record, created on first use (confirmed at once when `vouched`: the site's own
/// login, or an administrator, knows it) and locked for the caller's transaction; `None` when it
/// unsubscribed.
async fn recipient(
    conn: &mut AsyncPgConnection,
    site: &str,
    address: &str,
    vouched: bool,
) -> Result<Option<Recipient>, StoreError> {
    diesel::sql_query(
        "INSERT INTO mail_recipients (site_id, address, link_token, role, confirmed_at) \
         VALUES ($1, $2, $3, 'reader', CASE WHEN $4 THEN now() END) \
         ON CONFLICT (site_id, address) DO UPDATE SET confirmed_at = \
         COALESCE(mail_recipients.confirmed_at, EXCLUDED.confirmed_at)",
    )
    .bind::<Text, _>(site)
    .bind::<Text, _>(address)
    .bind::<Text, _>(new_link_token())
    .bind::<Bool, _>(vouched)
    .execute(conn)
    .await?;
    let row: RecipientRow = diesel::sql_query(
        "SELECT confirmed_at IS NOT NULL AS confirmed, unsubscribed_at IS NOT NULL AS unsubscribed \
         FROM mail_recipients WHERE site_id = $1 AND address = $2 FOR UPDATE",
    )
    .bind::<Text, _>(site)
    .bind::<Text, _>(address)
    .load_one(conn)
    .await?;
    Ok((!row.unsubscribed).then_some(Recipient {
        confirmed: row.confirmed,
    }))
}

/// Queues a request to confirm `address`, unless one went out within the last day. Returns
/// whether it was queued.
async fn ask_confirmation(
    conn: &mut AsyncPgConnection,
    site: &str,
    address: &str,
    language: MailLanguage,
) -> Result<bool, StoreError> {
    let asked = diesel::sql_query(
        "UPDATE mail_recipients SET confirmation_sent_at = now() \
         WHERE site_id = $1 AND address = $2 AND confirmed_at IS NULL AND unsubscribed_at IS NULL \
         AND (confirmation_sent_at IS NULL OR confirmation_sent_at < now() - $3)",
    )
    .bind::<Text, _>(site)
    .bind::<Text, _>(address)
    .bind::<Interval, _>(diesel::data_types::PgInterval::from_microseconds(
        CONFIRMATION_EVERY_HOURS * 3_600_000_000,
    ))
    .execute(conn)
    .await?;
    if asked == 0 {
        return Ok(false);
    }
    diesel::sql_query(
        "INSERT INTO mail_outbox (id, site_id, kind, address, language, state, due_at) \
         VALUES ($1, $2, 'confirm', $3, $4, 'due', now())",
    )
    .bind::<SqlUuid, _>(Uuid::now_v7())
    .bind::<Text, _>(site)
    .bind::<Text, _>(address)
    .bind::<Text, _>(language.as_str())
    .execute(conn)
    .await?;
    Ok(true)
}

/// After a submission that asked for notices: the address is recorded (confirmed at once when
/// the site's login vouched for it) and, if it is not confirmed, asked to confirm in the
/// review's language (`MailLanguage::for_review`, with the site's read only then). Returns
/// whether a message became due.
pub async fn subscribe(
    pool: &Pool,
    address: &str,
    review_language: Option<&str>,
    vouched: bool,
) -> Result<bool, StoreError> {
    #[derive(QueryableByName)]
    struct SiteMail {
        #[diesel(sql_type = Nullable<diesel::sql_types::Jsonb>)]
        mail: Option<serde_json::Value>,
    }
    let site = site_of(pool)?.to_owned();
    let address = address.to_lowercase();
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            match recipient(conn, &site, &address, vouched).await? {
                Some(recipient) if !recipient.confirmed => {
                    let row: SiteMail =
                        diesel::sql_query("SELECT mail FROM sites WHERE site_id = $1")
                            .bind::<Text, _>(&site)
                            .load_one(conn)
                            .await?;
                    let language =
                        MailLanguage::for_review(review_language, site_language(row.mail.as_ref()));
                    ask_confirmation(conn, &site, &address, language).await
                }
                _ => Ok(false),
            }
        })
        .await
    })
    .await
}

/// What a confirmation or unsubscribe link changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    /// The token names no address of this site.
    Unknown,
    /// Done; `messages` queued for the address changed (released by a confirmation, dropped by
    /// an unsubscribe).
    Done { messages: usize },
}

/// Confirms the address `token` names (and takes back an earlier unsubscribe: confirming is
/// asking again); its waiting notices become due.
pub async fn confirm(pool: &Pool, token: &str) -> Result<LinkOutcome, StoreError> {
    follow_link(
        pool,
        token,
        "UPDATE mail_recipients SET confirmed_at = COALESCE(confirmed_at, now()), \
         unsubscribed_at = NULL WHERE site_id = $1 AND link_token = $2",
        "UPDATE mail_outbox SET state = 'due', due_at = now() \
         WHERE state = 'waiting' AND site_id = $1 AND address = \
         (SELECT address FROM mail_recipients WHERE site_id = $1 AND link_token = $2)",
    )
    .await
}

/// Unsubscribes the address `token` names from everything of this site: nothing queued for it
/// goes out. Unsubscribing twice changes nothing.
pub async fn unsubscribe(pool: &Pool, token: &str) -> Result<LinkOutcome, StoreError> {
    follow_link(
        pool,
        token,
        "UPDATE mail_recipients SET unsubscribed_at = COALESCE(unsubscribed_at, now()) \
         WHERE site_id = $1 AND link_token = $2",
        "UPDATE mail_outbox SET state = 'dropped', last_error = 'unsubscribed' \
         WHERE state IN ('waiting', 'due') AND site_id = $1 AND address = \
         (SELECT address FROM mail_recipients WHERE site_id = $1 AND link_token = $2)",
    )
    .await
}

/// In one transaction: `recipient` changes the record of the address `token` names, then
/// `messages` its queued mail; both statements take the site (`$1`) and the token (`$2`).
async fn follow_link(
    pool: &Pool,
    token: &str,
    recipient: &'static str,
    messages: &'static str,
) -> Result<LinkOutcome, StoreError> {
    let site = site_of(pool)?.to_owned();
    with_connection(pool, async |conn| {
        conn.transaction::<_, StoreError, _>(async |conn| {
            let found = diesel::sql_query(recipient)
                .bind::<Text, _>(&site)
                .bind::<Text, _>(token)
                .execute(conn)
                .await?;
            if found == 0 {
                return Ok(LinkOutcome::Unknown);
            }
            let messages = diesel::sql_query(messages)
                .bind::<Text, _>(&site)
                .bind::<Text, _>(token)
                .execute(conn)
                .await?;
            Ok(LinkOutcome::Done { messages })
        })
        .await
    })
    .await
}

/// Forgets `address` on the site (an erasure): its record and every message to it, queued or
/// sent. In the erasure's transaction.
pub(super) async fn forget(
    conn: &mut AsyncPgConnection,
    site: &str,
    address: &str,
) -> Result<(), StoreError> {
    diesel::sql_query("DELETE FROM mail_recipients WHERE site_id = $1 AND address = lower($2)")
        .bind::<Text, _>(site)
        .bind::<Text, _>(address)
        .execute(conn)
        .await?;
    Ok(())
}

/// A message claimed for sending, with what is true now.
#[derive(Debug, Clone, QueryableByName)]
pub struct DueMessage {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub site_id: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub address: String,
    #[diesel(sql_type = Text)]
    pub language: String,
    #[diesel(sql_type = BigInt)]
    pub attempts: i64,
    #[diesel(sql_type = Text)]
    pub link_token: String,
    #[diesel(sql_type = Bool)]
    pub confirmed: bool,
    #[diesel(sql_type = Bool)]
    pub unsubscribed: bool,
    #[diesel(sql_type = Text)]
    pub site_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub newsroom_name: Option<String>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Jsonb>)]
    pub site_mail: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub review_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub review_status: Option<String>,
    #[diesel(sql_type = Bool)]
    pub review_erased: bool,
    #[diesel(sql_type = Nullable<Text>)]
    pub review_title: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub review_body: Option<String>,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    pub review_reasons: Option<Vec<String>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub reply_body: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub article_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub article_title: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub article_url: Option<String>,
}

/// Claims due messages for `lease` (counting the attempt), with the recipient, the review, its
/// article and the site as they are now.
pub async fn claim_due(pool: &Pool, lease: Duration) -> Result<Vec<DueMessage>, StoreError> {
    let lease = super::outbox::pg_interval(lease);
    with_connection(pool, async |conn| {
        Ok(diesel::sql_query(
            "WITH claimed AS (UPDATE mail_outbox SET leased_until = now() + $1, \
             attempts = attempts + 1 WHERE id IN (SELECT id FROM mail_outbox \
             WHERE state = 'due' AND due_at <= now() \
             AND (leased_until IS NULL OR leased_until < now()) \
             ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING *) \
             SELECT m.id, m.site_id, m.kind, m.address, m.language, m.attempts::bigint AS attempts, \
             p.link_token, p.confirmed_at IS NOT NULL AS confirmed, \
             p.unsubscribed_at IS NOT NULL AS unsubscribed, \
             s.name AS site_name, s.newsroom_name, s.mail AS site_mail, \
             m.review_id, r.status AS review_status, r.erased_at IS NOT NULL AS review_erased, \
             r.title AS review_title, r.body AS review_body, r.reasons AS review_reasons, \
             r.reply_body, r.article_id, a.title AS article_title, a.url AS article_url \
             FROM claimed m JOIN mail_recipients p USING (site_id, address) \
             JOIN sites s USING (site_id) \
             LEFT JOIN reviews r ON r.id = m.review_id \
             LEFT JOIN articles a ON a.site_id = r.site_id AND a.article_id = r.article_id \
             ORDER BY m.due_at",
        )
        .bind::<Interval, _>(lease)
        .bind::<BigInt, _>(CLAIM_BATCH)
        .load(conn)
        .await?)
    })
    .await
}

/// What became of a claimed message.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent,
    /// No longer true, or the address left: not sent, never will be.
    Dropped(String),
    /// The server did not take it: tried again at `at`.
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// Refused for good, or out of retries.
    Failed(String),
}

/// Records what became of a claimed message and ends its lease.
pub async fn record(pool: &Pool, id: Uuid, outcome: &Outcome) -> Result<(), StoreError> {
    let (state, error, due_at) = match outcome {
        Outcome::Sent => ("sent", None, None),
        Outcome::Dropped(reason) => ("dropped", Some(reason.as_str()), None),
        Outcome::Retry { at, error } => ("due", Some(error.as_str()), Some(*at)),
        Outcome::Failed(error) => ("failed", Some(error.as_str()), None),
    };
    with_connection(pool, async |conn| {
        diesel::sql_query(
            "UPDATE mail_outbox SET state = $2, last_error = $3, leased_until = NULL, \
             due_at = COALESCE($4, due_at), sent_at = CASE WHEN $2 = 'sent' THEN now() END \
             WHERE id = $1",
        )
        .bind::<SqlUuid, _>(id)
        .bind::<Text, _>(state)
        .bind::<Nullable<Text>, _>(error.map(|e| e.chars().take(500).collect::<String>()))
        .bind::<Nullable<Timestamptz>, _>(due_at)
        .execute(conn)
        .await?;
        Ok(())
    })
    .await
}

/// A review waiting for moderators, as the digest lists it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Waiting {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub article_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub title: Option<String>,
    #[diesel(sql_type = Text)]
    pub body: String,
    #[diesel(sql_type = Array<Text>)]
    pub reasons: Vec<String>,
}

/// What waits for the site's moderators: how many reviews, and the oldest `limit` of them.
pub async fn waiting(
    pool: &Pool,
    site: &str,
    limit: i64,
) -> Result<(i64, Vec<Waiting>), StoreError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    with_connection(pool, async |conn| {
        let count: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM reviews WHERE site_id = $1 AND status = 'pending'",
        )
        .bind::<Text, _>(site)
        .load_one(conn)
        .await?;
        let items = diesel::sql_query(
            "SELECT id, article_id, title, body, reasons FROM reviews \
             WHERE site_id = $1 AND status = 'pending' ORDER BY created_at, id LIMIT $2",
        )
        .bind::<Text, _>(site)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?;
        Ok((count.n, items))
    })
    .await
}

#[derive(QueryableByName)]
struct DigestSite {
    #[diesel(sql_type = Text)]
    site_id: String,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    mail: serde_json::Value,
}

/// Queues each site's digest that is due (its period passed since the last, and reviews wait):
/// one message per moderator address that has not unsubscribed. Each site's turn is taken under
/// a row lock, so two nodes never queue the same digest. Returns how many messages were queued.
pub async fn queue_digests(pool: &Pool) -> Result<usize, StoreError> {
    let sites: Vec<DigestSite> = with_connection(pool, async |conn| {
        Ok(diesel::sql_query(
            "SELECT site_id, mail FROM sites WHERE mail->>'digest' IN ('hourly', 'daily')",
        )
        .load(conn)
        .await?)
    })
    .await?;
    let mut queued = 0;
    for site in sites {
        let Ok(settings) = serde_json::from_value::<MailSettings>(site.mail) else {
            continue;
        };
        let Some(period) = settings.digest.period() else {
            continue;
        };
        queued += with_connection(pool, async |conn| {
            conn.transaction::<_, StoreError, _>(async |conn| {
                queue_digest(conn, &site.site_id, &settings, period).await
            })
            .await
        })
        .await?;
    }
    Ok(queued)
}

async fn queue_digest(
    conn: &mut AsyncPgConnection,
    site: &str,
    settings: &MailSettings,
    period: chrono::Duration,
) -> Result<usize, StoreError> {
    #[derive(QueryableByName)]
    struct Due {
        #[diesel(sql_type = Bool)]
        due: bool,
    }
    diesel::sql_query(
        "INSERT INTO mail_digests (site_id, last_queued_at) VALUES ($1, '-infinity') \
         ON CONFLICT (site_id) DO NOTHING",
    )
    .bind::<Text, _>(site)
    .execute(conn)
    .await?;
    let turn: Option<Due> = diesel::sql_query(
        "SELECT last_queued_at <= now() - $2 AND EXISTS (SELECT 1 FROM reviews \
         WHERE site_id = $1 AND status = 'pending') AS due \
         FROM mail_digests WHERE site_id = $1 FOR UPDATE SKIP LOCKED",
    )
    .bind::<Text, _>(site)
    .bind::<Interval, _>(diesel::data_types::PgInterval::from_microseconds(
        period.num_microseconds().unwrap_or(i64::MAX),
    ))
    .load_one(conn)
    .await
    .optional()?;
    if !turn.is_some_and(|turn| turn.due) {
        return Ok(0);
    }
    let mut queued = 0;
    for address in &settings.moderators {
        let address = address.to_lowercase();
        if moderator(conn, site, &address).await? {
            diesel::sql_query(
                "INSERT INTO mail_outbox (id, site_id, kind, address, language, state, due_at) \
                 VALUES ($1, $2, 'digest', $3, $4, 'due', now())",
            )
            .bind::<SqlUuid, _>(Uuid::now_v7())
            .bind::<Text, _>(site)
            .bind::<Text, _>(&address)
            .bind::<Text, _>(settings.language.as_str())
            .execute(conn)
            .await?;
            queued += 1;
        }
    }
    diesel::sql_query("UPDATE mail_digests SET last_queued_at = now() WHERE site_id = $1")
        .bind::<Text, _>(site)
        .execute(conn)
        .await?;
    Ok(queued)
}

/// A moderator's address, recorded as an administrator set it (no confirmation); false when it
/// unsubscribed.
async fn moderator(
    conn: &mut AsyncPgConnection,
    site: &str,
    address: &str,
) -> Result<bool, StoreError> {
    #[derive(QueryableByName)]
    struct Standing {
        #[diesel(sql_type = Bool)]
        unsubscribed: bool,
    }
    let standing: Standing = diesel::sql_query(
        "INSERT INTO mail_recipients (site_id, address, link_token, role, confirmed_at) \
         VALUES ($1, $2, $3, 'moderator', now()) \
         ON CONFLICT (site_id, address) DO UPDATE SET role = 'moderator', \
         confirmed_at = COALESCE(mail_recipients.confirmed_at, now()) \
         RETURNING unsubscribed_at IS NOT NULL AS unsubscribed",
    )
    .bind::<Text, _>(site)
    .bind::<Text, _>(address)
    .bind::<Text, _>(new_link_token())
    .load_one(conn)
    .await?;
    Ok(!standing.unsubscribed)
}

/// Drops notices that waited too long for a confirmation and prunes old messages. Returns how
/// many rows changed.
pub async fn prune(pool: &Pool, waiting_days: i64) -> Result<usize, StoreError> {
    with_connection(pool, async |conn| {
        let dropped = diesel::sql_query(
            "UPDATE mail_outbox SET state = 'dropped', last_error = 'never confirmed' \
             WHERE state = 'waiting' AND created_at < now() - make_interval(days => $1::int)",
        )
        .bind::<BigInt, _>(waiting_days)
        .execute(conn)
        .await?;
        let pruned = diesel::sql_query(
            "DELETE FROM mail_outbox WHERE state IN ('sent', 'dropped', 'failed') \
             AND created_at < now() - make_interval(days => $1::int)",
        )
        .bind::<BigInt, _>(KEEP_DAYS)
        .execute(conn)
        .await?;
        Ok(dropped + pruned)
    })
    .await
}

/// How many messages wait to be sent (due now or later), for the metrics gauge.
pub async fn pending(pool: &Pool) -> Result<i64, StoreError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    with_connection(pool, async |conn| {
        let count: Count =
            diesel::sql_query("SELECT count(*) AS n FROM mail_outbox WHERE state = 'due'")
                .load_one(conn)
                .await?;
        Ok(count.n)
    })
    .await
}
