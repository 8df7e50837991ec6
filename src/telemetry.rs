//! Logging: human-readable by default, JSON with `--log-format json`; `RUST_LOG` filters.

use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// What is logged unless `RUST_LOG` says otherwise.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn,apalis=warn,apalis_core=warn";
/// The sandbox prints its own story on stdout; the bridge's logs only speak up for problems.
pub const QUIET_FILTER: &str = "warn,sqlx=error,apalis=error,apalis_core=error";

pub fn init(format: LogFormat) {
    init_with(format, DEFAULT_FILTER);
}

pub fn init_with(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}

/// Quiet logging for tests: only when `TEST_LOG` is set.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(
                std::env::var("TEST_LOG").unwrap_or_else(|_| "debug".into()),
            ))
            .with_test_writer()
            .try_init();
    }
}
