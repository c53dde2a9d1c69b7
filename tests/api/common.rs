//! `spawn_app()`: a running Nexus on port 0 with a temporary data directory, and client helpers.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use nexus::config::{Config, Secret};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The admin password every test app starts with.
pub const ADMIN_PASSWORD: &str = "admin-password-123";
/// The password `create_user` gives its users.
pub const USER_PASSWORD: &str = "user-password-123";

/// A running server and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client without cookies or default auth.
    pub client: reqwest::Client,
    /// The temporary data directory (deleted when the last handle drops).
    pub data_dir: Arc<tempfile::TempDir>,
    /// The config the server started with.
    pub config: Config,
    /// The server's deadline clock: `app.clock.advance(secs)` makes escalations, reminders and
    /// timeouts fall due at once.
    pub clock: nexus::domain::time::Clock,
    /// Reloads the server's TLS certificate, as SIGHUP does.
    pub tls_reload: nexus::http::tls::TlsReload,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), nexus::StartError>>>,
}

/// A config for tests: rate limits off (every test client shares 127.0.0.1), known admin
/// password, quiet logs.
pub fn test_config(data_dir: PathBuf) -> Config {
    let mut config = Config::default();
    config.server.data_dir = data_dir;
    config.server.listen = "127.0.0.1:0".into();
    config.auth.rate_limit_per_sec = 0;
    config.api.rate_limit_per_sec = 0;
    config.admin_password = Some(Secret::new(ADMIN_PASSWORD));
    config
}

/// Starts Nexus with the test config.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts Nexus with the test config changed by `change`.
pub async fn spawn_app_with(change: impl FnOnce(&mut Config)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut config = test_config(dir.path().to_path_buf());
    change(&mut config);
    start(config, dir).await
}

/// Starts Nexus with the test config on the data directory `dir` (which may hold data).
pub async fn spawn_app_in(dir: Arc<tempfile::TempDir>) -> TestApp {
    let config = test_config(dir.path().to_path_buf());
    start(config, dir).await
}

async fn start(config: Config, data_dir: Arc<tempfile::TempDir>) -> TestApp {
    start_with(config, data_dir, reqwest::Client::new()).await
}

/// Starts Nexus with `config` on `data_dir`, spoken to with `client`: over HTTPS, at
/// `https://127.0.0.1:PORT`, when the config turns TLS on.
pub async fn start_with(
    config: Config,
    data_dir: Arc<tempfile::TempDir>,
    client: reqwest::Client,
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    let (tx, rx) = oneshot::channel::<()>();
    let opened = config.clone();
    let (reload_tx, reload_rx) = oneshot::channel();
    let handle = tokio::spawn(async move {
        let app = nexus::App::open(&opened).await?;
        let _ = reload_tx.send(app.tls_reload());
        app.serve(listener, async move {
            let _ = rx.await;
        })
        .await
    });
    let scheme = if config.tls_enabled() {
        "https"
    } else {
        "http"
    };
    let mut app = TestApp {
        clock: config.clock.clone(),
        base: format!("{scheme}://{addr}"),
        client,
        data_dir,
        config,
        tls_reload: Default::default(),
        shutdown: Some(tx),
        handle: Some(handle),
    };
    app.wait_ready().await;
    app.tls_reload = reload_rx.await.unwrap_or_default();
    app
}

impl TestApp {
    async fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(r) = self.client.get(self.url("/healthz")).send().await
                && r.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("server did not become healthy");
    }

    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request to `path`, with a bearer token if given.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match token {
            Some(t) => builder.bearer_auth(t),
            None => builder,
        }
    }

    /// GET `path` as `token`.
    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token))
            .send()
            .await
            .expect("request")
    }

    /// POST JSON `body` to `path`, as `token` if given.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::POST, path, token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// PATCH JSON `body` to `path` as `token`.
    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::PATCH, path, Some(token))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// DELETE `path` as `token`.
    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.request(Method::DELETE, path, Some(token))
            .send()
            .await
            .expect("request")
    }

    /// Logs in; panics unless `200`. Returns the whole token body.
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let r = self
            .post(
                "/api/auth/login/",
                None,
                &json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "login of {username} failed");
        r.json().await.expect("login body")
    }

    /// An access token for `admin`.
    pub async fn admin_token(&self) -> String {
        token_of(&self.login("admin", ADMIN_PASSWORD).await)
    }

    /// Creates a user with `role` (as admin) and password `USER_PASSWORD`; returns its JSON.
    pub async fn create_user(&self, username: &str, role: &str) -> Value {
        let admin = self.admin_token().await;
        let r = self
            .post(
                "/api/users/",
                Some(&admin),
                &json!({"username": username, "email": format!("{username}@plant.test"),
                        "password": USER_PASSWORD, "role": role}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "create {username}");
        r.json().await.expect("user body")
    }

    /// Creates a user with `role` and returns (user JSON, access token).
    pub async fn user_with_token(&self, username: &str, role: &str) -> (Value, String) {
        let user = self.create_user(username, role).await;
        let token = token_of(&self.login(username, USER_PASSWORD).await);
        (user, token)
    }

    /// Stops the server gracefully and waits for it to exit; returns its result.
    pub async fn stop(&mut self) -> Result<(), nexus::StartError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.handle.take() {
            Some(h) => h.await.expect("server task"),
            None => Ok(()),
        }
    }

    /// Stops the server and starts a new one on the same data directory and config.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await.expect("clean stop");
        let mut config = self.config.clone();
        config.server.listen = "127.0.0.1:0".into();
        start_with(config, self.data_dir.clone(), self.client.clone()).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The `access` token of a login or refresh body.
pub fn token_of(body: &Value) -> String {
    body["access"].as_str().expect("access token").to_string()
}

/// Reads a JSON body.
pub async fn json_of(response: Response) -> Value {
    response.json().await.expect("JSON body")
}

/// Asserts `response` has `status` and the error body with `code`; returns the body.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "error content type was {content_type:?}"
    );
    let body: Value = response.json().await.expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "error code in {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error message in {body}"
    );
    body
}
