//! The real `nexus` binary as a child process: a clean command line, start-and-wait-ready,
//! SIGTERM and SIGKILL, and tiny blocking HTTP helpers. Shared by the tests that need a process
//! of their own (startup, crash, log secrecy).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

/// The server binary Cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_nexus");

/// The server binary to run: `NEXUS_TEST_BIN` if set (the crash soak runs a copy, so a rebuild
/// meanwhile cannot swap it), else the one Cargo built.
pub fn server_bin() -> String {
    std::env::var("NEXUS_TEST_BIN").unwrap_or_else(|_| BIN.to_string())
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `nexus serve --data <data>` command with a clean `NEXUS_*` environment and the auth rate
/// limit off.
pub fn nexus(data: &Path) -> Command {
    let mut cmd = Command::new(server_bin());
    for (key, _) in std::env::vars() {
        if key.starts_with("NEXUS_") {
            cmd.env_remove(key);
        }
    }
    cmd.arg("serve").arg("--data").arg(data);
    cmd.env("NEXUS_AUTH__RATE_LIMIT_PER_SEC", "0");
    cmd
}

/// A running `nexus` child; killed when dropped.
pub struct Running {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stdout: std::sync::mpsc::Receiver<String>,
}

impl Running {
    /// Starts `cmd` on a free port and waits until `/readyz` answers `200`.
    pub fn start(cmd: Command) -> Running {
        Self::start_logging_to(cmd, Stdio::null())
    }

    /// Like `start`, sending the child's stderr to `stderr`.
    pub fn start_logging_to(mut cmd: Command, stderr: Stdio) -> Running {
        let port = free_port();
        cmd.arg("--listen").arg(format!("127.0.0.1:{port}"));
        cmd.stdout(Stdio::piped()).stderr(stderr);
        let mut child = cmd.spawn().expect("spawn nexus");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = blocking::get_status(&format!("{base}/readyz"))
                && r == StatusCode::OK
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("nexus exited early with {status}");
            }
            assert!(Instant::now() < deadline, "nexus did not become ready");
            std::thread::sleep(Duration::from_millis(20));
        }
        Running {
            child,
            base,
            stdout: rx,
        }
    }

    /// The lines the child printed on stdout since the last call.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.try_iter().collect()
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn terminate(mut self) -> i32 {
        use rustix::process::{Pid, Signal, kill_process};
        kill_process(Pid::from_child(&self.child), Signal::TERM).expect("signal nexus");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "nexus did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no shutdown, no final flush. Waits until the process is gone.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Tiny blocking helpers, so tests without a runtime of their own can make a request.
pub mod blocking {
    use reqwest::StatusCode;

    fn on_own_runtime<T: Send + 'static>(
        f: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>
        + Send
        + 'static,
    ) -> T {
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(f())
        })
        .join()
        .expect("request thread")
    }

    /// The status of `GET url`.
    pub fn get_status(url: &str) -> Result<StatusCode, reqwest::Error> {
        let url = url.to_string();
        on_own_runtime(move || {
            Box::pin(async move { reqwest::get(&url).await.map(|r| r.status()) })
        })
    }

    /// POSTs `body` as JSON without a token.
    pub fn post_json(url: &str, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
        send_json("POST", url, None, Some(body))
    }

    /// Sends `body` (if any) with `method` and an optional bearer token.
    pub fn send_json(
        method: &str,
        url: &str,
        token: Option<String>,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let (method, url) = (method.to_string(), url.to_string());
        on_own_runtime(move || {
            Box::pin(async move {
                let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
                let mut request = reqwest::Client::new().request(method, &url);
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                if let Some(body) = body {
                    request = request.json(&body);
                }
                let r = request.send().await.expect("request");
                let status = r.status();
                (status, r.json().await.unwrap_or(serde_json::Value::Null))
            })
        })
    }
}
