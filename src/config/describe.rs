//! The `omnibridge check-config` report: what the loaded settings enable, with every secret shown
//! only as `[set]` or `[missing]`.

use super::load::DEFAULTS_SOURCE;
use super::{ChannelConfig, ChannelKind, Settings};
use secrecy::{ExposeSecret, SecretString};
use std::fmt::Write as _;
use std::time::Duration;

/// A human-readable summary of `settings`, several lines, ending with a newline.
pub fn describe(settings: &Settings) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_report(&mut out, settings);
    out
}

fn write_report(out: &mut String, s: &Settings) -> std::fmt::Result {
    let source = s
        .source
        .as_ref()
        .map_or_else(|| DEFAULTS_SOURCE.to_owned(), |p| p.display().to_string());
    writeln!(out, "config source: {source}")?;

    writeln!(out, "server:")?;
    writeln!(out, "  listen: {}", s.server.listen)?;
    match &s.server.public_url {
        Some(url) => writeln!(out, "  public_url: {url}")?,
        None => writeln!(
            out,
            "  public_url: (not set: webhooks cannot be registered with vendors)"
        )?,
    }
    writeln!(out, "  admin_token: {}", secret(&s.server.admin_token))?;
    writeln!(out, "  max_body_bytes: {}", s.server.max_body_bytes)?;

    let url = s.database.url.expose_secret();
    writeln!(
        out,
        "database: {} {} (max_connections {})",
        database_kind(url),
        redact_url(url),
        s.database.max_connections
    )?;
    if let Some(schema) = &s.database.schema {
        writeln!(out, "  schema: {schema}")?;
    }

    let w = &s.worker;
    let delays: Vec<String> = w.retry_delays.iter().map(|d| duration(*d)).collect();
    writeln!(out, "worker:")?;
    writeln!(out, "  concurrency: {}", w.concurrency)?;
    writeln!(
        out,
        "  reconcile_interval: {}",
        duration(w.reconcile_interval)
    )?;
    writeln!(out, "  lease_ttl: {}", duration(w.lease_ttl))?;
    writeln!(out, "  max_attempts: {}", w.max_attempts)?;
    writeln!(out, "  retry_delays: {}", delays.join(", "))?;
    writeln!(out, "  sweep_interval: {}", duration(w.sweep_interval))?;

    writeln!(out, "mappings: dir {}", s.mappings.dir.display())?;

    // Validation refuses every [media] key: conversions are not built.
    writeln!(
        out,
        "media: conversions not implemented yet (files are passed on as received)"
    )?;

    let i = &s.inbenta;
    writeln!(out, "inbenta:")?;
    writeln!(out, "  auth_url: {}", i.auth_url)?;
    writeln!(
        out,
        "  api_key: {}, secret: {}, webhook_secret: {}",
        secret(&i.api_key),
        secret(&i.secret),
        secret(&i.webhook_secret)
    )?;
    writeln!(out, "  bridge_user_name: {:?}", i.bridge_user_name)?;
    writeln!(out, "  user_address: {:?}", i.user_address)?;
    writeln!(
        out,
        "  closed_status: {}, open_status: {}, status_check_interval: {}, timeout: {}",
        i.closed_status,
        i.open_status,
        duration(i.status_check_interval),
        duration(i.timeout)
    )?;

    let enabled = s.channels.iter().filter(|c| c.enabled).count();
    writeln!(
        out,
        "channels: {} configured, {enabled} enabled",
        s.channels.len()
    )?;
    for channel in &s.channels {
        write_channel(out, channel)?;
    }

    Ok(())
}

fn write_channel(out: &mut String, c: &ChannelConfig) -> std::fmt::Result {
    let state = if c.enabled { "enabled" } else { "disabled" };
    writeln!(
        out,
        "  - {} ({}, {state}): {}",
        c.id,
        c.kind.as_str(),
        c.base_url
    )?;
    match c.kind {
        ChannelKind::Getchat => {
            let transport = c.transport.as_str();
            let auth = if is_set(&c.token) {
                format!("token {}", secret(&c.token))
            } else if c.username.is_some() || c.password.is_some() {
                format!(
                    "username {} + password {}",
                    plain(&c.username),
                    secret(&c.password)
                )
            } else {
                "token [missing]".to_owned()
            };
            writeln!(out, "      transport: {transport}, auth: {auth}")?;
        }
        ChannelKind::Qontak => {
            writeln!(
                out,
                "      auth: OAuth access_token {}, refresh_token {}, client_id {}, client_secret {}",
                secret(&c.access_token),
                secret(&c.refresh_token),
                plain(&c.client_id),
                secret(&c.client_secret)
            )?;
            let integration = c
                .channel_integration_id
                .as_deref()
                .unwrap_or("(not set: direct templates unavailable)");
            writeln!(out, "      channel_integration_id: {integration}")?;
        }
    }
    writeln!(
        out,
        "      webhook_secret: {}, sync_resolution: {}, timeout: {}",
        secret(&c.webhook_secret),
        c.sync_resolution,
        duration(c.timeout)
    )?;
    match &c.fallback_template {
        Some(t) => writeln!(
            out,
            "      fallback template: {} ({}, {} parameter(s))",
            t.name,
            t.language,
            t.parameters.len()
        ),
        None => writeln!(
            out,
            "      fallback template: none (replies outside the 24 h window fail)"
        ),
    }
}

fn is_set(value: &Option<SecretString>) -> bool {
    value
        .as_ref()
        .is_some_and(|s| !s.expose_secret().trim().is_empty())
}

/// [`secret`] for a value that is not secret but still shown only by its state.
fn plain(value: &Option<String>) -> &'static str {
    match value.as_deref() {
        Some(v) if v.trim().is_empty() => "[missing]",
        Some(v) if super::secrets::is_placeholder(v) => "[placeholder]",
        Some(_) => "[set]",
        None => "[missing]",
    }
}

/// `[set]`, `[missing]` (absent or empty) or `[placeholder]` (e.g. `"change-me"`).
fn secret(value: &Option<SecretString>) -> &'static str {
    match value {
        Some(s) if is_set(value) && super::secrets::is_unusable(s) => "[placeholder]",
        _ if is_set(value) => "[set]",
        _ => "[missing]",
    }
}

fn duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn database_kind(url: &str) -> &'static str {
    if url.starts_with("sqlite:") {
        "sqlite"
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        "postgres"
    } else {
        "unknown"
    }
}

/// The database URL with its password (and any password-like query value) replaced by `***`.
pub(crate) fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        // Unparseable: show the scheme only, the rest may hold a password.
        let scheme = raw.split(':').next().unwrap_or_default();
        return format!("{scheme}:(unparseable URL, not shown)");
    };
    if url.password().is_some() && url.set_password(Some("***")).is_err() {
        return format!("{}:(not shown)", url.scheme());
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let hidden = k.to_ascii_lowercase().contains("pass")
                || k.to_ascii_lowercase().contains("secret");
            let v = if hidden {
                "***".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    if !pairs.is_empty() {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string().replace("%2A%2A%2A", "***")
}
