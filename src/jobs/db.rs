//! The per-database half of the drain queue: apalis' migrations, enqueueing on a connection the
//! caller already holds, and purging finished rows. Everything here touches apalis' own tables
//! (`Jobs`/`Workers` on SQLite, `apalis.jobs`/`apalis.workers` on PostgreSQL).

use super::drain::{BoxError, JobError};
use apalis::prelude::Task;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use sqlx::{Connection, PgConnection, PgPool, SqliteConnection, SqlitePool};
use std::time::Duration;

/// apalis' migration history on PostgreSQL. apalis' objects all live in the `apalis` schema, so
/// its history lives there too: the default unqualified `_sqlx_migrations` would land in whatever
/// schema `search_path` names first (one per test run), and a second schema would then replay
/// every migration against the one shared `apalis` schema and fail.
const PG_MIGRATIONS_TABLE: &str = "apalis._sqlx_migrations";

/// Session advisory lock serialising our PostgreSQL setup across processes ("omnijobs").
const PG_SETUP_LOCK: i64 = 0x6f6d_6e69_6a6f_6273;

/// Workers that have not sent a heartbeat for this long are dead; their rows can go once no job
/// row points at them any more.
const DEAD_WORKER_SECS: i64 = 24 * 3600;

fn boxed(error: impl Into<BoxError>) -> BoxError {
    error.into()
}

// ---------------------------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------------------------

/// Run apalis-sqlite's migrations without its `setup()`, which would also switch the whole
/// database to `PRAGMA synchronous = OFF`. Our own migrations use another history table, so
/// apalis keeps `_sqlx_migrations`; `ignore_missing` keeps either side from tripping on the other.
pub(super) async fn sqlite_setup(pool: &SqlitePool) -> Result<(), JobError> {
    let mut migrator = SqliteStorage::<()>::migrations();
    migrator.set_ignore_missing(true);
    migrator
        .run(pool)
        .await
        .map_err(|e| JobError::Setup(boxed(e)))
}

pub(super) async fn sqlite_push(
    conn: &mut SqliteConnection,
    queue: &str,
    tasks: Vec<Task<Vec<u8>>>,
) -> Result<(), JobError> {
    apalis_sqlite::queries::push_tasks(conn, queue, &tasks)
        .await
        .map_err(|e| JobError::Enqueue(boxed(e)))
}

const SQLITE_PURGE_JOBS: &str = "\
DELETE FROM Jobs
WHERE job_type = $1
  AND (status IN ('Done', 'Killed') OR (status = 'Failed' AND attempts >= max_attempts))
  AND done_at IS NOT NULL
  AND done_at < $2";

const SQLITE_PURGE_WORKERS: &str = "\
DELETE FROM Workers
WHERE worker_type = $1
  AND last_seen < $2
  AND NOT EXISTS (SELECT 1 FROM Jobs WHERE Jobs.lock_by = Workers.id)";

/// Delete finished rows of `queue` older than `older_than` (apalis stamps `done_at` in unix
/// seconds), then dead workers nothing refers to. Returns the number of job rows deleted.
pub(super) async fn sqlite_purge(
    pool: &SqlitePool,
    queue: &str,
    older_than: Duration,
) -> Result<u64, JobError> {
    let now = unix_secs();
    let cutoff = now - i64::try_from(older_than.as_secs()).unwrap_or(i64::MAX / 2);
    let purge = async {
        let jobs = sqlx::query(SQLITE_PURGE_JOBS)
            .bind(queue)
            .bind(cutoff)
            .execute(pool)
            .await?
            .rows_affected();
        sqlx::query(SQLITE_PURGE_WORKERS)
            .bind(queue)
            .bind(now - DEAD_WORKER_SECS)
            .execute(pool)
            .await?;
        Ok::<u64, sqlx::Error>(jobs)
    };
    purge.await.map_err(|e| JobError::Purge(boxed(e)))
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------

/// Where the `hstore` extension lives, when a pool connection cannot see it through its
/// `search_path` (a store pinned to its own schema). apalis' insert casts to `hstore[]` and binds
/// `hstore` values by name, so such a connection must add this schema before enqueueing.
#[derive(Clone, Debug, Default)]
pub(super) struct PgTypePath {
    hidden_schema: Option<String>,
}

/// Create `hstore` (in `public` unless it already exists somewhere) and run apalis-postgres'
/// migrations with the history kept in `apalis._sqlx_migrations`.
///
/// Safe to run from several processes at once: everything happens under one session advisory
/// lock on a connection of its own, closed afterwards so no lock can leak back into the pool; a
/// racing `CREATE EXTENSION` from someone not taking our lock is tolerated when the extension
/// exists afterwards.
pub(super) async fn pg_setup(pool: &PgPool) -> Result<PgTypePath, JobError> {
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| JobError::Setup(boxed(e)))?
        .detach();
    let result = pg_setup_locked(&mut conn).await;
    // Closing ends the session, which releases the advisory locks even after an error.
    let _ = conn.close().await;
    result?;

    let visible: bool = sqlx::query_scalar("SELECT to_regtype('hstore') IS NOT NULL")
        .fetch_one(pool)
        .await
        .map_err(|e| JobError::Setup(boxed(e)))?;
    if visible {
        return Ok(PgTypePath::default());
    }
    let schema = hstore_schema(pool)
        .await
        .map_err(|e| JobError::Setup(boxed(e)))?;
    Ok(PgTypePath {
        hidden_schema: schema,
    })
}

async fn pg_setup_locked(conn: &mut PgConnection) -> Result<(), JobError> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(PG_SETUP_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(|e| JobError::Setup(boxed(e)))?;
    ensure_hstore(conn)
        .await
        .map_err(|e| JobError::Setup(boxed(e)))?;
    // apalis' migrations name `hstore` unqualified: let this session see it wherever it lives.
    if let Some(schema) = hstore_schema(&mut *conn)
        .await
        .map_err(|e| JobError::Setup(boxed(e)))?
    {
        append_search_path(conn, &schema, false)
            .await
            .map_err(|e| JobError::Setup(boxed(e)))?;
    }
    let mut migrator = PostgresStorage::<()>::migrations();
    migrator.dangerous_set_table_name(PG_MIGRATIONS_TABLE);
    migrator.create_schema("apalis");
    migrator.set_ignore_missing(true);
    migrator
        .run(&mut *conn)
        .await
        .map_err(|e| JobError::Setup(boxed(e)))?;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(PG_SETUP_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(|e| JobError::Setup(boxed(e)))?;
    Ok(())
}

async fn ensure_hstore(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    if hstore_schema(&mut *conn).await?.is_some() {
        return Ok(());
    }
    match sqlx::query("CREATE EXTENSION IF NOT EXISTS hstore SCHEMA public")
        .execute(&mut *conn)
        .await
    {
        Ok(_) => Ok(()),
        // Someone else created it meanwhile ("already exists" / unique violation): fine.
        Err(error) if hstore_schema(&mut *conn).await?.is_some() => {
            tracing::debug!(%error, "The hstore extension appeared concurrently.");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

async fn hstore_schema<'e, E>(executor: E) -> Result<Option<String>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Postgres>,
{
    sqlx::query_scalar(
        "SELECT n.nspname::text FROM pg_extension e \
         JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'hstore'",
    )
    .fetch_optional(executor)
    .await
}

/// Append `schema` to this session's (or, with `local`, this transaction's) `search_path`.
async fn append_search_path(
    conn: &mut PgConnection,
    schema: &str,
    local: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "SELECT set_config('search_path', current_setting('search_path') || ', ' || quote_ident($1), $2)",
    )
    .bind(schema)
    .bind(local)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Enqueue on `conn`, which must be inside a transaction when `types` has a hidden schema (the
/// `search_path` change is transaction-local, so the caller's later statements resolve names
/// exactly as before, with that schema only appended at the end).
pub(super) async fn pg_push(
    conn: &mut PgConnection,
    types: &PgTypePath,
    queue: &str,
    tasks: Vec<Task<Vec<u8>>>,
) -> Result<(), JobError> {
    if let Some(schema) = &types.hidden_schema {
        append_search_path(conn, schema, true)
            .await
            .map_err(|e| JobError::Enqueue(boxed(e)))?;
    }
    apalis_postgres::queries::push_tasks(conn, queue, tasks)
        .await
        .map_err(|e| JobError::Enqueue(boxed(e)))
}

const PG_PURGE_JOBS: &str = "\
DELETE FROM apalis.jobs
WHERE job_type = $1
  AND (status IN ('Done', 'Killed') OR (status = 'Failed' AND attempts >= max_attempts))
  AND done_at IS NOT NULL
  AND done_at < now() - make_interval(secs => $2)";

const PG_PURGE_WORKERS: &str = "\
DELETE FROM apalis.workers w
WHERE w.worker_type = $1
  AND w.last_seen < now() - make_interval(secs => $2)
  AND NOT EXISTS (SELECT 1 FROM apalis.jobs j WHERE j.lock_by = w.id)";

/// PostgreSQL twin of [`sqlite_purge`].
pub(super) async fn pg_purge(
    pool: &PgPool,
    queue: &str,
    older_than: Duration,
) -> Result<u64, JobError> {
    let purge = async {
        let jobs = sqlx::query(PG_PURGE_JOBS)
            .bind(queue)
            .bind(older_than.as_secs_f64())
            .execute(pool)
            .await?
            .rows_affected();
        sqlx::query(PG_PURGE_WORKERS)
            .bind(queue)
            .bind(DEAD_WORKER_SECS as f64)
            .execute(pool)
            .await?;
        Ok::<u64, sqlx::Error>(jobs)
    };
    purge.await.map_err(|e| JobError::Purge(boxed(e)))
}

fn unix_secs() -> i64 {
    crate::store::now_ms().div_euclid(1000)
}
