//! TLS for the tests: a throwaway CA (rcgen) that signs certificates for
//! `localhost` and `127.0.0.1`, PEM files for `[server.tls]`, and `wss://`
//! and `https://` clients that trust only the CAs they are given.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::client::Resumption;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::{Connector, MaybeTlsStream};

use super::{Client, WAIT};

/// A certificate authority that exists for one test.
pub(crate) struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate and its key, as PEM.
pub(crate) struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

impl TestCa {
    /// A new CA called `name`.
    pub(crate) fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("CA key");
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// The CA certificate, PEM.
    pub(crate) fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A server certificate for `localhost` and `127.0.0.1`, signed by
    /// this CA.
    pub(crate) fn leaf(&self) -> Leaf {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let params = CertificateParams::new(names).expect("params");
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }
}

/// `cert.pem` and `key.pem` in a fresh temporary directory, removed when
/// dropped.
pub(crate) struct TlsFiles {
    dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Writes `leaf`'s certificate and key.
    pub(crate) fn new(leaf: &Leaf) -> TlsFiles {
        let dir = std::env::temp_dir().join(format!(
            "clarion-tls-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let files = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        };
        files.write(leaf);
        files
    }

    /// Replaces both files with `leaf`'s.
    pub(crate) fn write(&self, leaf: &Leaf) {
        std::fs::write(&self.cert, &leaf.cert_pem).expect("write cert");
        std::fs::write(&self.key, &leaf.key_pem).expect("write key");
    }

    /// The `[server.tls]` table naming these files.
    pub(crate) fn config(&self) -> clarion::config::TlsConfig {
        clarion::config::TlsConfig {
            cert: self.cert.clone(),
            key: self.key.clone(),
        }
    }

    /// The `[server.tls]` table as TOML.
    pub(crate) fn toml(&self) -> String {
        format!(
            "[server.tls]\ncert = {:?}\nkey = {:?}\n",
            self.cert.display().to_string(),
            self.key.display().to_string()
        )
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A rustls client that trusts `cas` only.
pub(crate) fn client_config(cas: &[&TestCa]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for ca in cas {
        roots.add(ca.issuer.der().clone()).expect("root");
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Every handshake is a full one, so each shows the certificate the
    // server presents now (a resumed session reports the first one's).
    config.resumption = Resumption::disabled();
    Arc::new(config)
}

/// Connects `wss://` to the app with `key` and waits for
/// `connection_established`.
pub(crate) async fn connect_wss(addr: SocketAddr, key: &str, tls: Arc<ClientConfig>) -> Client {
    let url = format!("wss://localhost:{}/app/{key}?protocol=7", addr.port());
    // A small receive buffer, so a burst the client does not read fills
    // the server's side soon (the TLS write path's queueing is tested).
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(64 << 10).expect("SO_RCVBUF");
    let tcp = socket.connect(addr).await.expect("tcp connect");
    let connect = tokio_tungstenite::client_async_tls_with_config(
        url,
        tcp,
        None,
        Some(Connector::Rustls(tls)),
    );
    let (ws, _) = tokio::time::timeout(WAIT, connect)
        .await
        .expect("connect in time")
        .expect("wss connect");
    let mut client = Client {
        ws,
        socket_id: String::new(),
    };
    let hello = client.expect_event("pusher:connection_established").await;
    let data: Value = serde_json::from_str(hello["data"].as_str().expect("string")).expect("json");
    client.socket_id = data["socket_id"].as_str().expect("socket_id").to_owned();
    client
}

/// The certificate the server presented to `client`.
pub(crate) fn peer_certificate(client: &Client) -> CertificateDer<'static> {
    match client.ws.get_ref() {
        MaybeTlsStream::Rustls(stream) => stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .expect("a certificate")
            .clone()
            .into_owned(),
        _ => panic!("not a TLS connection"),
    }
}

/// One HTTPS request (`Connection: close`) to `localhost` at `addr`;
/// returns the status, the body and the certificate the server presented.
pub(crate) async fn https(
    addr: SocketAddr,
    tls: Arc<ClientConfig>,
    method: &str,
    path_and_query: &str,
    body: &str,
) -> (u16, String, CertificateDer<'static>) {
    let tcp = TcpStream::connect(addr).await.expect("tcp connect");
    let name = ServerName::try_from("localhost").expect("name");
    let mut stream = tokio::time::timeout(WAIT, TlsConnector::from(tls).connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("TLS handshake");
    let cert = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .expect("a certificate")
        .clone()
        .into_owned();
    let request = format!(
        "{method} {path_and_query} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    // A server may end without close_notify; what arrived counts.
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("response in time");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body, cert)
}
