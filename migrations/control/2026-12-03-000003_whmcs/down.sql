DROP TABLE sso_tokens;
