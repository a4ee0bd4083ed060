//! SIGUSR1 (`--signal reopen`): the log file is opened again, for log
//! rotation (nats-protocol.md §5, nats-server `ReOpenLogFile`).
//!
//! Every test here passes against the reference nats-server
//! (`NATSWS_TEST_SERVER_BIN`).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{server_bin, Server, TempDir, DEADLINE};

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{sig}");
}

/// Waits until the file at `path` holds a line containing `needle`. The
/// server writes the file, not a pipe, so the test looks again every 10 ms;
/// only the content decides, never the time.
fn wait_for_line(path: &Path, needle: &str) -> String {
    let until = Instant::now() + DEADLINE;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < until,
            "{} never got {needle:?}:\n{text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigusr1_reopens_the_log_file() {
    let dir = TempDir::new();
    let log = dir.0.join("server.log");
    let conf = dir.0.join("server.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: \"127.0.0.1:-1\"\nlog_file: {:?}\n",
            log.display().to_string()
        ),
    )
    .unwrap();
    let mut child = Command::new(server_bin())
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_line(&log, "Server is ready");
    // Rotation: the file is renamed away, then the server is told.
    let rotated = dir.0.join("server.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    signal(child.id(), "USR1");
    let fresh = wait_for_line(&log, "File log re-opened");
    assert!(!fresh.contains("Server is ready"), "{fresh}");
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(
        old.contains("Trapped \"user defined signal 1\" signal"),
        "{old}"
    );
    assert!(!old.contains("File log re-opened"), "{old}");
    signal(child.id(), "INT");
    assert!(child.wait().unwrap().success());
}

#[test]
fn sigusr1_without_a_log_file_is_ignored() {
    let s = Server::start("listen: \"127.0.0.1:-1\"\n");
    signal(s.pid(), "USR1");
    s.expect_log("File log re-open ignored, not a file logger");
}
