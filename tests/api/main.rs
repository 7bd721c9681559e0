//! Integration tests: one binary, sharing one PostgreSQL cluster and one S3 server per run.

mod helpers;

mod config_and_health;
mod tenants;
