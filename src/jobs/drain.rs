//! The "drain conversation X" job: a trigger telling some worker to lease conversation X and
//! process its pending events in order (see `store::conversations`).
//!
//! How it behaves, and why:
//! - **Enqueued in the caller's transaction** ([`DrainQueue::push_in_tx`]): a rolled-back ingest
//!   leaves no trigger, a committed one always has one.
//! - **At most [`MAX_ATTEMPTS`] attempts**: apalis only re-runs a job after a crash (orphaned
//!   rows). Retry state lives in our own tables; a failed drain is logged and completed as
//!   `Killed` (apalis' non-retryable failure) instead of being re-fetched at once, and the sweeper
//!   triggers the conversation again. Durable backoff is [`DrainQueue::push_at`] (`run_after`),
//!   never apalis' `RetryPolicy` or `RetryAfterError` (broken in 1.0.0).
//! - **Fast pick-up**: SQLite polls every [`SQLITE_POLL`]; PostgreSQL listens for apalis'
//!   `NOTIFY` and also polls every [`PG_POLL`], because apalis only notifies for jobs that are due
//!   when inserted (not for `push_at`) and its listener does not reconnect. The poll timer is our
//!   own ([`Ticks`]): apalis' interval strategy stops waking an idle worker.
//! - **Housekeeping**: the worker deletes its queue's finished rows older than
//!   [`RETAIN_FINISHED`] every [`PURGE_EVERY`] (apalis slows down as they pile up).

use super::db;
use crate::store::{Store, StoreError, Tx};
use apalis::prelude::{
    AbortError, BackendExt, Data, Strategy, Task, TaskBuilder, WorkerBuilder, WorkerBuilderExt,
    WorkerContext, WorkerError,
};
use apalis_postgres::{PostgresStorage, Pubsub};
use apalis_sqlite::SqliteStorage;
use async_trait::async_trait;
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Attempts apalis may make at one trigger (only crashes and abandoned rows use more than one).
pub const MAX_ATTEMPTS: usize = 5;
/// How often an idle SQLite worker looks for new jobs.
pub const SQLITE_POLL: Duration = Duration::from_millis(100);
/// How often an idle PostgreSQL worker looks for jobs besides `LISTEN`/`NOTIFY`.
pub const PG_POLL: Duration = Duration::from_millis(500);
/// How often finished rows are purged.
pub const PURGE_EVERY: Duration = Duration::from_secs(60);
/// How long finished rows are kept (for inspection) before they are purged.
pub const RETAIN_FINISHED: Duration = Duration::from_secs(600);
/// First pause before restarting a worker whose backend failed; doubles up to [`MAX_RESTART_DELAY`].
const MIN_RESTART_DELAY: Duration = Duration::from_millis(500);
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the job queue name must not be empty")]
    EmptyQueueName,
    #[error("cannot set up the job queue tables")]
    Setup(#[source] BoxError),
    #[error("cannot enqueue a job")]
    Enqueue(#[source] BoxError),
    #[error("cannot purge finished jobs")]
    Purge(#[source] BoxError),
    #[error("cannot serialise a job")]
    Encode(#[from] serde_json::Error),
    #[error("database error while enqueueing")]
    Store(#[from] StoreError),
}

/// What the drain worker calls for each job.
#[async_trait]
pub trait DrainHandler: Send + Sync + 'static {
    async fn drain(&self, conversation_id: i64) -> anyhow::Result<()>;
}

/// The job: drain this conversation. Stored as JSON in apalis' table; keep it backward
/// compatible (add fields with `#[serde(default)]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainConversation {
    pub conversation_id: i64,
}

impl DrainConversation {
    /// Stable job name, for logs.
    pub const NAME: &'static str = "DrainConversation";
}

/// The queue of "drain conversation" triggers.
#[derive(Clone, Debug)]
pub struct DrainQueue {
    store: Store,
    queue: Arc<str>,
    pg_types: db::PgTypePath,
}

impl DrainQueue {
    /// Set the queue up (apalis migrations) on the app's database. `queue_name` is the queue's
    /// stable name in apalis' table: renaming it orphans pending jobs.
    pub async fn setup(store: &Store, queue_name: &str) -> Result<Self, JobError> {
        if queue_name.trim().is_empty() {
            return Err(JobError::EmptyQueueName);
        }
        let pg_types = match store {
            Store::Sqlite(sqlite) => {
                db::sqlite_setup(sqlite.writer()).await?;
                db::PgTypePath::default()
            }
            Store::Postgres(pool) => db::pg_setup(pool).await?,
        };
        Ok(Self {
            store: store.clone(),
            queue: Arc::from(queue_name),
            pg_types,
        })
    }

    /// The queue's name in apalis' table.
    pub fn queue_name(&self) -> &str {
        &self.queue
    }

    /// Push one trigger per conversation inside the caller's transaction.
    pub async fn push_in_tx(&self, tx: &mut Tx, conversation_ids: &[i64]) -> Result<(), JobError> {
        self.push_on(tx, conversation_ids, None).await
    }

    /// Push a trigger that runs no earlier than `run_at_ms` (unix ms): durable backoff. apalis
    /// schedules in whole seconds, so this rounds up.
    pub async fn push_at(&self, conversation_id: i64, run_at_ms: i64) -> Result<(), JobError> {
        let run_at_secs = u64::try_from(run_at_ms.max(0))
            .unwrap_or_default()
            .div_ceil(1000);
        let mut tx = self.store.begin().await?;
        self.push_on(&mut tx, &[conversation_id], Some(run_at_secs))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn push_on(
        &self,
        tx: &mut Tx,
        conversation_ids: &[i64],
        run_at_secs: Option<u64>,
    ) -> Result<(), JobError> {
        if conversation_ids.is_empty() {
            return Ok(());
        }
        let tasks = conversation_ids
            .iter()
            .map(|&conversation_id| {
                let args = serde_json::to_vec(&DrainConversation { conversation_id })?;
                let builder = TaskBuilder::new(args).max_attempts(MAX_ATTEMPTS);
                let builder = match run_at_secs {
                    Some(secs) => builder.run_at_timestamp(secs),
                    None => builder,
                };
                Ok(builder.build())
            })
            .collect::<Result<Vec<Task<Vec<u8>>>, JobError>>()?;
        match tx {
            Tx::Sqlite(tx) => db::sqlite_push(tx, &self.queue, tasks).await,
            Tx::Postgres(tx) => db::pg_push(tx, &self.pg_types, &self.queue, tasks).await,
        }
    }

    /// Delete this queue's finished rows (done, killed, failed for good) older than `older_than`.
    /// [`DrainQueue::run`] calls it every [`PURGE_EVERY`]; returns the number of rows deleted.
    pub async fn purge_finished(&self, older_than: Duration) -> Result<u64, JobError> {
        match &self.store {
            Store::Sqlite(sqlite) => {
                db::sqlite_purge(sqlite.writer(), &self.queue, older_than).await
            }
            Store::Postgres(pool) => db::pg_purge(pool, &self.queue, older_than).await,
        }
    }

    /// Run the worker until `cancel` fires, `concurrency` jobs at a time (at least one). On
    /// cancellation no new job starts and the in-flight ones finish (and are acknowledged) before
    /// this returns. A backend failure (database unreachable, …) is logged and the worker
    /// restarted with backoff, so this only returns once cancelled.
    pub async fn run(
        self,
        handler: Arc<dyn DrainHandler>,
        concurrency: usize,
        cancel: CancellationToken,
    ) -> Result<(), JobError> {
        let concurrency = concurrency.max(1);
        let purger = tokio::spawn(purge_loop(self.clone(), cancel.clone()));
        let mut delay = MIN_RESTART_DELAY;
        while !cancel.is_cancelled() {
            let worker_name = format!("{}-{}", self.queue, uuid::Uuid::new_v4().simple());
            tracing::info!(queue = %self.queue, worker = %worker_name, concurrency, "Drain worker starting.");
            let handler = HandlerRef(handler.clone());
            let started = Instant::now();
            let result = match &self.store {
                Store::Sqlite(sqlite) => {
                    let config = apalis_sqlite::Config::default()
                        .queue(&*self.queue)
                        .batch_size(concurrency);
                    let backend = SqliteStorage::<serde_json::Value>::new(sqlite.writer())
                        .with_config(config)
                        .poll_with_stream(Ticks::every(SQLITE_POLL));
                    let ctx = WorkerContext::new(&worker_name);
                    let worker = WorkerBuilder::new(&ctx)
                        .backend(backend)
                        .data(handler)
                        .concurrency(concurrency)
                        .build(drain_task);
                    drive(worker.run(), &ctx, &cancel).await
                }
                Store::Postgres(pool) => {
                    let config = apalis_postgres::Config::default()
                        .queue(&*self.queue)
                        .batch_size(concurrency);
                    // Interval first: `Strategy` stops at the first ready strategy, and the
                    // timer must stay armed even if the listener has closed.
                    let strategy = Strategy::new()
                        .stream(Ticks::every(PG_POLL))
                        .stream(Pubsub::new(pool.clone(), self.queue.to_string()));
                    let backend = PostgresStorage::<serde_json::Value>::new(pool)
                        .with_config(config)
                        .poll_with_strategy(strategy);
                    let ctx = WorkerContext::new(&worker_name);
                    let worker = WorkerBuilder::new(&ctx)
                        .backend(backend)
                        .data(handler)
                        .concurrency(concurrency)
                        .build(drain_task);
                    drive(worker.run(), &ctx, &cancel).await
                }
            };
            if cancel.is_cancelled() {
                if let Err(error) = result {
                    tracing::warn!(queue = %self.queue, error = %error, "Drain worker failed while stopping.");
                }
                break;
            }
            match result {
                Ok(()) => {
                    tracing::warn!(queue = %self.queue, "Drain worker stopped by itself; restarting.")
                }
                Err(error) => tracing::error!(
                    queue = %self.queue, error = %error, retry_in = ?delay,
                    "Drain worker failed; restarting."
                ),
            }
            if started.elapsed() > 2 * MAX_RESTART_DELAY {
                // It ran fine for a while: this is a new failure, not a crash loop.
                delay = MIN_RESTART_DELAY;
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(MAX_RESTART_DELAY);
        }
        if let Err(error) = purger.await {
            tracing::warn!(queue = %self.queue, %error, "Purge task ended abnormally.");
        }
        tracing::info!(queue = %self.queue, "Drain worker stopped.");
        Ok(())
    }
}

/// Run a built worker until it ends or `cancel` fires; then stop it gracefully (no new jobs,
/// in-flight ones finish and are acknowledged) and wait for it.
async fn drive<F>(
    run: F,
    ctx: &WorkerContext,
    cancel: &CancellationToken,
) -> Result<(), WorkerError>
where
    F: Future<Output = Result<(), WorkerError>>,
{
    let mut run = std::pin::pin!(run);
    tokio::select! {
        biased;
        result = &mut run => result,
        () = cancel.cancelled() => {
            if ctx.stop().is_err() {
                // Never started, so nothing is in flight.
                return Ok(());
            }
            run.await
        }
    }
}

/// The poll timer of a drain worker. apalis' own interval strategy re-arms its timer without
/// polling it, so an idle worker whose fetches come back empty stops being woken and never sees
/// a job pushed later (it was only ever found by the sweeper). These ticks register the next
/// wake-up before they report the current one.
struct Ticks(tokio::time::Interval);

impl Ticks {
    fn every(period: Duration) -> Self {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Ticks(interval)
    }
}

impl futures::Stream for Ticks {
    type Item = ();

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<()>> {
        match self.0.poll_tick(cx) {
            std::task::Poll::Ready(_) => {
                // Arm the next tick now: the caller may not poll again before it is due.
                let _ = self.0.poll_tick(cx);
                std::task::Poll::Ready(Some(()))
            }
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

/// The handler as worker data (`Data<T>` needs `Clone`).
#[derive(Clone)]
struct HandlerRef(Arc<dyn DrainHandler>);

/// The error a failed drain completes its job with; wrapped in [`AbortError`] so apalis marks the
/// job `Killed` instead of fetching it again at once.
#[derive(Debug, thiserror::Error)]
enum DrainJobError {
    #[error("unreadable {} job", DrainConversation::NAME)]
    Payload(#[source] serde_json::Error),
    #[error("draining conversation {conversation_id} failed")]
    Failed {
        conversation_id: i64,
        #[source]
        source: BoxError,
    },
    #[error("draining conversation {0} panicked")]
    Panicked(i64),
}

/// The apalis task function: decode, call the handler, turn failures into a final `Killed`.
/// The payload is decoded here rather than by apalis, so an unreadable row fails only itself
/// instead of stopping the worker.
async fn drain_task(job: serde_json::Value, handler: Data<HandlerRef>) -> Result<(), AbortError> {
    let job: DrainConversation = serde_json::from_value(job).map_err(|error| {
        tracing::error!(job = DrainConversation::NAME, %error, "Unreadable job; dropping it.");
        AbortError::new(DrainJobError::Payload(error))
    })?;
    let conversation_id = job.conversation_id;
    let span = tracing::info_span!("drain_job", conversation_id);
    let outcome = AssertUnwindSafe(handler.0.0.drain(conversation_id).instrument(span))
        .catch_unwind()
        .await;
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => {
            tracing::warn!(
                conversation_id,
                error = format!("{error:#}"),
                "Drain failed; the sweeper will trigger it again."
            );
            Err(AbortError::new(DrainJobError::Failed {
                conversation_id,
                source: error.into(),
            }))
        }
        Err(_) => {
            tracing::error!(conversation_id, "Drain panicked.");
            Err(AbortError::new(DrainJobError::Panicked(conversation_id)))
        }
    }
}

async fn purge_loop(queue: DrainQueue, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(PURGE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        match queue.purge_finished(RETAIN_FINISHED).await {
            Ok(0) => {}
            Ok(deleted) => {
                tracing::debug!(queue = %queue.queue, deleted, "Purged finished jobs.");
            }
            Err(error) => {
                tracing::warn!(queue = %queue.queue, error = %error, "Purging finished jobs failed.");
            }
        }
    }
}
