//! The local socket: how `nexus` subcommands reach a running server. redb lets one process
//! open the database, so while a server runs, the command line asks it instead, over a Unix
//! socket in the data directory that only the directory's owner (and root) may use.
//!
//! Frames are a tag byte, a big-endian u32 length and the payload. The client sends one
//! `Q` frame (the request as JSON); the server answers with any number of `P` (progress, JSON)
//! and `D` (data: an archive or export) frames, then one `O` (done, the summary) or `E`
//! (failed, the reason).

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::admin::{self, Handle, Output, Request};

/// The socket's name inside the data directory.
pub const SOCKET_FILE: &str = "nexus.sock";

/// A request larger than this is refused (an import's CSV travels inside it).
const MAX_REQUEST_BYTES: u32 = 512 << 20;
/// An answer frame larger than this is a broken server.
const MAX_ANSWER_FRAME: u32 = 16 << 20;

const REQUEST: u8 = b'Q';
const PROGRESS: u8 = b'P';
const DATA: u8 = b'D';
const DONE: u8 = b'O';
const FAILED: u8 = b'E';

/// The socket of `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

/// Listens on the socket of the data directory until `stopping`, answering each connection
/// with `admin::execute`. A socket left by a killed server is replaced: this process holds the
/// database, so no other server can be using it.
pub async fn serve(handle: Handle, mut stopping: tokio::sync::watch::Receiver<bool>) {
    let path = path(&handle.config.server.data_dir);
    let _ = std::fs::remove_file(&path);
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "no local admin socket: `nexus` subcommands cannot reach this server");
            return;
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let handle = handle.clone();
                    tokio::spawn(async move {
                        if let Err(e) = answer(handle, stream).await {
                            tracing::debug!(error = %e, "local admin connection ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "local admin socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            () = stopped(&mut stopping) => break,
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// Only the user the server runs as, or root, may use the socket (its file mode says the same;
/// this holds even if the mode is loosened).
fn peer_allowed(stream: &tokio::net::UnixStream) -> bool {
    let own = rustix::process::geteuid().as_raw();
    match stream.peer_cred() {
        Ok(cred) => cred.uid() == own || cred.uid() == 0,
        Err(_) => false,
    }
}

async fn answer(handle: Handle, mut stream: tokio::net::UnixStream) -> io::Result<()> {
    if !peer_allowed(&stream) {
        let reason = "the local socket answers only its owner".as_bytes();
        write_frame(&mut stream, FAILED, reason).await?;
        return Ok(());
    }
    let (tag, body) = read_frame(&mut stream, MAX_REQUEST_BYTES).await?;
    let request: Request = match (tag, serde_json::from_slice(&body)) {
        (REQUEST, Ok(request)) => request,
        _ => {
            let reason =
                "not a request this server understands (is the nexus command the same version?)";
            write_frame(&mut stream, FAILED, reason.as_bytes()).await?;
            return Ok(());
        }
    };
    let (frames, mut outgoing) = tokio::sync::mpsc::channel::<(u8, Vec<u8>)>(16);
    let progress_frames = frames.clone();
    let output = Output {
        progress: Arc::new(move |stage, n| {
            let body = serde_json::json!({"stage": stage, "n": n}).to_string();
            // Progress is best effort: a slow reader drops some rather than slowing the job.
            let _ = progress_frames.try_send((PROGRESS, body.into_bytes()));
        }),
        data: Box::new(io::BufWriter::with_capacity(
            256 * 1024,
            DataFrames(frames.clone()),
        )),
    };
    tokio::spawn(async move {
        let (tag, text) = match admin::execute(&handle, request, output).await {
            Ok(summary) => (DONE, summary),
            Err(reason) => (FAILED, reason),
        };
        let _ = frames.send((tag, text.into_bytes())).await;
    });
    while let Some((tag, body)) = outgoing.recv().await {
        write_frame(&mut stream, tag, &body).await?;
        if tag == DONE || tag == FAILED {
            break;
        }
    }
    stream.flush().await
}

/// Data frames, sent from the blocking thread that writes an archive or export.
struct DataFrames(tokio::sync::mpsc::Sender<(u8, Vec<u8>)>);

impl Write for DataFrames {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send((DATA, buf.to_vec()))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the command went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

async fn write_frame(stream: &mut tokio::net::UnixStream, tag: u8, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len()).map_err(|_| io::Error::other("frame too large"))?;
    let mut head = [0u8; 5];
    head[0] = tag;
    head[1..].copy_from_slice(&len.to_be_bytes());
    stream.write_all(&head).await?;
    stream.write_all(body).await
}

async fn read_frame(stream: &mut tokio::net::UnixStream, max: u32) -> io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).await?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    if len > max {
        return Err(io::Error::other("frame too large"));
    }
    let mut body = vec![0u8; len as usize];
    stream.read_exact(&mut body).await?;
    Ok((head[0], body))
}

/// A connection to the server running on `data_dir`, or `None` when none answers there.
pub fn connect(data_dir: &Path) -> Option<std::os::unix::net::UnixStream> {
    std::os::unix::net::UnixStream::connect(path(data_dir)).ok()
}

/// Sends `request` to a running server and relays its answer: data frames to `data`,
/// progress to `progress`; returns the server's summary or its reason for failing.
pub fn call(
    mut stream: std::os::unix::net::UnixStream,
    request: &Request,
    data: &mut dyn Write,
    progress: &dyn Fn(&str, u64),
) -> Result<String, String> {
    let lost = |e: io::Error| format!("lost the connection to the running server: {e}");
    let body = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    let len = u32::try_from(body.len()).map_err(|_| "the request is too large".to_string())?;
    let mut head = [0u8; 5];
    head[0] = REQUEST;
    head[1..].copy_from_slice(&len.to_be_bytes());
    stream.write_all(&head).map_err(lost)?;
    stream.write_all(&body).map_err(lost)?;
    let mut reader = io::BufReader::with_capacity(256 * 1024, stream);
    loop {
        let mut head = [0u8; 5];
        reader.read_exact(&mut head).map_err(lost)?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        if len > MAX_ANSWER_FRAME {
            return Err("the running server sent a malformed answer".into());
        }
        let mut body = vec![0u8; len as usize];
        reader.read_exact(&mut body).map_err(lost)?;
        match head[0] {
            DATA => data
                .write_all(&body)
                .map_err(|e| format!("cannot write the output: {e}"))?,
            PROGRESS => {
                if let Ok(p) = serde_json::from_slice::<serde_json::Value>(&body) {
                    let stage = p["stage"].as_str().unwrap_or_default();
                    progress(stage, p["n"].as_u64().unwrap_or(0));
                }
            }
            DONE => return Ok(String::from_utf8_lossy(&body).into_owned()),
            FAILED => return Err(String::from_utf8_lossy(&body).into_owned()),
            _ => return Err("the running server sent a malformed answer".into()),
        }
    }
}

/// Completes once `stopping` turns true (or its sender is gone).
async fn stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stopping.wait_for(|s| *s).await;
}
