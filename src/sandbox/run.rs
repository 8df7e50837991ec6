//! `omnibridge sandbox`: simulated get.chat, Qontak and Inbenta on loopback, the real bridge (the
//! `serve` code path) configured against them on a temporary SQLite database and the shipped
//! mapping rules, a scripted walk-through, then (unless `--exit`) a bridge to play with.

use super::control::{self, SandboxContext};
use super::getchat::GetchatSim;
use super::inbenta::InbentaSim;
use super::qontak::QontakSim;
use super::settings::{SimChannel, SimInbenta, SimSettings, WorkerKnobs};
use super::walkthrough;
use crate::startup::{Application, Mode};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The channel ids the sandbox configures.
pub const GETCHAT_CHANNEL: &str = "whatsapp";
pub const QONTAK_CHANNEL: &str = "qontak";
pub const CHANNEL_SECRET: &str = "sandbox-webhook-secret";
pub const ADMIN_TOKEN: &str = "sandbox-admin-token";
const HELPDESK_SECRET: &str = "sandbox-inbenta-webhook-secret";
/// The shipped catch-all rules, used when `./mappings` is not there.
const SHIPPED_ROUTES: &str = include_str!("../../mappings/routes.toml");

#[derive(Clone, Debug)]
pub struct SandboxOptions {
    /// The bridge's port (0: any free port).
    pub port: u16,
    /// Keep the temporary directory (database, config) after exit.
    pub keep: bool,
    /// Run the walk-through and exit: 0 only if every step succeeded.
    pub exit: bool,
}

pub async fn run(options: SandboxOptions) -> anyhow::Result<i32> {
    crate::startup::install_crypto_provider();
    let dir = std::env::temp_dir().join(format!(
        "omnibridge-sandbox-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = run_in(&options, &dir).await;
    if options.keep {
        println!(
            "Kept the sandbox's files (database, configuration) in {}",
            dir.display()
        );
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

async fn run_in(options: &SandboxOptions, dir: &Path) -> anyhow::Result<i32> {
    let getchat = Arc::new(
        GetchatSim::start()
            .await
            .context("starting simulated get.chat")?,
    );
    let inbenta = Arc::new(
        InbentaSim::start()
            .await
            .context("starting simulated Inbenta")?,
    );
    let qontak = Arc::new(
        QontakSim::start()
            .await
            .context("starting simulated Qontak")?,
    );
    let port = match options.port {
        0 => free_port()?,
        port => port,
    };
    let mappings = mappings_dir(dir)?;
    let config = sandbox_settings(port, dir, &mappings, &getchat, &inbenta, &qontak);
    let config_path = dir.join("omnibridge.toml");
    let header = "# Written by `omnibridge sandbox`: the bridge against simulated vendors.\n";
    std::fs::write(&config_path, format!("{header}{}", config.to_toml()))?;
    let settings = config
        .load(&config_path.display().to_string())
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let bridge_url = format!("http://127.0.0.1:{port}");
    let context = Arc::new(SandboxContext {
        bridge_url: bridge_url.clone(),
        getchat: getchat.clone(),
        inbenta: inbenta.clone(),
        qontak: qontak.clone(),
        client: reqwest::Client::new(),
    });
    let app = Application::build_with_routes(
        settings,
        Mode::Serve,
        Some(control::routes(context.clone())),
    )
    .await
    .with_context(|| format!("starting the bridge on port {port} (choose another with --port)"))?;
    println!("omnibridge sandbox");
    println!("  simulated get.chat  {}", getchat.base_url());
    println!("  simulated Qontak    {}", qontak.base_url());
    println!("  simulated Inbenta   {}", inbenta.auth_url());
    println!(
        "  bridge              {bridge_url}  (database and config in {})",
        dir.display()
    );
    println!("  mapping rules       {}", mappings.display());
    println!();
    let shutdown = app.shutdown_token();
    let engine = app.engine().clone();
    let running = tokio::spawn(app.run_until_stopped());
    let passed = walkthrough::run(&context, &engine).await;
    if options.exit {
        shutdown.cancel();
        running.await.context("bridge task")??;
        return Ok(if passed { 0 } else { 1 });
    }
    print_playground(&bridge_url);
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = shutdown.cancelled() => {}
    }
    println!("Stopping the sandbox.");
    shutdown.cancel();
    running.await.context("bridge task")??;
    Ok(if passed { 0 } else { 1 })
}

fn print_playground(bridge_url: &str) {
    println!();
    println!("The bridge keeps running (Ctrl-C to stop).");
    println!("  bridge     {bridge_url}");
    println!("  admin API  {bridge_url}/api/v1/links  (Bearer token: {ADMIN_TOKEN})");
    println!();
    println!("Try it by hand:");
    println!("  # a customer writes on WhatsApp");
    println!(
        "  curl -s -X POST {bridge_url}/sandbox/customer-message -H 'content-type: application/json' \\\n    -d '{{\"wa_id\": \"4915112345678\", \"name\": \"Ana\", \"text\": \"Hello, I need help\"}}'"
    );
    println!("  # an agent answers on the ticket (use the ticket id printed above)");
    println!(
        "  curl -s -X POST {bridge_url}/sandbox/agent-answer -H 'content-type: application/json' \\\n    -d '{{\"ticket_id\": 1, \"html\": \"<p>Hi <b>Ana</b>, how can we help?</p>\"}}'"
    );
    println!("  # what the bridge links and sends");
    println!("  curl -s -H 'authorization: Bearer {ADMIN_TOKEN}' {bridge_url}/api/v1/links");
    println!("  curl -s -H 'authorization: Bearer {ADMIN_TOKEN}' {bridge_url}/api/v1/messages");
}

/// `./mappings` when run from a checkout, else the shipped catch-all copied to the temp dir.
fn mappings_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let local = PathBuf::from("mappings");
    if local.join("routes.toml").is_file() {
        return Ok(local);
    }
    let copy = dir.join("mappings");
    std::fs::create_dir_all(&copy)?;
    std::fs::write(copy.join("routes.toml"), SHIPPED_ROUTES)?;
    Ok(copy)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn sandbox_settings(
    port: u16,
    dir: &Path,
    mappings: &Path,
    getchat: &GetchatSim,
    inbenta: &InbentaSim,
    qontak: &QontakSim,
) -> SimSettings {
    let channel = |base: SimChannel| SimChannel {
        webhook_secret: Some(CHANNEL_SECRET.into()),
        sync_resolution: true,
        ..base
    };
    let database = format!("sqlite://{}", dir.join("omnibridge.db").display());
    SimSettings {
        listen: Some(format!("127.0.0.1:{port}")),
        public_url: Some(format!("http://127.0.0.1:{port}")),
        admin_token: Some(ADMIN_TOKEN.into()),
        database_url: Some(database.into()),
        worker: WorkerKnobs {
            reconcile_interval: Some(Duration::from_secs(10)),
            retry_delays: Some([200, 1000, 5000].map(Duration::from_millis).to_vec()),
            ..WorkerKnobs::default()
        },
        mappings_dir: Some(mappings.to_owned()),
        inbenta: Some(SimInbenta {
            webhook_secret: Some(HELPDESK_SECRET.into()),
            ..SimInbenta::new(inbenta)
        }),
        channels: vec![
            channel(SimChannel::getchat(GETCHAT_CHANNEL, getchat)),
            channel(SimChannel::qontak(QONTAK_CHANNEL, qontak)),
        ],
        ..SimSettings::default()
    }
}
