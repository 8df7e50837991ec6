//! The bridge's configuration against the simulators, for the integration tests, the benchmarks
//! and `omnibridge sandbox`: one builder instead of hand-formatted TOML. It writes TOML text
//! (`to_toml`, for a config file the real binary reads) and loads it through the real loader
//! (`load`), so every user exercises the same parsing and validation as `serve`.
//!
//! Every field left `None` is left out of the file and gets the loader's default.

use super::getchat::GetchatSim;
use super::inbenta::{self, InbentaSim};
use super::qontak::{self, QontakSim};
use crate::config::{self, ConfigError, FallbackTemplate, Settings};
use secrecy::{ExposeSecret, SecretString};
use std::path::PathBuf;
use std::time::Duration;
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

/// Settings for the bridge against simulated vendors.
#[derive(Clone, Debug, Default)]
pub struct SimSettings {
    /// `[server] listen`, e.g. `127.0.0.1:0`.
    pub listen: Option<String>,
    /// `[server] public_url`: what vendors are told to call.
    pub public_url: Option<String>,
    pub admin_token: Option<SecretString>,
    /// `[database] url`: `sqlite://…` or `postgres://…`.
    pub database_url: Option<SecretString>,
    pub max_connections: Option<u32>,
    /// `[database] schema` (PostgreSQL).
    pub pg_schema: Option<String>,
    pub worker: WorkerKnobs,
    /// `[mappings] dir`.
    pub mappings_dir: Option<PathBuf>,
    pub inbenta: Option<SimInbenta>,
    /// `[[channels]]`, in order.
    pub channels: Vec<SimChannel>,
    /// More `[server]` keys, as TOML lines (timeouts, connection and body limits).
    pub server_extra: Option<String>,
}

/// `[worker]`.
#[derive(Clone, Debug, Default)]
pub struct WorkerKnobs {
    pub concurrency: Option<usize>,
    pub lease_ttl: Option<Duration>,
    pub max_attempts: Option<u32>,
    pub retry_delays: Option<Vec<Duration>>,
    pub sweep_interval: Option<Duration>,
    pub reconcile_interval: Option<Duration>,
}

/// `[inbenta]` pointing at a simulated Inbenta.
#[derive(Clone, Debug)]
pub struct SimInbenta {
    pub auth_url: String,
    pub api_key: SecretString,
    pub secret: SecretString,
    pub webhook_secret: Option<SecretString>,
    pub status_check_interval: Option<Duration>,
    /// Timeout of one HTTP call.
    pub timeout: Option<Duration>,
}

impl SimInbenta {
    /// The simulator's URL and credentials; everything else left to the defaults.
    pub fn new(sim: &InbentaSim) -> SimInbenta {
        SimInbenta {
            auth_url: sim.auth_url(),
            api_key: inbenta::API_KEY.into(),
            secret: inbenta::SECRET.into(),
            webhook_secret: None,
            status_check_interval: None,
            timeout: None,
        }
    }
}

/// One `[[channels]]` entry pointing at a simulator.
#[derive(Clone, Debug)]
pub struct SimChannel {
    pub id: String,
    pub vendor: ChannelVendor,
    pub webhook_secret: Option<SecretString>,
    pub sync_resolution: bool,
    pub fallback_template: Option<FallbackTemplate>,
    /// Timeout of one HTTP call to this channel.
    pub timeout: Option<Duration>,
}

/// The vendor of a channel and what the configuration names for it.
#[derive(Clone, Debug)]
pub enum ChannelVendor {
    Getchat {
        base_url: String,
        token: SecretString,
    },
    Qontak {
        base_url: String,
        access_token: SecretString,
        refresh_token: SecretString,
        client_id: String,
        client_secret: SecretString,
        channel_integration_id: String,
    },
}

impl SimChannel {
    /// A get.chat channel `id` on the simulator, with its current token.
    pub fn getchat(id: &str, sim: &GetchatSim) -> SimChannel {
        Self::with_vendor(
            id,
            ChannelVendor::Getchat {
                base_url: sim.base_url(),
                token: sim.token().into(),
            },
        )
    }

    /// A Qontak channel `id` on the simulator, with the tokens that work now (the refresh token
    /// rotates: a configuration written later names tokens that no longer work).
    pub fn qontak(id: &str, sim: &QontakSim) -> SimChannel {
        Self::with_vendor(
            id,
            ChannelVendor::Qontak {
                base_url: sim.base_url(),
                access_token: sim.access_token().into(),
                refresh_token: sim.refresh_token().into(),
                client_id: qontak::CLIENT_ID.to_owned(),
                client_secret: qontak::CLIENT_SECRET.into(),
                channel_integration_id: sim.channel_integration_id(),
            },
        )
    }

    fn with_vendor(id: &str, vendor: ChannelVendor) -> SimChannel {
        SimChannel {
            id: id.to_owned(),
            vendor,
            webhook_secret: None,
            sync_resolution: false,
            fallback_template: None,
            timeout: None,
        }
    }

    fn table(&self) -> Table {
        let mut table = Table::new();
        table.insert("id", text(&self.id));
        match &self.vendor {
            ChannelVendor::Getchat { base_url, token } => {
                table.insert("kind", text("getchat"));
                table.insert("base_url", text(base_url));
                table.insert("token", secret(token));
            }
            ChannelVendor::Qontak {
                base_url,
                access_token,
                refresh_token,
                client_id,
                client_secret,
                channel_integration_id,
            } => {
                table.insert("kind", text("qontak"));
                table.insert("base_url", text(base_url));
                table.insert("access_token", secret(access_token));
                table.insert("refresh_token", secret(refresh_token));
                table.insert("client_id", text(client_id));
                table.insert("client_secret", secret(client_secret));
                table.insert("channel_integration_id", text(channel_integration_id));
            }
        }
        put(
            &mut table,
            "webhook_secret",
            self.webhook_secret.as_ref().map(secret),
        );
        put(&mut table, "timeout", self.timeout.map(duration));
        table.insert("sync_resolution", Item::Value(self.sync_resolution.into()));
        if let Some(template) = &self.fallback_template {
            table.insert("fallback_template", Item::Value(template_value(template)));
        }
        table
    }
}

impl SimSettings {
    /// The configuration as a TOML file.
    pub fn to_toml(&self) -> String {
        let mut doc = DocumentMut::new();
        let sections = [
            ("server", self.server_table()),
            ("database", self.database_table()),
            ("worker", self.worker.table()),
            ("mappings", self.mappings_table()),
            (
                "inbenta",
                self.inbenta
                    .as_ref()
                    .map(SimInbenta::table)
                    .unwrap_or_default(),
            ),
        ];
        for (name, table) in sections {
            if !table.is_empty() {
                doc.insert(name, Item::Table(table));
            }
        }
        if !self.channels.is_empty() {
            let mut channels = ArrayOfTables::new();
            for channel in &self.channels {
                channels.push(channel.table());
            }
            doc.insert("channels", Item::ArrayOfTables(channels));
        }
        doc.to_string()
    }

    /// The settings, read through the real loader as if from a file named `source`.
    pub fn load(&self, source: &str) -> Result<Settings, ConfigError> {
        config::load_from_str(&self.to_toml(), source, &[])
    }

    fn server_table(&self) -> Table {
        let mut table = Table::new();
        put(&mut table, "listen", self.listen.as_deref().map(text));
        put(
            &mut table,
            "public_url",
            self.public_url.as_deref().map(text),
        );
        put(
            &mut table,
            "admin_token",
            self.admin_token.as_ref().map(secret),
        );
        let extra = self.server_extra.as_deref().unwrap_or_default();
        let extra: DocumentMut = extra
            .parse()
            .expect("server_extra holds TOML key = value lines");
        for (key, item) in extra.iter() {
            table.insert(key, item.clone());
        }
        table
    }

    fn database_table(&self) -> Table {
        let mut table = Table::new();
        put(&mut table, "url", self.database_url.as_ref().map(secret));
        put(
            &mut table,
            "max_connections",
            self.max_connections.map(integer),
        );
        put(&mut table, "schema", self.pg_schema.as_deref().map(text));
        table
    }

    fn mappings_table(&self) -> Table {
        let mut table = Table::new();
        let dir = self.mappings_dir.as_ref().map(|d| d.display().to_string());
        put(&mut table, "dir", dir.as_deref().map(text));
        table
    }
}

impl WorkerKnobs {
    fn table(&self) -> Table {
        let mut table = Table::new();
        put(&mut table, "concurrency", self.concurrency.map(integer));
        put(&mut table, "lease_ttl", self.lease_ttl.map(duration));
        put(&mut table, "max_attempts", self.max_attempts.map(integer));
        let delays = self.retry_delays.as_ref().map(|delays| {
            let list: Array = delays.iter().map(|d| format_duration(*d)).collect();
            Item::Value(Value::Array(list))
        });
        put(&mut table, "retry_delays", delays);
        put(
            &mut table,
            "sweep_interval",
            self.sweep_interval.map(duration),
        );
        put(
            &mut table,
            "reconcile_interval",
            self.reconcile_interval.map(duration),
        );
        table
    }
}

impl SimInbenta {
    fn table(&self) -> Table {
        let mut table = Table::new();
        table.insert("auth_url", text(&self.auth_url));
        table.insert("api_key", secret(&self.api_key));
        table.insert("secret", secret(&self.secret));
        put(
            &mut table,
            "webhook_secret",
            self.webhook_secret.as_ref().map(secret),
        );
        let interval = self.status_check_interval.map(duration);
        put(&mut table, "status_check_interval", interval);
        put(&mut table, "timeout", self.timeout.map(duration));
        table
    }
}

fn put(table: &mut Table, key: &str, item: Option<Item>) {
    if let Some(item) = item {
        table.insert(key, item);
    }
}

fn text(value: &str) -> Item {
    Item::Value(value.into())
}

fn secret(value: &SecretString) -> Item {
    text(value.expose_secret())
}

fn integer(value: impl TryInto<i64>) -> Item {
    Item::Value(value.try_into().unwrap_or(i64::MAX).into())
}

fn duration(value: Duration) -> Item {
    text(&format_duration(value))
}

/// `50ms`, `5s`, `1h`, `1s 500ms`: what the loader's `humantime` reads back.
fn format_duration(value: Duration) -> String {
    humantime::format_duration(value).to_string()
}

fn template_value(template: &FallbackTemplate) -> Value {
    let mut table = InlineTable::new();
    table.insert("name", template.name.as_str().into());
    table.insert("language", template.language.as_str().into());
    let parameters: Array = template.parameters.iter().map(String::as_str).collect();
    table.insert("parameters", Value::Array(parameters));
    Value::InlineTable(table)
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
