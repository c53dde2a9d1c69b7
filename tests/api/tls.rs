//! HTTPS on Nexus's own listener, over real TLS: configured certificate files (made here with
//! rcgen under a test CA), the self-signed certificate made on first start, reload on SIGHUP
//! without dropping connections, HSTS and `Secure` cookies, refusal of bad files at start, and a
//! plain-HTTP client on the HTTPS port.

use std::future::poll_fn;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Body as _;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use nexus::config::{Config, TlsMode};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, RootCertStore};

use crate::common::{ADMIN_PASSWORD, TestApp, spawn_app, start_with, test_config};
use crate::process::{free_port, nexus};

/// What the server must send on every response under TLS.
const HSTS: &str = "max-age=31536000";

/// A test certificate authority; the server's certificates are its leaves.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate for `localhost` and `127.0.0.1`, as PEM files hold it.
struct Leaf {
    /// The leaf then the CA: the chain a server sends.
    chain_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Ca {
    fn new() -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Nexus test CA");
        let key = KeyPair::generate().expect("CA key");
        Ca {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    fn leaf(&self) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("leaf params");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Leaf {
            chain_pem: format!("{}{}", cert.pem(), self.issuer.pem()),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    /// A client that trusts this CA only and reports the peer's certificate.
    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.pem().as_bytes()).expect("CA PEM"),
            )
            .tls_info(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.issuer.der().clone()).expect("CA as a root");
        roots
    }
}

/// Writes `leaf` as `cert.pem` and `key.pem` in `dir`; returns their paths.
fn write_leaf(dir: &Path, leaf: &Leaf) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &leaf.chain_pem).expect("write cert");
    std::fs::write(&key, &leaf.key_pem).expect("write key");
    (cert, key)
}

/// A server with TLS from the files of `leaf`, its client trusting `ca`; also the directory
/// holding the files.
async fn spawn_tls_app(ca: &Ca, leaf: &Leaf) -> (TestApp, tempfile::TempDir) {
    let files = tempfile::tempdir().expect("temp dir");
    let (cert, key) = write_leaf(files.path(), leaf);
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut config = test_config(dir.path().to_path_buf());
    config.server.tls = TlsMode::Files;
    config.server.tls_cert = cert;
    config.server.tls_key = key;
    (start_with(config, dir, ca.client()).await, files)
}

fn addr_of(app: &TestApp) -> SocketAddr {
    app.base
        .rsplit('/')
        .next()
        .and_then(|a| a.parse().ok())
        .expect("address in base URL")
}

fn peer_certificate(r: &reqwest::Response) -> Vec<u8> {
    r.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("a TLS response carries the peer certificate")
        .to_vec()
}

fn session_cookie(headers: &HeaderMap) -> String {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("nexus_session="))
        .expect("session cookie")
        .to_string()
}

/// Signs in through the web form; returns the response (a redirect setting the cookie).
async fn web_sign_in(app: &TestApp) -> reqwest::Response {
    let r = app
        .client
        .post(app.url("/login"))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .expect("sign-in");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    r
}

/// One kept-alive HTTP/1.1 connection over TLS, trusting `roots`, as `localhost`.
struct Connection {
    sender: SendRequest<String>,
    peer: Vec<u8>,
}

impl Connection {
    async fn open(addr: SocketAddr, roots: RootCertStore) -> Connection {
        let tls = Connection::tls(addr, roots).await;
        let peer = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certs| certs.first())
            .map(|cert| cert.as_ref().to_vec())
            .expect("peer certificate");
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .expect("HTTP handshake");
        tokio::spawn(conn);
        Connection { sender, peer }
    }

    /// A TLS connection to `addr` as `localhost`, trusting `roots`.
    async fn tls(
        addr: SocketAddr,
        roots: RootCertStore,
    ) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::try_from("localhost").expect("server name");
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .expect("TLS handshake")
    }

    /// `GET /healthz` on this connection, body read to its end so the connection can go on.
    async fn healthz(&mut self) -> StatusCode {
        let request = http::Request::get("/healthz")
            .header(http::header::HOST, "localhost")
            .body(String::new())
            .expect("request");
        let response = self
            .sender
            .send_request(request)
            .await
            .expect("response on the open connection");
        let status = response.status();
        let mut body = response.into_body();
        while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            frame.expect("body");
        }
        status
    }
}

#[tokio::test]
async fn configured_files_are_served_over_https_with_hsts_and_secure_cookies() {
    let ca = Ca::new();
    let leaf = ca.leaf();
    let (app, _files) = spawn_tls_app(&ca, &leaf).await;
    assert!(app.base.starts_with("https://"));

    let r = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("HTTPS");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(peer_certificate(&r), leaf.der, "the configured certificate");
    assert_eq!(r.headers()[header::STRICT_TRANSPORT_SECURITY], HSTS);

    // HSTS on JSON errors and HTML pages alike.
    let r = app
        .client
        .get(app.url("/api/users/"))
        .send()
        .await
        .expect("HTTPS");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()[header::STRICT_TRANSPORT_SECURITY], HSTS);
    let r = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .expect("HTTPS");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::STRICT_TRANSPORT_SECURITY], HSTS);

    let cookie = session_cookie(web_sign_in(&app).await.headers());
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    // The API works over TLS as over plain HTTP.
    let token = app.admin_token().await;
    assert_eq!(
        app.get("/api/users/", &token).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_websocket_upgrades_over_tls() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;

    let ca = Ca::new();
    let leaf = ca.leaf();
    let (app, _files) = spawn_tls_app(&ca, &leaf).await;
    let token = app.admin_token().await;
    let tls = Connection::tls(addr_of(&app), ca.roots()).await;
    let (mut socket, response) =
        tokio_tungstenite::client_async(format!("wss://localhost/ws/?token={token}"), tls)
            .await
            .expect("WebSocket upgrade over TLS");
    assert_eq!(response.status().as_u16(), 101);
    socket
        .send(Message::Ping(b"tls".to_vec().into()))
        .await
        .expect("ping");
    let pong = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(message) = socket.next().await {
            if let Message::Pong(data) = message.expect("message") {
                return data;
            }
        }
        panic!("the socket closed before the pong");
    })
    .await
    .expect("pong in time");
    assert_eq!(&pong[..], b"tls");
}

#[tokio::test]
async fn without_tls_there_is_no_hsts_and_cookies_are_not_secure() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("HTTP");
    assert!(r.headers().get(header::STRICT_TRANSPORT_SECURITY).is_none());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = client
        .post(app.url("/login"))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .expect("sign-in");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers().get(header::STRICT_TRANSPORT_SECURITY).is_none());
    let cookie = session_cookie(r.headers());
    assert!(!cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn a_reload_swaps_the_certificate_for_new_connections_and_keeps_open_ones() {
    let ca = Ca::new();
    let first = ca.leaf();
    let (app, files) = spawn_tls_app(&ca, &first).await;
    let addr = addr_of(&app);

    let mut open = Connection::open(addr, ca.roots()).await;
    assert_eq!(open.peer, first.der);
    assert_eq!(open.healthz().await, StatusCode::OK);

    let second = ca.leaf();
    write_leaf(files.path(), &second);
    let fingerprint = app.tls_reload.reload().expect("reload");
    assert_eq!(fingerprint, hex_fingerprint(&second.der));

    assert_eq!(
        open.healthz().await,
        StatusCode::OK,
        "the open connection goes on"
    );
    let mut fresh = Connection::open(addr, ca.roots()).await;
    assert_eq!(
        fresh.peer, second.der,
        "new handshakes get the new certificate"
    );
    assert_eq!(fresh.healthz().await, StatusCode::OK);

    // A bad new file is refused and the current certificate stays.
    std::fs::write(files.path().join("cert.pem"), "not a certificate").expect("write");
    let err = app.tls_reload.reload().expect_err("garbage refused");
    assert!(err.to_string().contains("cert.pem"), "{err}");
    // A certificate with another's key is refused too.
    let third = ca.leaf();
    std::fs::write(files.path().join("cert.pem"), &third.chain_pem).expect("write");
    let err = app.tls_reload.reload().expect_err("mismatched key refused");
    assert!(err.to_string().contains("does not belong"), "{err}");

    let mut after = Connection::open(addr, ca.roots()).await;
    assert_eq!(after.peer, second.der, "the last good certificate stays");
    assert_eq!(after.healthz().await, StatusCode::OK);
    assert_eq!(open.healthz().await, StatusCode::OK);
}

#[tokio::test]
async fn bad_certificate_files_are_refused_at_start_with_a_one_line_reason() {
    let ca = Ca::new();
    let leaf = ca.leaf();
    let other = ca.leaf();
    let files = tempfile::tempdir().expect("temp dir");
    let (cert, key) = write_leaf(files.path(), &leaf);
    let other_key = files.path().join("other-key.pem");
    std::fs::write(&other_key, &other.key_pem).expect("write");
    let garbage = files.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN PRIVATE KEY-----\nnot base64\n").expect("write");
    let missing = files.path().join("missing.pem");

    let cases = [
        (missing.clone(), key.clone(), "missing.pem"),
        (cert.clone(), missing.clone(), "missing.pem"),
        (key.clone(), key.clone(), "no PEM certificate"),
        (cert.clone(), cert.clone(), "no PEM private key"),
        (cert.clone(), garbage.clone(), "garbage.pem"),
        (cert.clone(), other_key.clone(), "does not belong"),
    ];
    for (cert, key, reason) in cases {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(data.path().to_path_buf());
        config.server.tls = TlsMode::Files;
        config.server.tls_cert = cert;
        config.server.tls_key = key;
        let err = start_error(&config).await;
        assert!(err.contains(reason), "{reason:?} in {err:?}");
        assert!(err.starts_with("TLS: "), "{err}");
        assert!(!err.contains('\n'), "one line: {err:?}");
    }

    // `files` without the files is refused before anything opens.
    let mut config = test_config(files.path().join("data"));
    config.server.tls = TlsMode::Files;
    let err = config.validate().expect_err("refused").to_string();
    assert!(err.contains("server.tls_cert"), "{err}");
}

/// Why `config` did not serve; panics if it did.
async fn start_error(config: &Config) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let app = nexus::App::open(config).await.expect("open");
    let served = tokio::time::timeout(
        Duration::from_secs(20),
        app.serve(listener, std::future::pending()),
    )
    .await
    .expect("refused at once, not served");
    served.expect_err("bad TLS files refused").to_string()
}

#[tokio::test]
async fn the_self_signed_certificate_is_made_once_for_local_names_and_reused() {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut config = test_config(dir.path().to_path_buf());
    config.server.tls = TlsMode::SelfSigned;
    let any = reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .build()
        .expect("client");
    let app = start_with(config, dir.clone(), any).await;
    let r = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("HTTPS");
    assert_eq!(r.headers()[header::STRICT_TRANSPORT_SECURITY], HSTS);
    let served = peer_certificate(&r);

    let cert_file = dir.path().join("tls-cert.pem");
    let key_file = dir.path().join("tls-key.pem");
    let pem = std::fs::read(&cert_file).expect("certificate kept in the data directory");
    let stored = CertificateDer::from_pem_slice(&pem).expect("PEM certificate");
    assert_eq!(stored.as_ref(), served.as_slice());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key is owner-only");
    }

    // The certificate names localhost, 127.0.0.1 and this machine: a strict client trusting
    // it accepts each name.
    let addr = addr_of(&app);
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let host = hostname();
    if !host.is_empty() {
        names.push(host);
    }
    for name in names {
        let strict = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM"))
            .resolve(&name, addr)
            .build()
            .expect("client");
        let r = strict
            .get(format!("https://{name}:{}/healthz", addr.port()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name} is in the certificate: {e:?}"));
        assert_eq!(r.status(), StatusCode::OK);
    }

    let app = app.restart().await;
    let r = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("HTTPS");
    assert_eq!(peer_certificate(&r), served, "reused on restart");
}

#[tokio::test]
async fn plain_http_on_the_https_port_is_answered_400_and_closed() {
    let ca = Ca::new();
    let leaf = ca.leaf();
    let (app, _files) = spawn_tls_app(&ca, &leaf).await;
    let addr = addr_of(&app);

    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("https://"), "{answer}");

    let r = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("an answer, not a reset");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // HTTPS goes on.
    let r = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("HTTPS");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_stalled_handshake_is_cut_off_like_a_slow_request_head() {
    let ca = Ca::new();
    let leaf = ca.leaf();
    let files = tempfile::tempdir().expect("temp dir");
    let (cert, key) = write_leaf(files.path(), &leaf);
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut config = test_config(dir.path().to_path_buf());
    config.server.tls = TlsMode::Files;
    config.server.tls_cert = cert;
    config.server.tls_key = key;
    config.server.header_read_timeout_secs = 1;
    let app = start_with(config, dir, ca.client()).await;

    // The first byte of a handshake record, then nothing.
    let mut tcp = tokio::net::TcpStream::connect(addr_of(&app))
        .await
        .expect("connect");
    tcp.write_all(&[0x16]).await.expect("write");
    let started = Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut rest))
        .await
        .expect("the server closes a stalled handshake")
        .ok();
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "not at once"
    );
    let r = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("HTTPS");
    assert_eq!(r.status(), StatusCode::OK);
}

/// This machine's hostname, as the server reads it.
fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_str()
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn hex_fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The real binary with TLS, on a free port; killed when dropped.
struct TlsProcess {
    child: Child,
    addr: SocketAddr,
    stdout: std::sync::mpsc::Receiver<String>,
}

impl TlsProcess {
    /// Starts `nexus serve` on `data` with the settings in `env`, and waits until `client`
    /// gets `200` from `/readyz` over HTTPS.
    async fn start(data: &Path, env: &[(&str, &Path)], client: &reqwest::Client) -> TlsProcess {
        let port = free_port();
        let mut cmd = nexus(data);
        cmd.arg("--listen").arg(format!("127.0.0.1:{port}"));
        for (key, value) in env {
            cmd.env(key, value);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn nexus");
        let out = child.stdout.take().expect("stdout");
        let (tx, stdout) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        let process = TlsProcess {
            child,
            addr,
            stdout,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut process = process;
        loop {
            if let Ok(r) = client.get(process.url("/readyz")).send().await
                && r.status() == StatusCode::OK
            {
                return process;
            }
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("nexus exited early with {status}");
            }
            assert!(Instant::now() < deadline, "nexus did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    fn stdout_lines(&self) -> Vec<String> {
        self.stdout.try_iter().collect()
    }

    fn signal(&self, signal: rustix::process::Signal) {
        rustix::process::kill_process(rustix::process::Pid::from_child(&self.child), signal)
            .expect("signal nexus");
    }

    /// SIGTERM; the exit code.
    async fn terminate(mut self) -> i32 {
        self.signal(rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "nexus did not stop on SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TlsProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn sighup_reloads_the_certificate_of_the_real_binary() {
    let ca = Ca::new();
    let first = ca.leaf();
    let files = tempfile::tempdir().expect("temp dir");
    let (cert, key) = write_leaf(files.path(), &first);
    let data = tempfile::tempdir().expect("temp dir");
    let tls = Path::new("files");
    let env = [
        ("NEXUS_SERVER__TLS", tls),
        ("NEXUS_SERVER__TLS_CERT", cert.as_path()),
        ("NEXUS_SERVER__TLS_KEY", key.as_path()),
    ];
    let mut server = TlsProcess::start(data.path(), &env, &ca.client()).await;
    let mut open = Connection::open(server.addr, ca.roots()).await;
    assert_eq!(open.peer, first.der);
    assert_eq!(open.healthz().await, StatusCode::OK);

    let second = ca.leaf();
    write_leaf(files.path(), &second);
    server.signal(rustix::process::Signal::HUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut fresh = Connection::open(server.addr, ca.roots()).await;
        if fresh.peer == second.der {
            assert_eq!(fresh.healthz().await, StatusCode::OK);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not swap the certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        open.healthz().await,
        StatusCode::OK,
        "the open connection goes on"
    );
    assert!(
        server.child.try_wait().expect("wait").is_none(),
        "still serving"
    );
    assert_eq!(server.terminate().await, 0);
}

#[tokio::test]
async fn the_real_binary_prints_the_self_signed_fingerprint_once() {
    let data = tempfile::tempdir().expect("temp dir");
    let any = reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .build()
        .expect("client");
    let env = [("NEXUS_SERVER__TLS", Path::new("self-signed"))];
    let server = TlsProcess::start(data.path(), &env, &any).await;
    let r = any.get(server.url("/healthz")).send().await.expect("HTTPS");
    let served = peer_certificate(&r);
    let lines = server.stdout_lines();
    let printed = lines
        .iter()
        .find(|line| line.contains("fingerprint"))
        .and_then(|line| line.split_whitespace().last())
        .unwrap_or_else(|| panic!("fingerprint printed on first start: {lines:?}"));
    assert_eq!(printed, hex_fingerprint(&served));
    assert_eq!(server.terminate().await, 0);

    let server = TlsProcess::start(data.path(), &env, &any).await;
    let r = any.get(server.url("/healthz")).send().await.expect("HTTPS");
    assert_eq!(
        peer_certificate(&r),
        served,
        "the same certificate on restart"
    );
    let lines = server.stdout_lines();
    assert!(
        !lines.iter().any(|line| line.contains("fingerprint")),
        "printed once only: {lines:?}"
    );
    assert_eq!(server.terminate().await, 0);
}

#[tokio::test]
async fn the_real_binary_stops_on_a_missing_certificate_with_one_line() {
    let data = tempfile::tempdir().expect("temp dir");
    let missing = data.path().join("nowhere.pem");
    let mut cmd = nexus(&data.path().join("data"));
    cmd.arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .env("NEXUS_SERVER__TLS", "files")
        .env("NEXUS_SERVER__TLS_CERT", &missing)
        .env("NEXUS_SERVER__TLS_KEY", &missing)
        .env("NEXUS_LOG__LEVEL", "off")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn nexus");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("nexus started with a missing certificate");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(1));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("nexus: error: TLS: "), "{stderr}");
    assert!(lines[0].contains("nowhere.pem"), "{stderr}");
}
