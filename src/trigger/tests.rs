//! URL handling and response parsing of `clarion trigger`; the exchange
//! itself is tested against the real server in `tests/trigger.rs`.

use super::*;

#[test]
fn endpoints_from_urls_and_from_the_server_config() {
    assert_eq!(
        Endpoint::parse("http://127.0.0.1:8080").expect("valid"),
        Endpoint {
            address: "127.0.0.1:8080".to_owned(),
            prefix: String::new(),
        }
    );
    assert_eq!(
        Endpoint::parse("http://localhost/ws/").expect("valid"),
        Endpoint {
            address: "localhost:80".to_owned(),
            prefix: "/ws".to_owned(),
        }
    );
    assert_eq!(
        Endpoint::parse("http://[::1]:9000").expect("valid").address,
        "[::1]:9000"
    );
    assert!(matches!(
        Endpoint::parse("https://example.test"),
        Err(TriggerError::Url { .. })
    ));
    assert!(matches!(
        Endpoint::parse("127.0.0.1:8080"),
        Err(TriggerError::Url { .. })
    ));
    let server = ServerConfig {
        host: "0.0.0.0".to_owned(),
        port: 6001,
        path: "/ws".to_owned(),
        ..ServerConfig::default()
    };
    assert_eq!(
        Endpoint::local(&server),
        Endpoint {
            address: "127.0.0.1:6001".to_owned(),
            prefix: "/ws".to_owned(),
        }
    );
}

#[test]
fn responses_with_length_chunks_or_close() {
    let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
    assert_eq!(parse_response(plain).expect("ok"), (200, "{}".to_owned()));
    let chunked =
        b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
    assert_eq!(
        parse_response(chunked).expect("ok"),
        (401, r#"{"a":1}"#.to_owned())
    );
    assert!(matches!(
        parse_response(b"garbage"),
        Err(TriggerError::BadResponse)
    ));
    assert!(matches!(
        parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        Err(TriggerError::BadResponse)
    ));
}
