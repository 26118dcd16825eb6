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
        sites -> Nullable<Array<Text>>,
    }
}

diesel::table! {
    article_stats (site_id, article_id, stripe) {
        article_id -> Text,
        review_count -> Int4,
        rating_sum -> Int4,
        count_1 -> Int4,
        count_2 -> Int4,
        count_3 -> Int4,
        count_4 -> Int4,
        count_5 -> Int4,
        stripe -> Int2,
        site_id -> Text,
        unrated -> Int4,
    }
}

diesel::table! {
    article_daily_stats (site_id, article_id, day, language, stripe) {
        article_id -> Text,
        day -> Date,
        language -> Text,
        stripe -> Int2,
        count_1 -> Int4,
        count_2 -> Int4,
        count_3 -> Int4,
        count_4 -> Int4,
        count_5 -> Int4,
        site_id -> Text,
        unrated -> Int4,
    }
}

diesel::table! {
    articles (site_id, article_id) {
        article_id -> Text,
        title -> Nullable<Text>,
        url -> Nullable<Text>,
        language -> Nullable<Text>,
        published_at -> Nullable<Timestamptz>,
        reviews_open -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        lifecycle -> Text,
        section -> Nullable<Text>,
        source_changed_at -> Nullable<Timestamptz>,
        moderation -> Nullable<Text>,
        site_id -> Text,
    }
}

diesel::table! {
    idempotency_keys (site_id, key_digest) {
        key_digest -> Bytea,
        request_digest -> Bytea,
        review_id -> Nullable<Uuid>,
        response -> Nullable<Text>,
        sealed_token -> Nullable<Bytea>,
        created_at -> Timestamptz,
        site_id -> Text,
    }
}

diesel::table! {
    moderation_log (id) {
        id -> Uuid,
        review_id -> Uuid,
        actor -> Text,
        action -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        reasons -> Array<Text>,
        note -> Nullable<Text>,
        created_at -> Timestamptz,
        site_id -> Text,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> Uuid,
        event_type -> Text,
        article_id -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
        available_at -> Timestamptz,
        dispatched_at -> Nullable<Timestamptz>,
        site_id -> Text,
    }
}

diesel::table! {
    processed_inbound_events (site_id, webhook_id) {
        webhook_id -> Text,
        event_type -> Text,
        article_id -> Text,
        outcome -> Text,
        received_at -> Timestamptz,
        site_id -> Text,
    }
}

diesel::table! {
    review_flags (review_id, voter) {
        review_id -> Uuid,
        voter -> Bytea,
        network -> Bytea,
        reason -> Text,
        note -> Nullable<Text>,
        created_at -> Timestamptz,
        site_id -> Text,
    }
}

diesel::table! {
    review_votes (review_id, voter) {
        review_id -> Uuid,
        voter -> Bytea,
        helpful -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        network -> Nullable<Bytea>,
        site_id -> Text,
    }
}

diesel::table! {
    rate_limit_buckets (limit_owner, kind, client) {
        limit_owner -> Text,
        kind -> Text,
        client -> Bytea,
        full_at -> Timestamptz,
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
        reasons -> Array<Text>,
        edit_token_hash -> Nullable<Bytea>,
        duplicate_digest -> Nullable<Bytea>,
        helpful_count -> Int4,
        unhelpful_count -> Int4,
        flag_count -> Int4,
        edited_at -> Nullable<Timestamptz>,
        reply_body -> Nullable<Text>,
        reply_created_at -> Nullable<Timestamptz>,
        reply_updated_at -> Nullable<Timestamptz>,
        erased_at -> Nullable<Timestamptz>,
        site_id -> Text,
        reader_id -> Nullable<Text>,
        reader_badges -> Array<Text>,
        reader_sole -> Bool,
        notify -> Bool,
        in_reply_to -> Nullable<Uuid>,
        import_source -> Nullable<Text>,
        import_id -> Nullable<Text>,
        import_parent -> Nullable<Text>,
        import_digest -> Nullable<Bytea>,
    }
}

diesel::table! {
    reader_suspensions (site_id, reader_id) {
        site_id -> Text,
        reader_id -> Text,
        until -> Nullable<Timestamptz>,
        reason -> Text,
        actor -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    reader_log (id) {
        id -> Uuid,
        site_id -> Text,
        reader_id -> Text,
        action -> Text,
        until -> Nullable<Timestamptz>,
        reason -> Nullable<Text>,
        actor -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    sites (site_id) {
        site_id -> Text,
        name -> Text,
        origins -> Nullable<Array<Text>>,
        languages -> Nullable<Array<Text>>,
        moderation -> Nullable<Text>,
        banned_terms -> Nullable<Array<Text>>,
        max_links -> Nullable<Int4>,
        flag_threshold -> Nullable<Int4>,
        newsroom_name -> Nullable<Text>,
        cms_secrets -> Nullable<Array<Text>>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        rate_limit_reviews -> Nullable<Int4>,
        rate_limit_reactions -> Nullable<Int4>,
        reader_tokens -> Nullable<Jsonb>,
        mail -> Nullable<Jsonb>,
        unrated_reviews -> Nullable<Bool>,
    }
}

diesel::table! {
    site_secrets (name) {
        name -> Text,
        value -> Bytea,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Uuid,
        delivery_id -> Uuid,
        attempt -> Int4,
        started_at -> Timestamptz,
        latency_ms -> Int4,
        status_code -> Nullable<Int2>,
        error -> Nullable<Text>,
        response_excerpt -> Nullable<Text>,
        site_id -> Text,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        endpoint_id -> Uuid,
        event_id -> Uuid,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_attempt_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        site_id -> Text,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Uuid,
        url -> Text,
        description -> Nullable<Text>,
        event_types -> Array<Text>,
        enabled -> Bool,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamptz>,
        failing_since -> Nullable<Timestamptz>,
        disabled_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        site_id -> Text,
    }
}

diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::joinable!(webhook_deliveries -> outbox_events (event_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(moderation_log -> reviews (review_id));
diesel::joinable!(review_votes -> reviews (review_id));
diesel::joinable!(review_flags -> reviews (review_id));

diesel::allow_tables_to_appear_in_same_query!(
    article_daily_stats,
    api_keys,
    article_stats,
    articles,
    idempotency_keys,
    moderation_log,
    outbox_events,
    processed_inbound_events,
    rate_limit_buckets,
    reader_log,
    reader_suspensions,
    review_flags,
    review_votes,
    reviews,
    site_secrets,
    sites,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
);
