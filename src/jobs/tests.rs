//! The drain queue against real databases: a temp-file SQLite store, and PostgreSQL at
//! 127.0.0.1:5432/test when reachable (skipped with a message otherwise, unless
//! `OMNIBRIDGE_REQUIRE_POSTGRES=1`). Every test runs on its own queue (and, on PostgreSQL, its
//! own schema) and waits for events with a deadline, never a fixed sleep.

use super::drain::RETAIN_FINISHED;
use super::{DrainHandler, DrainQueue, JobError};
use crate::store::{ConnectOptions, Store, now_ms};
use async_trait::async_trait;
use secrecy::SecretString;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const DEADLINE: Duration = Duration::from_secs(10);
const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Clone, Copy, Debug)]
enum Db {
    Sqlite,
    Postgres,
}

/// A fresh store plus what to clean up afterwards.
struct TestDb {
    store: Store,
    queue: String,
    _dir: Option<tempfile::TempDir>,
    pg_schema: Option<String>,
}

async fn open(db: Db, test: &str) -> Option<TestDb> {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let queue = format!("test-{test}-{suffix}");
    match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("jobs.db");
            let url = SecretString::from(format!("sqlite://{}", path.display()));
            let options = ConnectOptions {
                max_connections: 5,
                pg_schema: None,
            };
            let store = Store::connect(&url, &options).await.expect("sqlite store");
            store.migrate().await.expect("migrations");
            Some(TestDb {
                store,
                queue,
                _dir: Some(dir),
                pg_schema: None,
            })
        }
        Db::Postgres => {
            let schema = format!("jobs_{}", &suffix[..16]);
            let options = ConnectOptions {
                max_connections: 5,
                pg_schema: Some(schema.clone()),
            };
            let connected = tokio::time::timeout(
                DEADLINE,
                Store::connect(&SecretString::from(PG_URL), &options),
            )
            .await;
            let store = match connected {
                Ok(Ok(store)) => store,
                Ok(Err(error)) => return skip_postgres(&error.to_string()),
                Err(_) => return skip_postgres("connection timed out"),
            };
            store.migrate().await.expect("migrations");
            Some(TestDb {
                store,
                queue,
                _dir: None,
                pg_schema: Some(schema),
            })
        }
    }
}

fn skip_postgres(reason: &str) -> Option<TestDb> {
    if std::env::var("OMNIBRIDGE_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        panic!("PostgreSQL at {PG_URL} is required but unreachable: {reason}");
    }
    eprintln!("skipping: PostgreSQL at {PG_URL} is unreachable ({reason})");
    None
}

impl TestDb {
    async fn cleanup(self) {
        if let (Store::Postgres(pool), Some(schema)) = (&self.store, &self.pg_schema) {
            let _ = sqlx::query("DELETE FROM apalis.jobs WHERE job_type = $1")
                .bind(&self.queue)
                .execute(pool)
                .await;
            let _ = sqlx::query("DELETE FROM apalis.workers WHERE worker_type = $1")
                .bind(&self.queue)
                .execute(pool)
                .await;
            let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
            if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(pool).await {
                eprintln!("cleanup: cannot drop schema {schema}: {error}");
            }
        }
        self.store.close().await;
    }

    /// Statuses of this queue's rows in apalis' table.
    async fn statuses(&self) -> Vec<String> {
        match &self.store {
            Store::Sqlite(sqlite) => {
                sqlx::query_scalar("SELECT status FROM Jobs WHERE job_type = $1")
                    .bind(&self.queue)
                    .fetch_all(sqlite.writer())
                    .await
                    .expect("statuses")
            }
            Store::Postgres(pool) => {
                sqlx::query_scalar("SELECT status FROM apalis.jobs WHERE job_type = $1")
                    .bind(&self.queue)
                    .fetch_all(pool)
                    .await
                    .expect("statuses")
            }
        }
    }

    /// Wait until this queue's rows have exactly these statuses (in any order).
    async fn wait_for_statuses(&self, expected: &[&str]) {
        let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        expected.sort();
        let waited = tokio::time::timeout(DEADLINE, async {
            loop {
                let mut now = self.statuses().await;
                now.sort();
                if now == expected {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        let mut now = self.statuses().await;
        now.sort();
        assert!(waited.is_ok(), "statuses {now:?}, expected {expected:?}");
    }

    /// Pretend this queue's finished rows finished 20 minutes ago.
    async fn age_finished_rows(&self) {
        match &self.store {
            Store::Sqlite(sqlite) => {
                sqlx::query("UPDATE Jobs SET done_at = done_at - 1200 WHERE job_type = $1")
                    .bind(&self.queue)
                    .execute(sqlite.writer())
                    .await
                    .expect("age rows");
            }
            Store::Postgres(pool) => {
                sqlx::query(
                    "UPDATE apalis.jobs SET done_at = done_at - interval '20 minutes' \
                     WHERE job_type = $1",
                )
                .bind(&self.queue)
                .execute(pool)
                .await
                .expect("age rows");
            }
        }
    }
}

/// One handler call, as the recorder saw it.
#[derive(Debug, Clone, Copy)]
struct Seen {
    conversation_id: i64,
    at_ms: i64,
}

/// A handler that reports every call, fails for some ids, and can hold calls until released.
struct Recorder {
    seen: mpsc::UnboundedSender<Seen>,
    fail: HashSet<i64>,
    hold: Option<Arc<Semaphore>>,
}

#[async_trait]
impl DrainHandler for Recorder {
    async fn drain(&self, conversation_id: i64) -> anyhow::Result<()> {
        let _ = self.seen.send(Seen {
            conversation_id,
            at_ms: now_ms(),
        });
        if let Some(hold) = &self.hold {
            hold.acquire().await?.forget();
        }
        if self.fail.contains(&conversation_id) {
            anyhow::bail!("vendor said no");
        }
        Ok(())
    }
}

/// A running worker and the channel its handler reports to.
struct Running {
    queue: DrainQueue,
    cancel: CancellationToken,
    worker: JoinHandle<Result<(), JobError>>,
    seen: mpsc::UnboundedReceiver<Seen>,
}

async fn start(db: &TestDb, fail: &[i64], hold: Option<Arc<Semaphore>>) -> Running {
    let queue = DrainQueue::setup(&db.store, &db.queue)
        .await
        .expect("setup");
    let (tx, seen) = mpsc::unbounded_channel();
    let handler = Arc::new(Recorder {
        seen: tx,
        fail: fail.iter().copied().collect(),
        hold,
    });
    let cancel = CancellationToken::new();
    let worker = tokio::spawn(queue.clone().run(handler, 4, cancel.clone()));
    Running {
        queue,
        cancel,
        worker,
        seen,
    }
}

impl Running {
    /// Wait until every id in `ids` reached the handler; returns the calls seen meanwhile.
    async fn expect(&mut self, ids: &[i64]) -> Vec<Seen> {
        let mut missing: HashSet<i64> = ids.iter().copied().collect();
        let mut all = Vec::new();
        while !missing.is_empty() {
            let next = tokio::time::timeout(DEADLINE, self.seen.recv()).await;
            match next {
                Ok(Some(seen)) => {
                    missing.remove(&seen.conversation_id);
                    all.push(seen);
                }
                Ok(None) => panic!("handler channel closed while waiting for {missing:?}"),
                Err(_) => panic!("conversations {missing:?} never reached the handler"),
            }
        }
        all
    }

    /// Calls that already arrived and were not consumed by [`Running::expect`].
    fn drain_seen(&mut self) -> Vec<Seen> {
        let mut all = Vec::new();
        while let Ok(seen) = self.seen.try_recv() {
            all.push(seen);
        }
        all
    }

    async fn stop(self) {
        self.cancel.cancel();
        let stopped = tokio::time::timeout(DEADLINE, self.worker).await;
        let joined = stopped.expect("worker did not stop after cancel");
        joined
            .expect("worker task panicked")
            .expect("worker failed");
    }
}

async fn push_committed(db: &TestDb, queue: &DrainQueue, ids: &[i64]) {
    let mut tx = db.store.begin().await.expect("begin");
    queue.push_in_tx(&mut tx, ids).await.expect("push");
    tx.commit().await.expect("commit");
}

// --- scenarios -------------------------------------------------------------------------------

async fn committed_push_reaches_handler(db: &TestDb) {
    // Setting up twice is harmless.
    DrainQueue::setup(&db.store, &db.queue)
        .await
        .expect("first setup");
    let mut running = start(db, &[], None).await;
    push_committed(db, &running.queue, &[11, 12]).await;
    running.expect(&[11, 12]).await;
    db.wait_for_statuses(&["Done", "Done"]).await;
    running.stop().await;
}

async fn rolled_back_push_never_runs(db: &TestDb) {
    let mut running = start(db, &[], None).await;
    let mut tx = db.store.begin().await.expect("begin");
    running
        .queue
        .push_in_tx(&mut tx, &[21])
        .await
        .expect("push");
    drop(tx); // rolls back
    assert!(
        db.statuses().await.is_empty(),
        "a rolled-back job left a row"
    );
    // A committed job pushed afterwards runs; the rolled-back one never does.
    push_committed(db, &running.queue, &[22]).await;
    let mut seen = running.expect(&[22]).await;
    db.wait_for_statuses(&["Done"]).await;
    seen.extend(running.drain_seen());
    assert!(
        seen.iter().all(|s| s.conversation_id != 21),
        "rolled-back job ran: {seen:?}"
    );
    running.stop().await;
}

async fn push_at_waits_until_its_time(db: &TestDb) {
    let mut running = start(db, &[], None).await;
    let run_at = now_ms() + 1000;
    running.queue.push_at(31, run_at).await.expect("push_at");
    let seen = running.expect(&[31]).await;
    assert!(
        seen[0].at_ms >= run_at,
        "ran {} ms before its time",
        run_at - seen[0].at_ms
    );
    running.stop().await;
}

async fn a_job_pushed_to_an_idle_worker_is_picked_up(db: &TestDb) {
    let mut running = start(db, &[], None).await;
    // The scenario is the idle time: apalis' own poll timer stopped waking after ~0.5 s.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pushed = now_ms();
    push_committed(db, &running.queue, &[35]).await;
    let seen = running.expect(&[35]).await;
    assert!(
        seen[0].at_ms - pushed < 2_000,
        "picked up {} ms after the push",
        seen[0].at_ms - pushed
    );
    running.stop().await;
}

async fn cancel_lets_the_in_flight_job_finish(db: &TestDb) {
    let hold = Arc::new(Semaphore::new(0));
    let mut running = start(db, &[], Some(hold.clone())).await;
    push_committed(db, &running.queue, &[41]).await;
    running.expect(&[41]).await;
    running.cancel.cancel();
    // The handler is still running: the worker must wait for it.
    let early = tokio::time::timeout(Duration::from_millis(300), &mut running.worker).await;
    assert!(early.is_err(), "worker stopped before its job finished");
    hold.add_permits(1);
    let stopped = tokio::time::timeout(DEADLINE, &mut running.worker).await;
    stopped
        .expect("worker did not stop after cancel")
        .expect("worker task panicked")
        .expect("worker failed");
    // The finished job was acknowledged before the worker returned.
    assert_eq!(db.statuses().await, vec!["Done".to_string()]);
}

async fn failed_drain_is_killed_not_retried(db: &TestDb) {
    let mut running = start(db, &[51], None).await;
    push_committed(db, &running.queue, &[51]).await;
    let mut seen = running.expect(&[51]).await;
    db.wait_for_statuses(&["Killed"]).await;
    push_committed(db, &running.queue, &[52]).await;
    seen.extend(running.expect(&[52]).await);
    db.wait_for_statuses(&["Done", "Killed"]).await;
    seen.extend(running.drain_seen());
    let attempts = seen.iter().filter(|s| s.conversation_id == 51).count();
    assert_eq!(attempts, 1, "failed job ran again: {seen:?}");
    running.stop().await;
}

async fn purge_removes_old_finished_rows_only(db: &TestDb) {
    let mut running = start(db, &[], None).await;
    push_committed(db, &running.queue, &[61]).await;
    running.expect(&[61]).await;
    db.wait_for_statuses(&["Done"]).await;
    running
        .queue
        .push_at(62, now_ms() + 3_600_000)
        .await
        .expect("push_at");
    // Recent rows stay.
    assert_eq!(
        running.queue.purge_finished(RETAIN_FINISHED).await.ok(),
        Some(0)
    );
    db.age_finished_rows().await;
    assert_eq!(
        running.queue.purge_finished(RETAIN_FINISHED).await.ok(),
        Some(1)
    );
    db.wait_for_statuses(&["Pending"]).await;
    running.stop().await;
}

async fn cancel_before_any_job_stops_at_once(db: &TestDb) {
    let running = start(db, &[], None).await;
    running.stop().await;
    // A worker cancelled before it ever ran also returns.
    let queue = DrainQueue::setup(&db.store, &db.queue)
        .await
        .expect("setup");
    let (tx, _rx) = mpsc::unbounded_channel();
    let handler = Arc::new(Recorder {
        seen: tx,
        fail: HashSet::new(),
        hold: None,
    });
    let cancel = CancellationToken::new();
    cancel.cancel();
    let stopped = tokio::time::timeout(DEADLINE, queue.run(handler, 1, cancel)).await;
    stopped
        .expect("pre-cancelled worker did not return")
        .expect("worker failed");
}

async fn run(db: Db, test: &str, scenario: impl AsyncFnOnce(&TestDb)) {
    let Some(test_db) = open(db, test).await else {
        return;
    };
    scenario(&test_db).await;
    test_db.cleanup().await;
}

macro_rules! on_both_databases {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::run(super::Db::Sqlite, stringify!($scenario), super::$scenario).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::run(super::Db::Postgres, stringify!($scenario), super::$scenario).await;
            }
        }
    )*};
}

on_both_databases!(
    committed_push_reaches_handler,
    rolled_back_push_never_runs,
    push_at_waits_until_its_time,
    a_job_pushed_to_an_idle_worker_is_picked_up,
    cancel_lets_the_in_flight_job_finish,
    failed_drain_is_killed_not_retried,
    purge_removes_old_finished_rows_only,
    cancel_before_any_job_stops_at_once,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_restarts_after_a_database_failure() {
    let db = open(Db::Sqlite, "restart").await.expect("sqlite");
    let mut running = start(&db, &[], None).await;
    push_committed(&db, &running.queue, &[71]).await;
    running.expect(&[71]).await;
    let Store::Sqlite(sqlite) = &db.store else {
        unreachable!("sqlite store")
    };
    let pool = sqlite.writer();
    // Break apalis' table long enough for the worker's next poll to fail, then repair it.
    sqlx::query("ALTER TABLE Jobs RENAME TO Jobs_away")
        .execute(pool)
        .await
        .expect("rename");
    tokio::time::sleep(Duration::from_millis(500)).await;
    sqlx::query("ALTER TABLE Jobs_away RENAME TO Jobs")
        .execute(pool)
        .await
        .expect("rename back");
    push_committed(&db, &running.queue, &[72]).await;
    running.expect(&[72]).await;
    let workers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM Workers WHERE worker_type = $1")
        .bind(&db.queue)
        .fetch_one(pool)
        .await
        .expect("workers");
    assert!(workers >= 2, "the worker was never restarted");
    running.stop().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_postgres_setups_all_succeed() {
    let mut dbs = Vec::new();
    for i in 0..4 {
        match open(Db::Postgres, &format!("setup{i}")).await {
            Some(db) => dbs.push(db),
            None => return,
        }
    }
    let setups = dbs.iter().map(|db| DrainQueue::setup(&db.store, &db.queue));
    for result in futures::future::join_all(setups).await {
        result.expect("concurrent setup");
    }
    for db in dbs {
        db.cleanup().await;
    }
}
