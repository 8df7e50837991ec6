//! Throughput benchmark: the real `omnibridge serve` binary, zero-latency simulated vendors, and
//! one load generator posting N get.chat webhooks over W conversations, 64 in flight. Beside it,
//! in the same run and with the same load, the bare baseline (an axum handler doing one INSERT
//! per webhook on the same database), so every figure reads as a ratio.
//!
//! Prints per database: accepted webhooks/s (bridge and baseline), p99 of the webhook answer
//! while the backlog drains, messages fully synced per second (accept → Inbenta), accept→Inbenta
//! p50/p99, and the bridge process's peak RSS.
//!
//! `cargo bench --bench throughput` (SQLite, and PostgreSQL when reachable at 127.0.0.1:5432).
//! `BENCH_MESSAGES` (default 20000) and `BENCH_CONVERSATIONS` (default 500) change the load.

mod baseline;
mod load;

use omnibridge::sandbox::getchat::GetchatSim;
use omnibridge::sandbox::inbenta::InbentaSim;
use omnibridge::sandbox::settings::{SimChannel, SimInbenta, SimSettings, WorkerKnobs};
use std::time::{Duration, Instant};

const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const SECRET: &str = "bench-secret";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("throughput: run with `cargo bench --bench throughput`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        omnibridge::startup::install_crypto_provider();
        run(None).await;
        let pg_up = {
            use sqlx::Connection;
            sqlx::PgConnection::connect(PG_URL).await.is_ok()
        };
        if pg_up {
            run(Some(uuid::Uuid::new_v4().simple().to_string())).await;
        } else {
            println!("postgres: skipped ({PG_URL} unreachable)");
        }
    });
}

/// One database: the baseline, then the bridge, with the same load.
async fn run(pg_suffix: Option<String>) {
    let label = if pg_suffix.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let messages = env_usize("BENCH_MESSAGES", 20_000);
    let conversations = env_usize("BENCH_CONVERSATIONS", 500);
    let dir = tempfile::tempdir().expect("temp dir");

    let base_schema = pg_suffix.as_ref().map(|s| format!("bench_base_{s}"));
    let base = baseline::start(
        &dir.path().join("baseline.db"),
        base_schema.as_deref().map(|s| (PG_URL, s)),
    )
    .await;
    let (base_elapsed, _, base_latencies) =
        load::post_all(&base.url, messages, conversations).await;
    drop(base);
    let base_rate = messages as f64 / base_elapsed.as_secs_f64();

    let inbenta_sim = InbentaSim::start().await.expect("inbenta sim");
    let getchat_sim = GetchatSim::start().await.expect("get.chat sim");
    let bridge_schema = pg_suffix.as_ref().map(|s| format!("bench_{s}"));
    let db_url = match &bridge_schema {
        None => format!("sqlite://{}", dir.path().join("bench.db").display()),
        Some(_) => PG_URL.to_owned(),
    };
    let port = free_port();
    let config = dir.path().join("bench.toml");
    let toml = bench_settings_toml(&BenchSettings {
        listen: format!("127.0.0.1:{port}"),
        db_url,
        schema: bridge_schema,
        mappings: write_mappings(dir.path()),
        inbenta: &inbenta_sim,
        getchat: &getchat_sim,
    });
    std::fs::write(&config, toml).expect("bench config");
    let mut bridge = start_bridge(&config, port).await;
    let url = format!("http://127.0.0.1:{port}/webhooks/getchat/bench?auth={SECRET}");
    let started = Instant::now();
    let (accept_elapsed, accepted_at, latencies) =
        load::post_all(&url, messages, conversations).await;
    let synced_elapsed = wait_for_sync(&inbenta_sim, messages, started, label).await;
    let peak_rss_kib = peak_rss_kib(bridge.id().expect("bridge pid"));
    let _ = bridge.start_kill();
    let _ = bridge.wait().await;

    let delivery = accept_to_inbenta(&inbenta_sim, &accepted_at);
    let rate = messages as f64 / accept_elapsed.as_secs_f64();
    println!(
        "{label}: {messages} webhooks over {conversations} conversations, {} in flight",
        load::POSTERS
    );
    println!(
        "  accepted   bridge {rate:>7.0}/s   baseline {base_rate:>7.0}/s   ratio {:.0} %",
        100.0 * rate / base_rate
    );
    println!(
        "  answer p99 bridge {:>7.1?}   baseline {:>7.1?}   (p50 {:.1?} / {:.1?})",
        load::quantile(&latencies, 0.99),
        load::quantile(&base_latencies, 0.99),
        load::quantile(&latencies, 0.50),
        load::quantile(&base_latencies, 0.50),
    );
    println!(
        "  synced     {:>7.0} messages/s end to end; accept→Inbenta p50 {:?} p99 {:?}",
        messages as f64 / synced_elapsed.as_secs_f64(),
        load::quantile(&delivery, 0.50),
        load::quantile(&delivery, 0.99),
    );
    println!("  bridge peak RSS {} MiB", peak_rss_kib / 1024);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn write_mappings(dir: &std::path::Path) -> std::path::PathBuf {
    let mappings = dir.join("mappings");
    std::fs::create_dir_all(&mappings).expect("mappings dir");
    std::fs::write(
        mappings.join("routes.toml"),
        "[[route]]\nname = \"default\"\nchannel = \"*\"\n",
    )
    .expect("rules");
    mappings
}

struct BenchSettings<'a> {
    listen: String,
    db_url: String,
    schema: Option<String>,
    mappings: std::path::PathBuf,
    inbenta: &'a InbentaSim,
    getchat: &'a GetchatSim,
}

fn bench_settings_toml(s: &BenchSettings<'_>) -> String {
    SimSettings {
        listen: Some(s.listen.clone()),
        database_url: Some(s.db_url.clone().into()),
        max_connections: Some(16),
        pg_schema: s.schema.clone(),
        worker: WorkerKnobs {
            concurrency: Some(16),
            ..WorkerKnobs::default()
        },
        mappings_dir: Some(s.mappings.clone()),
        inbenta: Some(SimInbenta {
            status_check_interval: Some(Duration::from_secs(3600)),
            ..SimInbenta::new(s.inbenta)
        }),
        channels: vec![SimChannel {
            webhook_secret: Some(SECRET.into()),
            ..SimChannel::getchat("bench", s.getchat)
        }],
        ..SimSettings::default()
    }
    .to_toml()
}

/// The real binary, built by `cargo bench` in the bench profile, ready to take webhooks.
async fn start_bridge(config: &std::path::Path, port: u16) -> tokio::process::Child {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_omnibridge"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("the bridge starts");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ready {
            return child;
        }
        assert!(Instant::now() < deadline, "the bridge did not become ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait until Inbenta holds every message; the time from the first post.
async fn wait_for_sync(
    inbenta_sim: &InbentaSim,
    messages: usize,
    started: Instant,
    label: &str,
) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let synced = inbenta_sim.message_count();
        if synced >= messages {
            return started.elapsed();
        }
        if Instant::now() > deadline {
            println!("{label}: only {synced}/{messages} synced after 10 minutes");
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// For every message on Inbenta, the time from its webhook's 200 to its arrival, sorted.
fn accept_to_inbenta(inbenta_sim: &InbentaSim, accepted_at: &load::AcceptedAt) -> Vec<Duration> {
    let mut latencies = Vec::new();
    for ticket in inbenta_sim.tickets() {
        let items = std::iter::once((ticket.message.clone(), ticket.received_at)).chain(
            ticket
                .replies
                .iter()
                .map(|r| (r.message.clone(), r.received_at)),
        );
        for (html, at) in items {
            let Some(i) = html
                .split("bench#")
                .nth(1)
                .and_then(|rest| rest.split('#').next())
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            let accepted = accepted_at
                .get(i)
                .and_then(|slot| slot.lock().ok().and_then(|s| *s));
            if let Some(accepted) = accepted {
                latencies.push(at.duration_since(accepted).unwrap_or_default());
            }
        }
    }
    latencies.sort();
    latencies
}

/// VmHWM of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
