//! Background work of `serve`: the provisioning reconciler, the usage collector, and pruning
//! of expired nonces and idempotency records. Each loop logs its failures and carries on.

use std::time::Duration;

use diesel::prelude::*;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::db::schema::{idempotency_keys, request_nonces};
use crate::state::AppState;

/// How long stored idempotent answers are kept (covers weekend WHMCS Module Queue retries).
pub const IDEMPOTENCY_RETENTION_DAYS: i64 = 7;

pub struct Background {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

pub fn spawn(state: AppState) -> Background {
    let (stop, rx) = watch::channel(false);
    let usage_every = state.settings.usage.interval;
    let tasks = vec![
        every(
            rx.clone(),
            crate::provisioning::RECONCILE_EVERY,
            Duration::from_secs(1),
            {
                let state = state.clone();
                move || {
                    let state = state.clone();
                    async move {
                        if let Err(e) = crate::provisioning::reconcile_once(&state).await {
                            tracing::warn!(error = %format!("{e:#}"), "reconciler pass failed");
                        }
                    }
                }
            },
        ),
        every(rx.clone(), usage_every, Duration::from_secs(2), {
            let state = state.clone();
            move || {
                let state = state.clone();
                async move {
                    match crate::usage::collect_once(&state).await {
                        Ok(n) => tracing::debug!(tenants = n, "usage collected"),
                        Err(e) => {
                            tracing::warn!(error = %format!("{e:#}"), "usage collection failed")
                        }
                    }
                }
            }
        }),
        // WHMCS usage push, on the usage interval, after the first collection.
        every(rx.clone(), usage_every, Duration::from_secs(30), {
            let state = state.clone();
            let client = reqwest::Client::new();
            let policy = crate::whmcs_push::RetryPolicy::default();
            move || {
                let (state, client, policy) = (state.clone(), client.clone(), policy.clone());
                async move {
                    match crate::whmcs_push::push_once(&state, &client, &policy).await {
                        Ok(s) => tracing::debug!(
                            updated = s.updated,
                            failed = s.failed,
                            "WHMCS usage pushed"
                        ),
                        Err(e) => {
                            tracing::warn!(error = %format!("{e:#}"), "WHMCS usage push failed")
                        }
                    }
                }
            }
        }),
        every(
            rx,
            Duration::from_secs(600),
            Duration::from_secs(30),
            move || {
                let state = state.clone();
                async move {
                    if let Err(e) = prune(&state).await {
                        tracing::warn!(error = %format!("{e:#}"), "pruning failed");
                    }
                }
            },
        ),
    ];
    Background { stop, tasks }
}

fn every<F, Fut>(
    mut stop: watch::Receiver<bool>,
    period: Duration,
    first: Duration,
    mut work: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut wait = first;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => work().await,
                _ = stop.changed() => return,
            }
            wait = period;
        }
    })
}

async fn prune(state: &AppState) -> anyhow::Result<()> {
    state
        .db
        .run(|conn| -> anyhow::Result<()> {
            diesel::delete(
                request_nonces::table.filter(request_nonces::expires_at.lt(diesel::dsl::now)),
            )
            .execute(conn)?;
            crate::sso::prune(conn)?;
            let cutoff = chrono::Utc::now() - chrono::Duration::days(IDEMPOTENCY_RETENTION_DAYS);
            diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
                .execute(conn)?;
            Ok(())
        })
        .await
}

impl Background {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
