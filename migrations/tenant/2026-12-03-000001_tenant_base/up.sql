-- Tables every tenant database starts with.
CREATE TABLE users (
    id bigserial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    display_name text,
    password_hash text,
    role text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

CREATE TABLE messages (
    id bigserial PRIMARY KEY,
    sha256 text NOT NULL UNIQUE,
    s3_key text NOT NULL,
    message_id text,
    from_addr text,
    to_addrs text,
    subject text,
    sent_at timestamptz,
    size_bytes bigint NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    received_while_suspended boolean NOT NULL DEFAULT false
);
CREATE INDEX messages_received_idx ON messages (received_at);
CREATE INDEX messages_message_id_idx ON messages (message_id);

CREATE TABLE settings (
    key text PRIMARY KEY,
    value jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
