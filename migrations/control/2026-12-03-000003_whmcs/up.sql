-- One-time login tokens issued through the WHMCS channel (ServiceSingleSignOn). Only the SHA-256
-- of a token is stored, so a leaked table cannot be replayed; the tenant edge consumes them.
CREATE TABLE sso_tokens (
    token_hash bytea PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sso_tokens_expiry_idx ON sso_tokens (expires_at);
CREATE INDEX sso_tokens_tenant_idx ON sso_tokens (tenant_id);
