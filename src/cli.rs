//! The `ema-bridge` command line: `serve` and the operator commands. Every command works on the
//! same `data_dir`/configuration as `serve`, whether or not `serve` is running. Errors are
//! `anyhow`, printed once with their causes, exit code 1 (2 for bad configuration).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::Settings;
use crate::embedded::Infrastructure;
use crate::startup::{Application, connect_state};
use crate::state::AppState;

#[derive(Debug, Parser)]
#[command(
    name = "ema-bridge",
    version,
    about = "Tenant lifecycle daemon and WHMCS bridge of the email archive"
)]
pub struct Cli {
    /// Configuration file (TOML). Default: ema-bridge.toml in the working directory, if present.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon (HTTP API, WHMCS channel, tenant edge, background work).
    Serve,
    /// Apply pending control-database migrations; with --tenants, also every tenant database's.
    Migrate {
        #[arg(long)]
        tenants: bool,
    },
    /// Manage resellers and their credentials.
    #[command(subcommand)]
    Reseller(ResellerCommand),
    /// Operator view of tenants (support only).
    #[command(subcommand)]
    Tenant(crate::operator::TenantCommand),
    /// List tenants whose deletion was requested through WHMCS Terminate.
    DeletionRequests {
        #[arg(long)]
        json: bool,
    },
    /// Find orphans and drift between the control database, tenant databases and the bucket.
    Doctor {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ResellerCommand {
    /// Create a reseller; prints its API key and WHMCS signing key once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List resellers.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a new WHMCS signing key; the old ones stay valid until retired.
    RotateKey {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Retire a WHMCS signing key (after WHMCS uses the new one).
    RetireKey { name: String, key_id: String },
    /// Change a reseller's base domain, default branding or WHMCS API access.
    Set(ResellerSet),
}

#[derive(Debug, Args)]
struct ResellerSet {
    name: String,
    /// The reseller's own base domain (tenants at {slug}.{domain}).
    #[arg(long, conflicts_with = "clear_base_domain")]
    base_domain: Option<String>,
    /// Fall back to the global base_domain.
    #[arg(long)]
    clear_base_domain: bool,
    /// Default display name on tenants' login pages.
    #[arg(long)]
    custom_name: Option<String>,
    /// Default primary colour, #RRGGBB.
    #[arg(long)]
    primary_color: Option<String>,
    /// WHMCS API URL (…/includes/api.php) for pushing usage.
    #[arg(long, requires_all = ["whmcs_api_identifier", "whmcs_api_secret"])]
    whmcs_api_url: Option<String>,
    #[arg(long)]
    whmcs_api_identifier: Option<String>,
    #[arg(long)]
    whmcs_api_secret: Option<String>,
}

pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ema-bridge: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&settings.log);
    match run(cli.command, settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ema-bridge: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(settings).await,
        other => {
            // Operator commands bring up (or join) the same infrastructure, do their work, and
            // stop what they started.
            let infra = Infrastructure::start(&settings, local_s3_any_port()).await?;
            let result = match connect_state(settings, &infra.database_url, &infra.s3).await {
                Ok(state) => operator_command(other, &state).await,
                Err(e) => Err(e),
            };
            infra.shutdown().await?;
            result
        }
    }
}

fn local_s3_any_port() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    // The local store listens next to the API: port+1 keeps it predictable for operators.
    let s3_bind = SocketAddr::new(
        settings.http.bind.ip(),
        settings.http.bind.port().wrapping_add(1),
    );
    let infra = Infrastructure::start(&settings, s3_bind).await?;
    let result = async {
        let state = connect_state(settings, &infra.database_url, &infra.s3).await?;
        let app = Application::build(state.clone()).await?;
        print_banner(&state, &infra, app.port());
        if infra.embedded_database() {
            bootstrap_reseller(&state).await?;
        }
        let background = crate::background::spawn(state.clone());
        let served = app.run_until_stopped().await;
        background.stop().await;
        served.map_err(anyhow::Error::from)
    }
    .await;
    tracing::info!("stopping");
    let stopped = infra.shutdown().await;
    result.and(stopped)
}

fn print_banner(state: &AppState, infra: &Infrastructure, port: u16) {
    let s = &state.settings;
    println!(
        "ema-bridge {} listening on http://{}:{port}",
        env!("CARGO_PKG_VERSION"),
        s.http.bind.ip()
    );
    println!(
        "  REST API:      http://{}:{port}/v1 (OpenAPI at /v1/openapi.json)",
        s.http.bind.ip()
    );
    println!(
        "  tenant hosts:  {}",
        s.tenant_url("{slug}", &s.base_domain)
    );
    if infra.embedded_database() {
        println!(
            "  PostgreSQL:    embedded cluster under {}",
            s.data_dir.join("postgres").display()
        );
    } else {
        println!("  PostgreSQL:    configured database.url");
    }
    match (&infra.s3.endpoint, infra.embedded_s3()) {
        (Some(e), true) => println!(
            "  object store:  local S3 at {e}, bucket {} (files under {})",
            s.s3.bucket,
            s.data_dir.join("s3").display()
        ),
        (Some(e), false) => println!("  object store:  {e}, bucket {}", s.s3.bucket),
        (None, _) => println!("  object store:  AWS S3, bucket {}", s.s3.bucket),
    }
}

/// On the first start with embedded defaults, a reseller to try the API with.
async fn bootstrap_reseller(state: &AppState) -> anyhow::Result<()> {
    let created = state
        .db
        .run(|conn| -> anyhow::Result<_> {
            if crate::reseller::count(conn)? > 0 {
                return Ok(None);
            }
            Ok(Some(crate::reseller::create(conn, "default")?))
        })
        .await?;
    if let Some(c) = created {
        println!();
        println!("Created the bootstrap reseller \"default\" (shown once; store these now):");
        println!("  reseller_id:   {}", c.reseller_id);
        println!("  api_key:       {}", c.api_key);
        println!("  whmcs_key_id:  {}", c.whmcs_key_id);
        println!("  whmcs_secret:  {}", c.whmcs_secret);
        println!(
            "  try:           curl -H 'Authorization: Bearer {}' http://{}/v1/tenants",
            c.api_key, state.settings.http.bind
        );
    }
    Ok(())
}

async fn operator_command(command: Command, state: &AppState) -> anyhow::Result<()> {
    use crate::reseller;
    match command {
        Command::Serve => unreachable!("serve is handled by run"),
        Command::Migrate { tenants } => {
            println!("control database migrated");
            if tenants {
                crate::operator::migrate_tenants(state).await?;
            }
            Ok(())
        }
        Command::Reseller(ResellerCommand::Create { name, json }) => {
            let c = state
                .db
                .run(move |conn| reseller::create(conn, &name))
                .await?;
            if json {
                println!("{}", serde_json::to_string(&c)?);
            } else {
                println!("reseller:      {} ({})", c.name, c.reseller_id);
                println!("api_key:       {}", c.api_key);
                println!("whmcs_key_id:  {}", c.whmcs_key_id);
                println!("whmcs_secret:  {}", c.whmcs_secret);
                println!("(the API key and the secret are shown only now)");
            }
            Ok(())
        }
        Command::Reseller(ResellerCommand::List { json }) => {
            let all = state.db.run(reseller::list).await?;
            if json {
                println!("{}", serde_json::to_string(&all)?);
            } else {
                println!(
                    "{:<24} {:<36} {:>8}  {:<28} whmcs keys",
                    "name", "id", "tenants", "base domain"
                );
                for r in all {
                    println!(
                        "{:<24} {:<36} {:>8}  {:<28} {}",
                        r.name,
                        r.reseller_id,
                        r.tenants,
                        r.base_domain.as_deref().unwrap_or("(default)"),
                        r.active_whmcs_keys.join(",")
                    );
                }
            }
            Ok(())
        }
        Command::Reseller(ResellerCommand::RotateKey { name, json }) => {
            let (key_id, secret) = state
                .db
                .run(move |conn| reseller::rotate_key(conn, &name))
                .await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"whmcs_key_id": key_id, "whmcs_secret": secret})
                );
            } else {
                println!("whmcs_key_id:  {key_id}");
                println!("whmcs_secret:  {secret}");
                println!(
                    "Put these in the WHMCS server record, then retire the old key with `ema-bridge reseller retire-key`."
                );
            }
            Ok(())
        }
        Command::Reseller(ResellerCommand::RetireKey { name, key_id }) => {
            let k = key_id.clone();
            state
                .db
                .run(move |conn| reseller::retire_key(conn, &name, &k))
                .await?;
            println!("retired {key_id}");
            Ok(())
        }
        Command::Reseller(ResellerCommand::Set(set)) => {
            let changes = reseller_changes(&set)?;
            let name = set.name.clone();
            let r = state
                .db
                .run(move |conn| reseller::update(conn, &name, changes))
                .await?;
            println!(
                "{}: base domain {}, branding {}",
                r.name,
                r.base_domain.as_deref().unwrap_or("(default)"),
                serde_json::to_string(&r.branding)?
            );
            Ok(())
        }
        Command::Tenant(cmd) => crate::operator::tenant_command(cmd, state).await,
        Command::DeletionRequests { json } => crate::operator::deletion_requests(state, json).await,
        Command::Doctor { json } => crate::operator::doctor(state, json).await,
    }
}

fn reseller_changes(set: &ResellerSet) -> anyhow::Result<crate::reseller::ResellerChanges> {
    use crate::domain::{BaseDomain, Branding, HexColor};
    let mut changes = crate::reseller::ResellerChanges::default();
    if let Some(d) = &set.base_domain {
        changes.base_domain = Some(Some(BaseDomain::parse(d)?));
    } else if set.clear_base_domain {
        changes.base_domain = Some(None);
    }
    if set.custom_name.is_some() || set.primary_color.is_some() {
        changes.branding = Some(Branding {
            custom_name: set
                .custom_name
                .as_deref()
                .map(Branding::parse_custom_name)
                .transpose()?,
            primary_color: set
                .primary_color
                .as_deref()
                .map(HexColor::parse)
                .transpose()?,
            ..Default::default()
        });
    }
    if let (Some(u), Some(i), Some(s)) = (
        &set.whmcs_api_url,
        &set.whmcs_api_identifier,
        &set.whmcs_api_secret,
    ) {
        let parsed = url::Url::parse(u).map_err(|e| anyhow::anyhow!("--whmcs-api-url: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            anyhow::bail!("--whmcs-api-url must be an http(s) URL");
        }
        changes.whmcs_api = Some(Some((u.clone(), i.clone(), s.clone())));
    }
    Ok(changes)
}
