//! systemd's readiness protocol (`Type=notify` in packaging/nexus.service): `READY=1` once the
//! listener is bound and first start is done, `STOPPING=1` when a stop begins.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use crate::process::{Running, nexus};

/// The next notification on `socket`, as text.
fn next_notification(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).expect("a notification in time");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn the_server_tells_systemd_when_it_is_ready_and_when_it_stops() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("notify socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut cmd = nexus(&dir.path().join("data"));
    cmd.env("NOTIFY_SOCKET", &path);
    // `start` returns once /readyz answers; readiness was announced before the first accept.
    let running = Running::start(cmd);
    assert_eq!(next_notification(&socket), "READY=1\n");
    assert_eq!(running.terminate(), 0, "clean exit on SIGTERM");
    assert_eq!(next_notification(&socket), "STOPPING=1\n");
}

#[test]
fn a_reload_without_tls_leaves_the_server_running() {
    use rustix::process::{Pid, Signal, kill_process};
    let dir = tempfile::tempdir().expect("temp dir");
    let mut running = Running::start(nexus(&dir.path().join("data")));
    // What `systemctl reload nexus` sends (the unit's ExecReload).
    kill_process(Pid::from_child(&running.child), Signal::HUP).expect("signal nexus");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        running.child.try_wait().expect("wait").is_none(),
        "SIGHUP ended the server"
    );
    let ready = crate::process::blocking::get_status(&format!("{}/readyz", running.base));
    assert_eq!(ready.ok(), Some(reqwest::StatusCode::OK));
    assert_eq!(running.terminate(), 0, "clean exit on SIGTERM afterwards");
}
