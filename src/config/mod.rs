//! The settings tree (`omnibridge.toml` + `OMNIBRIDGE__SECTION__KEY` overrides), as documented in
//! `deploy/omnibridge.example.toml`.
//!
//! Loading and validation live in `load.rs` (with `overrides.rs`, `validate.rs` and `locate.rs`),
//! the `check-config` report in `describe.rs`; this file is only the shape.

mod describe;
mod load;
mod locate;
mod overrides;
mod secrets;
#[cfg(test)]
mod tests;
mod validate;

pub use describe::describe;
pub use load::{ConfigError, DEFAULTS_SOURCE, load, load_from_str};

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub worker: WorkerConfig,
    #[serde(default)]
    pub mappings: MappingsConfig,
    #[serde(default)]
    pub media: MediaConfig,
    #[serde(default)]
    pub inbenta: InbentaConfig,
    #[serde(default)]
    pub channels: Vec<ChannelConfig>,
    /// Not implemented yet: any value is refused by validation (get.chat Partner API).
    #[serde(default)]
    pub getchat_partner: Option<GetchatPartnerConfig>,
    /// Not implemented yet: a `[broadcasts]` section is refused by validation.
    #[serde(default)]
    pub broadcasts: Option<toml::Table>,
    /// Where the settings were read from (not a TOML key).
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// Credentials that are set but empty or still a placeholder (`"change-me"`), one line each
    /// naming where (not a TOML key): `check-config` reports them, `serve` and `worker` refuse to
    /// start (see [`Settings::refuse_unusable_secrets`]).
    #[serde(skip)]
    pub unusable_secrets: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    pub public_url: Option<url::Url>,
    pub admin_token: Option<SecretString>,
    /// Largest webhook body accepted, in bytes.
    pub max_body_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            admin_token: None,
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub url: SecretString,
    /// Connections in the pool.
    pub max_connections: u32,
    /// PostgreSQL only: the schema holding omnibridge's tables (created if missing). Unset: the
    /// connection's default search path.
    pub schema: Option<String>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from("sqlite://./data/omnibridge.db"),
            max_connections: 10,
            schema: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// Conversations processed at the same time by this process.
    pub concurrency: usize,
    #[serde(with = "humantime_serde_compat")]
    pub reconcile_interval: Duration,
    /// How long a worker holds a conversation before another may take it over (crash recovery).
    #[serde(with = "humantime_serde_compat")]
    pub lease_ttl: Duration,
    /// Attempts for a retryable failure before the event becomes a dead letter.
    pub max_attempts: u32,
    /// Delays between attempts; the last one repeats. Jitter of up to 20% is added.
    #[serde(with = "humantime_serde_compat::list")]
    pub retry_delays: Vec<Duration>,
    /// How often a worker looks for work whose trigger was lost (crash, expired lease, backoff).
    #[serde(with = "humantime_serde_compat")]
    pub sweep_interval: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            reconcile_interval: Duration::from_secs(60),
            lease_ttl: Duration::from_secs(300),
            max_attempts: 12,
            retry_delays: [1, 5, 15, 60, 300, 900]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            sweep_interval: Duration::from_secs(5),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MappingsConfig {
    pub dir: PathBuf,
}

impl Default for MappingsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("./mappings"),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum VoiceForTickets {
    #[default]
    Keep,
    Mp3,
    M4a,
}

/// `[media]`: attachment conversions are not implemented yet, so every key is optional and a key
/// that is set is refused by validation (files pass through as received).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    pub ffmpeg: Option<String>,
    pub voice_for_tickets: Option<VoiceForTickets>,
    pub public_links: Option<bool>,
}

impl MediaConfig {
    /// The keys that are set, by name.
    pub(crate) fn keys_set(&self) -> Vec<&'static str> {
        [
            ("ffmpeg", self.ffmpeg.is_some()),
            ("voice_for_tickets", self.voice_for_tickets.is_some()),
            ("public_links", self.public_links.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect()
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InbentaConfig {
    pub auth_url: url::Url,
    pub api_key: Option<SecretString>,
    pub secret: Option<SecretString>,
    pub webhook_secret: Option<SecretString>,
    pub bridge_user_name: String,
    /// Deterministic address for find-or-create of customers; `{wa_id}`, `{channel}` are filled in.
    pub user_address: String,
    /// Ticket status meaning closed.
    pub closed_status: i64,
    /// Ticket status set when a closed ticket is reopened (`reopen_within`).
    pub open_status: i64,
    /// How long a known ticket status is trusted before it is read again from Inbenta.
    #[serde(with = "humantime_serde_compat")]
    pub status_check_interval: Duration,
    /// Timeout of one HTTP call.
    #[serde(with = "humantime_serde_compat")]
    pub timeout: Duration,
}

impl Default for InbentaConfig {
    fn default() -> Self {
        Self {
            auth_url: url::Url::parse("https://api.inbenta.io").expect("static URL"),
            api_key: None,
            secret: None,
            webhook_secret: None,
            bridge_user_name: "WhatsApp".into(),
            user_address: "{wa_id}@whatsapp.invalid".into(),
            closed_status: 3,
            open_status: 1,
            status_check_interval: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Getchat,
    Qontak,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Getchat => "getchat",
            ChannelKind::Qontak => "qontak",
        }
    }
}

/// How a get.chat channel's events arrive. Only `webhook` is implemented; `websocket` and `both`
/// are accepted by the parser so validation can say "not implemented yet".
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Webhook,
    Websocket,
    Both,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Webhook => "webhook",
            Transport::Websocket => "websocket",
            Transport::Both => "both",
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FallbackTemplate {
    pub name: String,
    pub language: String,
    #[serde(default)]
    pub parameters: Vec<String>,
}

/// One `[[channels]]` entry. Fields that belong to one kind only are optional here and checked
/// by validation for the kind that needs them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub id: String,
    pub kind: ChannelKind,
    pub base_url: url::Url,
    #[serde(default = "default_true")]
    pub enabled: bool,
    // get.chat
    pub token: Option<SecretString>,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    #[serde(default)]
    pub transport: Transport,
    // Qontak
    pub access_token: Option<SecretString>,
    pub refresh_token: Option<SecretString>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub channel_integration_id: Option<String>,
    // both
    pub webhook_secret: Option<SecretString>,
    #[serde(default)]
    pub sync_resolution: bool,
    pub fallback_template: Option<FallbackTemplate>,
    /// Timeout of one HTTP call to this channel.
    #[serde(default = "default_timeout", with = "humantime_serde_compat")]
    pub timeout: Duration,
}

fn default_true() -> bool {
    true
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetchatPartnerConfig {
    pub base_url: url::Url,
    pub api_key: Option<SecretString>,
}

/// `"60s"`, `"5m"`, `"72h"` durations in TOML, through `humantime`.
pub mod humantime_serde_compat {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid duration {text:?} ({e}); use e.g. \"30s\", \"5m\", \"72h\""
            ))
        })
    }

    pub mod list {
        use serde::{Deserialize, Deserializer};
        use std::time::Duration;

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
            let texts = Vec::<String>::deserialize(d)?;
            texts
                .iter()
                .map(|text| {
                    humantime::parse_duration(text).map_err(|e| {
                        serde::de::Error::custom(format!("invalid duration {text:?} ({e})"))
                    })
                })
                .collect()
        }
    }
}
