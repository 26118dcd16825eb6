//! The OpenAPI schemas of the domain's values, built from the very constants their parsers
//! enforce: a limit or pattern is written once, in `domain/`, and published from there.

use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::domain::article::{ArticleId, ArticleIds, ArticleSection, ArticleTitle, ArticleUrl};
use crate::domain::cms_event::CmsEventType;
use crate::domain::moderation::AuditFilter;
use crate::domain::page::{Cursor, PageSize, CURSOR_MAX, CURSOR_PATTERN};
use crate::domain::review::{AuthorEmail, AuthorName, Rating, ReviewBody, ReviewTitle};
use crate::domain::text::{LanguageTag, NON_BLANK_PATTERN, PRINTABLE_PATTERN};
use crate::domain::webhook::{EndpointDescription, EventType, WebhookUrl};

/// A string schema with a character limit.
fn text(description: &str, min: usize, max: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .min_length(Some(min))
        .max_length(Some(max))
}

macro_rules! published {
    ($value:ty, $schema:expr) => {
        impl PartialSchema for $value {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }

        impl ToSchema for $value {}
    };
}

published!(
    ArticleId,
    text(
        "The CMS's own article id: letters, digits and . _ : ~ -, not only dots",
        1,
        ArticleId::MAX_LEN
    )
    .pattern(Some(ArticleId::PATTERN))
    .examples(["voa-2020-05-iskp-attacks"])
);

published!(
    AuditFilter,
    text(
        "An actor or action, exactly as the log names it",
        1,
        AuditFilter::MAX_CHARS
    )
    // Every query parameter is refused with a NUL in it (no name or action holds one).
    .pattern(Some(r"^[^\u0000]*$"))
    .examples(["approve"])
);

published!(
    Rating,
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
        .description(Some("Stars"))
        .minimum(Some(Rating::MIN))
        .maximum(Some(Rating::MAX))
        .examples([4])
);

published!(
    ReviewBody,
    text(
        "The review, counted in characters once trimmed and NFC-normalized; at least one visible character",
        1,
        ReviewBody::MAX_CHARS
    )
    .pattern(Some(NON_BLANK_PATTERN))
    .examples(["Стаття добре пояснює, чому ІДІЛ-Хорасан не можна вважати переможеним."])
);

published!(
    ReviewTitle,
    text(
        "A headline for the review, counted once trimmed; blank counts as absent",
        0,
        ReviewTitle::MAX_CHARS
    )
    .pattern(Some(PRINTABLE_PATTERN))
    .examples(["Тверезий аналіз"])
);

published!(
    AuthorName,
    text(
        "The name shown with the review, counted once trimmed; blank counts as absent; no invisible or text-direction characters",
        0,
        AuthorName::MAX_CHARS
    )
    .pattern(Some(PRINTABLE_PATTERN))
    .examples(["Олена К."])
);

published!(
    AuthorEmail,
    text(
        "The author's email, never shown publicly",
        1,
        AuthorEmail::MAX_CHARS
    )
    .format(Some(SchemaFormat::KnownFormat(KnownFormat::IdnEmail)))
    .examples(["olena@example.com", "ірина@example.com"])
);

published!(
    LanguageTag,
    text("A BCP 47 language tag", 2, LanguageTag::MAX_CHARS)
        .pattern(Some(LanguageTag::PATTERN))
        .examples(["uk"])
);

published!(
    ArticleTitle,
    text(
        "The article's headline, counted once trimmed; blank counts as absent",
        0,
        ArticleTitle::MAX_CHARS
    )
    .pattern(Some(PRINTABLE_PATTERN))
);

published!(
    ArticleUrl,
    text(
        "The article's absolute http(s) URL, without credentials",
        1,
        ArticleUrl::MAX_CHARS
    )
    .pattern(Some(ArticleUrl::PATTERN))
    .examples(["https://news.example.org/a/islamic-state-afghan-affiliate-claims-deadly-attacks"])
);

published!(
    PageSize,
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
        .description(Some("Reviews per page"))
        .minimum(Some(1))
        .maximum(Some(PageSize::MAX))
        .default(Some(PageSize::DEFAULT.into()))
);

published!(
    Cursor,
    text(
        "`next_cursor` of the previous page of the same list; empty for the first page",
        0,
        CURSOR_MAX
    )
    .pattern(Some(CURSOR_PATTERN))
);

published!(
    ArticleIds,
    ArrayBuilder::new()
        .items(ArticleId::schema())
        .description(Some(
            "Distinct article ids; repeats count towards the limit"
        ))
        .min_items(Some(1))
        .max_items(Some(ArticleIds::MAX))
);

published!(
    ArticleSection,
    text(
        "The article's section or desk, counted once trimmed; blank counts as absent",
        0,
        ArticleSection::MAX_CHARS
    )
    .pattern(Some(PRINTABLE_PATTERN))
    .examples(["South & Central Asia"])
);

published!(
    WebhookUrl,
    text(
        "Where the endpoint receives POSTs: an absolute http(s) URL without credentials or fragment; \
         by default its host must resolve to public addresses only",
        1,
        WebhookUrl::MAX_CHARS
    )
    .pattern(Some(WebhookUrl::PATTERN))
    .examples(["https://cms.example.org/hooks/marginalia"])
);

published!(
    EndpointDescription,
    text(
        "A note for people (\"Slack bridge\", \"search indexer\"); blank counts as absent",
        0,
        EndpointDescription::MAX_CHARS
    )
    .pattern(Some(PRINTABLE_PATTERN))
    .examples(["Search indexer"])
);

published!(
    EventType,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("An outbound event type"))
        .enum_values(Some(EventType::ALL.iter().map(|kind| kind.as_str())))
        .examples(["review.created"])
);

published!(
    CmsEventType,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("An article lifecycle event sent by the CMS"))
        .enum_values(Some(CmsEventType::ALL.iter().map(|kind| kind.as_str())))
        .examples(["article.published"])
);
