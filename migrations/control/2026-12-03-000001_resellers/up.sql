-- Resellers and their credentials. The REST API key is high-entropy (32 random bytes), so a
-- SHA-256 digest is the right hash: it is looked up on every request, where argon2 would cost
-- tens of milliseconds. WHMCS signing secrets must stay readable to verify HMACs.
CREATE TABLE resellers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    api_key_hash bytea NOT NULL UNIQUE,
    base_domain text UNIQUE,
    branding jsonb NOT NULL DEFAULT '{}'::jsonb,
    whmcs_api_url text,
    whmcs_api_identifier text,
    whmcs_api_secret text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE whmcs_keys (
    key_id text PRIMARY KEY,
    reseller_id uuid NOT NULL REFERENCES resellers (id) ON DELETE CASCADE,
    secret text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz
);
CREATE INDEX whmcs_keys_reseller_idx ON whmcs_keys (reseller_id);
