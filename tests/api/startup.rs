//! The `nexus` binary as an operator meets it: first start, restart, bad data directories,
//! layered configuration and graceful shutdown. These run the real binary as a child process.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::process::{BIN, Running, blocking, free_port, nexus};
use reqwest::StatusCode;

fn login(base: &str, password: &str) -> StatusCode {
    blocking::post_json(
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
        blocking::post_json(
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
    let (_, login) = blocking::post_json(
        &format!("{}/api/auth/login/", app.base),
        json!({"username": "admin", "password": "reindex-admin-pw"}),
    );
    let token = login["access"].as_str().expect("token").to_string();
    let (status, _) = blocking::send_json(
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
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("reindexed 1 objects"), "{stdout}");

    let mut cmd = nexus(dir.path());
    cmd.env("NEXUS_ADMIN_PASSWORD", "reindex-admin-pw");
    let app = Running::start(cmd);
    let (_, login) = blocking::post_json(
        &format!("{}/api/auth/login/", app.base),
        json!({"username": "admin", "password": "reindex-admin-pw"}),
    );
    let token = login["access"].as_str().expect("token").to_string();
    let (status, body) = blocking::send_json(
        "GET",
        &format!("{}/api/search/?q=conveyor", app.base),
        Some(token),
        None,
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["count"], 1, "{body}");
}

#[test]
fn reindex_of_a_running_servers_data_directory_goes_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let _app = Running::start(nexus(dir.path()));
    let out = Command::new(BIN)
        .arg("reindex")
        .arg("--data")
        .arg(dir.path())
        .output()
        .expect("run reindex");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("reindexed 0 objects"), "{stdout}");
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
        let (_, login) = blocking::post_json(
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
                        blocking::send_json("POST", &url, Some(token.clone()), Some(body))
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
            let (status, body) = blocking::send_json(
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
