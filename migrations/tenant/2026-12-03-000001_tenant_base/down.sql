DROP TABLE audit_log;
DROP TABLE settings;
DROP TABLE messages;
DROP TABLE users;
