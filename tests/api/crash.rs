//! The real binary killed with SIGKILL while it works: nothing lost, nothing duplicated, order kept.

use crate::helpers::{AppOptions, Db, TestEnv, WEBHOOK_SECRET, eventually, free_port};
use crate::ingest::onprem_text;
use crate::on_both_databases;
use std::time::Duration;

const CONVERSATIONS: usize = 3;
const MESSAGES: usize = 12;

/// Post a burst over three conversations to the running binary, then SIGKILL it while it syncs.
async fn kill_midway(env: &TestEnv, port: u16) {
    // Slow Inbenta down so that work is in flight when the process dies.
    env.inbenta.set_delay(Duration::from_millis(40));
    let mut child = env.start_serve_binary(port).await;
    let client = reqwest::Client::new();
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
        (synced(env) >= 4).then_some(())
    })
    .await;
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
    assert!(
        synced(env) < CONVERSATIONS * MESSAGES,
        "the kill came too late to prove anything"
    );
}

fn synced(env: &TestEnv) -> usize {
    env.inbenta
        .tickets()
        .iter()
        .map(|t| 1 + t.replies.len())
        .sum()
}

/// Restart the binary and wait (at most the `eventually` deadline) for every message, once, in order.
async fn restart_and_expect_everything(env: &TestEnv, port: u16) {
    let mut child = env.start_serve_binary(port).await;
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
        let port = free_port();
        kill_midway(&env, port).await;
        restart_and_expect_everything(&env, port).await;
    }
);

on_both_databases!(
    a_restart_after_a_kill_delivers_in_flight_conversations_in_seconds_not_after_the_lease,
    |db: Db| async move {
        // Five-minute leases (the default): waiting for them to expire would blow the
        // 20-second deadline of `restart_and_expect_everything` many times over.
        let env = TestEnv::new(
            db,
            AppOptions {
                max_attempts: 10_000,
                lease_ttl: std::time::Duration::from_secs(300),
                ..AppOptions::default()
            },
        )
        .await;
        let port = free_port();
        kill_midway(&env, port).await;
        let restarted = std::time::Instant::now();
        restart_and_expect_everything(&env, port).await;
        eprintln!(
            "in-flight conversations delivered {:?} after the restart",
            restarted.elapsed()
        );
    }
);
