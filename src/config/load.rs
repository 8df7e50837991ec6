//! Loading settings: find the file, parse it, apply `OMNIBRIDGE__SECTION__KEY` overrides,
//! validate.
//!
//! Every error is one line naming where the problem is: `file:line:col` for TOML syntax and type
//! errors, `file:line` for validation rules, or the environment variable that set the value.
//! Secret values never appear in errors.

use super::Settings;
use super::locate::{KeyPath, Seg, line_col, path_at};
use super::overrides::{self, Override};
use super::validate::{Origin, channel_label, validate};
use std::path::{Path, PathBuf};
use toml_edit::{Document, TableLike};

/// The name shown for settings that come from no file.
pub const DEFAULTS_SOURCE: &str = "<built-in defaults>";

/// Why the settings could not be loaded. `Display` is a single line, suitable to print before
/// exiting with status 1; [`ConfigError::problems`] lists every problem separately.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read the config file: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One problem.
    #[error("{0}")]
    Invalid(String),
    /// Several problems, all reported at once.
    #[error("{}", summarise(.0))]
    Several(Vec<String>),
}

impl ConfigError {
    pub(crate) fn from_problems(mut problems: Vec<String>) -> Self {
        if problems.len() == 1 {
            ConfigError::Invalid(problems.remove(0))
        } else {
            ConfigError::Several(problems)
        }
    }

    /// Every problem, one line each.
    pub fn problems(&self) -> Vec<String> {
        match self {
            ConfigError::Several(all) => all.clone(),
            other => vec![other.to_string()],
        }
    }
}

fn summarise(problems: &[String]) -> String {
    match problems {
        [] => "invalid configuration".into(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (and {} more: {})", rest.len(), rest.join("; ")),
    }
}

/// Loads the settings: the file at `path`, else `$OMNIBRIDGE_CONFIG`, else `./omnibridge.toml` if
/// present, else the built-in defaults; then the `OMNIBRIDGE__…` environment overrides.
pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let from_env = env
        .iter()
        .find(|(k, v)| k == "OMNIBRIDGE_CONFIG" && !v.trim().is_empty())
        .map(|(_, v)| PathBuf::from(v));
    let local = Path::new("omnibridge.toml");
    let file = path
        .map(Path::to_path_buf)
        .or(from_env)
        .or_else(|| local.is_file().then(|| local.to_path_buf()));
    match file {
        Some(file) => {
            let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
                path: file.clone(),
                source,
            })?;
            let name = file.display().to_string();
            parse(&text, &name, Some(file), &env)
        }
        None => parse("", DEFAULTS_SOURCE, None, &env),
    }
}

/// Like [`load`], from TOML text: `source` names it in errors and in `Settings::source`, `env`
/// stands for the process environment (only `OMNIBRIDGE__…` entries are used).
pub fn load_from_str(
    text: &str,
    source: &str,
    env: &[(String, String)],
) -> Result<Settings, ConfigError> {
    let path = (source != DEFAULTS_SOURCE).then(|| PathBuf::from(source));
    parse(text, source, path, env)
}

fn parse(
    text: &str,
    name: &str,
    source: Option<PathBuf>,
    env: &[(String, String)],
) -> Result<Settings, ConfigError> {
    let doc = Document::parse(text.to_owned()).map_err(|e| {
        let (line, col) = line_col(text, e.span().map_or(0, |s| s.start));
        ConfigError::Invalid(format!("{name}:{line}:{col}: {}", one_line(e.message())))
    })?;
    check_kinds(&doc, text, name)?;
    let from_file = toml::from_str::<Settings>(text)
        .map_err(|e| ConfigError::Invalid(file_error(&e, text, name, &doc)));
    let mut overrides = overrides::collect(env).map_err(ConfigError::from_problems)?;
    let mut settings = if overrides.is_empty() {
        from_file?
    } else {
        match with_overrides(text, &mut overrides) {
            Ok(settings) => settings,
            // An override may fix a file error; when both fail, the file's error comes first.
            Err(override_error) => {
                from_file?;
                return Err(override_error);
            }
        }
    };
    settings.source = source;
    let origin = Origin {
        name,
        text,
        doc: &doc,
        overrides: &overrides,
    };
    let problems = validate(&settings, &origin);
    if problems.is_empty() {
        settings.unusable_secrets = super::secrets::unusable_secrets(&settings, &origin);
        Ok(settings)
    } else {
        Err(ConfigError::from_problems(problems))
    }
}

/// `kind` is checked before serde so the message lists the kinds and names the channel.
fn check_kinds(doc: &Document<String>, text: &str, name: &str) -> Result<(), ConfigError> {
    let Some(channels) = doc.as_table().get("channels") else {
        return Ok(());
    };
    let tables: Vec<&dyn TableLike> = if let Some(aot) = channels.as_array_of_tables() {
        aot.iter().map(|t| t as &dyn TableLike).collect()
    } else if let Some(array) = channels.as_array() {
        array
            .iter()
            .filter_map(|v| v.as_inline_table().map(|t| t as &dyn TableLike))
            .collect()
    } else {
        return Ok(());
    };
    let mut problems = Vec::new();
    for (index, table) in tables.into_iter().enumerate() {
        let Some((key, item)) = table.get_key_value("kind") else {
            continue;
        };
        let Some(kind) = item.as_str() else { continue };
        if matches!(kind, "getchat" | "qontak") {
            continue;
        }
        let id = table.get("id").and_then(|i| i.as_str()).unwrap_or("?");
        let line = key
            .span()
            .map_or(0, |s| super::locate::line_of(text, s.start));
        problems.push(format!(
            "{name}:{line}: {}: kind = {kind:?} is not one of getchat, qontak",
            channel_label(index, id)
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::from_problems(problems))
    }
}

/// `file:line:col: key: message` for a serde error from the file.
fn file_error(e: &toml::de::Error, text: &str, name: &str, doc: &Document<String>) -> String {
    let Some(span) = e.span() else {
        return format!("{name}: {}", one_line(e.message()));
    };
    let (line, col) = line_col(text, span.start);
    let path = path_at(doc, span.start);
    let message = redact_if_secret(&path, e.message());
    if path.is_empty() {
        format!("{name}:{line}:{col}: {message}")
    } else {
        format!("{name}:{line}:{col}: {path}: {message}")
    }
}

/// Applies the overrides to the file's table and deserializes the result. A value the settings
/// reject is retried in its other representations (string, list); a remaining error names the
/// environment variable responsible.
fn with_overrides(text: &str, overrides: &mut [Override]) -> Result<Settings, ConfigError> {
    // The error of each override's first representation: the one reported if none fits.
    let mut first_errors: Vec<(KeyPath, String)> = Vec::new();
    // Each round either succeeds, fails, or moves one override to its next representation.
    for _ in 0..=overrides.len() * 2 {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::Invalid(one_line(e.message())))?;
        overrides::apply_all(&mut table, overrides).map_err(ConfigError::Invalid)?;
        // Re-encode so the deserializer reports a span, which gives the exact key path.
        let merged = toml::to_string(&table).map_err(|e| {
            ConfigError::Invalid(format!(
                "environment overrides: {}",
                one_line(&e.to_string())
            ))
        })?;
        let error = match toml::from_str::<Settings>(&merged) {
            Ok(settings) => return Ok(settings),
            Err(error) => error,
        };
        let path = match (error.span(), Document::parse(merged.clone())) {
            (Some(span), Ok(doc)) => path_at(&doc, span.start),
            _ => KeyPath::default(),
        };
        let message = override_error(&path, &error, overrides);
        if let Some(o) = overrides.iter_mut().find(|o| o.path == path) {
            if !first_errors.iter().any(|(p, _)| p == &path) {
                first_errors.push((path.clone(), message.clone()));
            }
            if o.next_repr() {
                continue;
            }
        }
        let first = first_errors.into_iter().find(|(p, _)| p == &path);
        return Err(ConfigError::Invalid(first.map_or(message, |(_, m)| m)));
    }
    Err(ConfigError::Invalid(
        "environment overrides could not be applied".into(),
    ))
}

fn override_error(path: &KeyPath, error: &toml::de::Error, overrides: &[Override]) -> String {
    let message = redact_if_secret(path, error.message());
    let exact = overrides.iter().find(|o| &o.path == path);
    let related: Vec<&str> = match exact {
        Some(o) => vec![o.var.as_str()],
        None => overrides
            .iter()
            .filter(|o| path.is_empty() || o.path.starts_with(path) || path.starts_with(&o.path))
            .map(|o| o.var.as_str())
            .collect(),
    };
    let vars = if related.is_empty() {
        overrides
            .iter()
            .map(|o| o.var.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        related.join(", ")
    };
    if path.is_empty() {
        format!("environment variable {vars}: {message}")
    } else {
        format!("environment variable {vars}: {path}: {message}")
    }
}

/// Keys whose values are secrets: their values are cut out of error messages.
const SECRET_KEYS: &[&str] = &[
    "admin_token",
    "api_key",
    "secret",
    "webhook_secret",
    "token",
    "password",
    "access_token",
    "refresh_token",
    "client_secret",
];

fn is_secret_path(path: &KeyPath) -> bool {
    let database_url = path.0 == [Seg::Key("database".into()), Seg::Key("url".into())];
    database_url || path.leaf().is_some_and(|k| SECRET_KEYS.contains(&k))
}

/// The message on one line, with quoted values replaced by `***` when the key is a secret.
fn redact_if_secret(path: &KeyPath, message: &str) -> String {
    let message = one_line(message);
    if !is_secret_path(path) {
        return message;
    }
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                out.push_str("***");
                out.push(c);
                quote = None;
            }
            Some(_) => {}
            None => {
                out.push(c);
                if c == '`' || c == '"' {
                    quote = Some(c);
                }
            }
        }
    }
    if quote.is_some() {
        out.push_str("***");
    }
    out
}

fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
