//! TEMPORARY stub, replaced by the real loader.
#![allow(missing_docs)]
use super::*;
use std::path::PathBuf;
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub config_file: Option<PathBuf>,
    pub env_file: Option<PathBuf>,
    pub env: Vec<(String, String)>,
}
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);
pub fn load(s: &Sources) -> Result<Config, ConfigError> {
    let mut c: Config = match &s.config_file {
        Some(p) => {
            toml::from_str(&std::fs::read_to_string(p).map_err(|e| ConfigError(e.to_string()))?)
                .map_err(|e| ConfigError(e.to_string()))?
        }
        None => Config::default(),
    };
    if c.apps.is_empty() {
        c.apps.push(AppConfig::development());
    }
    Ok(c)
}
pub fn uses_development_app(c: &Config) -> bool {
    c.apps.len() == 1 && c.apps[0] == AppConfig::development()
}
