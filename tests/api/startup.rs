//! The `nexus` binary as an operator meets it: first start, restart, bad data directories,
//! layered configuration and graceful shutdown. These run the real binary as a child process.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_nexus");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `nexus` command with a clean `NEXUS_*` environment.
fn nexus(data: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("NEXUS_") {
            cmd.env_remove(key);
        }
    }
    cmd.arg("serve").arg("--data").arg(data);
    cmd.env("NEXUS_AUTH__RATE_LIMIT_PER_SEC", "0");
    cmd
}

struct Running {
    child: Child,
    base: String,
    stdout: std::sync::mpsc::Receiver<String>,
}

impl Running {
    fn start(cmd: Command) -> Running {
        Self::start_logging_to(cmd, Stdio::null())
    }

    fn start_logging_to(mut cmd: Command, stderr: Stdio) -> Running {
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
            if let Ok(r) = reqwest::blocking_get(&format!("{base}/readyz"))
                && r == StatusCode::OK
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("nexus exited early with {status}");
            }
            assert!(Instant::now() < deadline, "nexus did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        Running {
            child,
            base,
            stdout: rx,
        }
    }

    fn stdout_lines(&self) -> Vec<String> {
        self.stdout.try_iter().collect()
    }

    /// Sends SIGTERM and waits for the exit code.
    fn terminate(mut self) -> i32 {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "nexus did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Tiny blocking helpers, so these tests need no runtime of their own.
mod reqwest {
    pub use ::reqwest::StatusCode;

    pub fn blocking_get(url: &str) -> Result<StatusCode, ::reqwest::Error> {
        let url = url.to_string();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async { ::reqwest::get(&url).await.map(|r| r.status()) })
        })
        .join()
        .expect("request thread")
    }

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
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let method = ::reqwest::Method::from_bytes(method.as_bytes()).expect("method");
                let mut request = ::reqwest::Client::new().request(method, &url);
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
        .join()
        .expect("request thread")
    }
}

fn login(base: &str, password: &str) -> StatusCode {
    reqwest::post_json(
        &format!("{base}/api/auth/login/"),
        json!({"username": "admin", "password": password}),
    )
    .0
}

fn generated_password(lines: &[String]) -> Option<String> {
    lines
        .iter()
        .find_map(|l| l.split("with password: ").nth(1))
        .map(|p| p.trim().to_string())
}

#[test]
fn first_start_prints_a_random_admin_password_once_and_restart_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Running::start(nexus(&data));
    let password = generated_password(&first.stdout_lines()).expect("password printed");
    assert!(password.len() >= 16, "password {password:?} is long enough");
    assert_eq!(login(&first.base, &password), StatusCode::OK);
    assert_eq!(first.terminate(), 0, "SIGTERM exits 0");

    let key = std::fs::read(data.join("jwt.key")).expect("key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("jwt.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "key file mode");
    }

    let second = Running::start(nexus(&data));
    assert_eq!(login(&second.base, &password), StatusCode::OK);
    assert_eq!(
        generated_password(&second.stdout_lines()),
        None,
        "printed only once"
    );
    assert_eq!(
        std::fs::read(data.join("jwt.key")).unwrap(),
        key,
        "key reused"
    );
    assert_eq!(second.terminate(), 0);
}

#[test]
fn admin_password_comes_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = nexus(dir.path());
    cmd.env("NEXUS_ADMIN_PASSWORD", "from-the-environment");
    let app = Running::start(cmd);
    assert_eq!(generated_password(&app.stdout_lines()), None);
    assert_eq!(login(&app.base, "from-the-environment"), StatusCode::OK);
}

#[test]
fn jwt_secret_from_the_environment_replaces_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = nexus(dir.path());
    cmd.env("NEXUS_ADMIN_PASSWORD", "from-the-environment");
    cmd.env("NEXUS_JWT_SECRET", "0123456789abcdef0123456789abcdef");
    let app = Running::start(cmd);
    assert_eq!(login(&app.base, "from-the-environment"), StatusCode::OK);
    assert!(!dir.path().join("jwt.key").exists());
}

/// Runs `nexus` expecting it to fail at start; returns its stderr.
fn failing_start(mut cmd: Command) -> String {
    cmd.arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()));
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run nexus");
    assert!(!out.status.success(), "nexus should fail to start");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "no panic trace: {stderr}");
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(error_lines.len(), 1, "one-line reason: {stderr}");
    stderr
}

#[test]
fn a_locked_data_directory_fails_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let _running = Running::start(nexus(dir.path()));
    let stderr = failing_start(nexus(dir.path()));
    assert!(
        stderr.contains("in use by another running Nexus"),
        "{stderr}"
    );
}

#[test]
fn a_data_directory_that_is_a_file_fails_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let stderr = failing_start(nexus(&file));
    assert!(stderr.contains("not a directory"), "{stderr}");
}

#[test]
fn a_damaged_database_fails_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("nexus.redb"), vec![0x5a; 8192]).unwrap();
    let stderr = failing_start(nexus(dir.path()));
    assert!(stderr.contains("cannot open database"), "{stderr}");
}

#[test]
fn an_invalid_setting_fails_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = nexus(dir.path());
    cmd.env("NEXUS_AUTH__ACCESS_TTL_SECS", "soon");
    let stderr = failing_start(cmd);
    assert!(stderr.contains("invalid configuration"), "{stderr}");
}

#[test]
fn settings_layer_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nexus.toml");
    let data_from_file = dir.path().join("from-file");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = {:?}\nlisten = \"127.0.0.1:1\"\n[auth]\nallow_registration = false\n",
            data_from_file.display().to_string()
        ),
    )
    .unwrap();
    let register = |base: &str, name: &str| {
        reqwest::post_json(
            &format!("{base}/api/auth/register/"),
            json!({"username": name, "email": format!("{name}@x.test"), "password": "long-enough-pw"}),
        )
        .0
    };

    // File alone: registration off, data where the file says; --listen (a flag) beats the file.
    let mut cmd = Command::new(BIN);
    cmd.env_remove("NEXUS_AUTH__ALLOW_REGISTRATION")
        .env("NEXUS_AUTH__RATE_LIMIT_PER_SEC", "0")
        .arg("--config")
        .arg(&config);
    let app = Running::start(cmd);
    assert_eq!(register(&app.base, "filer"), StatusCode::FORBIDDEN);
    assert!(
        data_from_file.join("nexus.redb").exists(),
        "data dir from file"
    );
    drop(app);

    // The environment beats the file; --data (a flag) beats the file's data_dir.
    let data_from_flag = dir.path().join("from-flag");
    let mut cmd = Command::new(BIN);
    cmd.env("NEXUS_AUTH__ALLOW_REGISTRATION", "true")
        .env("NEXUS_AUTH__RATE_LIMIT_PER_SEC", "0")
        .arg("--config")
        .arg(&config)
        .arg("--data")
        .arg(&data_from_flag);
    let app = Running::start(cmd);
    assert_eq!(register(&app.base, "envy"), StatusCode::CREATED);
    assert!(
        data_from_flag.join("nexus.redb").exists(),
        "data dir from flag"
    );
}

#[test]
fn a_missing_config_file_fails_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = nexus(dir.path());
    cmd.arg("--config").arg(dir.path().join("absent.toml"));
    let stderr = failing_start(cmd);
    assert!(stderr.contains("not found"), "{stderr}");
}

#[test]
fn json_logs_record_each_request_with_method_path_status_and_latency() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let mut cmd = nexus(&dir.path().join("data"));
    cmd.env("NEXUS_LOG__FORMAT", "json")
        .env("NEXUS_ADMIN_PASSWORD", "secret-admin-password");
    let app = Running::start_logging_to(cmd, Stdio::from(std::fs::File::create(&log).unwrap()));
    assert_eq!(login(&app.base, "secret-admin-password"), StatusCode::OK);
    assert_eq!(app.terminate(), 0);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let login_line = lines
        .iter()
        .find(|l| l["span"]["path"] == "/api/auth/login" && l["fields"]["status"] == 200)
        .unwrap_or_else(|| panic!("no request line for the login in {text}"));
    assert_eq!(login_line["span"]["method"], "POST");
    assert!(login_line["fields"]["latency"].is_string(), "{login_line}");
    assert!(
        !text.contains("secret-admin-password"),
        "no password in logs"
    );
}

#[test]
fn reindex_rebuilds_the_search_index_of_a_stopped_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = nexus(dir.path());
    cmd.env("NEXUS_ADMIN_PASSWORD", "reindex-admin-pw");
    let app = Running::start(cmd);
    let (_, login) = reqwest::post_json(
        &format!("{}/api/auth/login/", app.base),
        json!({"username": "admin", "password": "reindex-admin-pw"}),
    );
    let token = login["access"].as_str().expect("token").to_string();
    let (status, _) = reqwest::send_json(
        "POST",
        &format!("{}/api/activities/", app.base),
        Some(token),
        Some(json!({"title": "Regrease conveyor bearings"})),
    );
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.terminate(), 0);

    let out = Command::new(BIN)
        .arg("reindex")
        .arg("--data")
        .arg(dir.path())
        .output()
        .expect("run reindex");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "reindex failed: {stderr}");
    assert!(stderr.contains("reindexed 1 objects"), "{stderr}");

    let mut cmd = nexus(dir.path());
    cmd.env("NEXUS_ADMIN_PASSWORD", "reindex-admin-pw");
    let app = Running::start(cmd);
    let (_, login) = reqwest::post_json(
        &format!("{}/api/auth/login/", app.base),
        json!({"username": "admin", "password": "reindex-admin-pw"}),
    );
    let token = login["access"].as_str().expect("token").to_string();
    let (status, body) = reqwest::send_json(
        "GET",
        &format!("{}/api/search/?q=conveyor", app.base),
        Some(token),
        None,
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["count"], 1, "{body}");
}

#[test]
fn reindex_refuses_a_running_servers_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _app = Running::start(nexus(dir.path()));
    let out = Command::new(BIN)
        .arg("reindex")
        .arg("--data")
        .arg(dir.path())
        .output()
        .expect("run reindex");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("in use by another running Nexus"),
        "{stderr}"
    );
}

#[test]
fn every_acknowledged_activity_is_searchable_after_a_kill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut cmd = nexus(dir.path());
        cmd.env("NEXUS_ADMIN_PASSWORD", "crash-admin-pw")
            .env("NEXUS_API__RATE_LIMIT_PER_SEC", "0");
        Running::start(cmd)
    };
    let token_of = |base: &str| {
        let (_, login) = reqwest::post_json(
            &format!("{base}/api/auth/login/"),
            json!({"username": "admin", "password": "crash-admin-pw"}),
        );
        login["access"].as_str().expect("token").to_string()
    };
    let mut app = start();
    let token = token_of(&app.base);
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (base, token, acknowledged) =
                (app.base.clone(), token.clone(), acknowledged.clone());
            std::thread::spawn(move || {
                for n in 0..10_000 {
                    let url = format!("{base}/api/activities/");
                    let body = json!({"title": format!("crashtest writer{w} number{n}")});
                    let outcome = std::panic::catch_unwind(|| {
                        reqwest::send_json("POST", &url, Some(token.clone()), Some(body))
                    });
                    match outcome {
                        Ok((status, created)) if status == StatusCode::CREATED => {
                            if let Some(id) = created["id"].as_u64() {
                                acknowledged.lock().unwrap().push(id);
                            }
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    // SIGKILL: no shutdown, no final index commit.
    app.child.kill().expect("kill");
    let _ = app.child.wait();
    for w in writers {
        let _ = w.join();
    }
    drop(app);
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 10,
        "writes went through before the kill"
    );

    let app = start();
    let token = token_of(&app.base);
    let mut found = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        found.clear();
        let mut page = 1;
        loop {
            let (status, body) = reqwest::send_json(
                "GET",
                &format!(
                    "{}/api/activities/?q=crashtest&page_size=200&page={page}",
                    app.base
                ),
                Some(token.clone()),
                None,
            );
            if status != StatusCode::OK {
                break;
            }
            for a in body["results"].as_array().into_iter().flatten() {
                found.insert(a["id"].as_u64().unwrap_or(0));
            }
            if body["next"].is_null() {
                break;
            }
            page += 1;
        }
        if acknowledged.iter().all(|id| found.contains(id)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} acknowledged activities are searchable after restart",
            acknowledged.iter().filter(|id| found.contains(id)).count(),
            acknowledged.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
