-- Tenants, their provisioning state machine, audit trail, request idempotency and nonces.
CREATE TABLE tenants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug text NOT NULL UNIQUE,
    reseller_id uuid NOT NULL REFERENCES resellers (id),
    name text NOT NULL,
    status text NOT NULL CHECK (status IN ('provisioning', 'active', 'suspended', 'failed')),
    -- Last provisioning step that completed: requested < database_created < migrated
    -- < storage_ready < done. A restart resumes from here.
    provisioning_step text NOT NULL DEFAULT 'requested'
        CHECK (provisioning_step IN ('requested', 'database_created', 'migrated', 'storage_ready', 'done')),
    sandbox boolean NOT NULL DEFAULT false,
    plan_code text NOT NULL,
    max_users integer NOT NULL,
    storage_gb integer NOT NULL,
    gb_per_licence integer NOT NULL,
    branding jsonb NOT NULL DEFAULT '{}'::jsonb,
    whmcs_service_id bigint,
    admin_email text,
    admin_password_hash text,
    db_name text NOT NULL UNIQUE,
    -- Written as the database's COMMENT right after CREATE DATABASE: proof the database is ours.
    marker uuid NOT NULL DEFAULT gen_random_uuid(),
    last_error text,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    lease_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    suspended_at timestamptz,
    unsuspended_at timestamptz,
    suspension_reason text,
    deletion_requested_at timestamptz,
    deletion_reason text,
    user_count bigint,
    active_user_count bigint,
    db_bytes bigint,
    s3_bytes bigint,
    usage_measured_at timestamptz,
    last_ingest_at timestamptz,
    ingested_during_suspension bigint NOT NULL DEFAULT 0,
    UNIQUE (reseller_id, whmcs_service_id)
);
CREATE INDEX tenants_reseller_slug_idx ON tenants (reseller_id, slug);
CREATE INDEX tenants_unfinished_idx ON tenants (next_attempt_at) WHERE status = 'provisioning';

CREATE TABLE audit_events (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    reseller_id uuid,
    tenant_slug text,
    actor text NOT NULL,
    action text NOT NULL,
    reason text,
    details jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_tenant_idx ON audit_events (tenant_slug, at);

CREATE TABLE idempotency_keys (
    reseller_id uuid NOT NULL REFERENCES resellers (id) ON DELETE CASCADE,
    key text NOT NULL,
    fingerprint bytea NOT NULL,
    state text NOT NULL CHECK (state IN ('in_progress', 'done')),
    status_code integer,
    content_type text,
    response_body bytea,
    locked_until timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (reseller_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

CREATE TABLE request_nonces (
    key_id text NOT NULL,
    nonce text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX request_nonces_expiry_idx ON request_nonces (expires_at);
