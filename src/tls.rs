//! TLS on the main listener (`[server.tls]`): `wss://` and `https://` on
//! the same port the plain listener would use, with rustls (ring provider).
//!
//! * **Certificates** are read from the configured PEM files when the node
//!   is built (a bad pair stops the start) and again on every SIGHUP
//!   ([`Tls::reload`]). The server config's certificate resolver
//!   ([`Certificates`]) hands each new handshake whatever an `ArcSwap`
//!   holds, so a reload changes what new connections see while open
//!   sockets keep their session; a pair that does not load keeps the old
//!   one, and the caller logs why.
//! * **ALPN** offers `http/1.1` only: the listener speaks HTTP/1.1 and
//!   upgrades to WebSockets from it.
//! * **After the WebSocket upgrade** the TLS session is taken out of the
//!   stream and shared by the socket's reader and its writers
//!   ([`socket`]), so publishers write to a TLS socket the same way they
//!   write to a plain one.
//!
//! Depends on `config` only; nothing here names hyper.

mod socket;

pub(crate) use socket::{TlsReadHalf, TlsSocket};

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio_rustls::rustls::crypto::{ring, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;

/// Why a certificate and key could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// A file could not be read or holds no usable PEM item.
    #[error("{}: {reason}", path.display())]
    File {
        /// The certificate or key file.
        path: PathBuf,
        /// What is wrong with it (never its contents).
        reason: String,
    },
    /// The private key is not the certificate's.
    #[error("the key {} does not belong to the certificate {}", key.display(), cert.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the settings.
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The listener's TLS: the acceptor new connections go through and the
/// certificate it presents.
pub(crate) struct Tls {
    acceptor: TlsAcceptor,
    certificates: Arc<Certificates>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads the certificate chain and key `config` names and builds the
    /// acceptor (TLS 1.2 and 1.3, ALPN `http/1.1`).
    ///
    /// # Errors
    /// [`TlsError`] names the file and what is wrong with it.
    pub(crate) fn new(config: &TlsConfig) -> Result<Tls, TlsError> {
        let provider = Arc::new(ring::default_provider());
        let key = certified_key(config, &provider)?;
        let certificates = Arc::new(Certificates {
            current: ArcSwap::from_pointee(key),
            provider: provider.clone(),
        });
        let mut server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(certificates.clone());
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            certificates,
        })
    }

    /// Reads the files `config` names again; new handshakes present the
    /// new certificate, open connections are not touched. On an error the
    /// certificate in use stays.
    ///
    /// # Errors
    /// [`TlsError`] names the file and what is wrong with it.
    pub(crate) fn reload(&self, config: &TlsConfig) -> Result<(), TlsError> {
        let key = certified_key(config, &self.certificates.provider)?;
        self.certificates.current.store(Arc::new(key));
        Ok(())
    }

    /// The acceptor for new connections.
    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

/// The certificate every handshake gets: whatever the last successful
/// (re)load stored. One lock-free load per handshake.
#[derive(Debug)]
struct Certificates {
    current: ArcSwap<CertifiedKey>,
    /// Parses private keys on reload.
    provider: Arc<CryptoProvider>,
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The chain and key `config` names, checked to belong together.
fn certified_key(config: &TlsConfig, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let file = |path: &Path, reason: String| TlsError::File {
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(&config.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| file(&config.cert, e.to_string()))?;
    if chain.is_empty() {
        let reason = "no CERTIFICATE block".to_owned();
        return Err(file(&config.cert, reason));
    }
    let key = PrivateKeyDer::from_pem_file(&config.key)
        .map_err(|e| file(&config.key, format!("no usable private key: {e}")))?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::Mismatch {
            cert: config.cert.clone(),
            key: config.key.clone(),
        },
        other => file(&config.key, other.to_string()),
    })
}

#[cfg(test)]
mod tests;
