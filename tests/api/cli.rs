//! The admin command line (`nexus user|backup|restore|check|config check|reindex`), run as the
//! real binary against a running server (through its local socket) and a stopped one (on the
//! data directory itself), as API.md §Command line says.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{
    ADMIN_PASSWORD, TestApp, json_of, spawn_app, spawn_app_in, spawn_app_with, token_of,
};
use crate::process::BIN;

/// What a `nexus` run printed and how it ended.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stdout
    }
    fn failed(&self) -> &str {
        assert_eq!(
            self.code, 1,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stderr
    }
}

/// Runs `nexus ARGS --data DATA` with a clean environment (plus `env`) and `stdin`, off the
/// test's runtime so an in-process server can answer it.
async fn nexus(data: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Ran {
    let mut cmd = std::process::Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("NEXUS_") {
            cmd.env_remove(key);
        }
    }
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.args(args).arg("--data").arg(data);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let stdin = stdin.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = cmd.spawn().expect("spawn nexus");
        if let Some(text) = stdin
            && let Some(mut input) = child.stdin.take()
        {
            input.write_all(text.as_bytes()).expect("stdin");
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("nexus output");
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("nexus run")
}

fn data(app: &TestApp) -> PathBuf {
    app.data_dir.path().to_path_buf()
}

async fn login_status(app: &TestApp, username: &str, password: &str) -> StatusCode {
    app.post(
        "/api/auth/login/",
        None,
        &json!({"username": username, "password": password}),
    )
    .await
    .status()
}

#[tokio::test]
async fn user_commands_work_through_a_running_server() {
    let app = spawn_app().await;
    let dir = data(&app);
    let created = nexus(
        &dir,
        &[
            "user",
            "create",
            "alice",
            "--role",
            "staff",
            "--password-stdin",
        ],
        Some("alice-password-1\n"),
        &[],
    )
    .await;
    assert!(
        created.ok().starts_with("created user alice"),
        "{}",
        created.stdout
    );
    // The running server has her at once: the command went through it.
    assert_eq!(
        login_status(&app, "alice", "alice-password-1").await,
        StatusCode::OK
    );

    let listed = nexus(&dir, &["user", "list"], None, &[]).await;
    let line = listed
        .ok()
        .lines()
        .find(|l| l.contains("alice"))
        .expect("alice listed")
        .to_string();
    assert!(line.contains("staff") && line.contains("yes"), "{line}");

    nexus(&dir, &["user", "set-role", "alice", "user"], None, &[])
        .await
        .ok();
    let admin = app.admin_token().await;
    let users = json_of(app.get("/api/users/?q=alice", &admin).await).await;
    assert_eq!(users["results"][0]["role"], "user", "{users}");

    nexus(
        &dir,
        &["user", "set-password", "alice"],
        Some("alice-password-2\n"),
        &[],
    )
    .await
    .ok();
    assert_eq!(
        login_status(&app, "alice", "alice-password-1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_status(&app, "alice", "alice-password-2").await,
        StatusCode::OK
    );

    nexus(&dir, &["user", "deactivate", "alice"], None, &[])
        .await
        .ok();
    assert_ne!(
        login_status(&app, "alice", "alice-password-2").await,
        StatusCode::OK
    );

    // Audited, as the acting admin from the command line.
    let audit = json_of(app.get("/api/audit/?action=user.create", &admin).await).await;
    assert_eq!(audit["results"][0]["ip"], "cli", "{audit}");
    assert_eq!(
        audit["results"][0]["target"],
        format!("user:{}", users["results"][0]["id"])
    );

    // Refusals: the service's own rules, one line, exit 1.
    let unknown = nexus(&dir, &["user", "set-role", "nobody", "staff"], None, &[]).await;
    assert!(
        unknown.failed().contains("no user named nobody"),
        "{}",
        unknown.stderr
    );
    let short = nexus(
        &dir,
        &[
            "user",
            "create",
            "carol",
            "--role",
            "user",
            "--password-stdin",
        ],
        Some("short\n"),
        &[],
    )
    .await;
    assert!(short.failed().contains("password"), "{}", short.stderr);
    let last_admin = nexus(&dir, &["user", "deactivate", "admin"], None, &[]).await;
    assert!(
        last_admin.failed().contains("last active admin"),
        "{}",
        last_admin.stderr
    );
    // Bad usage: exit 2.
    let bad = nexus(
        &dir,
        &["user", "create", "dave", "--role", "wizard"],
        None,
        &[],
    )
    .await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[tokio::test]
async fn user_commands_work_on_a_stopped_servers_data_directory() {
    let mut app = spawn_app().await;
    let dir = data(&app);
    app.stop().await.expect("stop");
    let created = nexus(
        &dir,
        &["user", "create", "bob", "--role", "staff"],
        None,
        &[],
    )
    .await;
    let out = created.ok();
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password (shown only once): "))
        .expect("generated password printed once")
        .to_string();
    let listed = nexus(&dir, &["user", "list"], None, &[]).await;
    assert!(listed.ok().contains("bob"), "{}", listed.stdout);
    let archives = tempfile::tempdir().unwrap();
    let archive = archives.path().join("offline.tar.gz");
    nexus(
        &dir,
        &["backup", "--out", archive.to_str().unwrap()],
        None,
        &[],
    )
    .await
    .ok();
    let app = app.restart().await;
    assert_eq!(login_status(&app, "bob", &password).await, StatusCode::OK);
    // Both were audited in the stopped directory before the command closed it.
    let admin = app.admin_token().await;
    let audit = json_of(app.get("/api/audit/?action=backup", &admin).await).await;
    assert_eq!(audit["results"][0]["detail"]["via"], "cli", "{audit}");
    let audit = json_of(app.get("/api/audit/?action=user.create", &admin).await).await;
    assert_eq!(audit["count"], 1, "{audit}");
}

async fn new_activity(app: &TestApp, token: &str, title: &str) -> Value {
    let r = app
        .post("/api/activities/", Some(token), &json!({"title": title}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    json_of(r).await
}

async fn all_activities(app: &TestApp, token: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut page = 1;
    loop {
        let body = json_of(
            app.get(
                &format!("/api/activities/?page_size=200&page={page}"),
                token,
            )
            .await,
        )
        .await;
        let results = body["results"].as_array().cloned().expect("a page");
        let done = results.len() < 200;
        all.extend(results);
        if done {
            all.sort_by_key(|a| a["id"].as_u64());
            return all;
        }
        page += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_writes_restores_every_object_and_ids_continue() {
    let app = Arc::new(spawn_app().await);
    let token = app.admin_token().await;
    for i in 0..30 {
        new_activity(&app, &token, &format!("Calibrate torque wrench {i}")).await;
    }
    let before = all_activities(&app, &token).await.len();
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writer = {
        let (app, token, writing) = (app.clone(), token.clone(), writing.clone());
        tokio::spawn(async move {
            let mut written = 0;
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                new_activity(&app, &token, &format!("Calibrate torque wrench w{written}")).await;
                written += 1;
            }
            written
        })
    };
    let archives = tempfile::tempdir().unwrap();
    let archive = archives.path().join("plant.tar.gz");
    let archive_arg = archive.to_str().unwrap();
    let backup = nexus(&data(&app), &["backup", "--out", archive_arg], None, &[]).await;
    assert!(
        backup.ok().starts_with("backup complete"),
        "{}",
        backup.stdout
    );
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(!archive.with_extension("gz.partial").exists());

    nexus(&data(&app), &["backup", "verify", archive_arg], None, &[])
        .await
        .ok();

    let target = Arc::new(tempfile::tempdir().unwrap());
    let restored = nexus(target.path(), &["restore", archive_arg], None, &[]).await;
    assert!(restored.ok().starts_with("restored"), "{}", restored.stdout);

    let copy = spawn_app_in(target.clone()).await;
    let copy_token = copy.admin_token().await;
    let original = all_activities(&app, &token).await;
    let restored = all_activities(&copy, &copy_token).await;
    // A consistent moment: everything written before the backup began, some of what was
    // written during it, each object exactly as the original has it.
    assert!(restored.len() >= before, "{} < {before}", restored.len());
    assert!(restored.len() <= before + written);
    for r in &restored {
        let o = original
            .iter()
            .find(|o| o["id"] == r["id"])
            .expect("restored object exists");
        assert_eq!(r, o);
    }
    // Search works on the restored data (its index was rebuilt).
    let hits = json_of(copy.get("/api/search/?q=torque", &copy_token).await).await;
    assert_eq!(hits["count"], restored.len(), "{hits}");
    // Ids continue after the restored ones, never reusing one.
    let max_id = restored
        .iter()
        .filter_map(|a| a["id"].as_u64())
        .max()
        .unwrap();
    let next = new_activity(&copy, &copy_token, "After the restore").await;
    assert!(next["id"].as_u64().unwrap() > max_id, "{next}");
    // The restore is in the restored audit log.
    let audit = json_of(copy.get("/api/audit/?action=restore", &copy_token).await).await;
    assert_eq!(audit["count"], 1, "{audit}");
}

#[tokio::test]
async fn a_truncated_or_altered_archive_is_refused_with_nothing_changed() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    new_activity(&app, &token, "Replace hydraulic hose").await;
    let archives = tempfile::tempdir().unwrap();
    let good = archives.path().join("good.tar.gz");
    nexus(
        &data(&app),
        &["backup", "--out", good.to_str().unwrap()],
        None,
        &[],
    )
    .await
    .ok();
    let bytes = std::fs::read(&good).unwrap();

    let truncated = archives.path().join("truncated.tar.gz");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let mut altered_bytes = bytes.clone();
    let middle = altered_bytes.len() / 2;
    altered_bytes[middle] ^= 0x01;
    let altered = archives.path().join("altered.tar.gz");
    std::fs::write(&altered, &altered_bytes).unwrap();

    for bad in [&truncated, &altered] {
        let verify = nexus(
            &data(&app),
            &["backup", "verify", bad.to_str().unwrap()],
            None,
            &[],
        )
        .await;
        assert!(verify.failed().contains("refused"), "{}", verify.stderr);
        assert_eq!(
            verify
                .stderr
                .trim()
                .lines()
                .last()
                .map(|l| l.starts_with("nexus: error:")),
            Some(true)
        );
        let parent = tempfile::tempdir().unwrap();
        let target = parent.path().join("restored");
        let restore = nexus(&target, &["restore", bad.to_str().unwrap()], None, &[]).await;
        assert!(restore.failed().contains("refused"), "{}", restore.stderr);
        assert!(!target.exists(), "a refused restore created the target");
        let leftovers: Vec<_> = std::fs::read_dir(parent.path()).unwrap().collect();
        assert!(leftovers.is_empty(), "a refused restore left files behind");
    }

    // Over a directory that holds something: refused without --force, nothing touched.
    let occupied = tempfile::tempdir().unwrap();
    let target = occupied.path().join("data");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("notes.txt"), "keep me").unwrap();
    let refused = nexus(&target, &["restore", good.to_str().unwrap()], None, &[]).await;
    assert!(refused.failed().contains("--force"), "{}", refused.stderr);
    assert_eq!(
        std::fs::read_to_string(target.join("notes.txt")).unwrap(),
        "keep me"
    );
    // With --force: restored, and the old directory kept aside.
    nexus(
        &target,
        &["restore", good.to_str().unwrap(), "--force"],
        None,
        &[],
    )
    .await
    .ok();
    assert!(target.join("nexus.redb").exists());
    let aside: Vec<PathBuf> = std::fs::read_dir(occupied.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("data.replaced-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(
        std::fs::read_to_string(aside[0].join("notes.txt")).unwrap(),
        "keep me"
    );
}

#[tokio::test]
async fn restore_refuses_a_running_servers_data_directory() {
    let app = spawn_app().await;
    let archives = tempfile::tempdir().unwrap();
    let archive = archives.path().join("a.tar.gz");
    nexus(
        &data(&app),
        &["backup", "--out", archive.to_str().unwrap()],
        None,
        &[],
    )
    .await
    .ok();
    let refused = nexus(
        &data(&app),
        &["restore", archive.to_str().unwrap(), "--force"],
        None,
        &[],
    )
    .await;
    assert!(
        refused.failed().contains("a server is running"),
        "{}",
        refused.stderr
    );
    // Still serving, unchanged.
    assert_eq!(
        login_status(&app, "admin", ADMIN_PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_admin_downloads_a_fresh_backup_that_verifies() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    new_activity(&app, &admin, "Inspect guard rails").await;
    let (_, staff) = app.user_with_token("sam", "staff").await;
    let r = app.get("/api/admin/backup/", &staff).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app.get("/api/admin/backup/", &admin).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    let bytes = r.bytes().await.unwrap();
    let archives = tempfile::tempdir().unwrap();
    let archive = archives.path().join("download.tar.gz");
    std::fs::write(&archive, &bytes).unwrap();
    let verified = nexus(
        &data(&app),
        &["backup", "verify", archive.to_str().unwrap()],
        None,
        &[],
    )
    .await;
    assert!(
        verified.ok().contains("is a good backup"),
        "{}",
        verified.stdout
    );
    let audit = json_of(app.get("/api/audit/?action=backup", &admin).await).await;
    assert_eq!(audit["count"], 1, "{audit}");
    assert_eq!(audit["results"][0]["detail"]["via"], "api");
    // The metrics show when the last backup completed.
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let last = metrics
        .lines()
        .find_map(|l| l.strip_prefix("nexus_last_backup_timestamp_seconds "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .expect("the last-backup gauge");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - last).abs() < 120.0, "{last} vs {now}");
}

#[tokio::test]
async fn scheduled_backups_are_taken_and_only_the_newest_kept() {
    let archives = tempfile::tempdir().unwrap();
    let dir = archives.path().to_path_buf();
    let app = spawn_app_with(|c| {
        c.backup.every = "1s".into();
        c.backup.keep = 2;
        c.backup.dir = dir.display().to_string();
    })
    .await;
    let list = || -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
            .collect();
        found.sort();
        found
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while list().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no scheduled backups");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let first = list()[0].clone();
    // Newer backups follow and the oldest goes; waited for rather than slept on, as a busy
    // machine takes a backup more slowly than `every`. (Between a new archive's rename and the
    // pruning after it there may briefly be three.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let now = loop {
        let now = list();
        if !now.contains(&first) && now.len() <= 2 {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the oldest was not removed, or more than `keep` stayed: {now:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let newest = now.last().unwrap();
    nexus(
        &data(&app),
        &["backup", "verify", newest.to_str().unwrap()],
        None,
        &[],
    )
    .await
    .ok();
    let admin = app.admin_token().await;
    let audit = json_of(app.get("/api/audit/?action=backup", &admin).await).await;
    assert!(audit["count"].as_u64().unwrap() >= 3, "{audit}");
    assert_eq!(audit["results"][0]["detail"]["via"], "schedule");
}

#[tokio::test]
async fn check_passes_on_a_running_and_a_stopped_server() {
    let mut app = spawn_app().await;
    let token = app.admin_token().await;
    new_activity(&app, &token, "Lubricate chain drive").await;
    let running = nexus(&data(&app), &["check"], None, &[]).await;
    assert!(
        running.ok().starts_with("check passed"),
        "{}",
        running.stdout
    );
    assert!(
        running.stdout.contains("holds all 1 searchable"),
        "{}",
        running.stdout
    );
    app.stop().await.expect("stop");
    let stopped = nexus(&data(&app), &["check"], None, &[]).await;
    assert!(
        stopped.ok().starts_with("check passed"),
        "{}",
        stopped.stdout
    );
}

#[tokio::test]
async fn check_finds_a_search_index_that_disagrees_with_the_database() {
    let mut app = spawn_app().await;
    let token = app.admin_token().await;
    new_activity(&app, &token, "Lubricate chain drive").await;
    app.stop().await.expect("stop");
    // An index of no objects that claims a later change-log position than the database's, as
    // one from another data directory would: catching up cannot mend it.
    let mut empty = spawn_app().await;
    for i in 0..6 {
        empty.create_user(&format!("filler{i}"), "user").await;
    }
    let filler_token = empty.admin_token().await;
    let r = empty.get("/api/search/?q=anything", &filler_token).await;
    assert_eq!(r.status(), StatusCode::OK);
    empty.stop().await.expect("stop");
    let index = data(&app).join("search");
    std::fs::remove_dir_all(&index).unwrap();
    copy_dir(&data(&empty).join("search"), &index);
    let checked = nexus(&data(&app), &["check"], None, &[]).await;
    assert!(
        checked.failed().contains("nexus reindex"),
        "{}",
        checked.stderr
    );
    nexus(&data(&app), &["reindex"], None, &[]).await.ok();
    nexus(&data(&app), &["check"], None, &[]).await.ok();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[tokio::test]
async fn config_check_redacts_secrets_and_warns_about_insecure_settings() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "abababababababababababababababab";
    let ran = nexus(
        &dir.path().join("none-yet"),
        &["config", "check"],
        None,
        &[
            ("NEXUS_SERVER__LISTEN", "0.0.0.0:8080"),
            ("NEXUS_AUTH__ALLOW_REGISTRATION", "true"),
            ("NEXUS_API__RATE_LIMIT_PER_SEC", "0"),
            ("NEXUS_JWT_SECRET", secret),
        ],
    )
    .await;
    let out = ran.ok();
    assert!(!out.contains(secret), "{out}");
    assert!(out.contains("jwt_secret = (set, redacted)"), "{out}");
    assert!(out.contains("server.listen = \"0.0.0.0:8080\""), "{out}");
    for warning in [
        "allow_registration",
        "no TLS",
        "API rate limit is off",
        "NEXUS_JWT_SECRET is weak",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("warning:") && l.contains(warning)),
            "no warning about {warning}: {out}"
        );
    }
    // The default admin password still in use is found in the data directory.
    let app = spawn_app().await;
    let ran = nexus(
        &data(&app),
        &["config", "check"],
        None,
        &[("NEXUS_ADMIN_PASSWORD", ADMIN_PASSWORD)],
    )
    .await;
    assert!(ran.ok().contains("first-start password"), "{}", ran.stdout);
    // TLS on: no warning about it.
    let tls = nexus(
        &dir.path().join("tls"),
        &["config", "check"],
        None,
        &[
            ("NEXUS_SERVER__LISTEN", "0.0.0.0:8080"),
            ("NEXUS_SERVER__TLS", "self-signed"),
        ],
    )
    .await;
    assert!(!tls.ok().contains("no TLS"), "{}", tls.stdout);
    // A quiet, local setup has none.
    let calm = nexus(&dir.path().join("calm"), &["config", "check"], None, &[]).await;
    assert!(calm.ok().contains("no warnings"), "{}", calm.stdout);
    let _ = token_of;
}

#[tokio::test]
async fn export_writes_every_kind_as_json_and_csv_without_password_hashes() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    new_activity(&app, &token, "Swap worn cutting insert").await;
    new_activity(&app, &token, "Sweep, \"shop\" floor").await;
    let out = tempfile::tempdir().unwrap();
    let json_path = out.path().join("export.json");
    let ran = nexus(
        &data(&app),
        &[
            "export",
            "--format",
            "json",
            "--out",
            json_path.to_str().unwrap(),
        ],
        None,
        &[],
    )
    .await;
    assert!(ran.ok().starts_with("exported"), "{}", ran.stdout);
    let doc: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(doc["activities"].as_array().unwrap().len(), 2, "{doc}");
    assert_eq!(doc["activities"][1]["title"], "Sweep, \"shop\" floor");
    assert_eq!(doc["users"][0]["username"], "admin");
    assert!(doc["users"][0].get("password_hash").is_none(), "{doc}");
    assert!(doc["audit"].as_array().is_some_and(|a| !a.is_empty()));
    for kind in ["projects", "updates", "notifications", "messages"] {
        assert!(doc[kind].is_array(), "{kind} missing");
    }

    let csv_dir = out.path().join("csv");
    let ran = nexus(
        &data(&app),
        &[
            "export",
            "--format",
            "csv",
            "--out",
            csv_dir.to_str().unwrap(),
        ],
        None,
        &[],
    )
    .await;
    ran.ok();
    let mut reader = csv::Reader::from_path(csv_dir.join("activities.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let title = headers
        .iter()
        .position(|h| h == "title")
        .expect("title column");
    let titles: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[title].to_string())
        .collect();
    assert_eq!(
        titles,
        ["Swap worn cutting insert", "Sweep, \"shop\" floor"]
    );
    let users = std::fs::read_to_string(csv_dir.join("users.csv")).unwrap();
    assert!(
        !users.contains("password_hash") && !users.contains("$argon2"),
        "{users}"
    );
    // CSV needs a directory.
    let ran = nexus(&data(&app), &["export", "--format", "csv"], None, &[]).await;
    ran.failed();
}

#[tokio::test]
async fn import_reports_every_bad_row_and_imports_all_or_nothing() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.create_user("operator1", "user").await;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "Title,Kind,Who,Due\n\
         Grease spindle,maintenance,operator1,\n\
         Check gauges,repair,operator1,\n\
         Fix light curtain,maintenance,nobody,\n\
         ,maintenance,,\n\
         Clean coolant tank,maintenance,,2026-13-40\n",
    )
    .unwrap();
    let map = "title=Title,type=Kind,assignee=Who,end_time=Due";
    let ran = nexus(
        &data(&app),
        &[
            "import",
            "activities",
            bad.to_str().unwrap(),
            "--map",
            map,
            "--commit",
        ],
        None,
        &[],
    )
    .await;
    let report = ran.failed();
    assert!(report.contains("line 3: type:"), "{report}");
    assert!(
        report.contains("line 4: assignee: no user named nobody"),
        "{report}"
    );
    assert!(report.contains("line 5: title:"), "{report}");
    assert!(report.contains("line 6: end_time:"), "{report}");
    assert!(
        report.contains("4 of 5 rows refused; nothing imported"),
        "{report}"
    );
    let listed = json_of(app.get("/api/activities/", &token).await).await;
    assert_eq!(listed["count"], 0, "a refused import wrote something");

    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "Title,Kind,Who,Due\n\
         Grease spindle,maintenance,operator1,2026-12-02T10:00:00Z\n\
         Check gauges,quality_check,,\n",
    )
    .unwrap();
    let dry = nexus(
        &data(&app),
        &["import", "activities", good.to_str().unwrap(), "--map", map],
        None,
        &[],
    )
    .await;
    assert!(
        dry.ok().contains("dry run: all 2 rows are good"),
        "{}",
        dry.stdout
    );
    let listed = json_of(app.get("/api/activities/", &token).await).await;
    assert_eq!(listed["count"], 0, "a dry run wrote something");
    let ran = nexus(
        &data(&app),
        &[
            "import",
            "activities",
            good.to_str().unwrap(),
            "--map",
            map,
            "--commit",
        ],
        None,
        &[],
    )
    .await;
    assert!(ran.ok().contains("imported 2 activities"), "{}", ran.stdout);
    let listed = json_of(app.get("/api/activities/?ordering=title", &token).await).await;
    assert_eq!(listed["count"], 2, "{listed}");
    assert_eq!(listed["results"][1]["type"], "maintenance");
    let audit = json_of(app.get("/api/audit/?action=activity.import", &token).await).await;
    assert_eq!(audit["count"], 1, "{audit}");
    assert_eq!(audit["results"][0]["ip"], "cli");
    // A map naming an unknown field or a missing column is refused before any row is read.
    let ran = nexus(
        &data(&app),
        &[
            "import",
            "activities",
            good.to_str().unwrap(),
            "--map",
            "title=Title,colour=Kind",
        ],
        None,
        &[],
    )
    .await;
    assert!(ran.failed().contains("unknown field"), "{}", ran.stderr);
}

#[tokio::test]
async fn a_backup_holds_the_shop_floor_and_export_lists_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let post = |path: &'static str, body: Value| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let r = app.post(path, Some(&admin), &body).await;
            assert_eq!(r.status(), StatusCode::CREATED, "{path}");
            json_of(r).await
        }
    };
    let line = post(
        "/api/assets/",
        json!({"code": "L1", "name": "Line 1", "kind": "line", "ideal_cycle_secs": 30.0}),
    )
    .await;
    let reason = post(
        "/api/downtime/reasons/",
        json!({"code": "JAM", "name": "Jam", "planned": false}),
    )
    .await;
    post(
        "/api/downtime/",
        json!({"asset_id": line["id"], "reason_id": reason["id"], "started_at": "2026-03-02T10:00:00Z", "note": "feeder jam"}),
    )
    .await;
    post(
        "/api/production/",
        json!({"asset_id": line["id"], "started_at": "2026-03-02T08:00:00Z", "ended_at": "2026-03-02T09:00:00Z", "total_count": 100, "good_count": 97}),
    )
    .await;
    post(
        "/api/andon/",
        json!({"asset_id": line["id"], "kind": "material", "message": "out of labels"}),
    )
    .await;
    let archives = tempfile::tempdir().unwrap();
    let archive = archives.path().join("floor.tar.gz");
    nexus(
        &data(&app),
        &["backup", "--out", archive.to_str().unwrap()],
        None,
        &[],
    )
    .await
    .ok();
    let target = Arc::new(tempfile::tempdir().unwrap());
    nexus(
        target.path(),
        &["restore", archive.to_str().unwrap()],
        None,
        &[],
    )
    .await
    .ok();
    let copy = spawn_app_in(target.clone()).await;
    let token = copy.admin_token().await;
    for path in [
        "/api/assets/",
        "/api/downtime/",
        "/api/production/",
        "/api/downtime/reasons/",
        "/api/andon/",
        "/api/andon/?open=true&status=open",
    ] {
        let original = json_of(app.get(path, &admin).await).await;
        let restored = json_of(copy.get(path, &token).await).await;
        assert_eq!(original["results"], restored["results"], "{path}");
        assert_eq!(restored["count"], 1, "{path}: {restored}");
    }
    let asset = json_of(
        copy.get(&format!("/api/assets/{}/", line["id"]), &token)
            .await,
    )
    .await;
    assert_eq!(asset["state"], "down", "{asset}");
    let hits = json_of(copy.get("/api/search/?q=feeder", &token).await).await;
    assert_eq!(hits["count"], 1, "{hits}");

    let out = archives.path().join("export.json");
    nexus(
        &data(&app),
        &["export", "--format", "json", "--out", out.to_str().unwrap()],
        None,
        &[],
    )
    .await
    .ok();
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    for kind in [
        "assets",
        "downtime_reasons",
        "downtime",
        "production",
        "andon",
    ] {
        assert_eq!(doc[kind].as_array().map(Vec::len), Some(1), "{kind}: {doc}");
    }
}
