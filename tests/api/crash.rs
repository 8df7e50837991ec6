//! The real binary killed with SIGKILL while it works: nothing lost, nothing duplicated, order kept.

use crate::helpers::{AppOptions, Db, TestEnv, WEBHOOK_SECRET, eventually};
use crate::ingest::onprem_text;
use crate::on_both_databases;
use std::time::Duration;
use tokio::process::{Child, Command};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Start `omnibridge serve` and wait until it is ready.
async fn start_binary(env: &TestEnv, port: u16) -> Child {
    let config = env.write_config(&format!("127.0.0.1:{port}"));
    let child = Command::new(env!("CARGO_BIN_EXE_omnibridge"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("the omnibridge binary starts");
    let client = reqwest::Client::new();
    eventually("the binary to be ready", || {
        let client = client.clone();
        async move {
            let response = client
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                .ok()?;
            (response.status() == 200).then_some(())
        }
    })
    .await;
    child
}

on_both_databases!(
    a_kill_minus_9_midway_loses_and_duplicates_nothing,
    |db: Db| async move {
        let env = TestEnv::new(
            db,
            AppOptions {
                max_attempts: 10_000,
                ..AppOptions::default()
            },
        )
        .await;
        // Slow Inbenta down so that work is in flight when the process dies.
        env.inbenta.set_delay(Duration::from_millis(40));
        let port = free_port();
        let mut child = start_binary(&env, port).await;
        let client = reqwest::Client::new();
        const CONVERSATIONS: usize = 3;
        const MESSAGES: usize = 12;
        for m in 0..MESSAGES {
            for c in 0..CONVERSATIONS {
                let body = onprem_text(
                    &format!("49210{c}"),
                    "Kill Test",
                    &format!("wamid.K{c}.{m}"),
                    &format!("step {m}"),
                );
                let response = client
                    .post(format!(
                        "http://127.0.0.1:{port}/webhooks/getchat/sales?auth={WEBHOOK_SECRET}"
                    ))
                    .json(&body)
                    .send()
                    .await
                    .expect("webhook delivered");
                assert_eq!(response.status(), 200);
            }
        }
        // Every webhook was answered 200, so every message is committed. Kill while syncing.
        eventually("some messages synced before the kill", || async {
            let synced: usize = env
                .inbenta
                .tickets()
                .iter()
                .map(|t| 1 + t.replies.len())
                .sum();
            (synced >= 4).then_some(())
        })
        .await;
        child.start_kill().expect("SIGKILL");
        let _ = child.wait().await;
        let synced_at_kill: usize = env
            .inbenta
            .tickets()
            .iter()
            .map(|t| 1 + t.replies.len())
            .sum();
        assert!(
            synced_at_kill < CONVERSATIONS * MESSAGES,
            "the kill came too late to prove anything"
        );

        let mut child = start_binary(&env, port).await;
        let tickets = eventually("every message on its ticket after the restart", || async {
            let tickets = env.inbenta.tickets();
            let synced: usize = tickets.iter().map(|t| 1 + t.replies.len()).sum();
            (synced >= CONVERSATIONS * MESSAGES).then_some(tickets)
        })
        .await;
        assert_eq!(tickets.len(), CONVERSATIONS, "one ticket per conversation");
        for ticket in &tickets {
            assert!(ticket.message.contains("step 0"), "{}", ticket.message);
            assert_eq!(
                ticket.replies.len(),
                MESSAGES - 1,
                "no lost or duplicated reply on ticket {}",
                ticket.id
            );
            for (i, reply) in ticket.replies.iter().enumerate() {
                assert!(
                    reply.message.contains(&format!("step {}", i + 1)),
                    "order kept: {}",
                    reply.message
                );
            }
        }
        child.start_kill().expect("SIGKILL");
        let _ = child.wait().await;
    }
);
