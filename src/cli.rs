//! The command line: `omnibridge serve | worker | migrate | check-config | mappings … | jobs …`.

use crate::config::{self, Settings};
use crate::startup::{Application, Mode};
use crate::telemetry::LogFormat;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "omnibridge",
    version,
    about = "Keeps WhatsApp conversations (get.chat, Qontak) in sync with Inbenta Messenger tickets."
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// HTTP server (webhooks, admin API, health, metrics) + workers; migrates the database first.
    Serve(ConfigArg),
    /// Workers only, no HTTP (extra processes when scaling out on PostgreSQL).
    Worker(ConfigArg),
    /// Apply database migrations and exit.
    Migrate(ConfigArg),
    /// Load and validate the configuration and mapping files; print what is enabled.
    CheckConfig(ConfigArg),
    /// Mapping rules.
    Mappings {
        #[command(subcommand)]
        command: MappingsCommand,
    },
    /// Fetch what happened since a time (missed while the bridge was not running) from every
    /// channel and the helpdesk; the running bridge then processes it.
    Backfill {
        /// An RFC 3339 time, a date (2026-11-20) or a duration back from now (2d, 36h).
        #[arg(long)]
        since: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The whole bridge against simulated get.chat, Qontak and Inbenta on loopback, with a
    /// scripted walk-through.
    Sandbox {
        /// The bridge's port (0: any free port).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Keep the temporary database and configuration after exit.
        #[arg(long)]
        keep: bool,
        /// Run the walk-through and exit: 0 only if every step succeeded.
        #[arg(long)]
        exit: bool,
    },
    /// Dead letters.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
}

#[derive(clap::Args, Debug)]
pub struct ConfigArg {
    /// Configuration file (else $OMNIBRIDGE_CONFIG, else ./omnibridge.toml, else defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum MappingsCommand {
    /// Validate mapping files; errors name file, line and key.
    Validate {
        /// Directory of mapping files (default: mappings.dir from the configuration).
        dir: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Dry run: which route a recorded webhook matches and what ticket it would open.
    Explain {
        /// The channel id the webhook was sent to.
        #[arg(long)]
        channel: String,
        /// A file holding the webhook body (JSON).
        #[arg(long)]
        event: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// List dead letters.
    Failed(ConfigArg),
    /// Put a dead letter (or all of them) back in the queue, at its place in its conversation.
    Retry {
        /// The dead letter's id (from `jobs failed`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Redrive every dead letter.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// Run a command; the returned code is the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve(args) => serve(args, Mode::Serve).await,
        Command::Worker(args) => serve(args, Mode::Worker).await,
        Command::Migrate(args) => {
            let settings = load_settings(&args)?;
            crate::startup::install_crypto_provider();
            crate::startup::connect_and_migrate(&settings).await?;
            println!("Migrations applied.");
            Ok(0)
        }
        Command::CheckConfig(args) => check_config(&args),
        Command::Mappings {
            command: MappingsCommand::Validate { dir, config },
        } => {
            let settings = load_settings(&config)?;
            let dir = dir.unwrap_or_else(|| settings.mappings.dir.clone());
            let (report, ok) = crate::mapping::validate_report(&dir, &channel_ids(&settings));
            print!("{report}");
            Ok(if ok { 0 } else { 1 })
        }
        Command::Mappings {
            command:
                MappingsCommand::Explain {
                    channel,
                    event,
                    config,
                },
        } => {
            let settings = load_settings(&config)?;
            explain(&settings, &channel, &event)
        }
        Command::Sandbox { port, keep, exit } => {
            crate::sandbox::run(crate::sandbox::SandboxOptions { port, keep, exit }).await
        }
        Command::Backfill { since, config } => {
            let settings = load_settings(&config)?;
            let since = crate::backfill::parse_since(&since, chrono::Utc::now())?;
            crate::backfill::run(settings, since).await
        }
        Command::Jobs {
            command: JobsCommand::Failed(args),
        } => jobs_failed(&args).await,
        Command::Jobs {
            command: JobsCommand::Retry { id, all, config },
        } => {
            let settings = load_settings(&config)?;
            crate::startup::install_crypto_provider();
            let store = crate::startup::connect_and_migrate(&settings).await?;
            let target = if all { None } else { id };
            let woken = crate::startup::redrive(&store, &settings, target).await?;
            match (target, woken) {
                (Some(id), 0) => {
                    eprintln!("No dead letter with id {id}.");
                    return Ok(1);
                }
                (Some(id), _) => println!("Dead letter {id} is queued again."),
                (None, 0) => println!("No dead letters."),
                (None, n) => println!("Dead letters of {n} conversation(s) are queued again."),
            }
            Ok(0)
        }
    }
}

/// `jobs failed`: the dead letters, newest first.
async fn jobs_failed(args: &ConfigArg) -> anyhow::Result<i32> {
    let settings = load_settings(args)?;
    crate::startup::install_crypto_provider();
    let store = crate::startup::connect_and_migrate(&settings).await?;
    let dead = store.dead_letters(1000).await?;
    if dead.is_empty() {
        println!("No dead letters.");
    } else {
        println!(
            "{:>6}  {:<12} {:<20} {:<18} {:>8}  {:>8}  LAST ERROR",
            "ID", "CHANNEL", "CONVERSATION", "KIND", "ATTEMPTS", "AGE"
        );
    }
    let now = crate::store::now_ms();
    for d in dead {
        let age = std::time::Duration::from_secs(
            u64::try_from((now - d.received_at) / 1000).unwrap_or(0),
        );
        println!(
            "{:>6}  {:<12} {:<20} {:<18} {:>8}  {:>8}  {}",
            d.id,
            d.channel,
            d.conversation,
            d.kind,
            d.attempts,
            humantime::format_duration(age)
                .to_string()
                .split(' ')
                .take(2)
                .collect::<Vec<_>>()
                .join(" "),
            d.last_error.unwrap_or_default()
        );
    }
    Ok(0)
}

/// `check-config`: the report, the mapping rules, and every credential `serve` would refuse.
fn check_config(args: &ConfigArg) -> anyhow::Result<i32> {
    let settings = load_settings(args)?;
    print!("{}", config::describe(&settings));
    let (report, ok) =
        crate::mapping::validate_report(&settings.mappings.dir, &channel_ids(&settings));
    print!("{report}");
    // Loadable, but `serve` would refuse: say so per key, and fail.
    for problem in &settings.unusable_secrets {
        eprintln!("warning: {problem}");
    }
    if !settings.unusable_secrets.is_empty() {
        eprintln!(
            "error: {} credential(s) empty or still a placeholder: `serve` and `worker` refuse to start until they are set",
            settings.unusable_secrets.len()
        );
    }
    Ok(if ok && settings.unusable_secrets.is_empty() {
        0
    } else {
        1
    })
}

/// `mappings explain`: parse a recorded webhook with the channel's connector and show, for each
/// customer message, how every route judges it and what ticket the winner would open.
fn explain(settings: &Settings, channel: &str, event: &std::path::Path) -> anyhow::Result<i32> {
    use crate::domain::{ChannelId, EventKind};
    use std::fmt::Write;
    crate::startup::install_crypto_provider();
    let registry = crate::startup::build_registry(
        settings,
        std::sync::Arc::new(crate::startup::NoCredentials),
    )?;
    let connector = registry
        .channel(&ChannelId::new(channel))
        .with_context(|| format!("no enabled channel {channel:?} in the configuration"))?;
    let body = std::fs::read(event).with_context(|| format!("reading {}", event.display()))?;
    let events = connector
        .parse_webhook(&body)
        .with_context(|| format!("{} is not a webhook this channel accepts", event.display()))?;
    let rules = crate::mapping::load_dir(&settings.mappings.dir, &channel_ids(settings))
        .map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let mut out = String::new();
    for event in &events {
        let EventKind::CustomerMessage(message) = &event.kind else {
            writeln!(
                out,
                "{}: {} event, stored but no ticket is made from it",
                event.dedupe_key,
                event.kind.name()
            )?;
            continue;
        };
        let text = message.body.text_for_matching();
        writeln!(
            out,
            "message {} from {} ({}): {:?}",
            event.dedupe_key,
            message.contact.display_name(),
            message.contact.id,
            text
        )?;
        for (route, verdict) in rules.explain(channel, text, &message.tags) {
            writeln!(out, "  route {:?}: {verdict}", route.name)?;
        }
        let vars = crate::mapping::TitleVars {
            contact_name: message.contact.name.as_deref(),
            contact_id: &message.contact.id,
            channel,
        };
        match rules.match_route(channel, text, &message.tags) {
            Some(route) => writeln!(
                out,
                "  => first message of a conversation: new ticket {:?} (route {:?}, queue {:?}, source {:?}); later messages: replies on it{}",
                route.render_title(&vars),
                route.name,
                route.queue,
                route.source,
                route
                    .reopen_within
                    .map(|w| format!("; reopened within {}", humantime::format_duration(w)))
                    .unwrap_or_default()
            )?,
            None => writeln!(
                out,
                "  => no route matches: built-in default, new ticket {:?}",
                crate::mapping::default_title(&vars)
            )?,
        }
    }
    if events.is_empty() {
        writeln!(out, "The webhook is valid but carries no events.")?;
    }
    print!("{out}");
    Ok(0)
}

fn channel_ids(settings: &Settings) -> Vec<String> {
    settings.channels.iter().map(|c| c.id.clone()).collect()
}

/// Load settings or explain in one line what is wrong.
fn load_settings(args: &ConfigArg) -> anyhow::Result<Settings> {
    config::load(args.config.as_deref()).map_err(|err| anyhow::anyhow!("{err}"))
}

async fn serve(args: ConfigArg, mode: Mode) -> anyhow::Result<i32> {
    let settings = load_settings(&args)?;
    settings
        .refuse_unusable_secrets()
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let app = Application::build(settings, mode)
        .await
        .context("starting omnibridge")?;
    let token = app.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("Shutdown requested; finishing current work.");
        token.cancel();
    });
    app.run_until_stopped().await?;
    Ok(0)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
