//! Start-up as an operator sees it, through the real binary: a bad
//! configuration (also an unusable JWT key) or a port in use stops it with
//! one clear line, a capacity above the open-file limit is warned about,
//! and a refused subscription's or channel authorisation's reason reaches
//! the debug log, without the token.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn clarion() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clarion"));
    // No drain pause or spread: a stopped server exits at once.
    cmd.env_clear()
        .env("RUST_LOG", "info")
        .env("CLARION_DRAIN_PAUSE", "0")
        .env("CLARION_DRAIN_SPREAD", "0");
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
fn an_unusable_jwt_key_stops_start_up_with_one_line() {
    let private = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/jwt/rsa-private.pem"
    );
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("CLARION_AUTH_JWT_PUBLIC_KEY", private)],
            "holds a private key",
        ),
        (
            &[(
                "CLARION_AUTH_JWT_PUBLIC_KEY",
                "/nonexistent/clarion-jwt.pem",
            )],
            "auth.jwt_public_key: cannot read /nonexistent/clarion-jwt.pem",
        ),
        (
            &[
                ("CLARION_AUTH_JWT_SECRET", "jwt"),
                ("CLARION_AUTH_JWT_PUBLIC_KEY", private),
            ],
            "set jwt_secret or jwt_public_key, not both",
        ),
        (
            &[
                ("CLARION_AUTH_JWT_SECRET", "jwt"),
                ("CLARION_AUTH_JWT_ALGORITHM", "none"),
            ],
            "CLARION_AUTH_JWT_ALGORITHM",
        ),
    ];
    for (env, reason) in cases {
        let out = clarion()
            .env("REVERB_APP_ID", "1")
            .env("REVERB_APP_KEY", "key")
            .env("REVERB_APP_SECRET", "secret")
            .envs(env.iter().copied())
            .output()
            .expect("run clarion");
        assert_eq!(out.status.code(), Some(2), "{env:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(lines[0].contains(reason), "{stderr}");
    }
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
    let mut child = spawn_server(&[("CLARION_MAX_CONNECTIONS", "100000000")]);
    let lines = stderr_lines(&mut child);
    let warning = wait_for_line(&lines, "open-file limit");
    let _ = child.kill();
    let _ = child.wait();
    assert!(warning.contains("WARN"), "{warning}");
}

/// Starts the binary on a free loopback port with `env` added, stderr piped.
fn spawn_server(env: &[(&str, &str)]) -> std::process::Child {
    spawn_server_with(&[], env)
}

/// Like [`spawn_server`], with extra command-line arguments.
fn spawn_server_with(args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    clarion()
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn clarion")
}

/// Reads the child's stderr on a thread and forwards each line.
fn stderr_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects a WebSocket to the development app at `addr` and waits for
/// `pusher:connection_established`; returns the socket and its socket id.
async fn connect(addr: &str) -> (Ws, String) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;

    let url = format!("ws://{addr}/app/app-key?protocol=7");
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .expect("connect in time")
    .expect("connect");
    let hello = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("a first frame in time");
    let Some(Ok(Message::Text(hello))) = hello else {
        panic!("no connection_established: {hello:?}");
    };
    let hello: serde_json::Value = serde_json::from_str(&hello).expect("json");
    assert_eq!(hello["event"], "pusher:connection_established");
    let data: serde_json::Value =
        serde_json::from_str(hello["data"].as_str().expect("data")).expect("json");
    let socket_id = data["socket_id"].as_str().expect("socket_id").to_owned();
    (ws, socket_id)
}

/// Waits up to 10 s for a line containing `needle`; returns it.
fn wait_for_line(lines: &std::sync::mpsc::Receiver<String>, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no line with {needle:?} in {seen:#?}");
}

#[tokio::test]
async fn refusal_reasons_reach_the_debug_log() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let mut child = spawn_server(&[("RUST_LOG", "clarion=debug")]);
    let lines = stderr_lines(&mut child);
    let listening = wait_for_line(&lines, "listening on");
    let addr = listening
        .rsplit("listening on ")
        .next()
        .expect("an address")
        .trim();
    let (mut ws, _socket_id) = connect(addr).await;
    let wrong =
        r#"{"event":"pusher:subscribe","data":{"channel":"private-orders","auth":"app-key:0000"}}"#;
    ws.send(Message::text(wrong)).await.expect("send");
    let sent_to_client = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("an answer in time");
    assert!(matches!(sent_to_client, Some(Ok(Message::Text(t))) if t.contains("4009")));
    let line = wait_for_line(&lines, "subscription refused");
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("private-orders"), "{line}");
    assert!(
        line.contains("channel auth refused: auth signature does not match"),
        "{line}"
    );
    assert!(!line.contains("app-secret"), "no secret in the log: {line}");
}

#[test]
fn auth_endpoint_refusals_reach_the_debug_log_without_the_token() {
    use std::io::{Read, Write};

    let mut child = spawn_server(&[
        ("RUST_LOG", "clarion=debug"),
        ("REVERB_APP_ID", "app-id"),
        ("REVERB_APP_KEY", "app-key"),
        ("REVERB_APP_SECRET", "app-secret"),
        ("CLARION_AUTH_JWT_SECRET", "jwt-secret"),
    ]);
    let lines = stderr_lines(&mut child);
    let listening = wait_for_line(&lines, "listening on");
    let addr = listening
        .rsplit("listening on ")
        .next()
        .expect("an address")
        .trim()
        .to_owned();
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.bm90LWEtc2lnbmF0dXJl";
    let body = "socket_id=1.2&channel_name=private-a";
    let request = format!(
        "POST /app/app-key/auth HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(&addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    let line = wait_for_line(&lines, "channel authorisation refused");
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("Invalid token"), "{line}");
    for secret in [token, "jwt-secret", "app-secret"] {
        assert!(!line.contains(secret), "{secret} in the log: {line}");
    }
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_and_carry_the_connection() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let mut child = spawn_server_with(&["--log-format", "json"], &[("RUST_LOG", "clarion=debug")]);
    let lines = stderr_lines(&mut child);
    let listening = wait_for_line(&lines, "listening on");
    let line: serde_json::Value = serde_json::from_str(&listening).expect("a JSON line");
    let message = line["fields"]["message"].as_str().expect("a message");
    let addr = message.trim_start_matches("listening on ").to_owned();
    let (mut ws, socket_id) = connect(&addr).await;
    let wrong =
        r#"{"event":"pusher:subscribe","data":{"channel":"private-x","auth":"app-key:00"}}"#;
    ws.send(Message::text(wrong)).await.expect("send");
    let refused = wait_for_line(&lines, "subscription refused");
    let _ = child.kill();
    let _ = child.wait();
    let refused: serde_json::Value = serde_json::from_str(&refused).expect("a JSON line");
    assert_eq!(refused["level"], "DEBUG", "{refused}");
    assert_eq!(refused["span"]["name"], "connection", "{refused}");
    assert_eq!(
        refused["span"]["socket_id"],
        socket_id.as_str(),
        "{refused}"
    );
    assert_eq!(refused["span"]["app_id"], "1000", "{refused}");
}

#[test]
fn an_unknown_log_format_stops_start_up_with_one_line() {
    let out = clarion()
        .env("CLARION_LOG_FORMAT", "xml")
        .output()
        .expect("run clarion");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("CLARION_LOG_FORMAT"), "{stderr}");
}

#[test]
fn a_dashboard_without_a_token_stops_start_up_with_one_line() {
    let out = clarion()
        .env("CLARION_DASHBOARD_ENABLED", "true")
        .output()
        .expect("run clarion");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("CLARION_DASHBOARD_TOKEN"), "{stderr}");
}

/// One HTTP/1.1 request to `addr`; the whole response as text.
fn http_get(addr: &str, path_and_headers: &str) -> String {
    use std::io::{Read, Write};

    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let request = format!("GET {path_and_headers}\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

#[test]
fn metrics_on_their_own_port_and_the_dashboard_token_is_never_logged() {
    let token = "dashboard-secret-token";
    let mut child = spawn_server(&[
        ("RUST_LOG", "debug"),
        ("CLARION_METRICS_PORT", "0"),
        ("CLARION_DASHBOARD_ENABLED", "yes"),
        ("CLARION_DASHBOARD_TOKEN", token),
    ]);
    let lines = stderr_lines(&mut child);
    let listening = wait_for_line(&lines, "listening on");
    let metrics_line = wait_for_line(&lines, "metrics on http://");
    let addr = listening
        .rsplit("listening on ")
        .next()
        .expect("an address")
        .trim()
        .to_owned();
    let metrics_addr = metrics_line
        .rsplit("metrics on http://")
        .next()
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .expect("the metrics address")
        .trim()
        .to_owned();
    let scrape = http_get(&metrics_addr, "/metrics HTTP/1.1");
    let main = http_get(&addr, "/metrics HTTP/1.1");
    let page = http_get(&addr, &format!("/dashboard?token={token} HTTP/1.1"));
    let refused = http_get(
        &addr,
        "/dashboard/stream HTTP/1.1\r\nAuthorization: Bearer wrong-token",
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(scrape.starts_with("HTTP/1.1 200"), "{scrape}");
    assert!(
        scrape.contains("clarion_connections{app_id=\"1000\"} 0"),
        "{scrape}"
    );
    assert!(
        main.starts_with("HTTP/1.1 404"),
        "only on its own port: {main}"
    );
    assert!(
        page.starts_with("HTTP/1.1 200"),
        "{}",
        &page[..page.len().min(200)]
    );
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let logged: Vec<String> = lines.try_iter().collect();
    for line in logged.iter().chain([&metrics_line, &listening]) {
        assert!(!line.contains(token), "the token in the log: {line}");
        assert!(!line.contains("wrong-token"), "a token in the log: {line}");
    }
}

#[test]
fn per_core_listeners_refuse_a_port_in_use_and_a_second_server() {
    // Something that did not set SO_REUSEPORT holds the port.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let out = clarion()
        .args(["--host", "127.0.0.1", "--port", &port])
        .env("CLARION_RUNTIME", "per_core")
        .output()
        .expect("run clarion");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    drop(taken);

    // A per-core server holds it: a second one (which would be allowed to
    // join the SO_REUSEPORT group) refuses to start as well.
    let mut first = clarion()
        .args(["--host", "127.0.0.1", "--port", "0"])
        .env("CLARION_RUNTIME", "per_core")
        .env("CLARION_WORKER_THREADS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn clarion");
    let lines = stderr_lines(&mut first);
    let runtimes = wait_for_line(&lines, "runtimes, one per core");
    let listening = wait_for_line(&lines, "listening on");
    let addr = listening
        .rsplit("listening on ")
        .next()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    let port = addr.rsplit(':').next().unwrap_or_default().to_owned();
    let second = clarion()
        .args(["--host", "127.0.0.1", "--port", &port])
        .env("CLARION_RUNTIME", "per_core")
        .output()
        .expect("run clarion");
    let _ = first.kill();
    let _ = first.wait();
    assert!(runtimes.contains("2 runtimes"), "{runtimes}");
    assert_eq!(second.status.code(), Some(1), "{second:?}");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}
