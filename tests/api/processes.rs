//! Several bridge processes on one PostgreSQL database.

use crate::helpers::{AppOptions, Db, TestEnv, free_port, postgres_available};
use std::time::Duration;

/// How many of this schema's processes have announced themselves (heartbeat rows).
async fn processes_beating(pool: &sqlx::PgPool, schema: &str) -> i64 {
    let query = format!("SELECT COUNT(*) FROM \"{schema}\".bridge_processes");
    sqlx::query_scalar(sqlx::AssertSqlSafe(query))
        .fetch_one(pool)
        .await
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_two_workers_started_at_once_on_a_fresh_schema_all_come_up() {
    if !postgres_available().await {
        return;
    }
    let pool = sqlx::PgPool::connect(crate::helpers::PG_URL)
        .await
        .expect("test pool");
    for trial in 1..=20 {
        let env = TestEnv::new(Db::Postgres, AppOptions::default()).await;
        let schema = env.pg_schema().expect("a PostgreSQL schema").to_owned();
        let listen = format!("127.0.0.1:{}", free_port());
        let mut children: Vec<_> = ["serve", "worker", "worker"]
            .into_iter()
            .map(|command| env.spawn_binary(command, &listen))
            .collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            for (child, log) in &mut children {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = std::fs::read_to_string(log).unwrap_or_default();
                    panic!("trial {trial}: a process died at start ({status}):\n{log}");
                }
            }
            if processes_beating(&pool, &schema).await == 3 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "trial {trial}: the three processes did not all come up"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        for (child, _) in &mut children {
            child.start_kill().expect("stop");
            let _ = child.wait().await;
        }
    }
}
