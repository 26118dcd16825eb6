//! Request extractors that turn every kind of malformed input into a precise `ApiError`.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{mime, web, FromRequest, HttpMessage, HttpRequest};
use chrono::Utc;
use futures_util::future::{Either, LocalBoxFuture};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::client::Client;
use crate::db::pool::Scope;
use crate::domain::article::{ArticleId, ArticleIds};
use crate::domain::live::{Cursor, MalformedCursor};
use crate::domain::mail::LinkToken;
use crate::domain::page::PageQuery;
use crate::domain::position::Position;
use crate::domain::query::{day_range_from_pairs, ExportQuery, LogQuery, QueueFilter};
use crate::domain::reader::{TokenRefusal, READER_HEADER};
use crate::domain::review::IdempotencyKey;
use crate::domain::site::SiteId;
use crate::domain::stats::DayRange;
use crate::domain::text;
use crate::domain::webhook::DeliveryQuery;
use crate::domain::{FieldError, FieldErrorCode};
use crate::error::ApiError;
use crate::http_layer::positions;
use crate::http_layer::site::SiteContext;
use crate::rate_limit::Limit;
use crate::read_cache::ReadCache;
use crate::services::reviews::Proof;
use crate::sites::RequestSite;
use crate::state::AppState;

/// The state of the site the request is for (`http_layer::site`): its pool sees only that site's
/// rows, and its settings are the site's.
pub struct SiteState(pub Arc<AppState>);

impl SiteState {
    /// The request's site state, set by `http_layer::site::serve_the_site` for every `/v1/` path.
    pub fn of_request(req: &HttpRequest) -> Result<Self, ApiError> {
        req.extensions()
            .get::<SiteContext>()
            .map(|context| Self(context.0.clone()))
            .ok_or_else(|| ApiError::Internal("the request's site was not resolved".into()))
    }
}

impl SiteState {
    /// `path` (`/v1/…`) as the request's site serves it: under `/sites/{site}` for a site other
    /// than the default, whose unprefixed paths stay as they were. For `Location` headers.
    pub fn located(&self, path: &str) -> String {
        match self.pool.scope() {
            Scope::Site(site) if site.as_str() != SiteId::DEFAULT => format!("/sites/{site}{path}"),
            _ => path.to_owned(),
        }
    }
}

impl std::ops::Deref for SiteState {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.0
    }
}

/// The state a public read works with: the request's site, reading from a read replica when one
/// is usable and has replayed the reader's last write (`Marginalia-Position`, see
/// `crate::replicas`), else from the primary. A reader who sent a position skips the read cache.
pub struct PublicRead(pub SiteState);

impl PublicRead {
    /// With replicas: which one may serve the reader (or the primary), by the position sent.
    async fn with_replicas(site: SiteState, sent: SentPosition) -> Result<Self, ApiError> {
        let after = match sent {
            SentPosition::None => None,
            SentPosition::Header(token) => {
                let digests = site.abuse.digests(&site.pool).await?;
                Some(digests.verify_position(&token).ok_or_else(|| {
                    position_problem("was not issued by this service (or was changed)")
                })?)
            }
            SentPosition::Cookie(token) => {
                let digests = site.abuse.digests(&site.pool).await?;
                digests.verify_position(&token)
            }
        };
        let replica = site.replicas.choose(after).cloned();
        if replica.is_none() && after.is_none() {
            return Ok(Self(site));
        }
        let mut state = AppState::clone(&site);
        if let Some(replica) = replica {
            state.pool = replica;
        }
        if after.is_some() {
            state.read_cache = ReadCache::off();
        }
        Ok(Self(SiteState(Arc::new(state))))
    }
}

/// The reader's last write position as sent, checked only for its shape here. A header that is
/// not a position is refused whether or not replicas serve; the cookie, which the service set
/// itself, is read only when a replica may be chosen by it.
enum SentPosition {
    None,
    Header(String),
    Cookie(String),
}

fn position_problem(message: &'static str) -> ApiError {
    ApiError::bad_parameter(FieldError::broke(
        positions::HEADER,
        &text::rule("format", message),
    ))
}

/// The header (one not shaped like a position a write answered with is a 400 naming it), else
/// the cookie (a malformed one is ignored, as the reader did not choose to send it).
fn sent_position(req: &HttpRequest, read_cookie: bool) -> Result<SentPosition, ApiError> {
    let well_formed = |token: &str| {
        token
            .split_once('~')
            .is_some_and(|(position, tag)| Position::parse(position).is_some() && tag.len() == 22)
    };
    if let Some(value) = req.headers().get(positions::HEADER) {
        return value
            .to_str()
            .ok()
            .filter(|token| well_formed(token))
            .map(|token| SentPosition::Header(token.to_owned()))
            .ok_or_else(|| {
                position_problem("must be the position a write answered with, like `16/B374D848~…`")
            });
    }
    if !read_cookie {
        return Ok(SentPosition::None);
    }
    Ok(req
        .cookie(positions::COOKIE)
        .map(|cookie| cookie.value().to_owned())
        .filter(|token| well_formed(token))
        .map_or(SentPosition::None, SentPosition::Cookie))
}

impl std::ops::Deref for PublicRead {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.0
    }
}

impl FromRequest for PublicRead {
    type Error = ApiError;
    type Future = Either<
        std::future::Ready<Result<Self, ApiError>>,
        LocalBoxFuture<'static, Result<Self, ApiError>>,
    >;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parts = SiteState::of_request(req).and_then(|site| {
            let sent = sent_position(req, !site.replicas.is_empty())?;
            Ok((site, sent))
        });
        match parts {
            // Every read goes to the primary: nothing to wait for.
            Ok((site, _)) if site.replicas.is_empty() => {
                Either::Left(std::future::ready(Ok(Self(site))))
            }
            Ok((site, sent)) => Either::Right(Box::pin(Self::with_replicas(site, sent))),
            Err(error) => Either::Left(std::future::ready(Err(error))),
        }
    }
}

impl FromRequest for SiteState {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Self::of_request(req))
    }
}

/// A JSON request body: `application/json` (or `+json`) in UTF-8 and without content coding only,
/// within the body limit and the body read deadline, every syntax error a 400 and every wrong
/// field a 422 naming the field.
pub struct JsonBody<T>(pub T);

/// A JSON body checked into a domain value at the edge: the body's syntax and shape as
/// `JsonBody` checks them (400, 422), then the domain's rules (422 naming every broken one).
pub struct Checked<T>(pub T);

/// A domain value parsed from the request body that carries it.
pub trait CheckedBody: Sized {
    type Body: DeserializeOwned + 'static;
    fn check(body: Self::Body) -> Result<Self, Vec<FieldError>>;
}

impl<T: CheckedBody + 'static> FromRequest for Checked<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = JsonBody::<T::Body>::from_request(req, payload);
        Box::pin(async move {
            let JsonBody(body) = body.await?;
            T::check(body).map(Checked).map_err(ApiError::Validation)
        })
    }
}

/// Why a request's declared body format is refused, if it is.
fn unsupported_format(req: &HttpRequest) -> Option<String> {
    let mime = match req.mime_type() {
        Ok(Some(mime))
            if mime.type_() == mime::APPLICATION
                && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON)) =>
        {
            mime
        }
        _ => {
            return Some(
                "send the request body as JSON with `Content-Type: application/json`".into(),
            )
        }
    };
    // JSON is UTF-8 (RFC 8259); a body declared in another charset would be misread.
    if let Some(charset) = mime.get_param(mime::CHARSET) {
        if !charset.as_str().eq_ignore_ascii_case("utf-8") {
            return Some(format!(
                "JSON must be UTF-8; the body is declared as charset `{}`",
                truncate(charset.as_str(), 40)
            ));
        }
    }
    let coding = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|value| value.to_str().unwrap_or("?").trim());
    match coding {
        None | Some("") => None,
        Some(coding) if coding.eq_ignore_ascii_case("identity") => None,
        Some(coding) => Some(format!(
            "compressed request bodies are not accepted (`Content-Encoding: {}`); send plain JSON",
            truncate(coding, 40)
        )),
    }
}

fn truncate(text: &str, max_chars: usize) -> &str {
    text.char_indices()
        .nth(max_chars)
        .map_or(text, |(index, _)| &text[..index])
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = JsonBytes::from_request(req, payload);
        Box::pin(async move { parse_json(&body.await?.0).map(JsonBody) })
    }
}

/// A JSON request body's bytes as sent, under the same rules as `JsonBody` (format, size,
/// deadline), for handlers that must see the exact bytes, such as signature checks.
pub struct JsonBytes(pub web::Bytes);

impl FromRequest for JsonBytes {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (limit, read_timeout) = req
            .app_data::<web::Data<AppState>>()
            .map(|state| (state.body_limit, state.body_read_timeout))
            .unwrap_or((256 * 1024, Duration::from_secs(10)));
        let refused = unsupported_format(req);
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        let stream = actix_web::body::BodyStream::new(payload.take());
        Box::pin(async move {
            if let Some(reason) = refused {
                return Err(ApiError::UnsupportedMediaType(reason));
            }
            if declared_length.is_some_and(|length| length > limit) {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            // A client that stops sending must not hold its connection and our memory.
            let read = tokio::time::timeout(
                read_timeout,
                actix_web::body::to_bytes_limited(stream, limit),
            );
            let bytes = read
                .await
                .map_err(|_| ApiError::RequestTimeout {
                    seconds: read_timeout.as_secs_f64().ceil() as u64,
                })?
                .map_err(|_| ApiError::PayloadTooLarge { limit })?
                .map_err(|error| ApiError::BadRequest {
                    detail: format!("the request body could not be read: {error}"),
                    errors: Vec::new(),
                })?;
            Ok(JsonBytes(bytes))
        })
    }
}

/// For `#[serde(default, deserialize_with = "present")]`: tells a field sent as null
/// (`Some(None)`) from a field left out (`None`).
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// Parses a JSON document into `T`, reporting where it went wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde would also build a struct from an array; a request body must be an object.
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first.is_some_and(|byte| *byte != b'{') {
        return Err(ApiError::BadRequest {
            detail: "the request body must be a JSON object".into(),
            errors: Vec::new(),
        });
    }
    if may_hold_nul(bytes) {
        refuse_nul_strings(bytes)?;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        json_error(&path, error.inner())
    })?;
    deserializer
        .end()
        .map_err(|error| json_error(".", &error))?;
    Ok(value)
}

/// Whether a JSON text may hold a string with a NUL: JSON can only spell one as the escape
/// `\u0000` (a raw control character is a syntax error), so this is a cheap scan of the bytes
/// that every ordinary body passes without a second parse.
fn may_hold_nul(bytes: &[u8]) -> bool {
    bytes.windows(6).enumerate().any(|(at, window)| {
        window.eq_ignore_ascii_case(b"\\u0000")
            // An even run of backslashes before it is escaped backslashes, not an escape.
            && bytes[..at].iter().rev().take_while(|byte| **byte == b'\\').count() % 2 == 0
    })
}

/// Refuses a JSON body with a NUL in any string (or member name): a 422 naming each field by
/// its path, as PostgreSQL cannot store the character in text.
fn refuse_nul_strings(bytes: &[u8]) -> Result<(), ApiError> {
    fn walk(value: &serde_json::Value, path: &str, found: &mut Vec<FieldError>) {
        match value {
            serde_json::Value::String(text) if text.contains('\0') => found.push(nul_error(path)),
            serde_json::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{index}]"), found);
                }
            }
            serde_json::Value::Object(members) => {
                for (name, member) in members {
                    let inner = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}.{name}")
                    };
                    if name.contains('\0') {
                        found.push(nul_error(&inner));
                    } else {
                        walk(member, &inner, found);
                    }
                }
            }
            _ => {}
        }
    }
    // Not valid JSON: the ordinary parse reports why.
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(());
    };
    let mut found = Vec::new();
    walk(&value, "", &mut found);
    if found.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(found))
    }
}

fn json_error(path: &str, error: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let message = strip_position(&error.to_string());
    match error.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::BadRequest {
            detail: format!("the request body is not valid JSON: {message}"),
            errors: Vec::new(),
        },
        Category::Data => {
            if path == "." {
                ApiError::BadRequest {
                    detail: format!("the request body must be a JSON object: {message}"),
                    errors: Vec::new(),
                }
            } else {
                let code = if message.starts_with("unknown field") {
                    FieldErrorCode::UnknownField
                } else {
                    FieldErrorCode::Type
                };
                ApiError::Validation(vec![FieldError::new(path, code, message)])
            }
        }
    }
}

/// serde_json appends " at line L column C"; clients need the field, not our parser's position.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

/// The `{article_id}` path segment, checked against the article id rules.
impl FromRequest for ArticleId {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let raw = web::Path::<String>::extract(req).into_inner();
        Box::pin(async move {
            let raw = raw.map_err(|_| {
                ApiError::bad_parameter(FieldError::new(
                    "article_id",
                    FieldErrorCode::Format,
                    "is not valid UTF-8 once decoded",
                ))
            })?;
            ArticleId::parse(&raw, "article_id").map_err(ApiError::bad_parameter)
        })
    }
}

/// The `site_id` of an installation path (`/v1/sites/{site_id}`).
impl FromRequest for SiteId {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let raw = req.match_info().get("site_id").unwrap_or_default();
        std::future::ready(SiteId::parse(raw, "site_id").map_err(ApiError::bad_parameter))
    }
}

/// The repeated `article_id` query parameters of a bulk request.
impl FromRequest for ArticleIds {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(query_pairs(req).and_then(|pairs| {
            let pairs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(name, value)| (name.as_ref(), value.as_ref()))
                .collect();
            ArticleIds::from_pairs(&pairs).map_err(ApiError::bad_parameter)
        }))
    }
}

/// The query of a page of an article's reviews, bound to the article in the path.
pub struct ListQuery(pub PageQuery);

impl FromRequest for ListQuery {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let article_id = req.match_info().get("article_id").unwrap_or_default();
        let site = req
            .extensions()
            .get::<RequestSite>()
            .map_or_else(SiteId::default_site, |named| named.0.clone());
        let query = parsed_query(req, |pairs| PageQuery::from_pairs(&site, article_id, pairs));
        std::future::ready(query.map(ListQuery))
    }
}

/// The path segment `name`, which must be a UUID.
fn uuid_segment(req: &HttpRequest, name: &str) -> Result<Uuid, ApiError> {
    req.match_info()
        .get(name)
        .and_then(|raw| Uuid::try_parse(raw).ok())
        .ok_or_else(|| {
            ApiError::bad_parameter(FieldError::new(
                name,
                FieldErrorCode::Format,
                "must be a UUID",
            ))
        })
}

/// A `{id}` path segment that must be a UUID.
pub struct ReviewIdPath(pub Uuid);

impl FromRequest for ReviewIdPath {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(uuid_segment(req, "id").map(ReviewIdPath))
    }
}

/// A `{reader_id}` path segment: the id a site's login knows a signed-in reader by.
pub struct ReaderIdPath(pub String);

impl FromRequest for ReaderIdPath {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = req
            .match_info()
            .get("reader_id")
            .and_then(crate::domain::reader::parse_reader_id)
            .map(Self)
            .ok_or_else(|| {
                ApiError::bad_parameter(FieldError::new(
                    "reader_id",
                    FieldErrorCode::Format,
                    "must be 1 to 256 characters without control characters",
                ))
            });
        std::future::ready(parsed)
    }
}

/// A `{endpoint_id}` path segment (and `{delivery_id}`, where the route has one).
pub struct EndpointPath {
    pub endpoint_id: Uuid,
    pub delivery_id: Option<Uuid>,
}

impl FromRequest for EndpointPath {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = uuid_segment(req, "endpoint_id").and_then(|endpoint_id| {
            let delivery_id = match req.match_info().get("delivery_id") {
                Some(_) => Some(uuid_segment(req, "delivery_id")?),
                None => None,
            };
            Ok(Self {
                endpoint_id,
                delivery_id,
            })
        });
        std::future::ready(parsed)
    }
}

/// The token of a confirmation or unsubscribe link (`?token=`).
pub struct MailLink(pub LinkToken);

impl FromRequest for MailLink {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = parsed_query(req, |pairs| LinkToken::from_pairs(pairs));
        std::future::ready(token.map(MailLink))
    }
}

/// The query of a delivery log page.
pub struct DeliveryQueryParams(pub DeliveryQuery);

impl FromRequest for DeliveryQueryParams {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let query = parsed_query(req, |pairs| DeliveryQuery::from_pairs(pairs));
        std::future::ready(query.map(DeliveryQueryParams))
    }
}

/// A public review write (submit, edit, delete) from a client within its rate limit. Extracted
/// before the body, so a client over its limit costs no body read.
pub struct ReviewWriter(pub Client);

/// A vote or flag from a client within its rate limit.
pub struct ReactionWriter(pub Client);

/// The request's client, counted against its site's limit (the site's own, or the
/// installation's that the sites without their own share).
fn limited(
    req: &HttpRequest,
    limit: fn(&AppState) -> &Limit,
) -> LocalBoxFuture<'static, Result<Client, ApiError>> {
    let parts = Client::of_request(req)
        .map_err(ApiError::from)
        .and_then(|client| Ok((client, SiteState::of_request(req)?)));
    Box::pin(async move {
        let (client, site) = parts?;
        let digests = site.abuse.digests(&site.pool).await?;
        let shared = site.abuse.other_nodes.present();
        limit(&site)
            .admit(&site.pool, digests, client.address, shared)
            .await?;
        Ok(client)
    })
}

impl FromRequest for ReviewWriter {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let client = limited(req, |state| &state.abuse.reviews_limit);
        Box::pin(async move { client.await.map(Self) })
    }
}

impl FromRequest for ReactionWriter {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let client = limited(req, |state| &state.abuse.reactions_limit);
        Box::pin(async move { client.await.map(Self) })
    }
}

/// The `Idempotency-Key` header, when sent; a malformed one is a 400 naming it.
pub struct IdempotencyKeyHeader(pub Option<IdempotencyKey>);

impl FromRequest for IdempotencyKeyHeader {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        const NAME: &str = "Idempotency-Key";
        let parsed = match req.headers().get(NAME) {
            None => Ok(Self(None)),
            Some(value) => value
                .to_str()
                .map_err(|_| text::rule("format", "must be visible ASCII characters"))
                .and_then(IdempotencyKey::parse)
                .map(|key| Self(Some(key)))
                .map_err(|rule| ApiError::bad_parameter(FieldError::broke(NAME, &rule))),
        };
        std::future::ready(parsed)
    }
}

/// The `Last-Event-ID` header a browser sends when it reconnects to a live stream; a malformed
/// one is a 400 naming it.
pub struct LastEventId(pub Option<Cursor>);

impl FromRequest for LastEventId {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        const NAME: &str = "Last-Event-ID";
        let parsed = match req.headers().get(NAME) {
            None => Ok(Self(None)),
            Some(value) => value
                .to_str()
                .ok()
                .and_then(|raw| raw.trim().parse::<Cursor>().ok())
                .map(|cursor| Self(Some(cursor)))
                .ok_or_else(|| {
                    ApiError::bad_parameter(FieldError::broke(
                        NAME,
                        &text::rule("format", MalformedCursor.to_string()),
                    ))
                }),
        };
        std::future::ready(parsed)
    }
}

/// The `Marginalia-Reader` header: a signed-in reader's token, checked by the site's
/// `readers::ReaderTokens`. An empty value counts as no token: a page whose reader signed out
/// often still sends the header, and that reader is simply anonymous.
pub struct ReaderTokenHeader(pub Option<String>);

impl FromRequest for ReaderTokenHeader {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = match req.headers().get(READER_HEADER) {
            None => Ok(Self(None)),
            Some(value) => value
                .to_str()
                .map(|token| Self(Some(token.trim().to_owned()).filter(|t| !t.is_empty())))
                .map_err(|_| ApiError::ReaderRefused(TokenRefusal::Malformed)),
        };
        std::future::ready(token)
    }
}

/// The `X-Edit-Token` header, when sent.
pub struct EditTokenHeader(pub Option<String>);

impl EditTokenHeader {
    const NAME: &'static str = "X-Edit-Token";
}

/// How an author shows that a review is theirs: its `X-Edit-Token`, or, for a signed-in reader's
/// own review, their `Marginalia-Reader` token. The edit token wins when both come.
pub struct AuthorProof {
    edit_token: Option<String>,
    reader_token: Option<String>,
}

impl AuthorProof {
    /// The proof, which this operation needs.
    pub fn proof(&self) -> Result<Proof<'_>, ApiError> {
        match (&self.edit_token, &self.reader_token) {
            (Some(token), _) => Ok(Proof::EditToken(token)),
            (None, Some(token)) => Ok(Proof::ReaderToken(token)),
            (None, None) => Err(ApiError::Unauthorized(
                "this operation needs the review's edit token: send `X-Edit-Token: <token>` (or, \
                 for a signed-in reader's own review, their `Marginalia-Reader` token)",
            )),
        }
    }
}

impl FromRequest for AuthorProof {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let proof = EditTokenHeader::from_request(req, payload)
            .into_inner()
            .and_then(|edit| {
                let reader = ReaderTokenHeader::from_request(req, payload).into_inner()?;
                Ok(Self {
                    edit_token: edit.0,
                    reader_token: reader.0,
                })
            });
        std::future::ready(proof)
    }
}

impl FromRequest for EditTokenHeader {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Any value is only ever compared by digest; a non-ASCII one simply matches nothing.
        let token = req
            .headers()
            .get(Self::NAME)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_owned());
        std::future::ready(Ok(Self(token)))
    }
}

/// The query string's pairs given to a domain `from_pairs`: a NUL anywhere, or any repeated,
/// unknown or malformed parameter, is a 400 naming each one.
fn parsed_query<T>(
    req: &HttpRequest,
    parse: impl FnOnce(Vec<(&str, &str)>) -> Result<T, Vec<FieldError>>,
) -> Result<T, ApiError> {
    let pairs = query_pairs(req)?;
    parse(
        pairs
            .iter()
            .map(|(name, value)| (name.as_ref(), value.as_ref()))
            .collect(),
    )
    .map_err(|errors| ApiError::BadRequest {
        detail: "invalid query parameters".into(),
        errors,
    })
}

/// The query of a page of the moderation queue.
pub struct QueueQueryParams(pub QueueFilter);

impl FromRequest for QueueQueryParams {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parsed_query(req, |pairs| QueueFilter::from_pairs(pairs)).map(Self))
    }
}

/// The query of an audit log read.
pub struct LogQueryParams(pub LogQuery);

impl FromRequest for LogQueryParams {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parsed_query(req, |pairs| LogQuery::from_pairs(pairs)).map(Self))
    }
}

/// The query of a reviews export.
pub struct ExportQueryParams(pub ExportQuery);

impl FromRequest for ExportQueryParams {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parsed_query(req, |pairs| ExportQuery::from_pairs(pairs)).map(Self))
    }
}

/// The days of a stats series (`from`, `to`), today's date filling in what is not given.
pub struct DayRangeParams(pub DayRange);

impl FromRequest for DayRangeParams {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let today = Utc::now().date_naive();
        let range = parsed_query(req, |pairs| day_range_from_pairs(pairs, today));
        std::future::ready(range.map(Self))
    }
}

/// A decoded query parameter: its name and value.
pub type QueryPair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// The query string as decoded name/value pairs, in order. A NUL anywhere (`%00`), the one
/// character PostgreSQL cannot store in text, is a 400 naming the parameter here, where every
/// query is read, so that no filter can carry one to the database and come back as a 500.
pub fn query_pairs(req: &HttpRequest) -> Result<Vec<QueryPair<'_>>, ApiError> {
    // Borrowed from the query string unless a pair has escapes to decode: a page's `limit=20`
    // allocates nothing.
    let pairs: Vec<QueryPair<'_>> = form_urlencoded::parse(req.query_string().as_bytes()).collect();
    let errors: Vec<FieldError> = pairs
        .iter()
        .filter(|(name, value)| name.contains('\0') || value.contains('\0'))
        .map(|(name, _)| nul_error(name))
        .collect();
    if errors.is_empty() {
        Ok(pairs)
    } else {
        Err(ApiError::BadRequest {
            detail: "invalid query parameters".into(),
            errors,
        })
    }
}

/// The error naming a parameter or field that holds a NUL (its name made printable and short).
fn nul_error(name: &str) -> FieldError {
    let name: String = name.replace('\0', "\u{FFFD}").chars().take(64).collect();
    FieldError::new(
        name,
        FieldErrorCode::Format,
        "must not contain the NUL character (U+0000)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        rating: Option<i64>,
        body: Option<String>,
    }

    fn status(result: Result<Sample, ApiError>) -> (u16, Vec<String>) {
        use actix_web::ResponseError;
        let error = result.unwrap_err();
        let problem = error.to_problem();
        let fields = problem.errors.into_iter().map(|e| e.field).collect();
        (error.status_code().as_u16(), fields)
    }

    #[test]
    fn syntax_errors_are_400() {
        assert_eq!(status(parse_json(br#"{"rating": 4, "body": "abc"#)).0, 400);
        assert_eq!(status(parse_json(b"{\"body\":\"\xff\xfe\"}")).0, 400);
        assert_eq!(status(parse_json(b"[1,2,3]")).0, 400);
        assert_eq!(status(parse_json(br#"{"rating": 4} trailing"#)).0, 400);
    }

    #[test]
    fn field_errors_are_422_naming_the_field() {
        assert_eq!(
            status(parse_json(br#"{"rating": "5"}"#)),
            (422, vec!["rating".into()])
        );
        assert_eq!(
            status(parse_json(br#"{"rating": 4.5}"#)),
            (422, vec!["rating".into()])
        );
        assert_eq!(
            status(parse_json(br#"{"body": 4}"#)),
            (422, vec!["body".into()])
        );
        assert_eq!(
            status(parse_json(br#"{"rating": 4, "status": "published"}"#)),
            (422, vec!["status".into()])
        );
    }

    #[test]
    fn a_nul_in_any_string_is_a_422_naming_the_field() {
        assert_eq!(
            status(parse_json(br#"{"rating": 4, "body": "a\u0000b"}"#)),
            (422, vec!["body".into()])
        );
        assert_eq!(
            status(parse_json(br#"{"body": {"x": ["ok", "\u0000"]}}"#)),
            (422, vec!["body.x[1]".into()])
        );
        // An escaped backslash followed by "u0000" is text, not a NUL.
        assert!(parse_json::<Sample>(br#"{"body": "a\\u0000b"}"#).is_ok());
        assert!(may_hold_nul(br#"{"body": "a\\\u0000b"}"#));
        assert!(!may_hold_nul(br#"{"body": "a\\u0000b"}"#));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_bytes_parse_or_give_a_client_error(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
                use actix_web::ResponseError;
                if let Err(error) = parse_json::<Sample>(&bytes) {
                    prop_assert!(error.status_code().is_client_error());
                }
            }
        }
    }
}
