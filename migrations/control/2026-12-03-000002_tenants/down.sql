DROP TABLE request_nonces;
DROP TABLE idempotency_keys;
DROP TABLE audit_events;
DROP TABLE tenants;
