DROP TABLE login_failures;
DROP TABLE ingest_tokens;
DROP TABLE edge_sessions;
