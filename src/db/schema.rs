// @generated shape of `diesel print-schema` for the migrations in `migrations/`.

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        name -> Text,
        scopes -> Array<Text>,
        key_hash -> Bytea,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    article_stats (article_id, stripe) {
        article_id -> Text,
        review_count -> Int4,
        rating_sum -> Int4,
        count_1 -> Int4,
        count_2 -> Int4,
        count_3 -> Int4,
        count_4 -> Int4,
        count_5 -> Int4,
        stripe -> Int2,
    }
}

diesel::table! {
    articles (article_id) {
        article_id -> Text,
        title -> Nullable<Text>,
        url -> Nullable<Text>,
        language -> Nullable<Text>,
        published_at -> Nullable<Timestamptz>,
        reviews_open -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    reviews (id) {
        id -> Uuid,
        article_id -> Text,
        rating -> Int2,
        title -> Nullable<Text>,
        body -> Text,
        author_name -> Nullable<Text>,
        author_email -> Nullable<Text>,
        language -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(article_stats -> articles (article_id));
diesel::joinable!(reviews -> articles (article_id));

diesel::allow_tables_to_appear_in_same_query!(api_keys, article_stats, articles, reviews);
