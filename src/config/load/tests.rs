//! Unit tests of the configuration loader: sources and precedence, every
//! environment variable, `.env` parsing, validation and the sample file.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::config::{
    DashboardConfig, MetricsConfig, RateLimiting, RuntimeMode, ScalingConfig, ServerConfig,
};

const SAMPLE: &str = include_str!("../../../config/clarion.toml");

/// A file under the temp dir with a unique name, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "clarion-config-test-{}-{n}-{name}",
            std::process::id()
        ));
        std::fs::write(&path, contents).expect("write temp file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Loads from an optional TOML text, optional `.env` text and env pairs.
fn try_load(
    toml: Option<&str>,
    dotenv: Option<&str>,
    env: &[(&str, &str)],
) -> Result<Config, ConfigError> {
    let toml = toml.map(|text| TempFile::new("clarion.toml", text));
    let dotenv = dotenv.map(|text| TempFile::new(".env", text));
    load(&Sources {
        config_file: toml.as_ref().map(|f| f.0.clone()),
        env_file: dotenv.as_ref().map(|f| f.0.clone()),
        env: vars(env),
    })
}

fn ok(toml: Option<&str>, dotenv: Option<&str>, env: &[(&str, &str)]) -> Config {
    try_load(toml, dotenv, env).expect("config loads")
}

fn err(toml: Option<&str>, dotenv: Option<&str>, env: &[(&str, &str)]) -> String {
    let error = try_load(toml, dotenv, env).expect_err("config is rejected");
    let text = error.to_string();
    assert!(!text.contains(['\n', '\r']), "multi-line error: {text:?}");
    text
}

fn dotenv(text: &str) -> Vec<(String, String)> {
    parse_dotenv(text, &HashMap::new()).expect(".env parses")
}

/// A test RSA public key (the JWT tests' fixture).
const RSA_PUBLIC_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/jwt/rsa-public.pem"
);

/// A test EC public key: only a readable file, for the TLS paths.
const EC_PUBLIC_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/jwt/ec-public.pem"
);

const APP: &str = "[[apps]]\nid = \"1\"\nkey = \"k1\"\nsecret = \"s1\"\n";

fn env_app(id: &str) -> AppConfig {
    AppConfig {
        id: id.to_owned(),
        ..AppConfig::default()
    }
}

#[test]
fn no_sources_gives_defaults_and_the_development_app() {
    let cfg = load(&Sources::default()).expect("loads");
    let expected = Config {
        apps: vec![AppConfig::development()],
        ..Config::default()
    };
    assert_eq!(cfg, expected);
    assert!(uses_development_app(&cfg));
}

#[test]
fn sample_config_is_the_defaults_plus_the_example_app() {
    let cfg = parse_toml(SAMPLE, Path::new("config/clarion.toml")).expect("sample parses");
    let expected = Config {
        apps: vec![AppConfig::development()],
        ..Config::default()
    };
    assert_eq!(cfg, expected);
    assert_eq!(ok(Some(SAMPLE), None, &[]), expected);
}

#[test]
fn sample_config_commented_out_options_are_valid() {
    let uncommented: String = SAMPLE
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if rest
                    .split_once(" = ")
                    .is_some_and(|(k, _)| !k.contains(' ')) =>
            {
                rest
            }
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let cfg = ok(Some(&uncommented), None, &[]);
    assert_eq!(cfg.server.max_connections, Some(10_000));
    assert_eq!(cfg.server.max_sockets, Some(10_100));
    assert_eq!(cfg.server.drain_spread, Some(8));
    assert_eq!(cfg.apps[0].max_connections, Some(1_000));
    assert_eq!(cfg.apps[0].user_authentication_timeout, Some(30));
    assert_eq!(cfg.apps[0].max_event_payload, Some(10_240));
    let auth = cfg.apps[0].auth.as_ref().expect("auth endpoint on");
    assert_eq!(auth.jwt_secret.as_deref(), Some("change-me"));
    assert_eq!(auth.algorithm, Some(JwtAlgorithm::Hs256));
    assert_eq!(auth.issuer.as_deref(), Some("https://id.example.com"));
    assert_eq!(auth.audience.as_deref(), Some("clarion"));
    assert_eq!(cfg.scaling.url.as_deref(), Some("redis://127.0.0.1:6379/0"));
    assert_eq!(cfg.scaling.username.as_deref(), Some("default"));
    assert_eq!(cfg.scaling.password.as_deref(), Some("secret"));
    assert_eq!(cfg.metrics.port, Some(9100));
    assert_eq!(cfg.dashboard.token.as_deref(), Some("change-me"));
}

#[test]
fn precedence_is_defaults_toml_dotenv_env() {
    let toml = format!("[server]\nport = 1000\nhost = \"toml\"\n{APP}");
    let dotenv = "REVERB_SERVER_PORT=2000\nREVERB_APP_ID=1\nREVERB_APP_SECRET=dotenv\n";
    let env = [("REVERB_SERVER_PORT", "3000"), ("REVERB_APP_ID", "1")];

    assert_eq!(ok(None, None, &[]).server.port, 8080);
    let cfg = ok(Some(&toml), None, &[]);
    assert_eq!((cfg.server.port, cfg.apps[0].secret.as_str()), (1000, "s1"));
    let cfg = ok(Some(&toml), Some(dotenv), &[]);
    assert_eq!(
        (cfg.server.port, cfg.apps[0].secret.as_str()),
        (2000, "dotenv")
    );
    let cfg = ok(Some(&toml), Some(dotenv), &env);
    assert_eq!(
        (cfg.server.port, cfg.apps[0].secret.as_str()),
        (3000, "dotenv")
    );
    assert_eq!(cfg.server.host, "toml");
    assert_eq!(cfg.apps.len(), 1);
    let cfg = ok(
        None,
        Some(dotenv),
        &[("REVERB_APP_SECRET", "env"), ("REVERB_APP_KEY", "k")],
    );
    assert_eq!(cfg.apps[0].secret, "env");
}

#[test]
fn every_server_and_scaling_variable_is_mapped() {
    let cfg = ok(
        None,
        None,
        &[
            ("REVERB_SERVER_HOST", "127.0.0.2"),
            ("REVERB_SERVER_PORT", "9000"),
            ("REVERB_SERVER_PATH", "/ws"),
            ("REVERB_MAX_REQUEST_SIZE", "20000"),
            ("CLARION_SHUTDOWN_GRACE_PERIOD", "5"),
            ("CLARION_DRAIN_PAUSE", "0"),
            ("CLARION_DRAIN_SPREAD", "4"),
            ("CLARION_MAX_CONNECTIONS", "500"),
            ("CLARION_MAX_SOCKETS", "600"),
            ("CLARION_OUTBOUND_QUEUE_CAPACITY", "64"),
            ("CLARION_WRITE_TIMEOUT", "3"),
            ("CLARION_HANDSHAKE_TIMEOUT", "4"),
            ("CLARION_AUTH_TIMESTAMP_WINDOW", "0"),
            ("CLARION_WORKER_THREADS", "1"),
            ("CLARION_RUNTIME", "per_core"),
            ("REVERB_SCALING_ENABLED", "true"),
            ("REVERB_SCALING_CHANNEL", "prod"),
            ("REDIS_HOST", "redis.internal"),
            ("REDIS_PORT", "6380"),
            ("REDIS_USERNAME", "user"),
            ("REDIS_PASSWORD", "pass"),
            ("REDIS_DB", "3"),
        ],
    );
    let server = ServerConfig {
        host: "127.0.0.2".to_owned(),
        port: 9000,
        path: "/ws".to_owned(),
        max_request_size: 20_000,
        shutdown_grace_period: 5,
        drain_pause: 0,
        drain_spread: Some(4),
        max_connections: Some(500),
        max_sockets: Some(600),
        outbound_queue_capacity: 64,
        write_timeout: 3,
        handshake_timeout: 4,
        auth_timestamp_window: 0,
        worker_threads: Some(1),
        runtime: RuntimeMode::PerCore,
        tls: None,
    };
    assert_eq!(cfg.server, server);
    let scaling = ScalingConfig {
        enabled: true,
        channel: "prod".to_owned(),
        host: "redis.internal".to_owned(),
        port: 6380,
        username: Some("user".to_owned()),
        password: Some("pass".to_owned()),
        database: 3,
        ..ScalingConfig::default()
    };
    assert_eq!(cfg.scaling, scaling);
    assert_eq!(
        cfg.scaling.redis_url(),
        "redis://user:pass@redis.internal:6380/3"
    );
}

#[test]
fn every_app_variable_is_mapped() {
    let cfg = ok(
        None,
        None,
        &[
            ("REVERB_APP_ID", "123456"),
            ("REVERB_APP_KEY", "key"),
            ("REVERB_APP_SECRET", "secret"),
            ("REVERB_APP_PING_INTERVAL", "15"),
            ("REVERB_APP_ACTIVITY_TIMEOUT", "20"),
            ("REVERB_APP_MAX_CONNECTIONS", "0"),
            ("REVERB_APP_MAX_MESSAGE_SIZE", "4096"),
            ("REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM", "All"),
            ("REVERB_APP_RATE_LIMITING_ENABLED", "yes"),
            ("REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS", "10"),
            ("REVERB_APP_RATE_LIMIT_DECAY_SECONDS", "5"),
            ("REVERB_APP_RATE_LIMIT_TERMINATE", "on"),
            (
                "REVERB_APP_ALLOWED_ORIGINS",
                " example.com, *.example.org ,,",
            ),
            ("CLARION_MAX_CHANNELS_PER_SOCKET", "0"),
            ("CLARION_MAX_PRESENCE_MEMBERS", "250"),
            ("CLARION_MAX_USER_INFO_BYTES", "1000"),
            ("CLARION_CLIENT_EVENTS_PER_SECOND", "10"),
            ("CLARION_SUBSCRIPTIONS_PER_SECOND", "5"),
            ("CLARION_HTTP_API_REQUESTS_PER_SECOND", "200"),
        ],
    );
    let app = AppConfig {
        id: "123456".to_owned(),
        key: "key".to_owned(),
        secret: "secret".to_owned(),
        ping_interval: 15,
        activity_timeout: 20,
        max_connections: Some(0),
        max_message_size: 4096,
        accept_client_events_from: ClientEventsFrom::All,
        allowed_origins: vec!["example.com".to_owned(), "*.example.org".to_owned()],
        rate_limiting: RateLimiting {
            enabled: true,
            max_attempts: 10,
            decay_seconds: 5,
            terminate_on_limit: true,
        },
        max_channels_per_socket: 0,
        max_presence_members: 250,
        max_user_info_bytes: 1000,
        client_events_per_second: 10,
        subscriptions_per_second: 5,
        http_api_requests_per_second: 200,
        ..AppConfig::default()
    };
    assert_eq!(cfg.apps, vec![app]);
    assert!(!uses_development_app(&cfg));
    for (value, expected) in [
        ("members", ClientEventsFrom::Members),
        ("NONE", ClientEventsFrom::None),
    ] {
        let env = [
            ("REVERB_APP_ID", "1"),
            ("REVERB_APP_KEY", "k"),
            ("REVERB_APP_SECRET", "s"),
            ("REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM", value),
        ];
        assert_eq!(
            ok(None, None, &env).apps[0].accept_client_events_from,
            expected
        );
    }
}

#[test]
fn every_documented_variable_is_honoured() {
    // Each variable, set alone to a valid non-default value, changes the config.
    let base = [
        ("REVERB_APP_ID", "1"),
        ("REVERB_APP_KEY", "k"),
        ("REVERB_APP_SECRET", "s"),
    ];
    // The endpoint's options beyond its key are compared with the endpoint
    // on (a secret alone).
    let with_secret = [base.as_slice(), &[("CLARION_AUTH_JWT_SECRET", "jwt")]].concat();
    let with_webhook = [
        base.as_slice(),
        &[("CLARION_WEBHOOK_URL", "http://127.0.0.1:9/hook")],
    ]
    .concat();
    // The dashboard is turned on with its token.
    let with_token = [base.as_slice(), &[("CLARION_DASHBOARD_TOKEN", "t")]].concat();
    // TLS needs both files: each variable is compared with both set.
    let with_tls = [
        base.as_slice(),
        &[
            ("CLARION_TLS_CERT", RSA_PUBLIC_KEY),
            ("CLARION_TLS_KEY", RSA_PUBLIC_KEY),
        ],
    ]
    .concat();
    for var in ENV_VARS {
        let value = match *var {
            "REVERB_SERVER_PATH" => "/p",
            "REDIS_URL" => "rediss://h:1/2",
            "REDIS_CLUSTER_NODES" => "redis://h:1,redis://h:2",
            "CLARION_SCALING_ROUTING" => "broadcast",
            "REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM" => "none",
            "CLARION_AUTH_JWT_PUBLIC_KEY" => RSA_PUBLIC_KEY,
            "CLARION_TLS_CERT" | "CLARION_TLS_KEY" => EC_PUBLIC_KEY,
            "CLARION_AUTH_JWT_ALGORITHM" => "HS512",
            "CLARION_WEBHOOK_URL" => "http://127.0.0.1:9/hook",
            "CLARION_WEBHOOK_EVENT_TYPES" => "cache_miss",
            "CLARION_SCALING_NODE_TIMEOUT_MS" => "70000",
            "CLARION_RUNTIME" => "per_core",
            // On by default: only turning it off changes anything.
            "CLARION_METRICS_ENABLED" => "false",
            v if v.ends_with("ENABLED") || v.ends_with("TERMINATE") => "true",
            "REVERB_APP_ID" | "REVERB_APP_KEY" | "REVERB_APP_SECRET" => continue,
            _ => "7",
        };
        let base = match *var {
            "CLARION_AUTH_JWT_ALGORITHM"
            | "CLARION_AUTH_JWT_ISSUER"
            | "CLARION_AUTH_JWT_AUDIENCE" => with_secret.as_slice(),
            "CLARION_WEBHOOK_EVENT_TYPES" => with_webhook.as_slice(),
            "CLARION_DASHBOARD_ENABLED" => with_token.as_slice(),
            "CLARION_TLS_CERT" | "CLARION_TLS_KEY" => with_tls.as_slice(),
            _ => base.as_slice(),
        };
        let mut env = base.to_vec();
        env.push((var, value));
        assert_ne!(
            ok(None, None, &env),
            ok(None, None, base),
            "{var} is ignored"
        );
    }
}

#[test]
fn booleans_accept_the_usual_spellings() {
    for (value, expected) in [
        ("true", true),
        ("TRUE", true),
        ("1", true),
        ("yes", true),
        ("On", true),
        ("(true)", true),
        ("false", false),
        ("0", false),
        ("No", false),
        ("off", false),
    ] {
        let cfg = ok(None, None, &[("REVERB_SCALING_ENABLED", value)]);
        assert_eq!(cfg.scaling.enabled, expected, "{value}");
    }
}

#[test]
fn bad_values_are_rejected_naming_the_variable() {
    let app = [
        ("REVERB_APP_ID", "1"),
        ("REVERB_APP_KEY", "k"),
        ("REVERB_APP_SECRET", "s"),
    ];
    for (var, value) in [
        ("REVERB_SERVER_PORT", "80a"),
        ("REVERB_SERVER_PORT", "70000"),
        ("REVERB_SERVER_PATH", "/a b"),
        ("REVERB_MAX_REQUEST_SIZE", "-1"),
        ("REVERB_MAX_REQUEST_SIZE", "0"),
        ("CLARION_SHUTDOWN_GRACE_PERIOD", "ten"),
        ("CLARION_MAX_CONNECTIONS", "0"),
        ("CLARION_OUTBOUND_QUEUE_CAPACITY", "0"),
        ("CLARION_WRITE_TIMEOUT", "1.5"),
        ("CLARION_HANDSHAKE_TIMEOUT", "0"),
        ("CLARION_AUTH_TIMESTAMP_WINDOW", "x"),
        ("REVERB_SCALING_ENABLED", "maybe"),
        ("CLARION_METRICS_ENABLED", "sometimes"),
        ("CLARION_METRICS_PORT", "metrics"),
        ("CLARION_DASHBOARD_ENABLED", "y"),
        ("REDIS_PORT", "redis"),
        ("REDIS_CLUSTER_NODES", "h:7000"),
        ("REDIS_DB", "-1"),
        ("REDIS_URL", "http://h"),
        ("REVERB_APP_PING_INTERVAL", "0"),
        ("REVERB_APP_ACTIVITY_TIMEOUT", "30s"),
        ("REVERB_APP_MAX_CONNECTIONS", "many"),
        ("REVERB_APP_MAX_MESSAGE_SIZE", "0"),
        ("REVERB_APP_ACCEPT_CLIENT_EVENTS_FROM", "everyone"),
        ("REVERB_APP_RATE_LIMITING_ENABLED", "2"),
        ("REVERB_APP_RATE_LIMITING_MAX_ATTEMPTS", "0"),
        ("REVERB_APP_RATE_LIMITING_DECAY_SECONDS", "0"),
        ("REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS", "x"),
        ("REVERB_APP_RATE_LIMIT_DECAY_SECONDS", "0"),
        ("REVERB_APP_RATE_LIMIT_TERMINATE", "nope"),
    ] {
        let mut env = app.to_vec();
        env.push((var, value));
        let error = try_load(None, None, &env).expect_err(var);
        let text = error.to_string();
        assert!(
            matches!(&error, ConfigError::Env { var: v, .. } if v == var),
            "{var}: {text}"
        );
        assert!(text.contains(var) && !text.contains('\n'), "{text}");
        if var != "REDIS_URL" {
            assert!(text.contains(&format!("{value:?}")), "{text}");
        }
    }
}

#[test]
fn rate_limit_variables_accept_both_spellings() {
    let app = [
        ("REVERB_APP_ID", "1"),
        ("REVERB_APP_KEY", "k"),
        ("REVERB_APP_SECRET", "s"),
    ];
    let mut env = app.to_vec();
    env.extend([
        ("REVERB_APP_RATE_LIMITING_MAX_ATTEMPTS", "7"),
        ("REVERB_APP_RATE_LIMITING_DECAY_SECONDS", "8"),
    ]);
    let limits = ok(None, None, &env).apps[0].rate_limiting.clone();
    assert_eq!((limits.max_attempts, limits.decay_seconds), (7, 8));
    env.push(("REVERB_APP_RATE_LIMIT_MAX_ATTEMPTS", "9"));
    let limits = ok(None, None, &env).apps[0].rate_limiting.clone();
    assert_eq!((limits.max_attempts, limits.decay_seconds), (9, 8));
}

#[test]
fn redis_url_predis_schemes_are_rewritten() {
    let cfg = ok(None, None, &[("REDIS_URL", "tls://u:p@redis:6380")]);
    assert_eq!(cfg.scaling.url.as_deref(), Some("rediss://u:p@redis:6380"));
    let cfg = ok(Some("[scaling]\nurl = \"tcp://redis:6379/2\"\n"), None, &[]);
    assert_eq!(cfg.scaling.url.as_deref(), Some("redis://redis:6379/2"));
}

#[test]
fn redis_url_is_kept_and_masked_in_errors() {
    let cfg = ok(None, None, &[("REDIS_URL", "rediss://u:p@redis:6380/1")]);
    assert_eq!(
        cfg.scaling.url.as_deref(),
        Some("rediss://u:p@redis:6380/1")
    );
    assert_eq!(cfg.scaling.redis_url(), "rediss://u:p@redis:6380/1");
    let text = err(None, None, &[("REDIS_URL", "https://u:hunter2@redis")]);
    assert!(
        text.contains("REDIS_URL") && !text.contains("hunter2"),
        "{text}"
    );
    let text = err(Some("[scaling]\nurl = \"http://u:hunter2@h\"\n"), None, &[]);
    assert!(
        text.contains("scaling.url") && !text.contains("hunter2"),
        "{text}"
    );
}

#[test]
fn empty_and_null_values_mean_unset() {
    let toml = format!("[server]\nport = 1000\n{APP}max_connections = 5\n");
    let dotenv = "REVERB_SERVER_PORT=\nREVERB_APP_ID=1\nREVERB_APP_MAX_CONNECTIONS=\n\
                  REDIS_PASSWORD=null\nREDIS_USERNAME=(NULL)\nREDIS_URL=\nREVERB_APP_KEY=\"\"\n";
    let cfg = ok(
        Some(&toml),
        Some(dotenv),
        &[("REVERB_SCALING_CHANNEL", "  ")],
    );
    assert_eq!(cfg.server.port, 1000);
    assert_eq!(cfg.apps[0].max_connections, Some(5));
    assert_eq!(cfg.apps[0].key, "k1");
    assert_eq!(cfg.scaling, ScalingConfig::default());

    let cfg = ok(
        None,
        Some(
            dotenv
                .replace(
                    "REVERB_APP_ID=1",
                    "REVERB_APP_ID=1\nREVERB_APP_KEY=k\nREVERB_APP_SECRET=s",
                )
                .as_str(),
        ),
        &[],
    );
    assert_eq!(cfg.apps[0].max_connections, None);
    assert_eq!(cfg.scaling.password, None);
    assert_eq!(cfg.scaling.redis_url(), "redis://127.0.0.1:6379/0");
    assert_eq!(
        cfg.apps[0].key, "k",
        "a later empty value does not erase an earlier one"
    );

    // An empty real variable does not hide the .env value.
    let dotenv = "REVERB_APP_ID=1\nREVERB_APP_KEY=k\nREVERB_APP_SECRET=s\nREVERB_SERVER_PORT=81\n";
    let cfg = ok(
        None,
        Some(dotenv),
        &[("REVERB_APP_KEY", ""), ("REVERB_SERVER_PORT", "null")],
    );
    assert_eq!((cfg.apps[0].key.as_str(), cfg.server.port), ("k", 81));
}

#[test]
fn env_app_overrides_the_toml_app_with_its_id() {
    let toml =
        format!("{APP}ping_interval = 5\n[[apps]]\nid = \"2\"\nkey = \"k2\"\nsecret = \"s2\"\n");
    let env = [
        ("REVERB_APP_ID", "2"),
        ("REVERB_APP_SECRET", "new"),
        ("REVERB_APP_PING_INTERVAL", "9"),
    ];
    let cfg = ok(Some(&toml), None, &env);
    assert_eq!(cfg.apps.len(), 2);
    assert_eq!(cfg.apps[0].ping_interval, 5);
    assert_eq!(cfg.apps[0].secret, "s1");
    let expected = AppConfig {
        key: "k2".to_owned(),
        secret: "new".to_owned(),
        ping_interval: 9,
        ..env_app("2")
    };
    assert_eq!(cfg.apps[1], expected);
}

#[test]
fn env_app_is_added_after_the_toml_apps() {
    let env = [
        ("REVERB_APP_ID", "9"),
        ("REVERB_APP_KEY", "k9"),
        ("REVERB_APP_SECRET", "s9"),
    ];
    let cfg = ok(Some(APP), None, &env);
    assert_eq!(cfg.apps.len(), 2);
    assert_eq!(cfg.apps[0].id, "1");
    let expected = AppConfig {
        key: "k9".to_owned(),
        secret: "s9".to_owned(),
        ..env_app("9")
    };
    assert_eq!(cfg.apps[1], expected);
}

#[test]
fn env_app_needs_an_id() {
    for var in ["REVERB_APP_KEY", "REVERB_APP_SECRET"] {
        let text = err(None, None, &[(var, "x")]);
        assert_eq!(
            text,
            "REVERB_APP_ID is required when REVERB_APP_KEY or REVERB_APP_SECRET is set"
        );
    }
    let text = err(Some(APP), None, &[("REVERB_APP_PING_INTERVAL", "5")]);
    assert!(
        text.starts_with("REVERB_APP_PING_INTERVAL is set but REVERB_APP_ID is not"),
        "{text}"
    );
}

#[test]
fn env_app_missing_credentials_are_reported() {
    let text = err(
        None,
        None,
        &[("REVERB_APP_ID", "1"), ("REVERB_APP_KEY", "k")],
    );
    assert_eq!(text, "the app from REVERB_APP_ID: missing secret");
    let text = err(
        None,
        None,
        &[("REVERB_APP_ID", "1"), ("REVERB_APP_SECRET", "s")],
    );
    assert_eq!(text, "the app from REVERB_APP_ID: missing key");
}

#[test]
fn missing_credentials_in_the_file_name_the_app() {
    let toml = format!("{APP}[[apps]]\nid = \"2\"\nkey = \"k2\"\n");
    let file = TempFile::new("clarion.toml", &toml);
    let error = load(&Sources {
        config_file: Some(file.0.clone()),
        ..Sources::default()
    })
    .expect_err("rejected");
    assert_eq!(
        error.to_string(),
        format!("config file {}: apps[1]: missing secret", file.0.display())
    );
    let text = err(Some("[[apps]]\nkey = \"k\"\nsecret = \"s\"\n"), None, &[]);
    assert!(text.ends_with("apps[0]: missing id"), "{text}");
}

#[test]
fn duplicate_keys_and_ids_are_detected() {
    let toml = "[[apps]]\nid = \"1\"\nkey = \"abc\"\nsecret = \"s\"\n\
                [[apps]]\nid = \"2\"\nkey = \"x\"\nsecret = \"s\"\n\
                [[apps]]\nid = \"3\"\nkey = \"abc\"\nsecret = \"s\"\n";
    let text = err(Some(toml), None, &[]);
    assert!(text.starts_with("config file "), "{text}");
    assert!(
        text.ends_with(": duplicate app key \"abc\" (apps[0] and apps[2])"),
        "{text}"
    );

    let toml = format!("{APP}[[apps]]\nid = \"1\"\nkey = \"k2\"\nsecret = \"s\"\n");
    let text = err(Some(&toml), None, &[]);
    assert!(
        text.ends_with(": duplicate app id \"1\" (apps[0] and apps[1])"),
        "{text}"
    );

    let env = [
        ("REVERB_APP_ID", "2"),
        ("REVERB_APP_KEY", "k1"),
        ("REVERB_APP_SECRET", "s"),
    ];
    let text = err(Some(APP), None, &env);
    assert!(
        text.starts_with("duplicate app key \"k1\" (config file "),
        "{text}"
    );
    assert!(
        text.ends_with("apps[0] and the app from REVERB_APP_ID)"),
        "{text}"
    );
}

#[test]
fn unknown_toml_options_are_errors_with_their_line() {
    let text = err(Some("[server]\nport = 1\nprot = 2\n"), None, &[]);
    assert!(text.starts_with("config file "), "{text}");
    let expected = "clarion.toml: line 3, column 1 (in [server]): unknown field `prot`, expected";
    assert!(text.contains(expected), "{text}");
    let toml = format!("{APP}[[apps]]\nid = \"2\"\n[apps.rate_limiting]\nenable = true\n");
    let text = err(Some(&toml), None, &[]);
    let expected = "line 8, column 1 (in apps[1].rate_limiting): unknown field `enable`";
    assert!(text.contains(expected), "{text}");
    let text = err(Some("colour = \"red\"\n"), None, &[]);
    assert!(
        text.contains("line 1, column 1: unknown field `colour`"),
        "{text}"
    );
}

#[test]
fn malformed_toml_is_an_error_with_its_line() {
    let text = err(Some("[server]\nport = \"eighty\"\n"), None, &[]);
    assert!(text.contains("line 2"), "{text}");
    let text = err(Some("[server\n"), None, &[]);
    assert!(text.contains("line 1"), "{text}");
    let text = err(
        Some(&format!("{APP}accept_client_events_from = \"some\"\n")),
        None,
        &[],
    );
    assert!(text.contains("line 5") && text.contains("some"), "{text}");
}

#[test]
fn unreadable_files_name_the_path() {
    for sources in [
        Sources {
            config_file: Some(PathBuf::from("/nonexistent/clarion.toml")),
            ..Sources::default()
        },
        Sources {
            env_file: Some(PathBuf::from("/nonexistent/.env")),
            ..Sources::default()
        },
    ] {
        let error = load(&sources).expect_err("missing file");
        assert!(matches!(error, ConfigError::Io { .. }), "{error:?}");
        let text = error.to_string();
        assert!(text.starts_with("cannot read /nonexistent/"), "{text}");
        assert!(!text.contains('\n'));
    }
}

#[test]
fn server_path_is_normalised_and_checked() {
    for (path, expected) in [
        ("/ws/", "/ws"),
        ("ws", "/ws"),
        ("/", ""),
        ("", ""),
        ("a/b//", "/a/b"),
    ] {
        let cfg = ok(Some(&format!("[server]\npath = \"{path}\"\n")), None, &[]);
        assert_eq!(cfg.server.path, expected, "{path}");
        let cfg = ok(None, None, &[("REVERB_SERVER_PATH", path)]);
        assert_eq!(cfg.server.path, expected, "{path}");
    }
    let text = err(Some("[server]\npath = \"/ws?x=1\"\n"), None, &[]);
    let expected = "server.path \"/ws?x=1\" must not contain spaces, '?', '#' or '%'";
    assert!(text.ends_with(expected), "{text}");
}

#[test]
fn drain_options_have_defaults_and_a_spread_inside_the_grace_period() {
    let server = ok(None, None, &[]).server;
    assert_eq!((server.drain_pause, server.drain_spread), (2, None));
    let cfg = ok(
        Some("[server]\ndrain_pause = 0\ndrain_spread = 0\nshutdown_grace_period = 0\n"),
        None,
        &[],
    );
    assert_eq!(
        (cfg.server.drain_pause, cfg.server.drain_spread),
        (0, Some(0))
    );
    for toml in [
        "[server]\ndrain_spread = 10\n",
        "[server]\ndrain_spread = 3\nshutdown_grace_period = 2\n",
    ] {
        let text = err(Some(toml), None, &[]);
        assert!(
            text.contains("server.drain_spread") && text.contains("shutdown_grace_period"),
            "{text}"
        );
    }
    let text = err(None, None, &[("CLARION_DRAIN_SPREAD", "12")]);
    assert!(text.contains("server.drain_spread (12)"), "{text}");
    let text = err(None, None, &[("CLARION_DRAIN_PAUSE", "soon")]);
    assert!(text.contains("CLARION_DRAIN_PAUSE"), "{text}");
}

#[test]
fn zero_limits_in_the_file_are_rejected() {
    for (section, option) in [
        ("[server]", "max_request_size"),
        ("[server]", "max_connections"),
        ("[server]", "max_sockets"),
        ("[server]", "outbound_queue_capacity"),
        ("[server]", "write_timeout"),
        ("[server]", "handshake_timeout"),
        ("[scaling]", "query_timeout_ms"),
    ] {
        let text = err(Some(&format!("{section}\n{option} = 0\n")), None, &[]);
        let name = format!("{}.{option}", section.trim_matches(['[', ']']));
        assert!(
            text.ends_with(&format!("{name} must be greater than 0")),
            "{text}"
        );
    }
    for option in [
        "ping_interval",
        "activity_timeout",
        "max_message_size",
        "max_batch_size",
        "event_history_max_age",
    ] {
        let text = err(Some(&format!("{APP}{option} = 0\n")), None, &[]);
        assert!(
            text.ends_with(&format!("apps[0]: {option} must be greater than 0")),
            "{text}"
        );
    }
    let limits = format!("{APP}[apps.rate_limiting]\nmax_attempts = 0\ndecay_seconds = 0\n");
    assert_eq!(
        ok(Some(&limits), None, &[]).apps[0]
            .rate_limiting
            .max_attempts,
        0
    );
    let text = err(Some(&format!("{limits}enabled = true\n")), None, &[]);
    assert!(
        text.ends_with("apps[0]: rate_limiting.max_attempts must be greater than 0"),
        "{text}"
    );
    let text = err(Some("[scaling]\nchannel = \"\"\n"), None, &[]);
    assert!(
        text.ends_with("scaling.channel must not be empty"),
        "{text}"
    );
    let text = err(Some("[scaling]\nnode_timeout_ms = 2000\n"), None, &[]);
    assert!(text.contains("node_timeout_ms"), "{text}");
    let text = err(
        Some("[[apps]]\nid = \"a b\"\nkey = \"k\"\nsecret = \"s\"\n"),
        None,
        &[],
    );
    assert!(
        text.contains("apps[0]: id \"a b\" must not contain"),
        "{text}"
    );
}

#[test]
fn laravel_dotenv_file_configures_the_app() {
    let dotenv = "APP_NAME=Laravel\nAPP_ENV=local\nAPP_KEY=base64:abc=\n\
                  BROADCAST_CONNECTION=reverb\nREDIS_CLIENT=phpredis\nREDIS_HOST=127.0.0.1\n\
                  REDIS_PASSWORD=null\nREDIS_PORT=6379\n\n\
                  REVERB_APP_ID=522351\nREVERB_APP_KEY=xjtzbbwdfxfuvswufbj3\n\
                  REVERB_APP_SECRET=ro4awhe0dqbysolzm5jx\nREVERB_HOST=\"localhost\"\n\
                  REVERB_PORT=8080\nREVERB_SCHEME=http\n\n\
                  VITE_REVERB_APP_KEY=\"${REVERB_APP_KEY}\"\nVITE_REVERB_HOST=\"${REVERB_HOST}\"\n";
    let cfg = ok(None, Some(dotenv), &[]);
    let expected = AppConfig {
        key: "xjtzbbwdfxfuvswufbj3".to_owned(),
        secret: "ro4awhe0dqbysolzm5jx".to_owned(),
        ..env_app("522351")
    };
    assert_eq!(cfg.apps, vec![expected]);
    assert_eq!(cfg.server, ServerConfig::default());
    assert_eq!(cfg.scaling, ScalingConfig::default());
    assert!(!uses_development_app(&cfg));
}

#[test]
fn development_app_is_flagged_only_when_alone() {
    let cfg = ok(Some(APP), None, &[]);
    assert!(!uses_development_app(&cfg));
    let mut cfg = ok(None, None, &[]);
    assert!(uses_development_app(&cfg));
    cfg.apps.push(env_app("x"));
    assert!(!uses_development_app(&cfg));
}

#[test]
fn error_display_is_one_line() {
    let errors = [
        ConfigError::Io {
            path: PathBuf::from("a.toml"),
            source: std::io::Error::other("boom"),
        },
        ConfigError::Toml {
            path: PathBuf::from("a.toml"),
            message: "line 1, column 1: bad".to_owned(),
        },
        ConfigError::Env {
            var: "REVERB_SERVER_PORT".to_owned(),
            value: "a\nb".to_owned(),
            reason: "expected a port".to_owned(),
        },
        ConfigError::Invalid("x".to_owned()),
    ];
    for error in errors {
        assert!(!error.to_string().contains('\n'), "{error}");
    }
    let error = ConfigError::Env {
        var: "REDIS_PORT".to_owned(),
        value: "x".to_owned(),
        reason: "expected a port".to_owned(),
    };
    assert_eq!(
        error.to_string(),
        "invalid REDIS_PORT=\"x\": expected a port"
    );
}

// Split by topic so each file stays readable: `.env` syntax, and the
// optional sections (auth endpoint, webhooks, metrics, dashboard, TLS).
mod dotenv;
mod sections;

#[test]
fn a_toml_error_is_one_line_whatever_the_key_holds() {
    // Found by the `config_toml` fuzz target: serde quotes an unknown key
    // raw, so a quoted key with an escaped carriage return broke the line.
    let text = err(Some("[server]\n\"a\\rb\" = 1\n"), None, &[]);
    assert!(text.contains("unknown field `a\\rb`"), "{text}");
}
