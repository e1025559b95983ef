//! Start-up as an operator sees it, through the real binary: a bad
//! configuration or a port in use stops it with one clear line, and a
//! capacity above the open-file limit is warned about.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn clarion() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clarion"));
    cmd.env_clear().env("RUST_LOG", "info");
    cmd
}

#[test]
fn a_bad_configuration_stops_start_up_with_one_line() {
    let out = clarion()
        .env("REVERB_APP_ID", "1")
        .env("REVERB_APP_KEY", "key")
        .env("REVERB_SERVER_PORT", "not-a-port")
        .output()
        .expect("run clarion");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("REVERB_SERVER_PORT"), "{stderr}");
}

#[test]
fn a_port_in_use_stops_start_up_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let out = clarion()
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .output()
        .expect("run clarion");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn capacity_above_the_file_limit_is_warned_about() {
    let mut child = clarion()
        .args(["--host", "127.0.0.1", "--port", "0"])
        .env("CLARION_MAX_CONNECTIONS", "100000000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn clarion");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let done = line.contains("listening on");
            seen.push(line);
            if done {
                break;
            }
        }
        let _ = tx.send(seen);
    });
    let seen = rx.recv_timeout(Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    let seen = seen.expect("the server started");
    assert!(
        seen.iter()
            .any(|l| l.contains("WARN") && l.contains("open-file limit")),
        "{seen:#?}"
    );
}
