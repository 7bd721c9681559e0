//! Settings: built-in defaults, then an optional TOML file, then `EMA_BRIDGE__SECTION__KEY`
//! environment variables. Everything is checked once, in [`Settings::load`]; a bad value is an
//! error that names its key. Returns [`ConfigError`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// The file read from the working directory when no `--config` is given.
pub const DEFAULT_CONFIG_FILE: &str = "ema-bridge.toml";
/// Prefix of the environment variables; `__` separates sections and keys.
pub const ENV_PREFIX: &str = "EMA_BRIDGE";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error("configuration file {path}: {source}")]
    File {
        path: PathBuf,
        source: config::ConfigError,
    },
    #[error("{0}")]
    Parse(config::ConfigError),
}

/// The daemon's whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Folder for the embedded PostgreSQL cluster, the local S3 store and other state.
    pub data_dir: PathBuf,
    pub http: HttpSettings,
    /// Default base domain of tenant hosts (`{slug}.{base_domain}`) for resellers without their own.
    pub base_domain: String,
    pub database: DatabaseSettings,
    pub s3: S3Settings,
    pub log: LogSettings,
    pub usage: UsageSettings,
    pub provisioning: ProvisioningSettings,
}

#[derive(Debug, Clone)]
pub struct ProvisioningSettings {
    /// How long one provisioning run owns a tenant before another process may resume it (after
    /// a crash, the reconciler waits this long).
    pub lease: Duration,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Address the HTTP listener binds.
    pub bind: SocketAddr,
    /// URL scheme tenant links are built with (`http` for local use, `https` behind a proxy).
    pub public_scheme: String,
    /// Port shown in tenant links; `None` means the scheme's default port.
    pub public_port: Option<u16>,
    /// How long graceful shutdown waits for in-flight requests.
    pub shutdown_timeout: Duration,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// Control database URL; `None` runs a private cluster under `data_dir`.
    pub url: Option<SecretString>,
    /// Size of the control-database connection pool.
    pub pool_size: u32,
}

#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Endpoint of an S3-compatible store; `None` serves a local store over `data_dir/s3`.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    /// Path-style addressing (`endpoint/bucket/key`), which most non-AWS stores need.
    pub force_path_style: bool,
    pub checksums: ChecksumMode,
}

/// When aws-sdk-s3 adds request checksums. `WhenRequired` suits stores that reject the SDK's
/// default CRC32 trailers (Garage, R2, OVH); `WhenSupported` is the SDK default for AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumMode {
    WhenRequired,
    WhenSupported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    /// `tracing` filter directive, e.g. `info` or `ema_bridge=debug,info`.
    pub level: String,
}

#[derive(Debug, Clone)]
pub struct UsageSettings {
    /// Time between two usage collections.
    pub interval: Duration,
    /// Tenant databases measured at once (each measurement holds one short connection).
    pub concurrency: usize,
}

/// The raw shape read from defaults, file and environment, before validation.
#[derive(Debug, Deserialize)]
struct RawSettings {
    data_dir: String,
    base_domain: String,
    http: RawHttp,
    database: RawDatabase,
    s3: RawS3,
    log: RawLog,
    usage: RawUsage,
    provisioning: RawProvisioning,
}

#[derive(Debug, Deserialize)]
struct RawProvisioning {
    lease_secs: String,
}

#[derive(Debug, Deserialize)]
struct RawHttp {
    bind: String,
    public_scheme: String,
    public_port: Option<String>,
    shutdown_timeout_secs: String,
    workers: String,
}

#[derive(Debug, Deserialize)]
struct RawDatabase {
    url: Option<String>,
    pool_size: String,
}

#[derive(Debug, Deserialize)]
struct RawS3 {
    endpoint: Option<String>,
    region: String,
    bucket: String,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    force_path_style: String,
    checksums: String,
}

#[derive(Debug, Deserialize)]
struct RawLog {
    format: String,
    level: String,
}

#[derive(Debug, Deserialize)]
struct RawUsage {
    interval_secs: String,
    concurrency: String,
}

/// Built-in defaults: what `ema-bridge serve` runs on with no configuration at all.
const DEFAULTS: &str = r#"
data_dir = "./var"
base_domain = "localhost"

[http]
bind = "127.0.0.1:8080"
public_scheme = "http"
shutdown_timeout_secs = "10"
workers = "0"

[database]
pool_size = "8"

[s3]
region = "us-east-1"
bucket = "ema-archive"
force_path_style = "true"
checksums = "when_required"

[log]
format = "human"
level = "info"

[usage]
interval_secs = "300"
concurrency = "4"

[provisioning]
lease_secs = "30"
"#;

impl Settings {
    /// Loads defaults, then `file` (or `ema-bridge.toml` when present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, env)
    }

    /// [`Settings::load`] with an explicit environment, so tests need not touch the process's.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        match file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::Invalid {
                        key: "--config",
                        message: format!("file {} does not exist", path.display()),
                    });
                }
                builder =
                    builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
            }
            None => {
                let default = Path::new(DEFAULT_CONFIG_FILE);
                if default.is_file() {
                    builder = builder
                        .add_source(config::File::from(default).format(config::FileFormat::Toml));
                }
            }
        }
        let env_map: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .source(Some(env_map)),
        );
        let raw: RawSettings =
            builder
                .build()
                .and_then(|c| c.try_deserialize())
                .map_err(|e| match (file, &e) {
                    (Some(path), config::ConfigError::FileParse { .. }) => ConfigError::File {
                        path: path.to_owned(),
                        source: e,
                    },
                    _ => ConfigError::Parse(e),
                })?;
        raw.validate()
    }

    /// The URL a tenant is reached at, on the given base domain.
    pub fn tenant_url(&self, slug: &str, base_domain: &str) -> String {
        let port = match self.http.public_port {
            Some(p) => format!(":{p}"),
            None => String::new(),
        };
        format!("{}://{slug}.{base_domain}{port}", self.http.public_scheme)
    }
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

fn parse_number<T: std::str::FromStr>(
    key: &'static str,
    value: &str,
    what: &str,
) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(key, format!("expected {what}, got {value:?}")))
}

fn parse_bool(key: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(
            key,
            format!("expected true or false, got {value:?}"),
        )),
    }
}

fn non_empty(key: &'static str, value: Option<String>) -> Option<String> {
    let _ = key;
    value.filter(|v| !v.trim().is_empty())
}

impl RawSettings {
    fn validate(self) -> Result<Settings, ConfigError> {
        if self.data_dir.trim().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        let bind: SocketAddr = self.http.bind.parse().map_err(|_| {
            invalid(
                "http.bind",
                format!("invalid socket address {:?}", self.http.bind),
            )
        })?;
        let public_scheme = match self.http.public_scheme.as_str() {
            s @ ("http" | "https") => s.to_owned(),
            other => {
                return Err(invalid(
                    "http.public_scheme",
                    format!("expected http or https, got {other:?}"),
                ));
            }
        };
        let public_port = match non_empty("http.public_port", self.http.public_port) {
            Some(p) => Some(parse_number::<u16>(
                "http.public_port",
                &p,
                "a port number",
            )?),
            None if bind.port() == 80 || bind.port() == 443 => None,
            None => Some(bind.port()),
        };
        let shutdown_timeout = Duration::from_secs(parse_number(
            "http.shutdown_timeout_secs",
            &self.http.shutdown_timeout_secs,
            "a number of seconds",
        )?);

        let base_domain = crate::domain::BaseDomain::parse(&self.base_domain)
            .map_err(|e| invalid("base_domain", e.to_string()))?
            .to_string();

        let url = non_empty("database.url", self.database.url);
        if let Some(u) = &url {
            let parsed = url::Url::parse(u).map_err(|e| {
                invalid(
                    "database.url",
                    format!("not a URL ({e}); expected postgres://user@host/dbname"),
                )
            })?;
            if !matches!(parsed.scheme(), "postgres" | "postgresql") {
                return Err(invalid(
                    "database.url",
                    format!(
                        "expected a postgres:// URL, got scheme {:?}",
                        parsed.scheme()
                    ),
                ));
            }
        }
        let pool_size: u32 = parse_number(
            "database.pool_size",
            &self.database.pool_size,
            "a whole number",
        )?;
        if pool_size == 0 {
            return Err(invalid("database.pool_size", "must be at least 1"));
        }

        let endpoint = non_empty("s3.endpoint", self.s3.endpoint);
        if let Some(e) = &endpoint {
            let parsed = url::Url::parse(e)
                .map_err(|err| invalid("s3.endpoint", format!("not a URL ({err})")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid(
                    "s3.endpoint",
                    format!("expected an http(s) URL, got {e:?}"),
                ));
            }
        }
        if self.s3.region.trim().is_empty() {
            return Err(invalid("s3.region", "must not be empty"));
        }
        if !valid_bucket_name(&self.s3.bucket) {
            return Err(invalid(
                "s3.bucket",
                format!(
                    "{:?} is not a valid bucket name (3-63 of a-z 0-9 . -)",
                    self.s3.bucket
                ),
            ));
        }
        let access_key_id = non_empty("s3.access_key_id", self.s3.access_key_id);
        let secret_access_key = non_empty("s3.secret_access_key", self.s3.secret_access_key);
        if access_key_id.is_some() != secret_access_key.is_some() {
            return Err(invalid(
                "s3.secret_access_key",
                "s3.access_key_id and s3.secret_access_key go together",
            ));
        }
        let checksums = match self.s3.checksums.as_str() {
            "when_required" => ChecksumMode::WhenRequired,
            "when_supported" => ChecksumMode::WhenSupported,
            other => {
                return Err(invalid(
                    "s3.checksums",
                    format!("expected when_required or when_supported, got {other:?}"),
                ));
            }
        };
        let force_path_style = parse_bool("s3.force_path_style", &self.s3.force_path_style)?;

        let format = match self.log.format.as_str() {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "log.format",
                    format!("expected human or json, got {other:?}"),
                ));
            }
        };
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(invalid(
                "log.level",
                format!("invalid filter {:?}", self.log.level),
            ));
        }

        let interval: u64 = parse_number(
            "usage.interval_secs",
            &self.usage.interval_secs,
            "a number of seconds",
        )?;
        if interval == 0 {
            return Err(invalid("usage.interval_secs", "must be at least 1"));
        }
        let concurrency: usize = parse_number(
            "usage.concurrency",
            &self.usage.concurrency,
            "a whole number",
        )?;
        if concurrency == 0 {
            return Err(invalid("usage.concurrency", "must be at least 1"));
        }

        let workers: usize = parse_number("http.workers", &self.http.workers, "a whole number")?;
        let lease: u64 = parse_number(
            "provisioning.lease_secs",
            &self.provisioning.lease_secs,
            "a number of seconds",
        )?;
        if lease == 0 {
            return Err(invalid("provisioning.lease_secs", "must be at least 1"));
        }

        Ok(Settings {
            data_dir: PathBuf::from(self.data_dir),
            http: HttpSettings {
                bind,
                public_scheme,
                public_port,
                shutdown_timeout,
                workers,
            },
            base_domain,
            database: DatabaseSettings {
                url: url.map(SecretString::from),
                pool_size,
            },
            s3: S3Settings {
                endpoint,
                region: self.s3.region,
                bucket: self.s3.bucket,
                access_key_id,
                secret_access_key: secret_access_key.map(SecretString::from),
                force_path_style,
                checksums,
            },
            log: LogSettings {
                format,
                level: self.log.level,
            },
            usage: UsageSettings {
                interval: Duration::from_secs(interval),
                concurrency,
            },
            provisioning: ProvisioningSettings {
                lease: Duration::from_secs(lease),
            },
        })
    }
}

fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = Settings::load_from(None, env(&[])).expect("defaults load");
        assert_eq!(s.data_dir, PathBuf::from("./var"));
        assert_eq!(s.http.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.base_domain, "localhost");
        assert!(s.database.url.is_none());
        assert!(s.s3.endpoint.is_none());
        assert!(s.s3.force_path_style);
        assert_eq!(s.s3.checksums, ChecksumMode::WhenRequired);
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let s = Settings::load_from(
            None,
            env(&[
                ("EMA_BRIDGE__HTTP__BIND", "127.0.0.1:18080"),
                ("EMA_BRIDGE__S3__CHECKSUMS", "when_supported"),
                ("EMA_BRIDGE__S3__FORCE_PATH_STYLE", "false"),
                ("EMA_BRIDGE__DATABASE__URL", "postgres://u@db.example/ctl"),
                ("EMA_BRIDGE__BASE_DOMAIN", "archive.example.com"),
            ]),
        )
        .expect("loads");
        assert_eq!(s.http.bind.port(), 18080);
        assert_eq!(s.s3.checksums, ChecksumMode::WhenSupported);
        assert!(!s.s3.force_path_style);
        assert_eq!(
            s.database
                .url
                .as_ref()
                .map(|u| u.expose_secret().to_owned())
                .as_deref(),
            Some("postgres://u@db.example/ctl")
        );
        assert_eq!(s.base_domain, "archive.example.com");
    }

    #[test]
    fn a_file_overrides_defaults_and_env_overrides_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[http]\nbind = \"127.0.0.1:18081\"\n[s3]\nregion = \"garage\"\n",
        )
        .expect("write");
        let s = Settings::load_from(Some(&path), env(&[("EMA_BRIDGE__S3__REGION", "eu-west-1")]))
            .expect("loads");
        assert_eq!(s.http.bind.port(), 18081);
        assert_eq!(s.s3.region, "eu-west-1");
    }

    #[test]
    fn invalid_values_name_their_key() {
        let cases = [
            (
                "EMA_BRIDGE__HTTP__BIND",
                "nonsense",
                "http.bind: invalid socket address \"nonsense\"",
            ),
            ("EMA_BRIDGE__S3__CHECKSUMS", "sometimes", "s3.checksums"),
            (
                "EMA_BRIDGE__S3__FORCE_PATH_STYLE",
                "maybe",
                "s3.force_path_style",
            ),
            ("EMA_BRIDGE__DATABASE__URL", "mysql://x/y", "database.url"),
            ("EMA_BRIDGE__S3__ENDPOINT", "not a url", "s3.endpoint"),
            ("EMA_BRIDGE__S3__BUCKET", "Bad_Bucket", "s3.bucket"),
            ("EMA_BRIDGE__BASE_DOMAIN", "-bad-", "base_domain"),
            ("EMA_BRIDGE__LOG__FORMAT", "xml", "log.format"),
            ("EMA_BRIDGE__DATABASE__POOL_SIZE", "0", "database.pool_size"),
        ];
        for (k, v, expected) in cases {
            let err = Settings::load_from(None, env(&[(k, v)]))
                .expect_err(k)
                .to_string();
            assert!(err.starts_with(expected), "{k}={v}: {err}");
        }
    }

    #[test]
    fn s3_keys_must_come_in_pairs() {
        let err = Settings::load_from(None, env(&[("EMA_BRIDGE__S3__ACCESS_KEY_ID", "abc")]))
            .expect_err("half a key pair")
            .to_string();
        assert!(err.contains("go together"), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let s = Settings::load_from(
            None,
            env(&[
                ("EMA_BRIDGE__DATABASE__URL", "postgres://u:hunter2@db/ctl"),
                ("EMA_BRIDGE__S3__ACCESS_KEY_ID", "AKIA"),
                ("EMA_BRIDGE__S3__SECRET_ACCESS_KEY", "s3cr3t-value"),
            ]),
        )
        .expect("loads");
        let debug = format!("{s:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.contains("s3cr3t-value"), "{debug}");
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        let err = Settings::load_from(Some(Path::new("/nonexistent/x.toml")), env(&[]))
            .expect_err("missing file")
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }
}
