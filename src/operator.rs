//! Operator commands over tenants: list, delete (support only), re-run tenant migrations,
//! deletion requests, and the doctor that reports drift between the control database, the
//! tenant databases and the bucket. Errors are `anyhow`.

use std::collections::{BTreeSet, HashMap};

use anyhow::Context;
use clap::Subcommand;
use serde::Serialize;

use crate::domain::Slug;
use crate::provisioning::{self, database};
use crate::state::AppState;
use crate::tenant::{Tenant, TenantStatus, repo};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// List every tenant of every reseller.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a suspended tenant: its database and prefix go, the audit record stays.
    Delete {
        slug: String,
        /// Type the slug again to confirm.
        #[arg(long)]
        confirm: String,
    },
    /// Show a tenant's audit trail.
    Audit { slug: String },
}

#[derive(Serialize)]
struct TenantRow<'a> {
    slug: &'a str,
    reseller_id: uuid::Uuid,
    name: &'a str,
    status: &'a str,
    step: &'a str,
    database: &'a str,
    created_at: chrono::DateTime<chrono::Utc>,
    deletion_requested_at: Option<chrono::DateTime<chrono::Utc>>,
    last_error: Option<&'a str>,
}

fn row(t: &Tenant) -> TenantRow<'_> {
    TenantRow {
        slug: &t.slug,
        reseller_id: t.reseller_id,
        name: &t.name,
        status: &t.status,
        step: &t.provisioning_step,
        database: &t.db_name,
        created_at: t.created_at,
        deletion_requested_at: t.deletion_requested_at,
        last_error: t.last_error.as_deref(),
    }
}

pub async fn tenant_command(cmd: TenantCommand, state: &AppState) -> anyhow::Result<()> {
    match cmd {
        TenantCommand::List { json } => {
            let all = state.db.run(repo::all).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&all.iter().map(row).collect::<Vec<_>>())?
                );
            } else {
                println!(
                    "{:<30} {:<12} {:<17} {:<25} name",
                    "slug", "status", "step", "created"
                );
                for t in &all {
                    println!(
                        "{:<30} {:<12} {:<17} {:<25} {}",
                        t.slug,
                        t.status,
                        t.provisioning_step,
                        t.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        t.name
                    );
                }
            }
            Ok(())
        }
        TenantCommand::Delete { slug, confirm } => {
            let slug = Slug::parse(&slug).map_err(|e| anyhow::anyhow!("{e}"))?;
            match provisioning::delete(state, &slug, &confirm).await {
                Ok(removed) => {
                    println!("deleted tenant {slug}: {}", removed.join(", "));
                    Ok(())
                }
                Err(provisioning::ProvisionError::NotFound) => anyhow::bail!("no tenant {slug}"),
                Err(e) => Err(anyhow::anyhow!("{e}")),
            }
        }
        TenantCommand::Audit { slug } => {
            let events = state
                .db
                .run(move |conn| crate::audit::for_tenant(conn, &slug))
                .await?;
            for e in events {
                println!(
                    "{} {:<28} {:<24} {}",
                    e.at.format("%Y-%m-%d %H:%M:%S"),
                    e.action,
                    e.actor,
                    e.reason.unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}

pub async fn deletion_requests(state: &AppState, json: bool) -> anyhow::Result<()> {
    let all = state.db.run(repo::all).await?;
    let requested: Vec<&Tenant> = all
        .iter()
        .filter(|t| t.deletion_requested_at.is_some())
        .collect();
    if json {
        println!(
            "{}",
            serde_json::to_string(&requested.iter().map(|t| row(t)).collect::<Vec<_>>())?
        );
    } else if requested.is_empty() {
        println!("no deletion requests");
    } else {
        println!("{:<30} {:<12} {:<25} reason", "slug", "status", "requested");
        for t in requested {
            println!(
                "{:<30} {:<12} {:<25} {}",
                t.slug,
                t.status,
                t.deletion_requested_at
                    .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_default(),
                t.deletion_reason.as_deref().unwrap_or("")
            );
        }
        println!("delete one with: ema-bridge tenant delete SLUG --confirm SLUG");
    }
    Ok(())
}

/// Re-runs tenant migrations on every tenant database, two at a time, continuing past
/// failures and reporting each.
pub async fn migrate_tenants(state: &AppState) -> anyhow::Result<()> {
    let all = state.db.run(repo::all).await?;
    let mut failed = 0;
    for t in all
        .into_iter()
        .filter(|t| matches!(t.status(), TenantStatus::Active | TenantStatus::Suspended))
    {
        let server = state.db.server().clone();
        let name = t.db_name.clone();
        let r = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
            let mut conn = server
                .connect(&name)
                .with_context(|| format!("connect {name}"))?;
            crate::db::migrate::run_tenant_migrations(&mut conn)
        })
        .await?;
        match r {
            Ok(v) if v.is_empty() => println!("{}: up to date", t.slug),
            Ok(v) => println!("{}: applied {}", t.slug, v.join(", ")),
            Err(e) => {
                failed += 1;
                println!("{}: FAILED {e:#}", t.slug);
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} tenant database(s) could not be migrated");
    }
    Ok(())
}

/// A finding of the doctor.
#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub kind: &'static str,
    pub subject: String,
    pub detail: String,
}

/// Compares the control database with the databases on the server and the prefixes in the
/// bucket. Reports only: nothing is changed.
pub async fn diagnose(state: &AppState) -> anyhow::Result<Vec<Finding>> {
    let tenants = state.db.run(repo::all).await?;
    let server = state.db.server().clone();
    let dbs = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut conn = server.connect_maintenance()?;
        Ok(database::our_databases(&mut conn)?)
    })
    .await??;
    let prefixes: BTreeSet<String> = state
        .bucket
        .list_prefixes("ema-t-")
        .await?
        .into_iter()
        .collect();
    let by_db: HashMap<&str, &Tenant> = tenants.iter().map(|t| (t.db_name.as_str(), t)).collect();
    let pending: HashMap<String, &Tenant> = tenants
        .iter()
        .map(|t| (database::pending_name(t.marker), t))
        .collect();
    let current_template = database::template_name();
    let mut out = Vec::new();
    let present: BTreeSet<&str> = dbs.iter().map(|(n, _)| n.as_str()).collect();
    for (name, comment) in &dbs {
        if name.starts_with("ema_tpl_") {
            if *name != current_template && !name.ends_with("_build") {
                out.push(Finding {
                    kind: "stale_template",
                    subject: name.clone(),
                    detail: "template of older tenant migrations".into(),
                });
            }
            continue;
        }
        if name.starts_with("ema_p_") {
            let detail = match pending.get(name) {
                Some(t) => format!("unfinished clone of tenant {} ({})", t.slug, t.status),
                None => "clone of no known tenant".into(),
            };
            out.push(Finding {
                kind: "pending_clone",
                subject: name.clone(),
                detail,
            });
            continue;
        }
        match by_db.get(name.as_str()) {
            None => out.push(Finding {
                kind: "orphan_database",
                subject: name.clone(),
                detail: format!("no tenant row (comment {comment:?})"),
            }),
            Some(t) if comment.as_deref() != Some(database::marker_comment(t.marker).as_str()) => {
                out.push(Finding {
                    kind: "foreign_database",
                    subject: name.clone(),
                    detail: format!(
                        "tenant {} expects marker {}, found {comment:?}",
                        t.slug, t.marker
                    ),
                })
            }
            _ => {}
        }
    }
    for t in &tenants {
        let provisioned = t.step() > crate::tenant::Step::Requested;
        if provisioned && !present.contains(t.db_name.as_str()) {
            out.push(Finding {
                kind: "missing_database",
                subject: t.slug.clone(),
                detail: format!("{} is gone", t.db_name),
            });
        }
        let prefix = t.slug().s3_prefix();
        if t.step() >= crate::tenant::Step::StorageReady && !prefixes.contains(&prefix) {
            out.push(Finding {
                kind: "missing_prefix",
                subject: t.slug.clone(),
                detail: format!("{prefix} is empty"),
            });
        }
        match t.status() {
            TenantStatus::Failed => out.push(Finding {
                kind: "failed_tenant",
                subject: t.slug.clone(),
                detail: t.last_error.clone().unwrap_or_default(),
            }),
            TenantStatus::Provisioning
                if t.updated_at < chrono::Utc::now() - chrono::Duration::minutes(10) =>
            {
                out.push(Finding {
                    kind: "stuck_provisioning",
                    subject: t.slug.clone(),
                    detail: format!("at step {} since {}", t.provisioning_step, t.updated_at),
                })
            }
            _ => {}
        }
    }
    let known: BTreeSet<String> = tenants.iter().map(|t| t.slug().s3_prefix()).collect();
    for p in prefixes.difference(&known) {
        out.push(Finding {
            kind: "orphan_prefix",
            subject: p.clone(),
            detail: "no tenant row".into(),
        });
    }
    out.sort();
    Ok(out)
}

pub async fn doctor(state: &AppState, json: bool) -> anyhow::Result<()> {
    let findings = diagnose(state).await?;
    if json {
        println!("{}", serde_json::to_string(&findings)?);
    } else if findings.is_empty() {
        println!("no drift: control database, tenant databases and bucket agree");
    } else {
        for f in &findings {
            println!("{:<20} {:<40} {}", f.kind, f.subject, f.detail);
        }
    }
    Ok(())
}
