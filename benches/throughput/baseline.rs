//! The bare baseline the bridge is measured against, in the same run: a minimal axum handler
//! that parses each webhook as JSON and does one INSERT on the same database, nothing else.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The database the baseline writes to, set up like the bridge's own.
#[derive(Clone)]
enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool, String),
}

/// A running baseline server; stops when dropped.
pub struct Baseline {
    pub url: String,
    stop: CancellationToken,
}

impl Drop for Baseline {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Start the baseline on `sqlite_path`, or on PostgreSQL in a fresh `pg_schema`.
pub async fn start(sqlite_path: &std::path::Path, pg: Option<(&str, &str)>) -> Baseline {
    let db = match pg {
        None => {
            let options =
                SqliteConnectOptions::from_str(&format!("sqlite://{}", sqlite_path.display()))
                    .expect("sqlite url")
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(16)
                .connect_with(options)
                .await
                .expect("baseline sqlite");
            sqlx::query("CREATE TABLE webhooks (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
                .execute(&pool)
                .await
                .expect("baseline table");
            Db::Sqlite(pool)
        }
        Some((url, schema)) => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(16)
                .connect(url)
                .await
                .expect("baseline postgres");
            for statement in [
                format!("CREATE SCHEMA \"{schema}\""),
                format!(
                    "CREATE TABLE \"{schema}\".webhooks (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)"
                ),
            ] {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&pool)
                    .await
                    .expect("baseline schema");
            }
            Db::Postgres(
                pool,
                format!("INSERT INTO \"{schema}\".webhooks (body) VALUES ($1)"),
            )
        }
    };
    let app = axum::Router::new()
        .route("/webhook", post(store_webhook))
        .with_state(db);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("baseline port");
    let url = format!("http://{}/webhook", listener.local_addr().expect("address"));
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stopped.cancelled_owned())
            .await;
    });
    Baseline { url, stop }
}

async fn store_webhook(State(db): State<Db>, Json(body): Json<serde_json::Value>) -> StatusCode {
    let body = body.to_string();
    let result = match &db {
        Db::Sqlite(pool) => sqlx::query("INSERT INTO webhooks (body) VALUES (?)")
            .bind(body)
            .execute(pool)
            .await
            .map(|_| ()),
        Db::Postgres(pool, insert) => sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
            .bind(body)
            .execute(pool)
            .await
            .map(|_| ()),
    };
    match result {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
