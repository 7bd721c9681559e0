//! What every handler and background task shares.

use std::sync::Arc;

use crate::config::Settings;
use crate::db::Db;
use crate::storage::Bucket;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub bucket: Bucket,
}
