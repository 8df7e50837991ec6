//! The listener under pressure: idle and slow clients, connection limits, bytes in flight.

use crate::helpers::{
    AppOptions, Db, TestApp, TestEnv, WEBHOOK_SECRET, eventually, free_port, spawn_app_with,
    wait_ready,
};
use crate::ingest::onprem_text;
use crate::on_both_databases;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Start `omnibridge serve` with soft and hard open-file limits of `limit`.
async fn start_binary_with_open_files(
    env: &TestEnv,
    port: u16,
    limit: u64,
) -> tokio::process::Child {
    let config = env.write_config(&format!("127.0.0.1:{port}"));
    let log = std::fs::File::create(config.with_extension("log")).expect("log file");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_omnibridge"));
    command
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stderr(log)
        .kill_on_drop(true);
    // SAFETY: setrlimit is async-signal-safe and touches only the child's own limits.
    unsafe {
        command.pre_exec(move || {
            let rlimit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().expect("the omnibridge binary starts");
    wait_ready(port).await;
    child
}

/// Open `n` TCP connections that never send a byte.
async fn idle_sockets(address: &str, n: usize) -> Vec<TcpStream> {
    let mut sockets = Vec::with_capacity(n);
    for _ in 0..n {
        let connect = TcpStream::connect(address);
        let socket = tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .expect("the bridge keeps taking connections (its accept backlog is not full)")
            .expect("connect");
        sockets.push(socket);
    }
    sockets
}

/// How many of `sockets` the server has closed (a read sees end of file or a reset).
fn closed(sockets: &[TcpStream]) -> usize {
    let mut buf = [0u8; 64];
    sockets
        .iter()
        .filter(|s| match s.try_read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        })
        .count()
}

/// `/healthz` answers 200 within `within`, on a new connection.
async fn healthz_answers(address: &str, within: Duration) {
    let client = reqwest::Client::new();
    let response = tokio::time::timeout(within, client.get(format!("{address}/healthz")).send())
        .await
        .expect("/healthz answers in time")
        .expect("/healthz answers");
    assert_eq!(response.status(), 200);
}

/// A webhook posted on a new connection is stored.
async fn webhook_is_stored(address: &str, wamid: &str) {
    let client = reqwest::Client::new();
    let body = onprem_text("4976001", "Pressure", wamid, "still here");
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        client
            .post(format!(
                "{address}/webhooks/getchat/sales?auth={WEBHOOK_SECRET}"
            ))
            .json(&body)
            .send(),
    )
    .await
    .expect("the webhook is answered in time")
    .expect("the webhook is answered");
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["stored"], 1, "{answer}");
}

fn host_port(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// `VmHWM` (peak resident set) of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

const LARGE_BODIES: usize = 32;
/// Characters of text in each large message: a body of about 1.9 MB.
const LARGE_TEXT: usize = 1_900_000;

on_both_databases!(
    large_bodies_at_once_stay_under_the_bytes_in_flight_ceiling,
    |db: Db| async move {
        let env = TestEnv::new(
            db,
            AppOptions {
                server: "max_body_bytes_in_flight = 8388608",
                ..AppOptions::default()
            },
        )
        .await;
        let port = free_port();
        let mut child = env.start_serve_binary(port).await;
        let pid = child.id().expect("the binary runs");
        let before = peak_rss_kib(pid);
        let client = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/webhooks/getchat/sales?auth={WEBHOOK_SECRET}");
        let text = "x".repeat(LARGE_TEXT);
        let posts = (0..LARGE_BODIES).map(|i| {
            let body = onprem_text(
                &format!("4977{i:04}"),
                "Large",
                &format!("wamid.LARGE.{i}"),
                &text,
            )
            .to_string();
            let request = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body);
            async move {
                let response = request.send().await.expect("answered");
                let status = response.status().as_u16();
                let answer: serde_json::Value = response.json().await.expect("JSON answer");
                (status, answer)
            }
        });
        let answers = futures::future::join_all(posts).await;
        for (status, answer) in &answers {
            assert_eq!(*status, 200, "{answer}");
            assert_eq!(answer["stored"], 1, "{answer}");
        }
        let peak = peak_rss_kib(pid);
        eprintln!(
            "{db:?}: VmHWM {} KiB at start, {} KiB after {LARGE_BODIES} concurrent bodies of ~1.9 MB",
            before, peak
        );
        let store = env.store().await;
        let counts = store.event_counts().await.expect("event counts");
        assert_eq!(
            counts.pending + counts.done + counts.skipped + counts.failed,
            LARGE_BODIES as i64,
            "{counts:?}"
        );
        store.close().await;
        child.start_kill().expect("SIGKILL");
        let _ = child.wait().await;
        // Measured with this ceiling: 62-71 MiB. Without one (every body at once): 105-126 MiB
        // on SQLite, 153-164 MiB on PostgreSQL (before this bound existed: 109-208 MiB).
        assert!(peak < 90 * 1024, "peak {peak} KiB");
    }
);

on_both_databases!(
    idle_sockets_past_the_connection_limit_close_the_oldest_and_leave_healthz_answering,
    |db: Db| async move {
        let (_env, app) = spawn_app_with(
            db,
            AppOptions {
                // Eviction, not a timeout, must be what closes them.
                server: "max_connections = 50\nheader_read_timeout = \"60s\"",
                ..AppOptions::default()
            },
        )
        .await;
        let sockets = idle_sockets(&host_port(&app), 120).await;
        healthz_answers(&app.address, Duration::from_secs(5)).await;
        webhook_is_stored(&app.address, "wamid.IDLE.1").await;
        eventually(
            "the oldest 70 idle sockets closed by the server",
            || async { (closed(&sockets[..70]) == 70).then_some(()) },
        )
        .await;
        assert!(
            closed(&sockets[100..]) == 0,
            "the newest idle sockets stay open until their deadline"
        );
        let metrics = app
            .client
            .get(format!("{}/metrics", app.address))
            .send()
            .await
            .unwrap();
        let metrics = metrics.text().await.unwrap();
        assert!(
            metrics.contains("omnibridge_connections_closed_total{reason=\"evicted\"}"),
            "{metrics}"
        );
        app.stop().await;
    }
);

on_both_databases!(
    idle_sockets_past_a_low_open_file_limit_do_not_lock_out_healthz_or_webhooks,
    |db: Db| async move {
        // The client side of 400 sockets needs descriptors too.
        omnibridge::http::raise_open_file_limit().expect("raise the test's own limit");
        let env = TestEnv::new(db, AppOptions::default()).await;
        let port = free_port();
        // 256 files: without a connection limit 400 idle sockets exhaust them (accept: EMFILE).
        let mut child = start_binary_with_open_files(&env, port, 256).await;
        let address = format!("127.0.0.1:{port}");
        let sockets = idle_sockets(&address, 400).await;
        let url = format!("http://{address}");
        healthz_answers(&url, Duration::from_secs(5)).await;
        webhook_is_stored(&url, "wamid.FDS.1").await;
        assert!(closed(&sockets) >= 200, "idle sockets were evicted");
        child.start_kill().expect("SIGKILL");
        let _ = child.wait().await;
    }
);

/// Send raw bytes on a new connection.
async fn send_raw(address: &str, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    stream
}

/// Read until the server closes the connection; panics past `within`.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the server did not close the connection within {within:?}"
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// Read one response (head and `Content-Length` body) without waiting for the connection to close.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if out.len() >= end + 4 + length {
                return text;
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("a response in time")
            .expect("read");
        assert!(n > 0, "closed before a whole response: {text}");
        out.extend_from_slice(&buf[..n]);
    }
}

/// Every connection deadline at one second.
fn slow() -> AppOptions {
    AppOptions {
        server: "body_read_timeout = \"1s\"\nheader_read_timeout = \"1s\"\nidle_timeout = \"1s\"",
        ..AppOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_answered_408_in_json_and_closed_at_the_body_timeout() {
    let (_env, app) = spawn_app_with(Db::Sqlite, slow()).await;
    let head = format!(
        "POST /webhooks/getchat/sales?auth={WEBHOOK_SECRET} HTTP/1.1\r\nHost: bridge\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"contacts\": ["
    );
    let started = Instant::now();
    let mut stream = send_raw(&host_port(&app), head.as_bytes()).await;
    let answer = read_to_close(&mut stream, Duration::from_secs(4)).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/json"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("omnibridge_body_refusals_total{reason=\"timeout\"}"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_head_and_a_silent_connection_are_closed_at_the_header_timeout() {
    let (_env, app) = spawn_app_with(Db::Sqlite, slow()).await;
    let started = Instant::now();
    let mut partial = send_raw(
        &host_port(&app),
        b"POST /webhooks/getchat/sales HTTP/1.1\r\nHost: b",
    )
    .await;
    let mut silent = send_raw(&host_port(&app), b"").await;
    let answer = read_to_close(&mut partial, Duration::from_secs(4)).await;
    assert!(answer.is_empty(), "{answer}");
    read_to_close(&mut silent, Duration::from_secs(4)).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let (_env, app) = spawn_app_with(Db::Sqlite, slow()).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: bridge\r\n\r\n";
    let mut stream = send_raw(&host_port(&app), request).await;
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    // Kept alive: a second request on the same connection is answered.
    stream.write_all(request).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    let idle_from = Instant::now();
    let rest = read_to_close(&mut stream, Duration::from_secs(4)).await;
    assert!(rest.is_empty(), "{rest}");
    let idled = idle_from.elapsed();
    assert!(
        idled >= Duration::from_millis(900),
        "closed after {idled:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_finishes_the_request_in_flight_and_closes_idle_connections() {
    let (_env, app) = spawn_app_with(
        Db::Sqlite,
        AppOptions {
            server: "body_read_timeout = \"10s\"\nheader_read_timeout = \"30s\"",
            ..AppOptions::default()
        },
    )
    .await;
    let address = host_port(&app);
    let _idle = idle_sockets(&address, 5).await;
    let body = onprem_text("4976002", "Stop", "wamid.STOP.1", "in flight").to_string();
    let (first, second) = body.split_at(body.len() / 2);
    let head = format!(
        "POST /webhooks/getchat/sales?auth={WEBHOOK_SECRET} HTTP/1.1\r\nHost: bridge\r\n\
         Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut in_flight = send_raw(&address, head.as_bytes()).await;
    // 100 Continue: the bridge is reading this request's body when the stop begins.
    let proceed = read_response(&mut in_flight).await;
    assert!(proceed.starts_with("HTTP/1.1 100"), "{proceed}");
    in_flight.write_all(first.as_bytes()).await.unwrap();
    let started = Instant::now();
    let stopping = tokio::spawn(app.stop());
    in_flight.write_all(second.as_bytes()).await.unwrap();
    let answer = read_response(&mut in_flight).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"stored\":1"), "{answer}");
    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("the app stops without waiting for idle connections")
        .expect("stop task");
    assert!(started.elapsed() < Duration::from_secs(5));
}
