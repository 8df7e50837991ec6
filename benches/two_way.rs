//! Two-way benchmark against the real `serve` code path and zero-latency simulated vendors:
//! 1. agent answers → WhatsApp messages per second, end to end (answer written in Inbenta → its
//!    webhook → the bridge reads the replies → get.chat `POST messages/`);
//! 2. the time from a customer message whose webhook was missed to its reply on the ticket, healed
//!    by reconciliation with `reconcile_interval = 5s`.
//!
//! `cargo bench --bench two_way` (SQLite). `BENCH_TICKETS` (default 200) and `BENCH_ANSWERS`
//! (default 2000) change the load; `BENCH_MISSED` (default 5) the reconciliation samples.

use omnibridge::sandbox::getchat::{GetchatSim, onprem_text_webhook};
use omnibridge::sandbox::inbenta::InbentaSim;
use omnibridge::sandbox::settings::{SimChannel, SimInbenta, SimSettings, WorkerKnobs};
use omnibridge::startup::{Application, Mode};
use std::time::{Duration, Instant};

const SECRET: &str = "bench-secret";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("two_way: run with `cargo bench --bench two_way`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn run() {
    omnibridge::startup::install_crypto_provider();
    let tickets = env_usize("BENCH_TICKETS", 200);
    let answers = env_usize("BENCH_ANSWERS", 2000);
    let missed = env_usize("BENCH_MISSED", 5);
    let dir = tempfile::tempdir().expect("temp dir");
    let inbenta_sim = InbentaSim::start().await.expect("inbenta sim");
    let getchat_sim = GetchatSim::start().await.expect("get.chat sim");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mappings = dir.path().join("mappings");
    std::fs::create_dir_all(&mappings).expect("mappings dir");
    std::fs::write(
        mappings.join("routes.toml"),
        "[[route]]\nname = \"default\"\nchannel = \"*\"\n",
    )
    .expect("rules");
    let settings = SimSettings {
        listen: Some(format!("127.0.0.1:{port}")),
        public_url: Some(format!("http://127.0.0.1:{port}")),
        database_url: Some(format!("sqlite://{}", dir.path().join("bench.db").display()).into()),
        max_connections: Some(16),
        worker: WorkerKnobs {
            concurrency: Some(16),
            reconcile_interval: Some(Duration::from_secs(5)),
            ..WorkerKnobs::default()
        },
        mappings_dir: Some(mappings),
        inbenta: Some(SimInbenta {
            webhook_secret: Some("bench-hook".into()),
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
    let shutdown = app.shutdown_token();
    let running = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let webhook = format!("http://127.0.0.1:{port}/webhooks/getchat/bench?auth={SECRET}");
    wait_until("webhook registration", Duration::from_secs(30), || {
        !inbenta_sim.webhooks().is_empty()
    })
    .await;

    // Open the tickets.
    for t in 0..tickets {
        let wa_id = format!("49170{t:05}");
        let body = onprem_text_webhook(&wa_id, "Bench", &format!("wamid.open.{t}"), "hello");
        let status = client
            .post(&webhook)
            .json(&body)
            .send()
            .await
            .expect("post")
            .status();
        assert_eq!(status, 200);
    }
    wait_until("tickets opened", Duration::from_secs(120), || {
        inbenta_sim.tickets().len() >= tickets
    })
    .await;
    let ticket_ids: Vec<i64> = inbenta_sim.tickets().iter().map(|t| t.id).collect();

    // 1. Agent answers → WhatsApp.
    let started = Instant::now();
    for a in 0..answers {
        let ticket = ticket_ids[a % ticket_ids.len()];
        inbenta_sim
            .add_agent_answer(ticket, &format!("<p>answer <b>{a}</b></p>"))
            .expect("ticket exists");
    }
    wait_until("answers sent", Duration::from_secs(600), || {
        getchat_sim.sent_messages().len() >= answers
    })
    .await;
    let elapsed = started.elapsed();
    println!(
        "agent answers → WhatsApp: {answers} answers over {} tickets in {:.2}s = {:.0} messages/s end to end",
        ticket_ids.len(),
        elapsed.as_secs_f64(),
        answers as f64 / elapsed.as_secs_f64()
    );

    // 2. Missed inbound webhooks, healed by reconciliation (interval 5 s).
    let mut delays = Vec::new();
    for m in 0..missed {
        let wa_id = format!("49170{:05}", m % tickets);
        let text = format!("missed message {m}");
        let before = inbenta_sim.message_count();
        let written = Instant::now();
        getchat_sim.add_incoming_message(
            &wa_id,
            "Bench",
            &format!("wamid.missed.{m}"),
            &text,
            chrono::Utc::now().timestamp(),
        );
        wait_until(
            "missed message on its ticket",
            Duration::from_secs(60),
            || inbenta_sim.message_count() > before,
        )
        .await;
        delays.push(written.elapsed());
        // Spread the samples over the polling phase.
        tokio::time::sleep(Duration::from_millis(1700)).await;
    }
    delays.sort();
    let mean = delays.iter().sum::<Duration>() / u32::try_from(delays.len().max(1)).unwrap_or(1);
    println!(
        "missed inbound message → ticket reply (reconcile_interval 5s): {} samples, mean {:.2}s, max {:.2}s",
        delays.len(),
        mean.as_secs_f64(),
        delays.last().copied().unwrap_or_default().as_secs_f64()
    );
    shutdown.cancel();
    let _ = running.await;
}
