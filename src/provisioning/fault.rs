//! Crash injection for the crash-safety tests: with `EMA_BRIDGE_CRASH_AFTER=<point>` in the
//! environment, the process aborts right after that point, as a power cut or OOM kill would.
//! Points: `db_cloned`, `db_marked`, and every step name (`database_created`, `migrated`,
//! `storage_ready`). Unset in production, it costs one cached environment read.

use std::sync::OnceLock;

pub const ENV: &str = "EMA_BRIDGE_CRASH_AFTER";

pub fn point(name: &str) {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    if TARGET.get_or_init(|| std::env::var(ENV).ok()).as_deref() == Some(name) {
        eprintln!("ema-bridge: crash injected after {name}");
        std::process::abort();
    }
}
