//! Integration tests: one binary, sharing one PostgreSQL cluster and one S3 server per run.

mod helpers;

mod config_and_health;
mod edge;
mod edge_browser;
mod edge_nginx;
mod operator;
mod tenants;
mod whmcs_e2e;
mod whmcs_push;
mod whmcs_signing;
mod whmcs_support;
