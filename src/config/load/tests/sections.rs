//! The optional sections: the built-in auth endpoint, webhooks, metrics,
//! the dashboard and TLS, Redis Cluster, and secrets kept out of debug
//! output.

use super::*;

#[test]
fn auth_endpoint_is_off_unless_configured() {
    assert_eq!(ok(Some(APP), None, &[]).apps[0].auth, None);
}

#[test]
fn auth_table_in_toml_turns_the_endpoint_on() {
    let text = format!(
        "{APP}auth = {{ jwt_secret = \"j\", issuer = \"me\", audience = \"you\", algorithm = \"HS384\" }}\n"
    );
    let auth = ok(Some(&text), None, &[]).apps[0]
        .auth
        .clone()
        .expect("auth on");
    assert_eq!(auth.jwt_secret.as_deref(), Some("j"));
    assert_eq!(auth.issuer.as_deref(), Some("me"));
    assert_eq!(auth.audience.as_deref(), Some("you"));
    assert_eq!(auth.algorithm, Some(JwtAlgorithm::Hs384));
    // The subtable form, and a public key read relative to the file's
    // directory (here an absolute path).
    let text = format!("{APP}[apps.auth]\njwt_public_key = \"{RSA_PUBLIC_KEY}\"\n");
    let auth = ok(Some(&text), None, &[]).apps[0]
        .auth
        .clone()
        .expect("auth on");
    assert!(auth
        .jwt_public_key_pem
        .as_deref()
        .is_some_and(|pem| pem.contains("BEGIN PUBLIC KEY")));
    // The secret never appears in Debug output.
    let text = format!("{APP}auth = {{ jwt_secret = \"hush-hush\" }}\n");
    let cfg = ok(Some(&text), None, &[]);
    assert!(!format!("{cfg:?}").contains("hush-hush"));
}

#[test]
fn a_relative_public_key_is_read_from_the_config_files_directory() {
    let pem = std::fs::read_to_string(RSA_PUBLIC_KEY).expect("fixture");
    let key = TempFile::new("jwt.pem", &pem);
    let name = key.0.file_name().and_then(|n| n.to_str()).expect("name");
    let text = format!("{APP}auth = {{ jwt_public_key = \"{name}\" }}\n");
    let auth = ok(Some(&text), None, &[]).apps[0]
        .auth
        .clone()
        .expect("auth on");
    assert_eq!(auth.jwt_public_key_pem.as_deref(), Some(pem.as_str()));
}

#[test]
fn env_turns_the_endpoint_on_for_the_env_app() {
    let env = [
        ("REVERB_APP_ID", "1"),
        ("REVERB_APP_KEY", "k"),
        ("REVERB_APP_SECRET", "s"),
        ("CLARION_AUTH_JWT_SECRET", "j"),
        ("CLARION_AUTH_JWT_ISSUER", "me"),
        ("CLARION_AUTH_JWT_AUDIENCE", "you"),
        ("CLARION_AUTH_JWT_ALGORITHM", "hs512"),
    ];
    let auth = ok(None, None, &env).apps[0].auth.clone().expect("auth on");
    assert_eq!(auth.jwt_secret.as_deref(), Some("j"));
    assert_eq!(auth.issuer.as_deref(), Some("me"));
    assert_eq!(auth.audience.as_deref(), Some("you"));
    assert_eq!(auth.algorithm, Some(JwtAlgorithm::Hs512));
    // An env secret replaces the file's public key.
    let text = format!("{APP}auth = {{ jwt_public_key = \"{RSA_PUBLIC_KEY}\" }}\n");
    let env = [("REVERB_APP_ID", "1"), ("CLARION_AUTH_JWT_SECRET", "j")];
    let auth = ok(Some(&text), None, &env).apps[0]
        .auth
        .clone()
        .expect("auth on");
    assert_eq!(auth.jwt_secret.as_deref(), Some("j"));
    assert_eq!(auth.jwt_public_key, None);
}

#[test]
fn bad_auth_settings_are_clear_errors() {
    let file = |auth: &str| err(Some(&format!("{APP}auth = {{ {auth} }}\n")), None, &[]);
    let both = file(&format!(
        "jwt_secret = \"j\", jwt_public_key = \"{RSA_PUBLIC_KEY}\""
    ));
    assert!(
        both.contains("apps[0]: auth: set jwt_secret or jwt_public_key, not both"),
        "{both}"
    );
    let neither = file("issuer = \"me\"");
    assert!(
        neither.contains("auth: the endpoint needs jwt_secret or jwt_public_key"),
        "{neither}"
    );
    let empty = file("jwt_secret = \"\"");
    assert!(empty.contains("auth: jwt_secret is empty"), "{empty}");
    let missing = file("jwt_public_key = \"/nonexistent/clarion-jwt.pem\"");
    assert!(
        missing.contains("apps[0]: auth.jwt_public_key: cannot read /nonexistent/clarion-jwt.pem"),
        "{missing}"
    );
    let junk = TempFile::new("junk.pem", "not a key");
    let junk = file(&format!("jwt_public_key = \"{}\"", junk.0.display()));
    assert!(
        junk.contains("auth: jwt_public_key is not a PEM RSA or EC public key"),
        "{junk}"
    );
    let private = RSA_PUBLIC_KEY.replace("public", "private");
    let private = file(&format!("jwt_public_key = \"{private}\""));
    assert!(private.contains("holds a private key"), "{private}");
    let mismatch = file("jwt_secret = \"j\", algorithm = \"RS256\"");
    assert!(
        mismatch.contains("algorithm Rs256 needs an RSA public key"),
        "{mismatch}"
    );
    let unknown = file("jwt_secret = \"j\", algorithm = \"none\"");
    assert!(unknown.contains("unknown variant"), "{unknown}");
    let typo = file("jwt_secrett = \"j\"");
    assert!(typo.contains("unknown field"), "{typo}");

    let env = [
        ("REVERB_APP_ID", "1"),
        ("REVERB_APP_KEY", "k"),
        ("REVERB_APP_SECRET", "s"),
    ];
    let with = |var, value| err(None, None, &[env.as_slice(), &[(var, value)]].concat());
    let bad_alg = with("CLARION_AUTH_JWT_ALGORITHM", "none");
    assert!(
        bad_alg.contains("invalid CLARION_AUTH_JWT_ALGORITHM=\"none\": expected one of HS256"),
        "{bad_alg}"
    );
    let no_key = with("CLARION_AUTH_JWT_PUBLIC_KEY", "/nonexistent/k.pem");
    assert!(
        no_key.contains("the app from REVERB_APP_ID: auth.jwt_public_key: cannot read"),
        "{no_key}"
    );
    let orphan = err(None, None, &[("CLARION_AUTH_JWT_SECRET", "j")]);
    assert!(
        orphan.contains("CLARION_AUTH_JWT_SECRET is set but REVERB_APP_ID is not"),
        "{orphan}"
    );
}

#[test]
fn webhook_targets_parse_with_types_filters_and_headers() {
    let toml = format!(
        "{APP}[[apps.webhooks]]\nurl = \"https://backend.example/pusher/webhook\"\n\
         event_types = [\"member_added\", \"member_removed\"]\n\
         filter = {{ channel_name_starts_with = \"presence-\" }}\n\
         headers = {{ \"X-Tenant\" = \"7\" }}\n\
         [[apps.webhooks]]\nurl = \"http://127.0.0.1:9/all\"\n\
         [webhooks]\nbatch_size = 5\nretry_for = 60\n"
    );
    let cfg = ok(Some(&toml), None, &[]);
    let hooks = &cfg.apps[0].webhooks;
    assert_eq!(hooks.len(), 2);
    assert_eq!(
        hooks[0].event_types,
        [
            WebhookEventKind::MemberAdded,
            WebhookEventKind::MemberRemoved
        ]
    );
    assert!(hooks[0].wants(WebhookEventKind::MemberAdded, "presence-room"));
    assert!(!hooks[0].wants(WebhookEventKind::MemberAdded, "private-room"));
    assert!(!hooks[0].wants(WebhookEventKind::ChannelOccupied, "presence-room"));
    assert_eq!(hooks[0].headers["X-Tenant"], "7");
    assert_eq!(hooks[1].event_types, WebhookEventKind::ALL);
    assert_eq!((cfg.webhooks.batch_size, cfg.webhooks.retry_for), (5, 60));
}

#[test]
fn webhook_env_adds_a_target_to_the_env_app() {
    let cfg = ok(
        None,
        None,
        &[
            ("REVERB_APP_ID", "7"),
            ("REVERB_APP_KEY", "k"),
            ("REVERB_APP_SECRET", "s"),
            (
                "CLARION_WEBHOOK_URL",
                "http://127.0.0.1:8000/pusher/webhook",
            ),
            (
                "CLARION_WEBHOOK_EVENT_TYPES",
                "channel_occupied, channel_vacated",
            ),
            ("CLARION_WEBHOOKS_CLAIM_AFTER_MS", "1500"),
        ],
    );
    let hooks = &cfg.apps[0].webhooks;
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        hooks[0].event_types,
        [
            WebhookEventKind::ChannelOccupied,
            WebhookEventKind::ChannelVacated
        ]
    );
    assert_eq!(cfg.webhooks.claim_after_ms, 1500);
}

#[test]
fn bad_webhook_settings_are_refused_with_the_reason() {
    let bad_url = format!("{APP}[[apps.webhooks]]\nurl = \"ftp://example.com/hook\"\n");
    assert!(err(Some(&bad_url), None, &[]).contains("must be an http:// or https:// URL"));
    let bad_type = format!(
        "{APP}[[apps.webhooks]]\nurl = \"http://a.example\"\nevent_types = [\"member_joined\"]\n"
    );
    assert!(err(Some(&bad_type), None, &[]).contains("member_joined"));
    let env = [
        ("REVERB_APP_ID", "7"),
        ("REVERB_APP_KEY", "k"),
        ("REVERB_APP_SECRET", "s"),
        ("CLARION_WEBHOOK_URL", "http://127.0.0.1:8000/hook"),
        ("CLARION_WEBHOOK_EVENT_TYPES", "channel_occupied,nope"),
    ];
    assert!(err(None, None, &env).contains("unknown event type \"nope\""));
    let no_url = [
        ("REVERB_APP_ID", "7"),
        ("CLARION_WEBHOOK_EVENT_TYPES", "cache_miss"),
    ];
    assert!(err(None, None, &no_url).contains("CLARION_WEBHOOK_URL is not set"));
    let zero = format!("{APP}[webhooks]\nbatch_size = 0\n");
    assert!(err(Some(&zero), None, &[]).contains("webhooks.batch_size must be greater than 0"));
}

#[test]
fn metrics_are_on_by_default_on_the_main_port() {
    let cfg = ok(None, None, &[]);
    assert_eq!(
        cfg.metrics,
        MetricsConfig {
            enabled: true,
            port: None
        }
    );
    let cfg = ok(
        None,
        None,
        &[
            ("CLARION_METRICS_ENABLED", "off"),
            ("CLARION_METRICS_PORT", "9100"),
        ],
    );
    assert_eq!(
        cfg.metrics,
        MetricsConfig {
            enabled: false,
            port: Some(9100)
        }
    );
    let toml = "[metrics]\nport = 9100\n";
    assert_eq!(ok(Some(toml), None, &[]).metrics.port, Some(9100));
    let env = [("CLARION_METRICS_PORT", "9200")];
    assert_eq!(ok(Some(toml), None, &env).metrics.port, Some(9200));
}

#[test]
fn the_metrics_port_must_not_be_the_server_port() {
    let text = err(
        None,
        None,
        &[
            ("REVERB_SERVER_PORT", "9100"),
            ("CLARION_METRICS_PORT", "9100"),
        ],
    );
    assert!(text.contains("metrics.port 9100"), "{text}");
    // Port 0 picks a free port for each listener; metrics off needs no port.
    ok(
        None,
        None,
        &[("REVERB_SERVER_PORT", "0"), ("CLARION_METRICS_PORT", "0")],
    );
    ok(
        None,
        None,
        &[
            ("REVERB_SERVER_PORT", "9100"),
            ("CLARION_METRICS_PORT", "9100"),
            ("CLARION_METRICS_ENABLED", "false"),
        ],
    );
}

#[test]
fn the_dashboard_is_off_by_default_and_needs_a_token() {
    assert_eq!(ok(None, None, &[]).dashboard, DashboardConfig::default());
    assert!(!DashboardConfig::default().enabled);
    for (toml, env) in [
        (Some("[dashboard]\nenabled = true\n"), &[][..]),
        (None, &[("CLARION_DASHBOARD_ENABLED", "true")][..]),
        (
            Some("[dashboard]\nenabled = true\ntoken = \"  \"\n"),
            &[][..],
        ),
    ] {
        let text = err(toml, None, env);
        assert!(text.contains("CLARION_DASHBOARD_TOKEN"), "{text}");
    }
    let cfg = ok(
        Some("[dashboard]\nenabled = true\ntoken = \"from-file\"\n"),
        None,
        &[("CLARION_DASHBOARD_TOKEN", "from-env")],
    );
    assert!(cfg.dashboard.enabled);
    assert_eq!(cfg.dashboard.token.as_deref(), Some("from-env"));
    let debug = format!("{cfg:?}");
    assert!(!debug.contains("from-env"), "the token is never printed");
}

#[test]
fn tls_takes_both_files_or_neither() {
    assert_eq!(ok(None, None, &[]).server.tls, None);
    let text = format!("[server.tls]\ncert = \"{RSA_PUBLIC_KEY}\"\nkey = \"{EC_PUBLIC_KEY}\"\n");
    let tls = ok(Some(&text), None, &[]).server.tls.expect("tls on");
    assert_eq!(tls.cert, PathBuf::from(RSA_PUBLIC_KEY));
    assert_eq!(tls.key, PathBuf::from(EC_PUBLIC_KEY));
    // The environment replaces one file and keeps the other.
    let env = [("CLARION_TLS_KEY", RSA_PUBLIC_KEY)];
    let tls = ok(Some(&text), None, &env).server.tls.expect("tls on");
    assert_eq!(tls.key, PathBuf::from(RSA_PUBLIC_KEY));
    assert_eq!(tls.cert, PathBuf::from(RSA_PUBLIC_KEY));
    // One without the other is refused, from either source.
    let text = err(
        Some(&format!("[server.tls]\ncert = \"{RSA_PUBLIC_KEY}\"\n")),
        None,
        &[],
    );
    assert!(text.contains("key"), "{text}");
    let text = err(None, None, &[("CLARION_TLS_CERT", RSA_PUBLIC_KEY)]);
    assert!(text.contains("CLARION_TLS_KEY"), "{text}");
    let text = err(None, None, &[("CLARION_TLS_KEY", RSA_PUBLIC_KEY)]);
    assert!(text.contains("CLARION_TLS_CERT"), "{text}");
}

#[test]
fn tls_files_must_be_readable_at_start() {
    let env = [
        ("CLARION_TLS_CERT", RSA_PUBLIC_KEY),
        ("CLARION_TLS_KEY", "/nonexistent/clarion-test.key"),
    ];
    let text = err(None, None, &env);
    assert!(text.contains("server.tls.key"), "{text}");
    assert!(text.contains("/nonexistent/clarion-test.key"), "{text}");
}

#[test]
fn relative_tls_paths_are_taken_from_the_config_files_directory() {
    let pem = std::fs::read_to_string(RSA_PUBLIC_KEY).expect("fixture");
    let file = TempFile::new("tls.pem", &pem);
    let name = file.0.file_name().and_then(|n| n.to_str()).expect("name");
    let text = format!("[server.tls]\ncert = \"{name}\"\nkey = \"{name}\"\n");
    let tls = ok(Some(&text), None, &[]).server.tls.expect("tls on");
    assert_eq!(tls.cert, file.0);
    assert_eq!(tls.key, file.0);
}

#[test]
fn debug_output_never_shows_a_secret() {
    let text = format!(
        "[scaling]\nurl = \"redis://user:redis-pass@h:1/0\"\npassword = \"redis-pass\"\n\
         {APP}[[apps.webhooks]]\nurl = \"https://u:hook-pass@example.com/hook\"\n\
         headers = {{ Authorization = \"Bearer hook-token\" }}\n"
    );
    let cfg = ok(Some(&text), None, &[]);
    let debug = format!("{cfg:?}");
    for secret in ["redis-pass", "hook-pass", "hook-token"] {
        assert!(!debug.contains(secret), "{secret} in {debug}");
    }
    // The app secret is `s1`, short enough to occur elsewhere: as a value.
    assert!(!debug.contains("\"s1\""), "the app secret in {debug}");
    assert!(
        debug.contains("Authorization"),
        "header names stay: {debug}"
    );
    assert!(debug.contains("k1"), "the key stays: {debug}");
}

#[test]
fn redis_cluster_nodes_from_env_and_toml_are_checked_and_masked() {
    let cfg = ok(
        None,
        None,
        &[(
            "REDIS_CLUSTER_NODES",
            " redis://:pw@10.0.0.1:7000, tcp://10.0.0.2:7001 ,,",
        )],
    );
    assert_eq!(
        cfg.scaling.cluster_nodes,
        ["redis://:pw@10.0.0.1:7000", "redis://10.0.0.2:7001"]
    );
    assert!(cfg.scaling.redis_cluster());
    let shown = format!("{:?}", cfg.scaling);
    assert!(
        shown.contains("cluster_nodes") && !shown.contains("pw@"),
        "{shown}"
    );
    let toml = "[scaling]\ncluster_nodes = [\"rediss://a:7000\", \"tls://b:7001\"]\n";
    let cfg = ok(Some(toml), None, &[]);
    assert_eq!(
        cfg.scaling.cluster_nodes,
        ["rediss://a:7000", "rediss://b:7001"]
    );
    // Unset: a single Redis, as before.
    assert!(!ok(None, None, &[]).scaling.redis_cluster());

    let text = err(
        None,
        None,
        &[(
            "REDIS_CLUSTER_NODES",
            "redis://a:7000,unix://:hunter2@/redis.sock",
        )],
    );
    assert!(
        text.contains("REDIS_CLUSTER_NODES") && !text.contains("hunter2"),
        "{text}"
    );
    for (toml, wanted) in [
        (
            "[scaling]\ncluster_nodes = [\"redis://a:1\", \"http://b:2\"]\n",
            "scaling.cluster_nodes[1]",
        ),
        (
            "[scaling]\ncluster_nodes = [\"redis://a:1\", \"rediss://b:2\"]\n",
            "TLS",
        ),
        (
            "[scaling]\nrouting = \"broadcast\"\ncluster_nodes = [\"redis://a:1\"]\n",
            "broadcast",
        ),
        (
            "[scaling]\nchannel = \"{x}\"\ncluster_nodes = [\"redis://a:1\"]\n",
            "scaling.channel",
        ),
    ] {
        let text = err(Some(toml), None, &[]);
        assert!(text.contains(wanted), "{toml}: {text}");
    }
}
