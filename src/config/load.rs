//! Loading settings: file, env overrides, validation.
use super::Settings;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
}

pub fn load(_path: Option<&Path>) -> Result<Settings, ConfigError> {
    Err(ConfigError::Invalid("not yet".into()))
}

pub fn load_from_str(
    _text: &str,
    _source: &str,
    _env: &[(String, String)],
) -> Result<Settings, ConfigError> {
    Err(ConfigError::Invalid("not yet".into()))
}
