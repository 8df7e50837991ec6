//! `spawn_app()`: a fresh database, simulated get.chat and Inbenta, the real application on a
//! random port, and helpers to post webhooks and wait for outcomes.

use omnibridge::config::{FallbackTemplate, Settings};
use omnibridge::sandbox::getchat::GetchatSim;
use omnibridge::sandbox::inbenta::InbentaSim;
use omnibridge::sandbox::qontak::QontakSim;
use omnibridge::sandbox::settings::{SimChannel, SimInbenta, SimSettings, WorkerKnobs};
use omnibridge::startup::{Application, Mode};
use serde_json::Value;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const WEBHOOK_SECRET: &str = "hook-secret-for-tests";
pub const ADMIN_TOKEN: &str = "admin-token-for-tests";
pub const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Generate one test per database from an async body taking a `Db`.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::helpers::Db::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::postgres_available().await {
                    ($body)($crate::helpers::Db::Postgres).await;
                }
            }
        }
    };
}

/// PostgreSQL tests skip with a printed reason when the server is absent, unless
/// `OMNIBRIDGE_REQUIRE_POSTGRES=1` (CI), where its absence fails the test.
pub async fn postgres_available() -> bool {
    use sqlx::Connection;
    match sqlx::PgConnection::connect(PG_URL).await {
        Ok(conn) => {
            let _ = conn.close().await;
            true
        }
        Err(err) => {
            if std::env::var("OMNIBRIDGE_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!(
                    "PostgreSQL is required (OMNIBRIDGE_REQUIRE_POSTGRES=1) but unreachable at {PG_URL}: {err}"
                );
            }
            eprintln!("skipping PostgreSQL variant: {PG_URL} unreachable ({err})");
            false
        }
    }
}

/// Knobs a test may turn before the app starts.
#[derive(Clone, Debug)]
pub struct AppOptions {
    pub status_check_interval: Duration,
    pub retry_delays: Vec<Duration>,
    pub max_attempts: u32,
    /// The text of `mappings/routes.toml` (default: the shipped rules).
    pub mappings: Option<&'static str>,
    pub concurrency: usize,
    pub reconcile_interval: Duration,
    /// `fallback_template` of both channels.
    pub fallback_template: Option<FallbackTemplate>,
    pub sync_resolution: bool,
    pub lease_ttl: Duration,
    /// Extra lines for the `[server]` section (timeouts, connection and body limits).
    pub server: &'static str,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            status_check_interval: Duration::from_secs(3600),
            retry_delays: [50, 100, 200].map(Duration::from_millis).to_vec(),
            max_attempts: 6,
            mappings: None,
            concurrency: 8,
            reconcile_interval: Duration::from_secs(3600),
            fallback_template: None,
            sync_resolution: false,
            lease_ttl: Duration::from_secs(5),
            server: "",
        }
    }
}

/// `fallback_template = { name, language, parameters }`.
pub fn fallback_template(name: &str, language: &str, parameters: &[&str]) -> FallbackTemplate {
    FallbackTemplate {
        name: name.to_owned(),
        language: language.to_owned(),
        parameters: parameters.iter().map(|p| (*p).to_owned()).collect(),
    }
}

/// The environment of one test: the vendors and the database survive app restarts.
pub struct TestEnv {
    pub inbenta: InbentaSim,
    pub getchat: GetchatSim,
    pub qontak: QontakSim,
    pub options: AppOptions,
    /// The Qontak channel as configured at the start: its tokens are kept across restarts, like
    /// a config file's, while the simulator rotates them.
    qontak_channel: SimChannel,
    database_url: String,
    pg_schema: Option<String>,
    mappings_dir: PathBuf,
    /// The port the app listens on (kept across restarts: it is the public URL vendors call).
    port: u16,
    _dir: tempfile::TempDir,
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestEnv {
    pub async fn new(db: Db, options: AppOptions) -> TestEnv {
        omnibridge::telemetry::init_for_tests();
        omnibridge::startup::install_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let (database_url, pg_schema) = match db {
            Db::Sqlite => (
                format!(
                    "sqlite://{}",
                    dir.path().join("data/omnibridge.db").display()
                ),
                None,
            ),
            Db::Postgres => (PG_URL.to_string(), Some(format!("test_{unique}"))),
        };
        let mappings_dir = dir.path().join("mappings");
        std::fs::create_dir_all(&mappings_dir).expect("mappings dir");
        let rules = options.mappings.map(str::to_owned).unwrap_or_else(|| {
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/mappings/routes.toml"))
                .expect("shipped mappings/routes.toml")
        });
        std::fs::write(mappings_dir.join("routes.toml"), rules).expect("write rules");
        let qontak = QontakSim::start().await.expect("qontak simulator");
        TestEnv {
            qontak_channel: SimChannel::qontak("jakarta", &qontak),
            qontak,
            inbenta: InbentaSim::start().await.expect("inbenta simulator"),
            getchat: GetchatSim::start().await.expect("get.chat simulator"),
            options,
            database_url,
            pg_schema,
            mappings_dir,
            port: free_port(),
            _dir: dir,
        }
    }

    /// A second connection to the app's database, for checks the API does not expose.
    pub async fn store(&self) -> omnibridge::store::Store {
        omnibridge::store::Store::connect(
            &secrecy::SecretString::from(self.database_url.clone()),
            &omnibridge::store::ConnectOptions {
                max_connections: 2,
                pg_schema: self.pg_schema.clone(),
            },
        )
        .await
        .expect("test store")
    }

    /// The PostgreSQL schema this test's tables live in (`None` on SQLite).
    pub fn pg_schema(&self) -> Option<&str> {
        self.pg_schema.as_deref()
    }

    /// Spawn the real binary (`serve` or `worker`) on this environment's settings; its log goes
    /// to the returned file.
    pub fn spawn_binary(&self, command: &str, listen: &str) -> (tokio::process::Child, PathBuf) {
        let config = self.write_config(listen);
        let log = config.with_extension("log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_omnibridge"))
            .arg(command)
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .expect("the omnibridge binary starts");
        (child, log)
    }

    /// Spawn `omnibridge serve` on `port` and wait until it is ready.
    pub async fn start_serve_binary(&self, port: u16) -> tokio::process::Child {
        let (child, _log) = self.spawn_binary("serve", &format!("127.0.0.1:{port}"));
        wait_ready(port).await;
        child
    }

    /// The bridge's public address (what vendors are told to call).
    pub fn public_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn settings(&self) -> Settings {
        self.sim_settings(&format!("127.0.0.1:{}", self.port))
            .load("test.toml")
            .expect("test settings are valid")
    }

    /// The settings as a TOML file, for running the real binary.
    pub fn write_config(&self, listen: &str) -> PathBuf {
        let path = self
            ._dir
            .path()
            .join(format!("omnibridge-{}.toml", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, self.sim_settings(listen).to_toml()).expect("write config");
        path
    }

    fn sim_settings(&self, listen: &str) -> SimSettings {
        let o = &self.options;
        let channel = |base: SimChannel| SimChannel {
            webhook_secret: Some(WEBHOOK_SECRET.into()),
            timeout: Some(Duration::from_secs(5)),
            sync_resolution: o.sync_resolution,
            fallback_template: o.fallback_template.clone(),
            ..base
        };
        SimSettings {
            listen: Some(listen.to_owned()),
            public_url: Some(self.public_url()),
            admin_token: Some(ADMIN_TOKEN.into()),
            database_url: Some(self.database_url.clone().into()),
            max_connections: Some(10),
            pg_schema: self.pg_schema.clone(),
            worker: WorkerKnobs {
                concurrency: Some(o.concurrency),
                lease_ttl: Some(o.lease_ttl),
                max_attempts: Some(o.max_attempts),
                retry_delays: Some(o.retry_delays.clone()),
                sweep_interval: Some(Duration::from_millis(200)),
                reconcile_interval: Some(o.reconcile_interval),
            },
            mappings_dir: Some(self.mappings_dir.clone()),
            inbenta: Some(SimInbenta {
                webhook_secret: Some("inbenta-hook-secret".into()),
                status_check_interval: Some(o.status_check_interval),
                timeout: Some(Duration::from_secs(5)),
                ..SimInbenta::new(&self.inbenta)
            }),
            channels: vec![
                channel(SimChannel::getchat("sales", &self.getchat)),
                channel(self.qontak_channel.clone()),
            ],
            server_extra: Some(o.server.to_owned()),
        }
    }

    /// Start (or restart) the real application against this environment.
    pub async fn start_app(&self) -> TestApp {
        let app = Application::build(self.settings(), Mode::Serve)
            .await
            .expect("application starts");
        let port = app.port().expect("serve mode has a port");
        let shutdown = app.shutdown_token();
        let running = tokio::spawn(app.run_until_stopped());
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            shutdown,
            running,
        }
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A fresh environment and a running app.
pub async fn spawn_app(db: Db) -> (TestEnv, TestApp) {
    spawn_app_with(db, AppOptions::default()).await
}

pub async fn spawn_app_with(db: Db, options: AppOptions) -> (TestEnv, TestApp) {
    let env = TestEnv::new(db, options).await;
    let app = env.start_app().await;
    (env, app)
}

impl TestApp {
    /// POST a get.chat webhook body to channel `sales` with the right secret.
    pub async fn post_getchat(&self, body: &Value) -> reqwest::Response {
        self.post_getchat_raw("sales", Some(WEBHOOK_SECRET), body.to_string())
            .await
    }

    pub async fn post_getchat_raw(
        &self,
        channel: &str,
        secret: Option<&str>,
        body: String,
    ) -> reqwest::Response {
        let mut url = format!("{}/webhooks/getchat/{channel}", self.address);
        if let Some(secret) = secret {
            url.push_str(&format!("?auth={secret}"));
        }
        self.client
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request reaches the app")
    }

    /// POST a Qontak webhook body to channel `jakarta` with the right secret.
    pub async fn post_qontak(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!(
                "{}/webhooks/qontak/jakarta?auth={WEBHOOK_SECRET}",
                self.address
            ))
            .json(body)
            .send()
            .await
            .expect("request reaches the app")
    }

    /// GET an admin route with the admin token.
    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request reaches the app")
    }

    pub async fn links(&self) -> Vec<Value> {
        self.admin_get("/api/v1/links")
            .await
            .json()
            .await
            .expect("links are JSON")
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .expect("request reaches the app")
            .text()
            .await
            .expect("metrics text")
    }

    /// The dead letters listed by the admin API.
    pub async fn dead_letters(&self) -> Vec<Value> {
        self.admin_get("/api/v1/jobs?state=failed")
            .await
            .json()
            .await
            .expect("dead letters are JSON")
    }

    /// Wait until at least one dead letter is listed.
    pub async fn wait_for_dead_letters(&self) -> Vec<Value> {
        eventually("a dead letter", || async {
            let dead = self.dead_letters().await;
            (!dead.is_empty()).then_some(dead)
        })
        .await
    }

    /// Stop the app gracefully and wait until it has stopped.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.running
            .await
            .expect("app task")
            .expect("app stops cleanly");
    }
}

/// Wait until a bridge on `port` answers `/readyz` with 200.
pub async fn wait_ready(port: u16) {
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
}

/// Poll `check` until it returns Some, or panic with `what` after 20 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
