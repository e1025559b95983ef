//! Unit tests of `tls.rs`: loading, mismatched and unusable pairs, and a
//! reload that keeps the old certificate when the new one does not load.

use std::path::PathBuf;

use rcgen::{generate_simple_self_signed, CertifiedKey as Generated, KeyPair};

use super::*;

/// `cert.pem` and `key.pem` in a fresh directory, removed when dropped.
struct Files(PathBuf);

impl Files {
    fn new() -> Files {
        let dir = std::env::temp_dir().join(format!(
            "clarion-tls-unit-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Files(dir)
    }

    fn write(&self, cert: &str, key: &str) -> TlsConfig {
        let config = TlsConfig {
            cert: self.0.join("cert.pem"),
            key: self.0.join("key.pem"),
        };
        std::fs::write(&config.cert, cert).unwrap();
        std::fs::write(&config.key, key).unwrap();
        config
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn generated() -> Generated<KeyPair> {
    generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap()
}

fn served(tls: &Tls) -> Vec<u8> {
    tls.certificates.current.load().cert[0].to_vec()
}

#[test]
fn a_certificate_and_its_key_load_and_offer_http_1_1() {
    let files = Files::new();
    let pair = generated();
    let config = files.write(&pair.cert.pem(), &pair.signing_key.serialize_pem());
    let tls = Tls::new(&config).unwrap();
    assert_eq!(served(&tls), pair.cert.der().to_vec());
    assert_eq!(
        tls.acceptor.config().alpn_protocols,
        vec![b"http/1.1".to_vec()]
    );
}

#[test]
fn unusable_files_are_refused_naming_the_file_and_never_the_key() {
    let files = Files::new();
    let (pair, other) = (generated(), generated());
    let key = pair.signing_key.serialize_pem();
    let config = files.write("not a certificate", &key);
    let e = Tls::new(&config).unwrap_err().to_string();
    assert!(
        e.contains("cert.pem") && e.contains("no CERTIFICATE"),
        "{e}"
    );
    let config = files.write(&pair.cert.pem(), "not a key");
    let e = Tls::new(&config).unwrap_err().to_string();
    assert!(e.contains("key.pem") && e.contains("private key"), "{e}");
    let config = files.write(&pair.cert.pem(), &other.signing_key.serialize_pem());
    let e = Tls::new(&config).unwrap_err();
    assert!(matches!(e, TlsError::Mismatch { .. }), "{e}");
    assert!(!e.to_string().contains("PRIVATE"), "{e}");
}

#[test]
fn a_reload_swaps_the_certificate_and_a_bad_one_keeps_the_old() {
    let files = Files::new();
    let (first, second) = (generated(), generated());
    let config = files.write(&first.cert.pem(), &first.signing_key.serialize_pem());
    let tls = Tls::new(&config).unwrap();
    let config = files.write(&second.cert.pem(), &second.signing_key.serialize_pem());
    tls.reload(&config).unwrap();
    assert_eq!(served(&tls), second.cert.der().to_vec());
    let config = files.write("garbage", "garbage");
    assert!(tls.reload(&config).is_err());
    assert_eq!(
        served(&tls),
        second.cert.der().to_vec(),
        "the old one stays"
    );
}
