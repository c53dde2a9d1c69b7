//! The HTTP/1.1 accept loop. axum's own `serve` has no header-read timeout, head-size limit or
//! connection cap, so a handful of slow clients (slowloris) could hold connections forever;
//! this loop serves the same router on hyper with all three bounded, over TLS when configured
//! (a TLS terminator in front would be one more program for a plant to run).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::FutureExt as _;
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tower::{Service, ServiceExt as _};

use crate::config::ServerConfig;

/// What bounds each connection.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Open connections at most.
    pub max_connections: usize,
    /// Time a client may take to send a request head.
    pub header_read_timeout: Duration,
    /// Largest request head, in bytes (at least 8192).
    pub max_header_bytes: usize,
}

impl ConnectionLimits {
    /// The limits `server` configures.
    pub fn of(server: &ServerConfig) -> Self {
        ConnectionLimits {
            max_connections: server.max_connections,
            header_read_timeout: Duration::from_secs(server.header_read_timeout_secs),
            max_header_bytes: server.max_header_bytes.max(8192),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets every
/// connection finish its in-flight request (idle ones close at once), and returns once all are
/// closed or `drain` has passed. Upgraded connections (WebSockets) leave the count once
/// upgraded: they end through their own going-away close. With `tls`, every connection is
/// HTTPS.
pub async fn serve<S>(
    listener: TcpListener,
    app: S,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    raise_open_files(limits.max_connections);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes);
    let http = Arc::new(http);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: wait a
                    // moment rather than spin, and go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = tower::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(remote));
            let (req, body) = ReadToEnd::track(req);
            app.clone().oneshot(req).map(move |response| {
                response.map(|mut response| {
                    if body.unread() {
                        // Answered before the body was read (413, 401, 408...): hyper will not
                        // read the rest, so the connection cannot be reused; say so, or a
                        // keep-alive client sends its next request into a closing socket.
                        response
                            .headers_mut()
                            .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    }
                    response
                })
            })
        });
        let http = http.clone();
        let closing = closing_rx.clone();
        let tls = tls.clone();
        let handshake_limit = limits.header_read_timeout;
        tokio::spawn(async move {
            match tls {
                None => drive(&http, stream, service, closing, remote).await,
                Some(acceptor) => {
                    let mut closing = closing;
                    let accepted = tokio::select! {
                        accepted = handshake(&acceptor, stream, handshake_limit, remote) => accepted,
                        _ = closing.changed() => None,
                    };
                    if let Some(stream) = accepted {
                        drive(&http, stream, service, closing, remote).await;
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(drain, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests still running after {drain:?}; stopping anyway");
    }
}

/// Serves one connection until it ends, or until `closing` asks it to finish its request in
/// flight and close.
async fn drive<I, S>(
    http: &http1::Builder,
    stream: I,
    service: S,
    mut closing: watch::Receiver<bool>,
    remote: SocketAddr,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request<Incoming>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let conn = http
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    tokio::pin!(conn);
    let mut asked_to_close = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, %remote, "connection ended with an error");
                }
                break;
            }
            changed = closing.changed(), if !asked_to_close => {
                asked_to_close = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The first byte of every TLS connection: a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// What a client speaking plain HTTP to the HTTPS port is told before the connection closes.
const PLAIN_HTTP_ON_TLS: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\
    Content-Length: 38\r\n\
    Connection: close\r\n\r\n\
    This port speaks HTTPS: use https://\r\n";

/// The TLS handshake, bounded in time like a request head (a client that never finishes one
/// holds a connection slot no longer than a slow request head would). A client speaking plain
/// HTTP instead gets a short `400` and the connection closes.
async fn handshake(
    acceptor: &TlsAcceptor,
    mut stream: TcpStream,
    limit: Duration,
    remote: SocketAddr,
) -> Option<TlsStream<TcpStream>> {
    let attempt = async move {
        let mut first = [0u8; 1];
        match stream.peek(&mut first).await {
            Ok(1) => {}
            _ => return None,
        }
        if first[0] != TLS_HANDSHAKE_RECORD {
            tracing::debug!(%remote, "plain HTTP on the HTTPS port");
            let _ = stream.write_all(PLAIN_HTTP_ON_TLS).await;
            let _ = stream.shutdown().await;
            // Closing with the request unread would reset the connection, and the client might
            // lose the answer; read what it sent (a little, briefly) first.
            let mut sink = [0u8; 4096];
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                let mut total = 0;
                while total < 64 * 1024 {
                    match stream.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => total += n,
                    }
                }
            })
            .await;
            return None;
        }
        match acceptor.accept(stream).await {
            Ok(stream) => Some(stream),
            Err(e) => {
                tracing::debug!(error = %e, %remote, "TLS handshake failed");
                None
            }
        }
    };
    tokio::time::timeout(limit, attempt).await.ok().flatten()
}

/// Whether a request body has been read to its end; `None` for a request without a body
/// (most of them: no tracking, no allocation).
struct BodyState(Option<Arc<AtomicBool>>);

impl BodyState {
    /// The request had a body and it was not read to its end.
    fn unread(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|done| !done.load(Ordering::Acquire))
    }
}

/// A request body that notes when it has been read to its end.
struct ReadToEnd {
    inner: Incoming,
    done: Arc<AtomicBool>,
}

impl ReadToEnd {
    fn track(req: Request<Incoming>) -> (Request, BodyState) {
        if req.body().is_end_stream() {
            return (req.map(axum::body::Body::new), BodyState(None));
        }
        let done = Arc::new(AtomicBool::new(false));
        let state = BodyState(Some(done.clone()));
        let req = req.map(|inner| axum::body::Body::new(ReadToEnd { inner, done }));
        (req, state)
    }
}

impl hyper::body::Body for ReadToEnd {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.done.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Raises the soft open-file limit so `connections` sockets fit beside the data files (never
/// above the hard limit, which only an administrator can raise).
fn raise_open_files(connections: usize) {
    let wanted = u64::try_from(connections)
        .unwrap_or(u64::MAX)
        .saturating_add(256);
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    // `None` is "unlimited".
    if limit.current.is_none_or(|current| current >= wanted) {
        return;
    }
    let raised = limit.maximum.map_or(wanted, |hard| wanted.min(hard));
    limit.current = Some(raised);
    if setrlimit(Resource::Nofile, limit).is_err() || raised < wanted {
        tracing::warn!(
            open_files = raised,
            wanted,
            "the open-file limit is below server.max_connections; raise it (ulimit -n)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::raise_open_files;
    use rustix::process::{Resource, getrlimit, setrlimit};

    /// Lowers the soft open-file limit by one below the hard limit (harmless to the other tests
    /// in this process), or `None` when the hard limit is unlimited or tiny.
    fn one_below_hard() -> Option<u64> {
        let mut limit = getrlimit(Resource::Nofile);
        let hard = limit.maximum.filter(|&h| h > 512)?;
        limit.current = Some(hard - 1);
        setrlimit(Resource::Nofile, limit).ok()?;
        Some(hard)
    }

    #[test]
    fn the_open_file_limit_is_raised_to_fit_the_connections_but_never_above_the_hard_limit() {
        let Some(hard) = one_below_hard() else {
            eprintln!("SKIPPED: the hard open-file limit is unlimited or below 512");
            return;
        };
        raise_open_files(usize::try_from(hard - 256).expect("fits"));
        assert_eq!(getrlimit(Resource::Nofile).current, Some(hard));

        one_below_hard();
        raise_open_files(usize::MAX);
        assert_eq!(getrlimit(Resource::Nofile).current, Some(hard));

        // A limit that already fits is left alone.
        one_below_hard();
        raise_open_files(0);
        assert_eq!(getrlimit(Resource::Nofile).current, Some(hard - 1));
        raise_open_files(usize::try_from(hard - 256).expect("fits"));
    }
}
