//! The real `nexus` binary as a child process on a free port with a temporary data directory (the
//! same approach as `tests/api/process.rs`).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The admin password the server starts with.
pub const ADMIN_PASSWORD: &str = "admin-password-123";

/// A running server; stopped by `stop`, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    port: u16,
    data: tempfile::TempDir,
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Makes `cmd`'s child receive SIGTERM when this process dies, so a killed test run leaves no
/// server or chromedriver behind. The runner spawns from its main thread, which lives as long as
/// the process (the signal follows the spawning thread, not the process).
pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only makes one prctl call, which is
    // async-signal-safe; it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
                .map_err(std::io::Error::from)
        });
    }
}

impl Server {
    /// Starts `nexus serve` on a free port with a new data directory and waits until
    /// `/readyz` answers `200`.
    pub async fn start() -> Server {
        let data = tempfile::tempdir().expect("temp data dir");
        let port = free_port();
        let child = spawn(data.path(), port).await;
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            data,
        }
    }

    /// Stops the server and starts it again on the same port and data directory.
    pub async fn restart(&mut self) {
        terminate(&mut self.child);
        self.child = spawn(self.data.path(), self.port).await;
    }

    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s); returns the last lines of its log.
    pub fn stop(mut self) -> String {
        terminate(&mut self.child);
        tail(&self.data.path().join("server.log"))
    }
}

/// Runs `nexus serve` on `data` and `port`, appending to `data/server.log`, and waits until it is
/// ready.
async fn spawn(data: &Path, port: u16) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.join("server.log"))
        .expect("server log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nexus"));
    for (key, _) in std::env::vars() {
        if key.starts_with("NEXUS_") {
            cmd.env_remove(key);
        }
    }
    cmd.arg("serve")
        .arg("--data")
        .arg(data.join("db"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env("NEXUS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        // Every browser and API client of the run shares 127.0.0.1.
        .env("NEXUS_AUTH__RATE_LIMIT_PER_SEC", "0")
        .env("NEXUS_API__RATE_LIMIT_PER_SEC", "0")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log);
    die_with_parent(&mut cmd);
    let mut child = cmd.spawn().expect("spawn nexus");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            && r.status() == reqwest::StatusCode::OK
        {
            return child;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "nexus exited early with {status}:\n{}",
                tail(&data.join("server.log"))
            );
        }
        assert!(Instant::now() < deadline, "nexus did not become ready");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// SIGTERM, then SIGKILL if still running after 10 s.
fn terminate(child: &mut Child) {
    use rustix::process::{Pid, Signal, kill_process};
    let _ = kill_process(Pid::from_child(child), Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last 40 lines of a log file.
fn tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
