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
    /// Notification retention.
    pub notifications: NotificationsConfig,
    /// Audit-log retention.
    pub audit: AuditConfig,
    /// The plant: its name and time zone.
    pub plant: PlantConfig,
    /// The web UI.
    pub ui: UiConfig,
    /// Scheduled backups.
    pub backup: BackupConfig,
    /// Logging.
    pub log: LogConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// Andon calls: when an open call escalates.
    pub andon: AndonConfig,
    /// Shift handovers: when an unacknowledged one is reported.
    pub handover: HandoverConfig,
    /// Updates: reminders for unacknowledged ones.
    pub updates: UpdatesConfig,
    /// The clock deadlines (escalations, reminders) are measured by; tests move it forward.
    #[serde(skip)]
    pub clock: crate::domain::time::Clock,
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
    /// Reverse proxies (CIDRs such as `10.0.0.0/8`, or single addresses) whose
    /// `X-Forwarded-For` / `Forwarded` headers give the client's address; from any other peer
    /// those headers are ignored. Empty: the TCP peer is always the client.
    pub trusted_proxies: Vec<String>,
    /// HTTPS on `listen`: `off`, `files` (`tls_cert` and `tls_key`) or `self-signed`.
    pub tls: TlsMode,
    /// PEM certificate chain, leaf first, for `tls = "files"`; re-read on SIGHUP.
    pub tls_cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for `tls = "files"`; re-read on SIGHUP.
    pub tls_key: PathBuf,
}

/// Whether and how `server.listen` speaks TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Plain HTTP.
    #[default]
    Off,
    /// The certificate and key in `server.tls_cert` and `server.tls_key`.
    Files,
    /// A certificate made on first start and kept in the data directory, for evaluation.
    SelfSigned,
}

impl ServerConfig {
    /// `trusted_proxies` parsed; entries that do not parse are left out (`validate` refuses
    /// them before the server starts).
    pub fn trusted_proxy_nets(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|entry| parse_net(entry))
            .collect()
    }
}

/// A CIDR, or a single address meaning just itself.
fn parse_net(entry: &str) -> Option<ipnet::IpNet> {
    let entry = entry.trim();
    entry.parse::<ipnet::IpNet>().ok().or_else(|| {
        entry
            .parse::<std::net::IpAddr>()
            .ok()
            .map(ipnet::IpNet::from)
    })
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
            trusted_proxies: Vec::new(),
            tls: TlsMode::Off,
            tls_cert: PathBuf::new(),
            tls_key: PathBuf::new(),
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

/// `[notifications]` settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct NotificationsConfig {
    /// Read notifications older than this many days are removed; unread ones always stay.
    /// 0 keeps every notification.
    pub retention_days: u64,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            retention_days: 180,
        }
    }
}

/// `[audit]` settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditConfig {
    /// Entries older than this many days are removed; 0 (the default) keeps the whole log,
    /// the record a plant is audited against.
    pub retention_days: u64,
}

/// `[plant]` settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct PlantConfig {
    /// Shown in the web UI's top bar and page titles.
    pub name: String,
    /// IANA time zone (e.g. `Europe/Berlin`): where the plant's days and shifts begin, and how
    /// the web UI shows times.
    pub timezone: String,
}

impl Default for PlantConfig {
    fn default() -> Self {
        Self {
            name: "Nexus".into(),
            timezone: "UTC".into(),
        }
    }
}

impl PlantConfig {
    /// The time zone named by `timezone` (from the tz database embedded in the binary when the
    /// system has none).
    pub fn time_zone(&self) -> Result<jiff::tz::TimeZone, ConfigError> {
        jiff::tz::TimeZone::get(&self.timezone).map_err(|_| {
            ConfigError::Invalid(format!(
                "plant.timezone {:?} is not an IANA time zone such as Europe/Berlin or UTC",
                self.timezone
            ))
        })
    }
}

/// `[andon]` settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct AndonConfig {
    /// Seconds a call may stay `open` before it reaches level 1 (every active staff user is
    /// notified) and level 2 (every admin is notified): two increasing numbers.
    pub escalate_after_secs: Vec<u64>,
}

impl Default for AndonConfig {
    fn default() -> Self {
        Self {
            escalate_after_secs: vec![120, 600],
        }
    }
}

/// `[handover]` settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct HandoverConfig {
    /// A submitted handover not acknowledged within this many seconds notifies staff.
    pub ack_timeout_secs: u64,
}

impl Default for HandoverConfig {
    fn default() -> Self {
        Self {
            ack_timeout_secs: 1800,
        }
    }
}

/// `[updates]` settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdatesConfig {
    /// Whoever has not acknowledged an update that requires it is reminded once, this many
    /// seconds after it was posted (or changed to require it).
    pub ack_reminder_secs: u64,
}

impl Default for UpdatesConfig {
    fn default() -> Self {
        Self {
            ack_reminder_secs: 8 * 3600,
        }
    }
}

/// `[ui]` settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct UiConfig {
    /// A web session ends after this many seconds without use; it renews itself while used.
    pub session_idle_secs: u64,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            session_idle_secs: 12 * 3600,
        }
    }
}

/// `[backup]` settings: scheduled backups while the server runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct BackupConfig {
    /// How often, such as `6h`, `30m` or `1d`; empty (the default) takes none.
    pub every: String,
    /// Where the archives go; empty means `backups` inside the data directory.
    pub dir: String,
    /// The newest this many scheduled archives are kept; older ones are removed.
    pub keep: u32,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            every: String::new(),
            dir: String::new(),
            keep: 7,
        }
    }
}

impl BackupConfig {
    /// The interval `every` names, `None` when scheduled backups are off.
    pub fn interval(&self) -> Result<Option<std::time::Duration>, ConfigError> {
        let every = self.every.trim();
        if every.is_empty() || every == "0" || every == "off" {
            return Ok(None);
        }
        let bad = || {
            ConfigError::Invalid(format!(
                "backup.every {every:?} is not an interval such as 30m, 6h or 1d"
            ))
        };
        let split = every.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (number, unit) = every.split_at(split);
        let number: u64 = number.parse().map_err(|_| bad())?;
        let unit_secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        let secs = number.checked_mul(unit_secs).ok_or_else(bad)?;
        if secs == 0 {
            return Err(bad());
        }
        Ok(Some(std::time::Duration::from_secs(secs)))
    }

    /// Where scheduled archives go for the data directory `data_dir`.
    pub fn directory(&self, data_dir: &Path) -> PathBuf {
        if self.dir.trim().is_empty() {
            data_dir.join("backups")
        } else {
            PathBuf::from(&self.dir)
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

/// `[metrics]` settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// Whether `GET /metrics` answers (unauthenticated, like `/healthz`: it shows counts and
    /// sizes, never a user, id or path). Off, the route is `404` and nothing is recorded.
    pub enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { enabled: true }
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
    /// The file holds keys Nexus does not know: a typo must not be silently ignored.
    #[error(
        "config file {file}: unknown key {} (config/nexus.toml lists every key)",
        keys.join(", ")
    )]
    UnknownKeys {
        /// The file.
        file: PathBuf,
        /// The keys, dotted (`server.listen_adress`).
        keys: Vec<String>,
    },
}

/// `NEXUS_*` variables that are not settings but are read by the tests and CI scripts.
const NON_SETTING_VARIABLES: &[&str] = &["NEXUS_BIN", "NEXUS_TEST_BIN"];
const NON_SETTING_PREFIXES: &[&str] = &["NEXUS_CRASH_", "NEXUS_FUZZ_"];

/// Every setting as a tree of its defaults, secrets included: the list of known keys comes
/// from the structs themselves, so it cannot fall behind them.
fn known_keys() -> serde_json::Value {
    let all = Config {
        admin_password: Some(Secret::default()),
        jwt_secret: Some(Secret::default()),
        ..Config::default()
    };
    serde_json::to_value(all).unwrap_or_default()
}

/// The dotted keys of `given` that `known` lacks. A section given as something other than a
/// table is left to the type check, which names it.
fn unknown_keys(given: &serde_json::Value, known: &serde_json::Value, prefix: &str) -> Vec<String> {
    let (Some(given), Some(known)) = (given.as_object(), known.as_object()) else {
        return Vec::new();
    };
    let mut unknown = Vec::new();
    for (key, value) in given {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match known.get(key) {
            None => unknown.push(path),
            Some(section @ serde_json::Value::Object(_)) => {
                unknown.extend(unknown_keys(value, section, &path));
            }
            Some(_) => {}
        }
    }
    unknown
}

/// The `NEXUS_*` variables among `vars` that name no setting (`NEXUS_SECTION__KEY`), for a
/// warning: an environment is shared with other programs, so it is not a reason to refuse to
/// start, but a typo there must not go unnoticed either.
pub fn unknown_env_vars(vars: impl IntoIterator<Item = String>) -> Vec<String> {
    let known = known_keys();
    vars.into_iter()
        .filter(|name| {
            let Some(rest) = name.strip_prefix("NEXUS_") else {
                return false;
            };
            if NON_SETTING_VARIABLES.contains(&name.as_str())
                || NON_SETTING_PREFIXES.iter().any(|p| name.starts_with(p))
            {
                return false;
            }
            let mut node = &known;
            for part in rest.split("__") {
                match node.get(part.to_lowercase()) {
                    Some(next) => node = next,
                    None => return true,
                }
            }
            node.is_object()
        })
        .collect()
}

impl Config {
    /// Whether the server speaks HTTPS (`server.tls` is not `off`).
    pub fn tls_enabled(&self) -> bool {
        self.server.tls != TlsMode::Off
    }

    /// Loads defaults, then `file` (if given), then `NEXUS_*` variables, then `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Missing(file.to_path_buf()));
            }
            let given: serde_json::Value = Figment::from(Toml::file_exact(file))
                .extract()
                .map_err(|e| ConfigError::Invalid(e.to_string().replace('\n', " ")))?;
            let keys = unknown_keys(&given, &known_keys(), "");
            if !keys.is_empty() {
                return Err(ConfigError::UnknownKeys {
                    file: file.to_path_buf(),
                    keys,
                });
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
        if let Some(entry) = server
            .trusted_proxies
            .iter()
            .find(|e| parse_net(e).is_none())
        {
            return bad(format!(
                "server.trusted_proxies entry {entry:?} is not a CIDR such as 10.0.0.0/8 or an address"
            ));
        }
        if server.tls == TlsMode::Files
            && (server.tls_cert.as_os_str().is_empty() || server.tls_key.as_os_str().is_empty())
        {
            return bad("server.tls = \"files\" needs server.tls_cert and server.tls_key".into());
        }
        if self.auth.access_ttl_secs == 0 || self.auth.refresh_ttl_secs == 0 {
            return bad("auth.access_ttl_secs and auth.refresh_ttl_secs must be above 0".into());
        }
        if self.ui.session_idle_secs < 60 {
            return bad("ui.session_idle_secs must be at least 60".into());
        }
        if self.plant.name.trim().is_empty() || self.plant.name.chars().count() > 100 {
            return bad("plant.name must be 1 to 100 characters".into());
        }
        self.plant.time_zone()?;
        self.backup.interval()?;
        match self.andon.escalate_after_secs.as_slice() {
            [first, second] if 0 < *first && first < second => {}
            _ => {
                return bad(format!(
                    "andon.escalate_after_secs must be two increasing numbers of seconds above 0, \
                     such as [120, 600]; it is {:?}",
                    self.andon.escalate_after_secs
                ));
            }
        }
        if self.handover.ack_timeout_secs == 0 {
            return bad("handover.ack_timeout_secs must be above 0".into());
        }
        if self.updates.ack_reminder_secs == 0 {
            return bad("updates.ack_reminder_secs must be above 0".into());
        }
        if self.backup.keep == 0 {
            return bad("backup.keep must be at least 1".into());
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

    fn load_file(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nexus.toml");
        std::fs::write(&path, text).expect("write");
        Config::load(Some(&path), &Overrides::default())
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error_naming_it() {
        let cases = [
            (
                "[server]\nlisten_adress = \"0.0.0.0:80\"\n",
                "server.listen_adress",
            ),
            ("[servr]\nlisten = \"0.0.0.0:80\"\n", "servr"),
            ("admin_pasword = \"x\"\n", "admin_pasword"),
            (
                "[auth]\nallow_registration = false\nlockout_fails = 3\n",
                "auth.lockout_fails",
            ),
        ];
        for (text, key) in cases {
            match load_file(text) {
                Err(e @ ConfigError::UnknownKeys { .. }) => {
                    assert!(e.to_string().contains(key), "{e} names {key}");
                }
                other => panic!("{text:?}: expected an unknown-key error, got {other:?}"),
            }
        }
    }

    #[test]
    fn every_known_key_in_the_file_is_accepted() {
        let config = load_file(
            "admin_password = \"long-enough-password\"\n\
             [server]\nlisten = \"127.0.0.1:9000\"\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.1\"]\n\
             [log]\nformat = \"json\"\n",
        )
        .expect("loads");
        assert_eq!(config.server.listen, "127.0.0.1:9000");
        assert_eq!(config.server.trusted_proxy_nets().len(), 2);
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/nexus.toml");
        Config::load(Some(&shipped), &Overrides::default()).expect("the shipped file loads");
    }

    #[test]
    fn a_bad_trusted_proxy_is_refused() {
        let err =
            load_file("[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n").expect_err("refused");
        assert!(err.to_string().contains("10.0.0.0/33"), "{err}");
    }

    #[test]
    fn unknown_environment_variables_are_found_and_test_variables_are_not() {
        let vars = [
            "NEXUS_SERVER__LISTEN",
            "NEXUS_SERVER__LISTEN_ADRESS",
            "NEXUS_SERVR__LISTEN",
            "NEXUS_AUTH__ALLOW_REGISTRATION",
            "NEXUS_ADMIN_PASSWORD",
            "NEXUS_JWT_SECRET",
            "NEXUS_JWT_SECRT",
            "NEXUS_SERVER",
            "NEXUS_CRASH_CYCLES",
            "NEXUS_FUZZ_SEED",
            "NEXUS_FUZZ_VENV",
            "NEXUS_BIN",
            "NEXUS_TEST_BIN",
            "PATH",
        ];
        let unknown = unknown_env_vars(vars.iter().map(|v| v.to_string()));
        assert_eq!(
            unknown,
            [
                "NEXUS_SERVER__LISTEN_ADRESS",
                "NEXUS_SERVR__LISTEN",
                "NEXUS_JWT_SECRT",
                "NEXUS_SERVER"
            ]
        );
    }

    #[test]
    fn tls_is_off_by_default_and_files_needs_both_paths() {
        assert!(!Config::default().tls_enabled());
        let config = load_file("[server]\ntls = \"self-signed\"\n").expect("loads");
        assert_eq!(config.server.tls, TlsMode::SelfSigned);
        assert!(config.tls_enabled());
        let config =
            load_file("[server]\ntls = \"files\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n")
                .expect("loads");
        assert_eq!(config.server.tls, TlsMode::Files);
        let err =
            load_file("[server]\ntls = \"files\"\ntls_cert = \"c.pem\"\n").expect_err("refused");
        assert!(err.to_string().contains("server.tls_key"), "{err}");
        let err = load_file("[server]\ntls = \"on\"\n").expect_err("refused");
        assert!(err.to_string().contains("tls"), "{err}");
    }

    #[test]
    fn defaults_validate() {
        Config::default().validate().expect("defaults are valid");
    }
}
