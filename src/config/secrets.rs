//! Secrets that are set but unusable: empty, or still a placeholder such as the example file's
//! `"change-me"`. `check-config` lists them; `serve` and `worker` refuse to start with any.
//! Messages name the key and where it was set, never the value.

use super::locate::KeyPath;
use super::validate::{Origin, channel_label, env_name};
use super::{ChannelConfig, ConfigError, Settings};
use secrecy::{ExposeSecret, SecretString};

/// Values that stand for "fill this in", compared trimmed and case-insensitively.
const PLACEHOLDERS: &[&str] = &[
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "replaceme",
    "todo",
    "tbd",
    "fixme",
    "placeholder",
];

/// True for a value nobody would use as a real credential: one of [`PLACEHOLDERS`], only `x`s
/// (`xxx`), only dots or ellipses (`...`, `…`), or a `<…>` hole.
pub(crate) fn is_placeholder(value: &str) -> bool {
    let value = value.trim().to_lowercase();
    if PLACEHOLDERS.contains(&value.as_str()) {
        return true;
    }
    let only = |allowed: &[char]| !value.is_empty() && value.chars().all(|c| allowed.contains(&c));
    only(&['x']) && value.len() >= 3
        || only(&['.', '…'])
        || (value.starts_with('<') && value.ends_with('>'))
}

impl Settings {
    /// What `serve` and `worker` check before starting: every credential that is set must be
    /// usable (not empty, not a placeholder). The error names each key, never its value.
    pub fn refuse_unusable_secrets(&self) -> Result<(), ConfigError> {
        if self.unusable_secrets.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::from_problems(self.unusable_secrets.clone()))
        }
    }
}

/// What is wrong with a value that is set, if anything.
fn flaw(value: &str) -> Option<&'static str> {
    if value.trim().is_empty() {
        Some("is empty")
    } else if is_placeholder(value) {
        Some("is still a placeholder")
    } else {
        None
    }
}

/// Whether `secret` is set but empty or a placeholder (for the `check-config` report).
pub(crate) fn is_unusable(secret: &SecretString) -> bool {
    flaw(secret.expose_secret()).is_some()
}

/// One located line per credential of the server, the helpdesk and every enabled channel that
/// is set but empty or a placeholder.
pub(crate) fn unusable_secrets(settings: &Settings, origin: &Origin<'_>) -> Vec<String> {
    let mut found = Vec::new();
    let mut check = |path: KeyPath, label: String, value: Option<&str>| {
        if let Some(what) = value.and_then(flaw) {
            let var = env_name(&path);
            found.push(format!(
                "{}: {label} {what} (value not shown); set the real value or {var}",
                origin.locate(&path)
            ));
        }
    };
    for (section, key, value) in [
        (
            "server",
            "admin_token",
            secret(&settings.server.admin_token),
        ),
        ("inbenta", "api_key", secret(&settings.inbenta.api_key)),
        ("inbenta", "secret", secret(&settings.inbenta.secret)),
        (
            "inbenta",
            "webhook_secret",
            secret(&settings.inbenta.webhook_secret),
        ),
    ] {
        check(
            KeyPath::keys(&[section, key]),
            format!("{section}.{key}"),
            value,
        );
    }
    for (index, channel) in settings.channels.iter().enumerate() {
        if !channel.enabled {
            continue;
        }
        let base = KeyPath::channel(index);
        for (key, value) in channel_credentials(channel) {
            check(
                base.key(key),
                format!("{} {key}", channel_label(index, &channel.id)),
                value,
            );
        }
    }
    found
}

fn secret(value: &Option<SecretString>) -> Option<&str> {
    value.as_ref().map(ExposeSecret::expose_secret)
}

/// A channel's credentials and ids, by key.
fn channel_credentials(c: &ChannelConfig) -> [(&'static str, Option<&str>); 9] {
    [
        ("token", secret(&c.token)),
        ("username", c.username.as_deref()),
        ("password", secret(&c.password)),
        ("access_token", secret(&c.access_token)),
        ("refresh_token", secret(&c.refresh_token)),
        ("client_id", c.client_id.as_deref()),
        ("client_secret", secret(&c.client_secret)),
        (
            "channel_integration_id",
            c.channel_integration_id.as_deref(),
        ),
        ("webhook_secret", secret(&c.webhook_secret)),
    ]
}

#[cfg(test)]
mod tests {
    use super::is_placeholder;

    #[test]
    fn placeholders_are_recognised_and_real_looking_values_are_not() {
        for value in [
            "change-me",
            " CHANGE-ME ",
            "ChangeMe",
            "TODO",
            "xxx",
            "XXXXXXXX",
            "...",
            "…",
            "<your token>",
        ] {
            assert!(is_placeholder(value), "{value:?}");
        }
        for value in [
            "hook-secret-for-tests",
            "sandbox-admin-token",
            "k-123",
            "x",
            "xx",
            "s3cret",
            "tok-789",
        ] {
            assert!(!is_placeholder(value), "{value:?}");
        }
    }
}
