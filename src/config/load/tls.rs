//! `[server.tls]` and `CLARION_TLS_CERT` / `CLARION_TLS_KEY`: both files or
//! neither, relative paths from the config file's directory (environment
//! paths from the working directory), and both files readable now. Whether
//! they hold a usable certificate and key is decided by `tls::Tls` when the
//! node is built, and again at each SIGHUP.

use std::path::{Path, PathBuf};

use super::{ConfigError, Env, Files};
use crate::config::{Config, TlsConfig};

/// Merges the environment into `cfg.server.tls`, resolves its paths and
/// checks that both files can be read.
pub(super) fn apply_tls(
    env: &Env,
    cfg: &mut Config,
    file: Option<&Path>,
    files: &dyn Files,
) -> Result<(), ConfigError> {
    let base = file.and_then(Path::parent);
    let from_file = |path: &PathBuf| match base {
        Some(base) if path.is_relative() => base.join(path),
        _ => path.clone(),
    };
    let mut cert = cfg.server.tls.as_ref().map(|t| from_file(&t.cert));
    let mut key = cfg.server.tls.as_ref().map(|t| from_file(&t.key));
    if let Some(path) = env.get("CLARION_TLS_CERT") {
        cert = Some(PathBuf::from(path.trim()));
    }
    if let Some(path) = env.get("CLARION_TLS_KEY") {
        key = Some(PathBuf::from(path.trim()));
    }
    cfg.server.tls = match (cert, key) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some(TlsConfig { cert, key }),
        (Some(_), None) => return Err(missing("CLARION_TLS_KEY", "key")),
        (None, Some(_)) => return Err(missing("CLARION_TLS_CERT", "cert")),
    };
    if let Some(tls) = &cfg.server.tls {
        for (name, path) in [("cert", &tls.cert), ("key", &tls.key)] {
            // Opened, not read: the contents are parsed once, by the node.
            files.open(path).map_err(|e| {
                ConfigError::Invalid(format!(
                    "server.tls.{name}: cannot read {}: {e}",
                    path.display()
                ))
            })?;
        }
    }
    Ok(())
}

fn missing(var: &str, field: &str) -> ConfigError {
    ConfigError::Invalid(format!(
        "TLS needs both a certificate and a key: set server.tls.{field} or {var} too"
    ))
}
