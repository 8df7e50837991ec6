//! Throughput benchmark: posts N webhooks over W conversations to a running bridge (the real
//! `serve` code path) with zero-latency simulated vendors, and prints accepted webhooks per second,
//! messages fully synced per second, p50/p99 from accept to the Inbenta call, and peak RSS.
//!
//! `cargo bench --bench throughput` (SQLite, and PostgreSQL when reachable at 127.0.0.1:5432).
//! `BENCH_MESSAGES` (default 20000) and `BENCH_CONVERSATIONS` (default 500) change the load.

use omnibridge::sandbox::getchat::GetchatSim;
use omnibridge::sandbox::inbenta::InbentaSim;
use omnibridge::sandbox::settings::{SimChannel, SimInbenta, SimSettings, WorkerKnobs};
use omnibridge::startup::{Application, Mode};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const SECRET: &str = "bench-secret";
const POSTERS: usize = 64;

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
        run("sqlite", None).await;
        let pg_up = {
            use sqlx::Connection;
            sqlx::PgConnection::connect(PG_URL).await.is_ok()
        };
        if pg_up {
            run(
                "postgres",
                Some(format!("bench_{}", uuid::Uuid::new_v4().simple())),
            )
            .await;
        } else {
            println!("postgres: skipped ({PG_URL} unreachable)");
        }
        println!(
            "peak RSS of the whole process (bridge + simulators + load generator): {} MiB",
            peak_rss_kib() / 1024
        );
    });
}

async fn run(label: &str, pg_schema: Option<String>) {
    let messages = env_usize("BENCH_MESSAGES", 20_000);
    let conversations = env_usize("BENCH_CONVERSATIONS", 500);
    let dir = tempfile::tempdir().expect("temp dir");
    let inbenta_sim = InbentaSim::start().await.expect("inbenta sim");
    let getchat_sim = GetchatSim::start().await.expect("get.chat sim");
    let db_url = match &pg_schema {
        None => format!("sqlite://{}", dir.path().join("bench.db").display()),
        Some(_) => PG_URL.to_owned(),
    };
    let mappings = dir.path().join("mappings");
    std::fs::create_dir_all(&mappings).expect("mappings dir");
    std::fs::write(
        mappings.join("routes.toml"),
        "[[route]]\nname = \"default\"\nchannel = \"*\"\n",
    )
    .expect("rules");
    let settings = SimSettings {
        listen: Some("127.0.0.1:0".into()),
        database_url: Some(db_url.into()),
        max_connections: Some(16),
        pg_schema,
        worker: WorkerKnobs {
            concurrency: Some(16),
            ..WorkerKnobs::default()
        },
        mappings_dir: Some(mappings),
        inbenta: Some(SimInbenta {
            status_check_interval: Some(Duration::from_secs(3600)),
            ..SimInbenta::new(&inbenta_sim)
        }),
        channels: vec![SimChannel {
            webhook_secret: Some(SECRET.into()),
            ..SimChannel::getchat("bench", &getchat_sim)
        }],
        ..SimSettings::default()
    }
    .load("bench.toml")
    .expect("bench settings");
    let app = Application::build(settings, Mode::Serve)
        .await
        .expect("bridge starts");
    let url = format!(
        "http://127.0.0.1:{}/webhooks/getchat/bench?auth={SECRET}",
        app.port().expect("port")
    );
    let shutdown = app.shutdown_token();
    let running = tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(POSTERS)
        .build()
        .expect("client");
    let accepted_at: Arc<Vec<std::sync::Mutex<Option<SystemTime>>>> =
        Arc::new((0..messages).map(|_| std::sync::Mutex::new(None)).collect());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut posters = Vec::new();
    for _ in 0..POSTERS {
        let (client, url, next, accepted_at) = (
            client.clone(),
            url.clone(),
            next.clone(),
            accepted_at.clone(),
        );
        posters.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= messages {
                    return;
                }
                let wa_id = format!("49150{:05}", i % conversations);
                let body = serde_json::json!({
                    "contacts": [{ "profile": { "name": "Bench" }, "wa_id": wa_id }],
                    "messages": [{ "from": wa_id, "id": format!("wamid.bench.{i}"),
                        "timestamp": "1700000000", "type": "text", "text": { "body": format!("bench#{i}#") } }]
                });
                let response = client.post(&url).json(&body).send().await.expect("post");
                assert_eq!(response.status(), 200, "webhook refused");
                if let Ok(mut slot) = accepted_at[i].lock() {
                    *slot = Some(SystemTime::now());
                }
            }
        }));
    }
    for poster in posters {
        poster.await.expect("poster");
    }
    let accept_elapsed = started.elapsed();

    let deadline = Instant::now() + Duration::from_secs(600);
    let synced_elapsed = loop {
        let synced = inbenta_sim.message_count();
        if synced >= messages {
            break started.elapsed();
        }
        if Instant::now() > deadline {
            println!("{label}: only {synced}/{messages} synced after 10 minutes");
            break started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let mut latencies = Vec::with_capacity(messages);
    for ticket in inbenta_sim.tickets() {
        let items = std::iter::once((ticket.message.as_str(), ticket.received_at)).chain(
            ticket
                .replies
                .iter()
                .map(|r| (r.message.as_str(), r.received_at)),
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
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{label}: {messages} webhooks over {conversations} conversations | accepted {:.0}/s | synced {:.0}/s | accept→Inbenta p50 {:?} p99 {:?}",
        messages as f64 / accept_elapsed.as_secs_f64(),
        messages as f64 / synced_elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
    );
    shutdown.cancel();
    let _ = running.await;
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
