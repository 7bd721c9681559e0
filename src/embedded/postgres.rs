//! A private PostgreSQL cluster under a data folder, driven with the system's `initdb` and
//! `pg_ctl`. It listens on a unix socket inside the folder only (no TCP port). PostgreSQL refuses
//! to run as root, so when we are root the cluster runs as the `postgres` user (else `nobody`)
//! and its folder is handed to that user. Errors are `anyhow` with the step that failed.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// Port number in the socket's file name (`.s.PGSQL.5432`); no TCP port is opened.
const SOCKET_PORT: u16 = 5432;
/// Superuser created by `initdb`, used for the control and tenant databases.
pub const SUPERUSER: &str = "postgres";

/// Where the server binaries live.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    pub bindir: PathBuf,
}

impl PgBinaries {
    /// Finds `initdb`, `pg_ctl` and `postgres`: `PATH`, then `pg_config --bindir`, then the newest
    /// `/usr/lib/postgresql/*/bin`.
    pub fn locate() -> anyhow::Result<Self> {
        let has_all = |dir: &Path| {
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|b| dir.join(b).is_file())
        };
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                if has_all(&dir) {
                    return Ok(Self { bindir: dir });
                }
            }
        }
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if out.status.success() && has_all(&dir) {
                return Ok(Self { bindir: dir });
            }
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                has_all(&bin).then_some((v, bin))
            })
            .collect();
        versions.sort();
        match versions.pop() {
            Some((_, bindir)) => Ok(Self { bindir }),
            None => bail!(
                "PostgreSQL's server binaries (initdb, pg_ctl, postgres) were not found on PATH, via pg_config \
                 or under /usr/lib/postgresql/*/bin. Install them (Debian/Ubuntu: apt-get install postgresql; \
                 Fedora: dnf install postgresql-server) or set database.url to an existing server."
            ),
        }
    }

    fn bin(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }
}

/// Extra server settings for a cluster, e.g. durability off for throwaway test clusters.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    pub server_settings: Vec<(String, String)>,
}

/// A cluster folder: `{root}/data` (PGDATA), `{root}/run` (socket), `{root}/server.log`.
#[derive(Debug, Clone)]
pub struct Cluster {
    root: PathBuf,
    bins: PgBinaries,
    options: ClusterOptions,
    run_as: Option<RunAs>,
}

#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

impl Cluster {
    pub fn new(root: impl Into<PathBuf>, options: ClusterOptions) -> anyhow::Result<Self> {
        let root = absolute(&root.into())?;
        let bins = PgBinaries::locate()?;
        let run_as = if nix::unistd::Uid::effective().is_root() {
            let user = nix::unistd::User::from_name(SUPERUSER)
                .ok()
                .flatten()
                .or_else(|| nix::unistd::User::from_name("nobody").ok().flatten())
                .context("running as root, but neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")?;
            Some(RunAs {
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            })
        } else {
            None
        };
        Ok(Self {
            root,
            bins,
            options,
            run_as,
        })
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    pub fn log_file(&self) -> PathBuf {
        self.root.join("server.log")
    }

    /// `postgres://` URL of `dbname` over the unix socket.
    pub fn url(&self, dbname: &str) -> String {
        let host: String =
            url::form_urlencoded::byte_serialize(self.socket_dir().to_string_lossy().as_bytes())
                .collect();
        format!("postgresql:///{dbname}?host={host}&port={SOCKET_PORT}&user={SUPERUSER}")
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bins.bin(program));
        cmd.env("LC_ALL", "C.UTF-8")
            .env_remove("PGDATA")
            .stdin(Stdio::null());
        if let Some(r) = self.run_as {
            cmd.uid(r.uid).gid(r.gid);
            // A HOME the server user can read; root's is not.
            cmd.env("HOME", &self.root);
        }
        cmd
    }

    fn run(&self, mut cmd: Command, what: &str) -> anyhow::Result<()> {
        let out = cmd
            .output()
            .with_context(|| format!("could not run {what}"))?;
        if !out.status.success() {
            bail!(
                "{what} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            );
        }
        Ok(())
    }

    /// Creates the folders and runs `initdb` unless the cluster already exists.
    pub fn ensure_initialised(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("could not create {}", self.root.display()))?;
        std::fs::create_dir_all(self.socket_dir())?;
        if let Some(r) = self.run_as {
            check_traversable(&self.root)?;
            for p in [self.root.clone(), self.socket_dir()] {
                nix::unistd::chown(&p, Some(r.uid.into()), Some(r.gid.into())).with_context(
                    || format!("could not hand {} to the PostgreSQL user", p.display()),
                )?;
            }
        }
        std::fs::set_permissions(self.socket_dir(), std::fs::Permissions::from_mode(0o700))?;
        if self.data_dir().join("PG_VERSION").is_file() {
            return Ok(());
        }
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(self.data_dir()).args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        ]);
        self.run(cmd, "initdb")
    }

    /// Whether a postmaster is running on this data folder.
    pub fn is_running(&self) -> bool {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("status").arg("-D").arg(self.data_dir());
        cmd.output().map(|o| o.status.success()).unwrap_or(false)
    }

    /// Starts the server and waits until it accepts connections. Returns false when another
    /// process already runs it (then that process stops it, not us).
    pub fn start(&self) -> anyhow::Result<bool> {
        self.ensure_initialised()?;
        if self.is_running() {
            return Ok(false);
        }
        let mut opts = format!(
            "-c listen_addresses='' -k {} -p {SOCKET_PORT}",
            self.socket_dir().display()
        );
        for (k, v) in &self.options.server_settings {
            opts.push_str(&format!(" -c {k}={v}"));
        }
        let mut cmd = self.command("pg_ctl");
        cmd.arg("start")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "60", "-o", &opts])
            .stdout(Stdio::null());
        match self.run(cmd, "pg_ctl start") {
            Ok(()) => Ok(true),
            // Lost a race with another process starting the same cluster: use theirs.
            Err(_) if self.is_running() => Ok(false),
            Err(e) => Err(e.context(format!("see {}", self.log_file().display()))),
        }
    }

    /// Fast shutdown: rolls back open transactions, then checkpoints. Idempotent.
    pub fn stop(&self) -> anyhow::Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        let mut cmd = self.command("pg_ctl");
        cmd.arg("stop")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "-t", "60"]);
        self.run(cmd, "pg_ctl stop")
    }
}

/// Makes `path` absolute without requiring it to exist.
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        Ok(path.to_owned())
    } else {
        Ok(std::env::current_dir()?.join(path))
    }
}

/// The server user must be able to walk down to its folder; a 0700 parent owned by root would
/// make it fail with an obscure "permission denied".
fn check_traversable(root: &Path) -> anyhow::Result<()> {
    for dir in root.ancestors().skip(1) {
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o001 == 0
        {
            bail!(
                "the PostgreSQL user cannot enter {} (mode {:o}); make it world-executable (chmod o+x) or choose another data_dir",
                dir.display(),
                meta.permissions().mode() & 0o777
            );
        }
    }
    Ok(())
}
