//! Cross-field rules checked after the settings were deserialized. Each problem is one line that
//! names where it comes from (`file:line` or the environment variable), the key and what is wrong,
//! never a secret's value.

use super::locate::{KeyPath, Seg, line_of, span_for};
use super::overrides::Override;
use super::{ChannelConfig, ChannelKind, Settings};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::net::SocketAddr;
use toml_edit::Document;

/// Where the settings came from, to turn key paths into `file:line` or a variable name.
pub(crate) struct Origin<'a> {
    /// The file name as shown to the operator, or `<built-in defaults>`.
    pub(crate) name: &'a str,
    pub(crate) text: &'a str,
    pub(crate) doc: &'a Document<String>,
    pub(crate) overrides: &'a [Override],
}

impl Origin<'_> {
    /// `file:line`, `environment variable X` or just the file name, for `path`.
    pub(crate) fn locate(&self, path: &KeyPath) -> String {
        if let Some(o) = self.overrides.iter().find(|o| &o.path == path) {
            return format!("environment variable {}", o.var);
        }
        if let Some(span) = span_for(self.doc, path) {
            return format!("{}:{}", self.name, line_of(self.text, span.start));
        }
        if let Some(o) = self.overrides.iter().find(|o| o.path.starts_with(path)) {
            return format!("environment variable {}", o.var);
        }
        self.name.to_owned()
    }

    fn problem(&self, path: &KeyPath, message: impl AsRef<str>) -> String {
        format!("{}: {}", self.locate(path), message.as_ref())
    }
}

/// All problems found in `settings`; empty means valid.
pub(crate) fn validate(settings: &Settings, origin: &Origin<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    check_server(settings, origin, &mut problems);
    check_database(settings, origin, &mut problems);
    check_worker(settings, origin, &mut problems);
    check_urls(settings, origin, &mut problems);
    check_channels(settings, origin, &mut problems);
    check_not_implemented(settings, origin, &mut problems);
    problems
}

/// Keys of features that are documented for later versions but not built: a key that is set is
/// an error rather than silently ignored.
fn check_not_implemented(settings: &Settings, origin: &Origin<'_>, problems: &mut Vec<String>) {
    for key in settings.media.keys_set() {
        problems.push(origin.problem(
            &KeyPath::keys(&["media", key]),
            format!(
                "media.{key} is not implemented yet (files are passed on as received); remove the key"
            ),
        ));
    }
    for (section, what) in [
        ("getchat_partner", settings.getchat_partner.is_some()),
        ("broadcasts", settings.broadcasts.is_some()),
    ] {
        if what {
            problems.push(origin.problem(
                &KeyPath::keys(&[section]),
                format!("[{section}] is not implemented yet; remove the section"),
            ));
        }
    }
    for (index, channel) in settings.channels.iter().enumerate() {
        if channel.transport != super::Transport::Webhook {
            problems.push(origin.problem(
                &KeyPath::channel(index).key("transport"),
                format!(
                    "{}: transport = {:?} is not implemented yet; only \"webhook\" is (remove the key)",
                    channel_label(index, &channel.id),
                    channel.transport.as_str()
                ),
            ));
        }
    }
}

fn check_server(settings: &Settings, origin: &Origin<'_>, problems: &mut Vec<String>) {
    let listen = &settings.server.listen;
    if listen.parse::<SocketAddr>().is_err() {
        problems.push(origin.problem(
            &KeyPath::keys(&["server", "listen"]),
            format!("server.listen = {listen:?} is not a socket address (e.g. \"127.0.0.1:8080\")"),
        ));
    }
    if settings.server.max_body_bytes == 0 {
        problems.push(origin.problem(
            &KeyPath::keys(&["server", "max_body_bytes"]),
            "server.max_body_bytes must be at least 1",
        ));
    }
}

fn check_database(settings: &Settings, origin: &Origin<'_>, problems: &mut Vec<String>) {
    let url = settings.database.url.expose_secret();
    let ok = ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|prefix| url.starts_with(prefix));
    if !ok {
        // The URL may hold a password: never echo it.
        problems.push(origin.problem(
            &KeyPath::keys(&["database", "url"]),
            "database.url must start with sqlite:, postgres:// or postgresql:// (value not shown)",
        ));
    }
    if settings.database.max_connections == 0 {
        problems.push(origin.problem(
            &KeyPath::keys(&["database", "max_connections"]),
            "database.max_connections must be at least 1",
        ));
    }
}

fn check_worker(settings: &Settings, origin: &Origin<'_>, problems: &mut Vec<String>) {
    let worker = &settings.worker;
    if worker.concurrency < 1 {
        problems.push(origin.problem(
            &KeyPath::keys(&["worker", "concurrency"]),
            "worker.concurrency must be at least 1",
        ));
    }
    if worker.retry_delays.is_empty() {
        problems.push(origin.problem(
            &KeyPath::keys(&["worker", "retry_delays"]),
            "worker.retry_delays must list at least one delay, e.g. [\"1s\", \"30s\", \"5m\"]",
        ));
    }
    if worker.max_attempts < 1 {
        problems.push(origin.problem(
            &KeyPath::keys(&["worker", "max_attempts"]),
            "worker.max_attempts must be at least 1",
        ));
    }
    for (key, value) in [
        ("reconcile_interval", worker.reconcile_interval),
        ("lease_ttl", worker.lease_ttl),
        ("sweep_interval", worker.sweep_interval),
    ] {
        if value.is_zero() {
            problems.push(origin.problem(
                &KeyPath::keys(&["worker", key]),
                format!("worker.{key} must be longer than 0s"),
            ));
        }
    }
}

fn check_http_url(url: &url::Url, path: &KeyPath, origin: &Origin<'_>, problems: &mut Vec<String>) {
    if !matches!(url.scheme(), "http" | "https") {
        problems.push(origin.problem(
            path,
            format!(
                "{path} must be an http:// or https:// URL, not {}:",
                url.scheme()
            ),
        ));
    }
}

fn check_urls(settings: &Settings, origin: &Origin<'_>, problems: &mut Vec<String>) {
    if let Some(url) = &settings.server.public_url {
        check_http_url(
            url,
            &KeyPath::keys(&["server", "public_url"]),
            origin,
            problems,
        );
    }
    check_http_url(
        &settings.inbenta.auth_url,
        &KeyPath::keys(&["inbenta", "auth_url"]),
        origin,
        problems,
    );
}

fn is_set(secret: &Option<SecretString>) -> bool {
    secret
        .as_ref()
        .is_some_and(|s| !s.expose_secret().trim().is_empty())
}

fn has_text(value: &Option<String>) -> bool {
    value.as_ref().is_some_and(|s| !s.trim().is_empty())
}

fn is_url_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// `channels[0] (id "sales")`.
pub(crate) fn channel_label(index: usize, id: &str) -> String {
    format!("channels[{index}] (id {id:?})")
}

fn check_channels(settings: &Settings, origin: &Origin<'_>, problems: &mut Vec<String>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (index, channel) in settings.channels.iter().enumerate() {
        let base = KeyPath::channel(index);
        let label = channel_label(index, &channel.id);
        if !is_url_safe_id(&channel.id) {
            problems.push(origin.problem(
                &base.key("id"),
                format!("{label}: id must be lower-case letters, digits, '_' or '-' (it is used in URLs)"),
            ));
        }
        if let Some(first) = seen.insert(&channel.id, index) {
            problems.push(origin.problem(
                &base.key("id"),
                format!("{label}: id is already used by channels[{first}]"),
            ));
        }
        check_http_url(&channel.base_url, &base.key("base_url"), origin, problems);
        if channel.enabled {
            for (key, what) in missing_credentials(channel) {
                let var = env_name(&base.key(key));
                problems.push(origin.problem(
                    &base.key(key),
                    format!(
                        "{label}: an enabled {} channel needs {what} (set it or {var}; or enabled = false)",
                        channel.kind.as_str()
                    ),
                ));
            }
        }
        if let Some(template) = &channel.fallback_template
            && (template.name.trim().is_empty() || template.language.trim().is_empty())
        {
            problems.push(origin.problem(
                &base.key("fallback_template"),
                format!("{label}: fallback_template needs a name and a language"),
            ));
        }
    }
    if let Some(channel) = settings.channels.iter().find(|c| c.enabled) {
        for (key, value) in [
            ("api_key", &settings.inbenta.api_key),
            ("secret", &settings.inbenta.secret),
        ] {
            if !is_set(value) {
                let path = KeyPath::keys(&["inbenta", key]);
                problems.push(origin.problem(
                    &path,
                    format!(
                        "inbenta.{key} is required while a channel is enabled (channel {:?}); set it or {}",
                        channel.id,
                        env_name(&path)
                    ),
                ));
            }
        }
    }
}

/// The credential keys an enabled channel of its kind still lacks, with how to name them.
fn missing_credentials(channel: &ChannelConfig) -> Vec<(&'static str, &'static str)> {
    let mut missing = Vec::new();
    match channel.kind {
        ChannelKind::Getchat => {
            let user_pass = has_text(&channel.username) && is_set(&channel.password);
            if !is_set(&channel.token) && !user_pass {
                if has_text(&channel.username) {
                    missing.push(("password", "password (with username)"));
                } else if is_set(&channel.password) {
                    missing.push(("username", "username (with password)"));
                } else {
                    missing.push(("token", "token, or username + password"));
                }
            }
        }
        ChannelKind::Qontak => {
            for (key, set) in [
                ("access_token", is_set(&channel.access_token)),
                ("refresh_token", is_set(&channel.refresh_token)),
                ("client_id", has_text(&channel.client_id)),
                ("client_secret", is_set(&channel.client_secret)),
            ] {
                if !set {
                    missing.push((key, key));
                }
            }
        }
    }
    if !is_set(&channel.webhook_secret) {
        missing.push(("webhook_secret", "webhook_secret"));
    }
    missing
}

/// The override variable for a path: `OMNIBRIDGE__CHANNELS__0__TOKEN`.
pub(crate) fn env_name(path: &KeyPath) -> String {
    let mut name = String::from("OMNIBRIDGE");
    for seg in &path.0 {
        name.push_str("__");
        match seg {
            Seg::Key(k) => name.push_str(&k.to_ascii_uppercase()),
            Seg::Index(n) => name.push_str(&n.to_string()),
        }
    }
    name
}
