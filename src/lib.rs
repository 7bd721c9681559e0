//! ema-bridge: the tenant lifecycle daemon of a multi-tenant email archive, and the bridge that
//! lets resellers drive it from WHMCS and a REST API.

pub mod audit;
pub mod background;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod edge;
pub mod embedded;
pub mod http;
pub mod idempotency;
pub mod operator;
pub mod password;
pub mod provisioning;
pub mod reseller;
pub mod signing;
pub mod sso;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod tenant;
pub mod usage;
pub mod whmcs_push;
