//! Disk trouble (issue 7): a full disk makes writes answer 503 while reads go on, and writes
//! resume without a restart once space returns; a read-only data directory fails at start with
//! one line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

/// A small tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `mib` MiB, or `None` when this process may not mount (not root).
    fn mount(mib: u32) -> Option<SmallDisk> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("SKIPPED: mounting a small filesystem needs root (CI runs as root)");
            return None;
        }
        let dir = tempfile::tempdir().expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "root could not mount a tmpfs");
        Some(SmallDisk { dir })
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Writes a file that takes every byte still free (the search index may be writing at the
    /// same time, so it writes until the disk refuses); returns its path.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.dir.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        let chunk = vec![1u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
        path
    }

    fn resize(&self, mib: u32) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={mib}m")])
            .arg(self.dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "remount");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Text that does not compress to nothing, so the disk really fills.
fn filler(i: usize) -> String {
    let mut x = i as u64 * 2_654_435_761 + 1;
    (0..19_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_503_keeps_reads_and_recovers_without_restart() {
    let Some(disk) = SmallDisk::mount(24) else {
        return;
    };
    let data = disk.path();
    let app = spawn_app_with(|c| {
        c.server.data_dir = data.clone();
        c.server.min_free_disk_mb = 8;
    })
    .await;
    let token = app.admin_token().await;
    let mut written: Vec<Value> = Vec::new();
    let mut refusal = None;
    for i in 0..2_000 {
        let r = app
            .post(
                "/api/activities/",
                Some(&token),
                &json!({"title": format!("Filler {i}"), "description": filler(i)}),
            )
            .await;
        match r.status() {
            StatusCode::CREATED => written.push(json_of(r).await),
            StatusCode::SERVICE_UNAVAILABLE => {
                refusal = Some(json_of(r).await);
                break;
            }
            other => panic!(
                "write {i} answered {other}: {}",
                r.text().await.unwrap_or_default()
            ),
        }
    }
    let refusal = refusal.expect("the disk filled up and a write was refused");
    // Background work (the search index merging segments) frees and takes space on its own;
    // a filler file holds the disk full while reads are checked.
    let filler_file = disk.fill();
    assert_eq!(refusal["error"]["code"], "unavailable", "{refusal}");
    let message = refusal["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("disk"), "a clear reason: {message}");
    assert!(
        written.len() > 10,
        "some writes went in first: {}",
        written.len()
    );

    // Reads go on: every acknowledged activity is there, whole; lists work.
    for a in &written {
        let r = app
            .get(&format!("/api/activities/{}/", a["id"]), &token)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(&json_of(r).await, a);
    }
    let r = app.get("/api/activities/?page_size=5", &token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_of(r).await["count"], written.len());
    // Readiness says why.
    let r = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json_of(r).await;
    assert!(
        body["checks"]["database"]
            .as_str()
            .unwrap_or_default()
            .contains("disk"),
        "{body}"
    );

    let r = app
        .post(
            "/api/activities/",
            Some(&token),
            &json!({"title": "Refused"}),
        )
        .await;
    assert_error(r, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;

    // Space returns: writes go through again, without a restart, and are searchable.
    std::fs::remove_file(filler_file).expect("remove filler");
    disk.resize(96);
    let deadline = Instant::now() + Duration::from_secs(10);
    let created = loop {
        let r = app
            .post(
                "/api/activities/",
                Some(&token),
                &json!({"title": "Recovered spindle alignment"}),
            )
            .await;
        if r.status() == StatusCode::CREATED {
            break json_of(r).await;
        }
        assert!(
            Instant::now() < deadline,
            "writes did not resume: {}",
            r.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let r = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = app.get("/api/search/?q=spindle", &token).await;
        assert_eq!(r.status(), StatusCode::OK);
        let found = json_of(r).await;
        let hit = found["results"]
            .as_array()
            .is_some_and(|rs| rs.iter().any(|h| h["id"] == created["id"]));
        if hit {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "search did not catch up: {found}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(app);
}

fn nexus_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_nexus"))
}

#[tokio::test]
async fn a_read_only_data_directory_fails_at_start_with_one_line() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: a read-only mount needs root (CI runs as root)");
        return;
    }
    // A data directory that exists, with a database in it, on a filesystem mounted read-only:
    // root ignores permission bits, so only a read-only mount really stops writes.
    let disk = SmallDisk::mount(16).expect("root mounts");
    let data = disk.path().join("data");
    let mut app = spawn_app_with(|c| {
        c.server.data_dir = data.clone();
        c.server.min_free_disk_mb = 0;
    })
    .await;
    app.stop().await.expect("clean stop");
    drop(app);
    let status = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(disk.path())
        .status()
        .expect("remount");
    assert!(status.success());
    let out = Command::new(nexus_binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("NEXUS_LOG__LEVEL", "warn")
        .env("NEXUS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .output()
        .expect("run nexus serve");
    assert!(
        !out.status.success(),
        "a read-only data directory must not start"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0].to_lowercase().contains("read-only"),
        "says why: {}",
        lines[0]
    );
}
