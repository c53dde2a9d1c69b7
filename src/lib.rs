//! Nexus: shop-floor operations for a small plant, as one self-contained server.
//!
//! `App::open` then `App::serve` is the whole server; `main`, the subcommands and the
//! integration tests (on port 0 with a temporary data directory) all start from `App::open`.

pub mod backup;
pub mod cli;
pub mod config;
pub mod domain;
pub mod events;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod search;
pub mod service;
pub mod signing_key;
pub mod store;
pub mod ui;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tower::Layer as _;
use tower_http::normalize_path::NormalizePathLayer;

use config::Config;
use events::EventBus;
use service::Services;
use store::Store;

/// How long in-flight requests may run on after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory is unusable.
    #[error("data directory {dir}: {reason}")]
    DataDir {
        /// The directory.
        dir: String,
        /// Why.
        reason: String,
    },
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] store::OpenError),
    /// The signing key could not be read or made.
    #[error(transparent)]
    Key(#[from] signing_key::KeyError),
    /// First-start setup failed.
    #[error("first-start setup failed: {0}")]
    Bootstrap(String),
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(String),
    /// The TLS certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] http::tls::TlsError),
}

/// Makes sure `dir` exists and is a directory, creating it (owner-only) if needed.
fn prepare_data_dir(dir: &Path) -> Result<(), StartError> {
    let fail = |reason: String| StartError::DataDir {
        dir: dir.display().to_string(),
        reason,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(fail("exists but is not a directory".into()));
    }
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create it: {e}")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| fail(format!("cannot restrict its permissions: {e}")))?;
        }
    }
    Ok(())
}

/// Tells systemd how the service stands, when it started Nexus with `NOTIFY_SOCKET` (a
/// `Type=notify` unit); without it this does nothing.
fn notify_service_manager(state: sd_notify::NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(error = %e, "cannot notify the service manager");
    }
}

/// An opened data directory: the store (the backend `store::open` chooses), the search index
/// and the services over them. The one way in: `serve`, every CLI subcommand and the tests
/// start here.
pub struct App {
    config: Config,
    /// The domain services, for adapters and subcommands.
    pub services: Services,
    store: Arc<dyn Store>,
    index: search::SearchIndex,
    bus: EventBus,
    /// Whether the search index was missing or damaged when opened.
    needs_rebuild: bool,
    stopping: tokio::sync::watch::Sender<bool>,
    tls_reload: http::tls::TlsReload,
}

impl App {
    /// Opens the data directory of `config` (creating it, owner-only, if missing).
    pub async fn open(config: &Config) -> Result<App, StartError> {
        let data_dir = config.server.data_dir.clone();
        prepare_data_dir(&data_dir)?;
        let key = signing_key::load_or_create(&data_dir, config.jwt_secret.as_ref())?;
        let bus = EventBus::new();
        let store = {
            let dir = data_dir.clone();
            let bus = bus.clone();
            let server = config.server.clone();
            tokio::task::spawn_blocking(move || store::open(&dir, &server, bus))
                .await
                .map_err(|e| StartError::Bootstrap(e.to_string()))??
        };
        let opened = {
            let dir = data_dir.clone();
            tokio::task::spawn_blocking(move || search::SearchIndex::open(&dir))
                .await
                .map_err(|e| StartError::Bootstrap(e.to_string()))?
        };
        let (index, needs_rebuild) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                store.close().await;
                return Err(StartError::Bootstrap(e.to_string()));
            }
        };
        let (stopping, stopping_rx) = tokio::sync::watch::channel(false);
        let services = Services::new(
            config,
            store.clone(),
            &key,
            index.clone(),
            bus.clone(),
            stopping_rx,
        )
        .map_err(|e| StartError::Bootstrap(e.to_string()))?;
        Ok(App {
            config: config.clone(),
            services,
            store,
            index,
            bus,
            needs_rebuild,
            stopping,
            tls_reload: http::tls::TlsReload::default(),
        })
    }

    /// Opens the data directory of `config` for a subcommand: it must already hold a Nexus
    /// database (a subcommand never creates one by mistake).
    pub async fn open_existing(config: &Config) -> Result<App, StartError> {
        let data_dir = &config.server.data_dir;
        if !store::exists(data_dir) {
            return Err(StartError::DataDir {
                dir: data_dir.display().to_string(),
                reason: "holds no Nexus database".into(),
            });
        }
        App::open(config).await
    }

    /// Rebuilds the search index from the database; returns how many objects it holds.
    pub async fn rebuild_search(&self) -> Result<usize, StartError> {
        let bootstrap = |e: domain::DomainError| StartError::Bootstrap(e.to_string());
        let total = self
            .store
            .searchable_count()
            .await
            .map_err(|e| StartError::Bootstrap(e.to_string()))?;
        self.index
            .rebuild(self.store.as_ref())
            .await
            .map_err(bootstrap)?;
        Ok(total)
    }

    /// What the admin subcommands need of this data directory.
    pub fn admin_handle(&self) -> cli::admin::Handle {
        cli::admin::Handle {
            services: self.services.clone(),
            store: self.store.clone(),
            index: self.index.clone(),
            config: self.config.clone(),
            serving: false,
        }
    }

    /// Reloads the TLS certificate of this app once it serves (SIGHUP does the same).
    pub fn tls_reload(&self) -> http::tls::TlsReload {
        self.tls_reload.clone()
    }

    /// Commits what is queued and closes the store.
    pub async fn close(self) {
        let _ = self.stopping.send(true);
        self.store.close().await;
    }

    /// Prepares first start, and serves on `listener` until `shutdown` completes; then drains
    /// in-flight requests (up to 10 s), commits what is queued and returns.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let tls = match http::tls::Tls::from_config(&self.config.server) {
            Ok(tls) => tls,
            Err(e) => {
                self.close().await;
                return Err(e.into());
            }
        };
        if let Err(e) = self.bootstrap().await {
            self.close().await;
            return Err(e);
        }
        let config = self.config.clone();
        if config.metrics.enabled {
            metrics::install();
        }
        let stopping_rx = self.stopping.subscribe();
        let acceptor = tls.as_ref().map(http::tls::Tls::acceptor);
        if let Some(tls) = tls {
            self.tls_reload.set(tls);
        }
        // Always, so `systemctl reload` (SIGHUP) never ends a server that has nothing to
        // reload: without TLS it is logged and ignored.
        #[cfg(unix)]
        if let Err(e) = http::tls::reload_on_hangup(self.tls_reload.clone(), stopping_rx.clone()) {
            tracing::warn!(error = %e, "cannot watch for SIGHUP; the certificate will not be reloaded");
        }
        let follower = tokio::spawn(self.index.clone().follow(
            self.store.clone(),
            self.bus.clone(),
            self.needs_rebuild,
            stopping_rx.clone(),
        ));
        let floor = self.index.clone();
        tokio::spawn(service::retention::run_pruning(
            self.store.clone(),
            config.notifications.clone(),
            config.audit.clone(),
            stopping_rx.clone(),
        ));
        tokio::spawn(service::retention::run(
            self.store.clone(),
            config.changes.clone(),
            move || floor.indexed_seq(),
            stopping_rx,
        ));
        tokio::spawn(service::deadlines::run(
            self.services.clone(),
            config.clock.clone(),
            self.stopping.subscribe(),
        ));
        tokio::spawn(cli::socket::serve(
            cli::admin::Handle {
                serving: true,
                ..self.admin_handle()
            },
            self.stopping.subscribe(),
        ));
        if let Ok(Some(interval)) = config.backup.interval() {
            tokio::spawn(backup::schedule::run(
                self.services.backup.clone(),
                config.backup.clone(),
                config.server.data_dir.clone(),
                interval,
                self.stopping.subscribe(),
            ));
        }
        let state = http::AppState::new(&config, self.services.clone());
        let app = NormalizePathLayer::trim_trailing_slash().layer(http::router(&config, state));
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(
                %addr,
                https = config.tls_enabled(),
                data_dir = %config.server.data_dir.display(),
                "nexus serving"
            );
        }
        let stopping = self.stopping.clone();
        // Bound, set up and about to accept: systemd (`Type=notify`) may start what depends on
        // Nexus now.
        notify_service_manager(sd_notify::NotifyState::Ready);
        let signal = async move {
            shutdown.await;
            notify_service_manager(sd_notify::NotifyState::Stopping);
            tracing::info!("shutting down: no new requests, draining in-flight ones");
            // Live connections close with a going-away message.
            let _ = stopping.send(true);
        };
        http::serve::serve(
            listener,
            app,
            http::serve::ConnectionLimits::of(&config.server),
            acceptor,
            signal,
            DRAIN_TIMEOUT,
        )
        .await;
        // The search index flushes what it has not committed yet.
        let _ = tokio::time::timeout(Duration::from_secs(10), follower).await;
        self.close().await;
        tracing::info!("nexus stopped");
        Ok(())
    }

    /// First start: the admin user, and an empty search index made ready at once.
    async fn bootstrap(&mut self) -> Result<(), StartError> {
        let admin_password = self.config.admin_password.as_ref().map(|s| s.expose());
        match self.services.users.bootstrap_admin(admin_password).await {
            Ok(Some((user, Some(generated)))) => {
                println!(
                    "First start: created user '{}' with password: {generated}\n\
                     This password is shown only once; change it after signing in.",
                    user.username
                );
            }
            Ok(Some((user, None))) => {
                tracing::info!(username = %user.username, "first start: created admin user from NEXUS_ADMIN_PASSWORD");
            }
            Ok(None) => {}
            Err(e) => return Err(StartError::Bootstrap(e.to_string())),
        }
        if self.needs_rebuild && matches!(self.store.searchable_count().await, Ok(0)) {
            // Nothing to index: the new index is ready before the first request.
            self.rebuild_search().await?;
            self.needs_rebuild = false;
        }
        Ok(())
    }
}
