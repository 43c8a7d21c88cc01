//! `framebreak sim serve`, run as a user runs it: it prints where it
//! listens, answers the OpenAI-compatible Videos API over 127.0.0.1, and
//! stops when killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 exchange; returns the status and the body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, Vec<u8>) {
    http_with(addr, method, path, body, "")
}

/// One HTTP/1.1 exchange with `extra` header lines (each ending `\r\n`).
fn http_with(addr: &str, method: &str, path: &str, body: &str, extra: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer sk-test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status");
    (status, raw[split + 4..].to_vec())
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

/// Starts `framebreak sim serve` on a free port with `extra` flags; the
/// server and the address it printed.
fn serve(extra: &[&str]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_framebreak"))
        .args([
            "sim",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--profile",
            "strong",
            "--latency",
            "0ms",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start framebreak");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(line.contains("(profile strong)"), "{line}");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("an address")
        .to_owned();
    (server, addr)
}

#[test]
fn serves_a_job_end_to_end_over_loopback_and_stops_when_killed() {
    let (server, addr) = serve(&[]);

    let (status, body) = http(
        &addr,
        "POST",
        "/v1/videos",
        r#"{"model":"sim","prompt":"a pendulum swings in a hall","seconds":"1","size":"96x64","seed":5}"#,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let id = json(&body)["id"].as_str().unwrap().to_owned();

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http(&addr, "GET", &format!("/v1/videos/{id}"), "");
        assert_eq!(status, 200);
        let v = json(&body);
        if v["status"] == "completed" {
            assert_eq!(
                (v["size"].as_str(), v["seconds"].as_str()),
                (Some("96x64"), Some("1"))
            );
            break;
        }
        assert!(Instant::now() < deadline, "not completed in 30 s: {v}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, mp4) = http(
        &addr,
        "GET",
        &format!("/v1/videos/{id}/content?variant=video"),
        "",
    );
    assert_eq!(status, 200);
    assert_eq!(&mp4[4..8], b"ftyp");
    let (status, truth) = http(&addr, "GET", &format!("/v1/videos/{id}/truth"), "");
    assert_eq!(status, 200);
    let truth = json(&truth);
    assert_eq!(
        (truth["scene"].as_str(), truth["frames"].as_u64()),
        (Some("pendulum"), Some(24))
    );

    let (status, body) = http(
        &addr,
        "POST",
        "/v1/videos",
        r#"{"prompt":"x","size":"97x64"}"#,
    );
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).contains("width"),
        "{}",
        String::from_utf8_lossy(&body)
    );

    drop(server);
    assert!(
        TcpStream::connect(&addr).is_err(),
        "still listening after being killed"
    );
}

#[test]
fn an_address_in_use_is_named_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_framebreak"))
        .args(["sim", "serve", "--addr", &addr])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches(addr.as_str()).count(), 1, "{err}");
    assert_eq!(err.matches("in use").count(), 1, "{err}");
}

#[test]
fn bad_flags_are_usage_errors_naming_the_flag() {
    for (flag, value, needle) in [
        ("--faults", "hang=2", "--faults"),
        ("--profile", "/nonexistent/profile.toml", "--profile"),
        ("--latency", "soon", "--latency"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_framebreak"))
            .args(["sim", "serve", "--addr", "127.0.0.1:0", flag, value])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn a_journal_keeps_jobs_and_keys_across_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("sim.jsonl");
    let journal_arg = journal.to_str().unwrap();
    let submit = r#"{"prompt":"a pendulum swings in a hall","seconds":"1","size":"96x64"}"#;
    let key = "Idempotency-Key: run-1:job-1\r\n";

    let (server, addr) = serve(&["--journal", journal_arg]);
    let (status, body) = http_with(&addr, "POST", "/v1/videos", submit, key);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let id = json(&body)["id"].as_str().unwrap().to_owned();
    // `Child::kill` is SIGKILL: no shutdown code runs.
    drop(server);

    let (_server, addr) = serve(&["--journal", journal_arg]);
    let (status, body) = http_with(&addr, "POST", "/v1/videos", submit, key);
    assert_eq!(status, 200);
    assert_eq!(
        json(&body)["id"],
        id.as_str(),
        "the key answers the same job"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while json(&http(&addr, "GET", &format!("/v1/videos/{id}"), "").1)["status"] != "completed" {
        assert!(
            Instant::now() < deadline,
            "the replayed job never completed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, stats) = http(&addr, "GET", "/v1/stats", "");
    assert_eq!(status, 200);
    let stats = json(&stats);
    assert_eq!(
        (
            stats["submissions"].as_u64(),
            stats["duplicate_submissions"].as_u64()
        ),
        (Some(1), Some(1)),
        "{stats}"
    );

    let not_a_journal = dir.path().join("notes.txt");
    std::fs::write(&not_a_journal, "shopping list\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_framebreak"))
        .args(["sim", "serve", "--addr", "127.0.0.1:0", "--journal"])
        .arg(&not_a_journal)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--journal") && err.contains("line 1"), "{err}");
}
