-- The tenant edge: login sessions, mail-ingest tokens and failed-login records. Session and
-- ingest tokens are 32 random bytes, so a SHA-256 digest is the right hash (looked up on every
-- request); the plain token is shown once and never stored.
CREATE TABLE edge_sessions (
    token_hash bytea PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_email text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'member')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX edge_sessions_tenant_idx ON edge_sessions (tenant_id, user_email);
CREATE INDEX edge_sessions_expiry_idx ON edge_sessions (expires_at);

CREATE TABLE ingest_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX ingest_tokens_tenant_idx ON ingest_tokens (tenant_id);

-- One row per failed login, kept for the rate-limit window (pruned as new failures arrive).
CREATE TABLE login_failures (
    id bigserial PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email text NOT NULL,
    client_ip text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_account_idx ON login_failures (tenant_id, email, at);
CREATE INDEX login_failures_ip_idx ON login_failures (client_ip, at);
CREATE INDEX login_failures_at_idx ON login_failures (at);
