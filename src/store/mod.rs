//! All SQL lives here. One schema, two databases: SQLite (embedded default) and PostgreSQL (scale
//! out). Statements are written once in the SQL both understand (`$n` parameters, `ON CONFLICT`,
//! `RETURNING`, timestamps as unix milliseconds); the few differences are spelled out where they
//! occur.

mod conversations;
mod cursors;
mod events;
mod held;
mod ids;
mod ingest;
mod links;
mod outbound;
mod processes;
mod states;

pub use conversations::{ClaimedConversation, EventFailure, Pending, PendingEvent, ReleaseOutcome};
pub use events::{DeadLetter, EventCounts};
pub use held::{HOLD_FOR, HeldEvent};
pub use ingest::IngestOutcome;
pub use links::{Link, LinkFilter, NewLink};
pub use outbound::{NewOutbound, OutboundMessage};
use processes::alive_since;
pub use processes::{HEARTBEAT_EVERY, PROCESS_DEAD_AFTER};
pub use states::{EffectKind, EventState, LinkState, OutboundKind, OutboundStatus, UnknownState};

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// Our own migrations table, so apalis' migrations (in `_sqlx_migrations`) never clash with ours.
const MIGRATIONS_TABLE: &str = "omnibridge_migrations";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL (use sqlite:… or postgres://…)")]
    UnsupportedUrl,
    #[error("cannot create the database directory {path}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("stored event payload is unreadable")]
    Payload(#[from] serde_json::Error),
    #[error("the lease on conversation {0} was lost to another worker")]
    LeaseLost(i64),
}

/// The database behind the bridge.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqliteDb),
    Postgres(PgPool),
}

/// SQLite takes one writer at a time. Every write goes through one connection, so writers wait
/// their turn in the pool's queue (first come, first served) instead of in SQLite's busy handler,
/// which sleeps and retries and can starve a writer for as long as others keep the lock busy.
/// Reads use a pool of their own (WAL: they never wait for the writer).
#[derive(Clone, Debug)]
pub struct SqliteDb {
    writer: SqlitePool,
    readers: SqlitePool,
}

impl SqliteDb {
    /// The single write connection: transactions and every statement that changes something.
    pub fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// Connections for statements that only read.
    pub fn readers(&self) -> &SqlitePool {
        &self.readers
    }
}

/// Run a statement on whichever database we have; on SQLite through the pool `$pick` names.
macro_rules! on_pool {
    ($store:expr, $pick:ident, $db:ident => $body:expr) => {{
        $crate::store::count_statement();
        match $store {
            $crate::store::Store::Sqlite(sqlite) => {
                let $db = sqlite.$pick();
                $body
            }
            $crate::store::Store::Postgres($db) => $body,
        }
    }};
}
pub(crate) use on_pool;

/// A statement that may write (on SQLite, through the writer).
macro_rules! on_db {
    ($store:expr, $db:ident => $body:expr) => {
        $crate::store::on_pool!($store, writer, $db => $body)
    };
}
pub(crate) use on_db;

/// A statement that only reads (on SQLite, through the read pool).
macro_rules! on_read {
    ($store:expr, $db:ident => $body:expr) => {
        $crate::store::on_pool!($store, readers, $db => $body)
    };
}
pub(crate) use on_read;

/// A transaction on either database.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {{
        $crate::store::count_statement();
        match $tx {
            $crate::store::Tx::Sqlite($conn) => {
                let $conn = &mut **$conn;
                $body
            }
            $crate::store::Tx::Postgres($conn) => {
                let $conn = &mut **$conn;
                $body
            }
        }
    }};
}
pub(crate) use on_tx;

#[cfg(test)]
thread_local! {
    static STATEMENTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Tests count the statements a piece of work sends (`on_db!`/`on_tx!` each send one); nothing
/// is counted outside tests.
#[inline]
pub(crate) fn count_statement() {
    #[cfg(test)]
    STATEMENTS.with(|n| n.set(n.get() + 1));
}

/// Statements sent through the store by this thread so far (a Tokio test's runtime thread).
#[cfg(test)]
pub(crate) fn statements_on_this_thread() -> u64 {
    STATEMENTS.with(std::cell::Cell::get)
}

/// Most values in one `IN (…)` list (SQLite allows 32766 parameters, PostgreSQL 65535).
const IN_LIST_MAX: usize = 500;

/// `$first, $first+1, …` for `n` parameters.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Roll back now. A transaction merely dropped is rolled back only when its connection is
    /// next used (PostgreSQL queues the ROLLBACK), holding its locks until then.
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

impl DbKind {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(DbKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(DbKind::Postgres)
        } else {
            None
        }
    }
}

/// Connection settings beyond the URL.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub max_connections: u32,
    /// PostgreSQL schema holding our tables (created if missing). Tests use one per run.
    pub pg_schema: Option<String>,
}

impl Store {
    /// Connect (creating the SQLite file and its directory when needed). Does not migrate.
    pub async fn connect(url: &SecretString, options: &ConnectOptions) -> Result<Self, StoreError> {
        let url = url.expose_secret();
        match DbKind::of_url(url).ok_or(StoreError::UnsupportedUrl)? {
            DbKind::Sqlite => Self::connect_sqlite(url, options).await,
            DbKind::Postgres => Self::connect_postgres(url, options).await,
        }
    }

    async fn connect_sqlite(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if let Some(dir) = connect.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            // Writers queue for the one connection; a long queue under load is normal.
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(connect.clone())
            .await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .connect_with(connect.create_if_missing(false))
            .await?;
        Ok(Store::Sqlite(SqliteDb { writer, readers }))
    }

    async fn connect_postgres(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let mut connect = PgConnectOptions::from_str(url)?;
        if let Some(schema) = &options.pg_schema {
            // Create the schema first with a plain connection, then pin every pooled connection
            // to it. Concurrent `CREATE SCHEMA IF NOT EXISTS` can still collide in PostgreSQL's
            // catalog, so processes starting at once take turns under an advisory lock.
            let mut bootstrap = sqlx::PgConnection::connect_with(&connect).await?;
            let created = create_schema_locked(&mut bootstrap, schema).await;
            // Closing ends the session, which releases the lock even after an error.
            let _ = sqlx::Connection::close(bootstrap).await;
            created?;
            // `public` stays on the path: extensions (apalis needs hstore) live there.
            let search_path = format!("\"{}\", public", schema.replace('"', ""));
            connect = connect.options([("search_path", search_path.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(connect)
            .await?;
        Ok(Store::Postgres(pool))
    }

    pub fn kind(&self) -> DbKind {
        match self {
            Store::Sqlite(_) => DbKind::Sqlite,
            Store::Postgres(_) => DbKind::Postgres,
        }
    }

    /// Apply our migrations (idempotent).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(sqlite) => {
                let mut migrator = sqlx::migrate!("./migrations/sqlite");
                migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
                migrator.set_ignore_missing(true);
                migrator.run(sqlite.writer()).await?;
            }
            Store::Postgres(pool) => {
                let mut migrator = sqlx::migrate!("./migrations/postgres");
                migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
                migrator.set_ignore_missing(true);
                // One connection of its own holds the setup lock for the whole run, so processes
                // started at once on a fresh schema migrate one after the other.
                let mut conn = pool.acquire().await?.detach();
                let result = async {
                    lock_setup(&mut conn).await?;
                    migrator.run(&mut conn).await?;
                    Ok::<(), StoreError>(())
                }
                .await;
                let _ = sqlx::Connection::close(conn).await;
                result?;
            }
        }
        Ok(())
    }

    /// True when the database answers and every migration we ship is applied.
    pub async fn is_ready(&self) -> bool {
        let expected = match self {
            Store::Sqlite(_) => sqlx::migrate!("./migrations/sqlite").iter().count(),
            Store::Postgres(_) => sqlx::migrate!("./migrations/postgres").iter().count(),
        } as i64;
        let query = "SELECT COUNT(*) FROM omnibridge_migrations WHERE success = TRUE";
        let applied: Result<i64, sqlx::Error> =
            on_read!(self, pool => sqlx::query_scalar(query).fetch_one(pool).await);
        matches!(applied, Ok(n) if n >= expected)
    }

    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            // Every transaction here writes: take the write lock at BEGIN, so a transaction that
            // reads first can never fail to upgrade (SQLITE_BUSY_SNAPSHOT) behind another writer.
            Store::Sqlite(sqlite) => {
                Tx::Sqlite(sqlite.writer().begin_with("BEGIN IMMEDIATE").await?)
            }
            Store::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(sqlite) => {
                sqlite.readers.close().await;
                sqlite.writer.close().await;
            }
            Store::Postgres(pool) => pool.close().await,
        }
    }
}

/// Session advisory lock serialising schema creation and migrations across processes ("omnischm").
const PG_SCHEMA_LOCK: i64 = 0x6f6d_6e69_7363_686d;

async fn lock_setup(conn: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(PG_SCHEMA_LOCK)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn create_schema_locked(
    conn: &mut sqlx::PgConnection,
    schema: &str,
) -> Result<(), StoreError> {
    lock_setup(conn).await?;
    let statement = format!(
        "CREATE SCHEMA IF NOT EXISTS \"{}\"",
        schema.replace('"', "")
    );
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Current time in unix milliseconds, the unit of every timestamp column.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn ms_after(duration: Duration) -> i64 {
    now_ms() + i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2)
}
