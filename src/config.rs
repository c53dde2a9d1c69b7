//! Layered settings: built-in defaults, then the TOML file, then `NEXUS_*` environment variables,
//! then command-line flags. Every key is documented with its default in `config/nexus.toml`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A secret string whose `Debug` output never shows its value.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// All of Nexus's settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// HTTP server and data directory.
    pub server: ServerConfig,
    /// Sign-in, tokens and their limits.
    pub auth: AuthConfig,
    /// Limits on authenticated API calls.
    pub api: ApiConfig,
    /// Change-log retention.
    pub changes: ChangesConfig,
    /// Logging.
    pub log: LogConfig,
    /// Password for the `admin` user created on first start (`NEXUS_ADMIN_PASSWORD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_password: Option<Secret>,
    /// HMAC key for access tokens (`NEXUS_JWT_SECRET`); otherwise a generated key file is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_secret: Option<Secret>,
}

/// `[server]` settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// Directory holding the database and the signing key.
    pub data_dir: PathBuf,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Browser origins allowed to call the API (CORS); empty allows none.
    pub cors_origins: Vec<String>,
    /// Commit every write request queued at a moment in one transaction and one fsync
    /// (false: one transaction per request, only for measuring the difference).
    pub group_commit: bool,
    /// Memory the database may keep as its own page cache, in MiB; reads past it go to the
    /// operating system's file cache.
    pub db_cache_mb: usize,
    /// Free space (MiB) kept on the data directory's disk: below it writes answer `503` and
    /// reads go on; 0 turns the check off.
    pub min_free_disk_mb: u64,
    /// Save the database's allocator state with every commit, so opening it after a crash or
    /// power cut takes milliseconds instead of a walk over the whole file.
    pub quick_repair: bool,
    /// Open HTTP connections at most; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Seconds a client may take to send a request's headers before its connection is closed.
    pub header_read_timeout_secs: u64,
    /// Largest request head (request line and headers), in bytes; at least 8192.
    pub max_header_bytes: usize,
    /// Seconds a request may take, from its headers to its response's headers (a slow body
    /// upload included); streams (CSV, SSE, WebSocket) run on once started.
    pub request_timeout_secs: u64,
    /// Largest WebSocket message a client may send, in bytes.
    pub ws_max_message_bytes: usize,
    /// Live connections (WebSocket and SSE together) one user may hold open at once.
    pub live_connections_per_user: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./nexus-data"),
            max_body_bytes: 1024 * 1024,
            cors_origins: Vec::new(),
            group_commit: true,
            db_cache_mb: 256,
            min_free_disk_mb: 64,
            quick_repair: true,
            max_connections: 10_000,
            header_read_timeout_secs: 10,
            max_header_bytes: 16 * 1024,
            request_timeout_secs: 30,
            ws_max_message_bytes: 64 * 1024,
            live_connections_per_user: 32,
        }
    }
}

/// `[auth]` settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Whether `POST /api/auth/register/` is open.
    pub allow_registration: bool,
    /// Access-token lifetime.
    pub access_ttl_secs: u64,
    /// Refresh-token (session) lifetime.
    pub refresh_ttl_secs: u64,
    /// Requests per second per client address on the auth endpoints; 0 turns the limit off.
    pub rate_limit_per_sec: u32,
    /// Burst allowed above that rate.
    pub rate_limit_burst: u32,
    /// Failed logins for one username, within `lockout_secs`, that lock it.
    pub lockout_failures: u32,
    /// Window for counting failures, and how long a lock lasts.
    pub lockout_secs: u64,
    /// Threads computing password hashes, at the lowest CPU priority; 0 means one per core.
    pub max_concurrent_hashes: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            allow_registration: true,
            access_ttl_secs: 15 * 60,
            refresh_ttl_secs: 14 * 24 * 3600,
            rate_limit_per_sec: 10,
            rate_limit_burst: 20,
            lockout_failures: 5,
            lockout_secs: 15 * 60,
            max_concurrent_hashes: 0,
        }
    }
}

/// `[api]` settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiConfig {
    /// Requests per second per user on authenticated calls; 0 turns the limit off.
    pub rate_limit_per_sec: u32,
    /// Burst allowed above that rate.
    pub rate_limit_burst: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            rate_limit_per_sec: 1000,
            rate_limit_burst: 2000,
        }
    }
}

/// `[changes]` settings: how much of the change log is kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ChangesConfig {
    /// Keep at least this many of the newest entries.
    pub retention_entries: u64,
    /// Keep at least this many days of entries.
    pub retention_days: u64,
}

impl Default for ChangesConfig {
    fn default() -> Self {
        Self {
            retention_entries: 1_000_000,
            retention_days: 30,
        }
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]` settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `nexus=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// Command-line values that override the file and the environment.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--data`
    pub data_dir: Option<PathBuf>,
    /// `--listen`
    pub listen: Option<String>,
}

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or an environment variable did not parse.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The named config file does not exist.
    #[error("config file {0} not found")]
    Missing(PathBuf),
}

impl Config {
    /// Loads defaults, then `file` (if given), then `NEXUS_*` variables, then `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Missing(file.to_path_buf()));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("NEXUS_").split("__").lowercase(true));
        let mut config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string().replace('\n', " ")))?;
        if let Some(dir) = &overrides.data_dir {
            config.server.data_dir = dir.clone();
        }
        if let Some(listen) = &overrides.listen {
            config.server.listen = listen.clone();
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |msg: String| Err(ConfigError::Invalid(msg));
        if self.server.listen.parse::<SocketAddr>().is_err() {
            return bad(format!(
                "server.listen {:?} is not an address such as 127.0.0.1:8080",
                self.server.listen
            ));
        }
        if self.server.max_body_bytes == 0 {
            return bad("server.max_body_bytes must be above 0".into());
        }
        if self.server.max_header_bytes < 8192 {
            return bad("server.max_header_bytes must be at least 8192".into());
        }
        let server = &self.server;
        if server.max_connections == 0
            || server.header_read_timeout_secs == 0
            || server.request_timeout_secs == 0
            || server.ws_max_message_bytes == 0
            || server.live_connections_per_user == 0
        {
            return bad(
                "server.max_connections, header_read_timeout_secs, request_timeout_secs, \
                 ws_max_message_bytes and live_connections_per_user must be above 0"
                    .into(),
            );
        }
        if self.auth.access_ttl_secs == 0 || self.auth.refresh_ttl_secs == 0 {
            return bad("auth.access_ttl_secs and auth.refresh_ttl_secs must be above 0".into());
        }
        if self.auth.lockout_failures == 0 {
            return bad("auth.lockout_failures must be above 0".into());
        }
        if let Some(secret) = &self.jwt_secret
            && secret.expose().len() < 32
        {
            return bad("NEXUS_JWT_SECRET must be at least 32 bytes".into());
        }
        if let Some(pw) = &self.admin_password {
            let n = pw.expose().chars().count();
            if !(10..=256).contains(&n) {
                return bad("NEXUS_ADMIN_PASSWORD must be 10 to 256 characters".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let config = Config {
            jwt_secret: Some(Secret::new("a-very-secret-key-that-is-long-enough")),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("very-secret"));
    }

    #[test]
    fn example_file_documents_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/nexus.toml");
        // Every key, exactly: a setting missing from the file or with a stale default fails.
        let from_file: serde_json::Value = Figment::from(Toml::file_exact(&path))
            .extract()
            .expect("config/nexus.toml parses");
        let defaults = serde_json::to_value(Config::default()).expect("serialise");
        assert_eq!(from_file, defaults);
    }

    #[test]
    fn defaults_validate() {
        Config::default().validate().expect("defaults are valid");
    }
}
