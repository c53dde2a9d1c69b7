//! HTTPS on Nexus's own listener (rustls with the ring provider: no cmake or nasm to build).
//!
//! The certificate is either the configured PEM files, read again on SIGHUP, or a self-signed
//! one made on first start in the data directory for evaluators. Handshakes pick the certificate
//! through a resolver holding the current one, so a reload swaps it for new connections while
//! open connections carry on with the session they have.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use sha2::{Digest as _, Sha256};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, Error as RustlsError, InconsistentKeys};

use crate::config::{ServerConfig, TlsMode};

/// The self-signed certificate's file in the data directory.
pub const SELF_SIGNED_CERT: &str = "tls-cert.pem";
/// The self-signed certificate's private key in the data directory (owner-only).
pub const SELF_SIGNED_KEY: &str = "tls-key.pem";

/// Why TLS could not be set up or reloaded; one line, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("TLS: {0}")]
pub struct TlsError(String);

/// The certificate new handshakes get; replaced whole on reload.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl Current {
    fn get(&self) -> Arc<CertifiedKey> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, key: Arc<CertifiedKey>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = key;
    }
}

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// TLS for the listener: the acceptor and the files its certificate comes from.
#[derive(Clone)]
pub struct Tls {
    acceptor: TlsAcceptor,
    current: Arc<Current>,
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
}

impl Tls {
    /// TLS as `server` sets it up, or `None` when `server.tls` is `off`. For `self-signed`, the
    /// certificate is made in `server.data_dir` on first start (its fingerprint printed once)
    /// and reused after.
    pub fn from_config(server: &ServerConfig) -> Result<Option<Tls>, TlsError> {
        let (cert, key) = match server.tls {
            TlsMode::Off => return Ok(None),
            TlsMode::Files => (server.tls_cert.clone(), server.tls_key.clone()),
            TlsMode::SelfSigned => {
                let (cert, key) = (
                    server.data_dir.join(SELF_SIGNED_CERT),
                    server.data_dir.join(SELF_SIGNED_KEY),
                );
                if let Some(fingerprint) = make_self_signed(&cert, &key)? {
                    println!(
                        "TLS: made a self-signed certificate ({}).\n\
                         Its SHA-256 fingerprint, to check against a browser's warning: {fingerprint}",
                        cert.display()
                    );
                }
                (cert, key)
            }
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certified = load_pair(&cert, &key, &provider)?;
        let current = Arc::new(Current(RwLock::new(certified)));
        let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        // hyper here speaks HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tls = Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            current,
            cert,
            key,
            provider,
        };
        tracing::info!(
            mode = ?server.tls,
            cert = %tls.cert.display(),
            fingerprint = %tls.fingerprint(),
            "TLS on"
        );
        Ok(Some(tls))
    }

    /// What accepts connections; it always hands out the current certificate.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.clone()
    }

    /// The SHA-256 fingerprint of the current certificate, as `AB:CD:...`.
    pub fn fingerprint(&self) -> String {
        self.current
            .get()
            .end_entity_cert()
            .map(|der| fingerprint(der.as_ref()))
            .unwrap_or_default()
    }

    /// Reads the certificate and key files again; new handshakes get the new pair. On any
    /// error the current certificate stays.
    pub fn reload(&self) -> Result<String, TlsError> {
        let certified = load_pair(&self.cert, &self.key, &self.provider)?;
        self.current.set(certified);
        Ok(self.fingerprint())
    }
}

/// The running server's TLS, to reload its certificate (what SIGHUP does). Does nothing
/// useful before `App::serve` has started, or when TLS is off.
#[derive(Clone, Default)]
pub struct TlsReload(Arc<Mutex<Option<Tls>>>);

impl TlsReload {
    /// Hands the server's TLS to this handle.
    pub(crate) fn set(&self, tls: Tls) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(tls);
    }

    /// Re-reads the certificate and key files; logs the outcome and returns the new
    /// certificate's fingerprint. A bad file is logged and the old certificate stays.
    pub fn reload(&self) -> Result<String, TlsError> {
        let tls = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let Some(tls) = tls else {
            tracing::info!("TLS is off: no certificate to reload");
            return Err(TlsError("TLS is off: no certificate to reload".into()));
        };
        match tls.reload() {
            Ok(fingerprint) => {
                tracing::info!(%fingerprint, cert = %tls.cert.display(), "TLS certificate reloaded");
                Ok(fingerprint)
            }
            Err(e) => {
                tracing::error!(error = %e, "TLS certificate not reloaded; the old one stays");
                Err(e)
            }
        }
    }
}

/// Reloads the certificate on every SIGHUP until `stopping` turns true. The handler is
/// installed before this returns, so a SIGHUP from then on never takes the default action
/// (ending the process).
#[cfg(unix)]
pub fn reload_on_hangup(
    reload: TlsReload,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                got = hangups.recv() => {
                    if got.is_none() {
                        return;
                    }
                    // Logged by `reload`; a bad file must not stop later reloads.
                    let _ = reload.reload();
                }
                changed = stopping.changed() => {
                    if changed.is_err() || *stopping.borrow() {
                        return;
                    }
                }
            }
        }
    });
    Ok(())
}

/// The pair in `cert` and `key`, checked to belong together.
fn load_pair(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let fail = |path: &Path, reason: String| TlsError(format!("{}: {reason}", path.display()));
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| fail(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(fail(cert, "holds no PEM certificate".into()));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => fail(key, "holds no PEM private key".into()),
        e => fail(key, e.to_string()),
    })?;
    let certified = CertifiedKey::from_der(chain, private, provider).map_err(|e| match e {
        RustlsError::InconsistentKeys(InconsistentKeys::KeyMismatch) => TlsError(format!(
            "{} does not belong to the certificate in {}",
            key.display(),
            cert.display()
        )),
        e => TlsError(format!("{} with {}: {e}", cert.display(), key.display())),
    })?;
    Ok(Arc::new(certified))
}

/// Makes a self-signed certificate and key at `cert` and `key` unless the certificate is
/// there already; returns the new certificate's fingerprint when it made one.
fn make_self_signed(cert: &Path, key: &Path) -> Result<Option<String>, TlsError> {
    if cert.exists() {
        return Ok(None);
    }
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if let Some(host) = hostname()
        && !names.contains(&host)
    {
        names.push(host);
    }
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| TlsError(format!("cannot make a self-signed certificate: {e}")))?;
    // The key lands first and the certificate last: a start interrupted in between finds no
    // certificate and makes a new pair, never a certificate without its key.
    write_new(key, made.signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_new(cert, made.cert.pem().as_bytes(), 0o644)?;
    Ok(Some(fingerprint(made.cert.der())))
}

/// Writes `bytes` to `path` through a temporary file in the same directory, created with
/// `mode`, so `path` is never seen half written or with wider permissions.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let fail = |e: std::io::Error| TlsError(format!("cannot write {}: {e}", path.display()));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).map_err(fail)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// This machine's hostname, if it has a usable one.
fn hostname() -> Option<String> {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_str().ok()?.trim().to_string();
    (!name.is_empty() && name != "(none)").then_some(name)
}

/// SHA-256 of a DER certificate as colon-separated upper-case hex (what `openssl x509
/// -fingerprint -sha256` and browsers show).
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let mut out = String::with_capacity(digest.len() * 3);
    for (i, byte) in digest.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{byte:02X}");
    }
    out
}
