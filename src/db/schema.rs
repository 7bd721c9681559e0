//! Diesel's view of the control database, matching `migrations/control/`.

diesel::table! {
    resellers (id) {
        id -> Uuid,
        name -> Text,
        api_key_hash -> Bytea,
        base_domain -> Nullable<Text>,
        branding -> Jsonb,
        whmcs_api_url -> Nullable<Text>,
        whmcs_api_identifier -> Nullable<Text>,
        whmcs_api_secret -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    whmcs_keys (key_id) {
        key_id -> Text,
        reseller_id -> Uuid,
        secret -> Text,
        created_at -> Timestamptz,
        retired_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    tenants (id) {
        id -> Uuid,
        slug -> Text,
        reseller_id -> Uuid,
        name -> Text,
        status -> Text,
        provisioning_step -> Text,
        sandbox -> Bool,
        plan_code -> Text,
        max_users -> Int4,
        storage_gb -> Int4,
        gb_per_licence -> Int4,
        branding -> Jsonb,
        whmcs_service_id -> Nullable<Int8>,
        admin_email -> Nullable<Text>,
        admin_password_hash -> Nullable<Text>,
        db_name -> Text,
        marker -> Uuid,
        last_error -> Nullable<Text>,
        attempts -> Int4,
        next_attempt_at -> Nullable<Timestamptz>,
        lease_until -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        suspended_at -> Nullable<Timestamptz>,
        unsuspended_at -> Nullable<Timestamptz>,
        suspension_reason -> Nullable<Text>,
        deletion_requested_at -> Nullable<Timestamptz>,
        deletion_reason -> Nullable<Text>,
        user_count -> Nullable<Int8>,
        active_user_count -> Nullable<Int8>,
        db_bytes -> Nullable<Int8>,
        s3_bytes -> Nullable<Int8>,
        usage_measured_at -> Nullable<Timestamptz>,
        last_ingest_at -> Nullable<Timestamptz>,
        ingested_during_suspension -> Int8,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Int8,
        at -> Timestamptz,
        reseller_id -> Nullable<Uuid>,
        tenant_slug -> Nullable<Text>,
        actor -> Text,
        action -> Text,
        reason -> Nullable<Text>,
        details -> Jsonb,
    }
}

diesel::table! {
    idempotency_keys (reseller_id, key) {
        reseller_id -> Uuid,
        key -> Text,
        fingerprint -> Bytea,
        state -> Text,
        status_code -> Nullable<Int4>,
        content_type -> Nullable<Text>,
        response_body -> Nullable<Bytea>,
        locked_until -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    request_nonces (key_id, nonce) {
        key_id -> Text,
        nonce -> Text,
        expires_at -> Timestamptz,
    }
}

diesel::joinable!(whmcs_keys -> resellers (reseller_id));
diesel::joinable!(tenants -> resellers (reseller_id));
diesel::allow_tables_to_appear_in_same_query!(
    resellers,
    whmcs_keys,
    tenants,
    audit_events,
    idempotency_keys,
    request_nonces
);

// The tenant edge (migration 2026-12-03-000004_edge).

diesel::table! {
    edge_sessions (token_hash) {
        token_hash -> Bytea,
        tenant_id -> Uuid,
        user_email -> Text,
        role -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    ingest_tokens (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        tenant_id -> Uuid,
        email -> Text,
        client_ip -> Text,
        at -> Timestamptz,
    }
}

diesel::joinable!(edge_sessions -> tenants (tenant_id));
diesel::joinable!(ingest_tokens -> tenants (tenant_id));
diesel::joinable!(login_failures -> tenants (tenant_id));
diesel::allow_tables_to_appear_in_same_query!(
    edge_sessions,
    ingest_tokens,
    login_failures,
    tenants
);

diesel::table! {
    sso_tokens (token_hash) {
        token_hash -> Bytea,
        tenant_id -> Uuid,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(sso_tokens -> tenants (tenant_id));
diesel::allow_tables_to_appear_in_same_query!(sso_tokens, tenants);
