//! Loading, overrides, validation messages and the `check-config` report.

use super::*;
use secrecy::ExposeSecret;

const EXAMPLE: &str = include_str!("../../deploy/omnibridge.example.toml");

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load_err(text: &str, vars: &[(&str, &str)]) -> String {
    match load_from_str(text, "omnibridge.toml", &env(vars)) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const GETCHAT: &str = r#"
[inbenta]
api_key = "k-123"
secret = "s-456"

[[channels]]
id = "sales"
kind = "getchat"
base_url = "https://acme.example.com"
token = "tok-789"
webhook_secret = "hook-000"
"#;

#[test]
fn the_example_file_loads_and_sets_every_section() {
    let settings = load_from_str(EXAMPLE, "deploy/omnibridge.example.toml", &[]).unwrap();
    assert_eq!(settings.channels.len(), 2);
    assert_eq!(settings.channels[1].kind, ChannelKind::Qontak);
    // Sections of features not built yet are only mentioned in comments.
    assert!(settings.getchat_partner.is_none());
    assert!(settings.broadcasts.is_none());
    assert!(settings.media.keys_set().is_empty());
    assert_eq!(settings.worker.retry_delays.len(), 6);
    assert_eq!(settings.worker.lease_ttl, Duration::from_secs(300));
    assert_eq!(
        settings.source.as_deref(),
        Some(std::path::Path::new("deploy/omnibridge.example.toml"))
    );
}

#[test]
fn the_example_file_mentions_every_settings_key() {
    let keys = [
        "listen",
        "public_url",
        "admin_token",
        "max_body_bytes",
        "url",
        "max_connections",
        "schema",
        "concurrency",
        "reconcile_interval",
        "lease_ttl",
        "max_attempts",
        "retry_delays",
        "sweep_interval",
        "dir",
        "ffmpeg",
        "voice_for_tickets",
        "public_links",
        "auth_url",
        "api_key",
        "secret",
        "webhook_secret",
        "bridge_user_name",
        "user_address",
        "closed_status",
        "open_status",
        "status_check_interval",
        "timeout",
        "id",
        "kind",
        "enabled",
        "base_url",
        "token",
        "username",
        "password",
        "transport",
        "access_token",
        "refresh_token",
        "client_id",
        "client_secret",
        "channel_integration_id",
        "sync_resolution",
        "fallback_template",
    ];
    for key in keys {
        assert!(
            EXAMPLE.contains(&format!("\n{key} = ")) || EXAMPLE.contains(&format!("# {key} = ")),
            "{key} is not documented"
        );
    }
}

#[test]
fn no_file_gives_the_defaults() {
    let settings = load_from_str("", DEFAULTS_SOURCE, &[]).unwrap();
    assert_eq!(settings.server.listen, "127.0.0.1:8080");
    assert!(settings.channels.is_empty());
    assert!(settings.source.is_none());
    assert_eq!(settings.worker.concurrency, 8);
}

#[test]
fn unknown_kind_names_line_channel_and_the_allowed_kinds() {
    let text = GETCHAT.replace("kind = \"getchat\"", "kind = \"whatsapp\"");
    assert_eq!(
        load_err(&text, &[]),
        "omnibridge.toml:8: channels[0] (id \"sales\"): kind = \"whatsapp\" is not one of getchat, qontak"
    );
}

#[test]
fn unknown_key_names_line_column_and_key() {
    let err = load_err("[server]\nlisten = \"0.0.0.0:80\"\nlisen = 1\n", &[]);
    assert!(
        err.starts_with("omnibridge.toml:3:1: server.lisen: unknown field `lisen`"),
        "{err}"
    );
}

#[test]
fn wrong_type_names_line_column_and_key() {
    let err = load_err("[worker]\nconcurrency = \"eight\"\n", &[]);
    assert!(
        err.starts_with("omnibridge.toml:2:15: worker.concurrency: invalid type"),
        "{err}"
    );
}

#[test]
fn bad_duration_names_the_key() {
    let err = load_err("[worker]\nlease_ttl = \"soon\"\n", &[]);
    assert!(
        err.starts_with("omnibridge.toml:2:13: worker.lease_ttl: invalid duration"),
        "{err}"
    );
}

#[test]
fn syntax_error_names_line_and_column() {
    let err = load_err("[server]\nlisten = \n", &[]);
    assert!(err.starts_with("omnibridge.toml:2:"), "{err}");
}

#[test]
fn a_secret_of_the_wrong_type_is_not_echoed() {
    let text = GETCHAT.replace("token = \"tok-789\"", "token = 987654321");
    let err = load_err(&text, &[]);
    assert!(err.contains("channels[0].token"), "{err}");
    assert!(!err.contains("987654321"), "{err}");
}

#[test]
fn missing_channel_credentials_point_at_the_channel() {
    let text = GETCHAT.replace("token = \"tok-789\"\n", "");
    assert_eq!(
        load_err(&text, &[]),
        "omnibridge.toml:6: channels[0] (id \"sales\"): an enabled getchat channel needs token, or \
         username + password (set it or OMNIBRIDGE__CHANNELS__0__TOKEN; or enabled = false)"
    );
}

#[test]
fn a_disabled_channel_needs_no_credentials() {
    let text = "[[channels]]\nid = \"x\"\nkind = \"qontak\"\nenabled = false\nbase_url = \"https://q.example\"\n";
    load_from_str(text, "omnibridge.toml", &[]).unwrap();
}

#[test]
fn an_enabled_qontak_channel_lists_each_missing_credential_and_inbenta_keys() {
    let text = "[[channels]]\nid = \"jakarta\"\nkind = \"qontak\"\nbase_url = \"https://q.example\"\naccess_token = \"a\"\n";
    let err = load_from_str(text, "omnibridge.toml", &[]).unwrap_err();
    let problems = err.problems();
    let joined = problems.join("\n");
    for key in [
        "refresh_token",
        "client_id",
        "client_secret",
        "webhook_secret",
        "inbenta.api_key",
        "inbenta.secret",
    ] {
        assert!(joined.contains(key), "{key} missing in {joined}");
    }
    assert!(!joined.contains("needs access_token"));
    assert_eq!(problems.len(), 6);
    assert!(err.to_string().contains("(and 5 more: "));
}

#[test]
fn duplicate_and_unsafe_channel_ids_are_rejected() {
    let second = GETCHAT.split("[[channels]]").nth(1).unwrap_or_default();
    let text = format!(
        "{GETCHAT}\n[[channels]]{}",
        second.replace("\"sales\"", "\"Sales Team\"")
    );
    let text = format!("{text}\n[[channels]]{second}");
    let joined = load_from_str(&text, "omnibridge.toml", &[])
        .unwrap_err()
        .problems()
        .join("\n");
    assert!(
        joined.contains("channels[1] (id \"Sales Team\"): id must be lower-case"),
        "{joined}"
    );
    assert!(
        joined.contains("channels[2] (id \"sales\"): id is already used by channels[0]"),
        "{joined}"
    );
}

#[test]
fn database_url_must_be_sqlite_or_postgres_and_is_never_echoed() {
    let err = load_err("[database]\nurl = \"mysql://root:hunter2@db/x\"\n", &[]);
    assert_eq!(
        err,
        "omnibridge.toml:2: database.url must start with sqlite:, postgres:// or postgresql:// (value not shown)"
    );
}

#[test]
fn listen_concurrency_retry_delays_and_url_schemes_are_checked() {
    let text = "[server]\nlisten = \"localhost\"\npublic_url = \"ftp://x.example\"\n[worker]\nconcurrency = 0\nretry_delays = []\n";
    let joined = load_from_str(text, "omnibridge.toml", &[])
        .unwrap_err()
        .problems()
        .join("\n");
    assert!(
        joined.contains("omnibridge.toml:2: server.listen = \"localhost\" is not a socket address"),
        "{joined}"
    );
    assert!(
        joined.contains("omnibridge.toml:3: server.public_url must be an http:// or https:// URL"),
        "{joined}"
    );
    assert!(
        joined.contains("omnibridge.toml:5: worker.concurrency must be at least 1"),
        "{joined}"
    );
    assert!(
        joined.contains("omnibridge.toml:6: worker.retry_delays must list at least one"),
        "{joined}"
    );
}

#[test]
fn env_overrides_replace_file_values_with_the_right_types() {
    let vars = [
        ("OMNIBRIDGE__DATABASE__URL", "postgres://u:pw@db/omni"),
        ("omnibridge__worker__concurrency", "3"),
        ("OMNIBRIDGE__CHANNELS__0__TOKEN", "12345"),
        ("OMNIBRIDGE__CHANNELS__0__SYNC_RESOLUTION", "true"),
        ("OMNIBRIDGE__INBENTA__CLOSED_STATUS", "5"),
        ("OMNIBRIDGE__WORKER__RETRY_DELAYS", "2s, 10s"),
        ("OMNIBRIDGE_CONFIG", "ignored.toml"),
        ("PATH", "/usr/bin"),
    ];
    let s = load_from_str(GETCHAT, "omnibridge.toml", &env(&vars)).unwrap();
    assert_eq!(s.database.url.expose_secret(), "postgres://u:pw@db/omni");
    assert_eq!(s.worker.concurrency, 3);
    assert_eq!(
        s.channels[0].token.as_ref().map(|t| t.expose_secret()),
        Some("12345")
    );
    assert!(s.channels[0].sync_resolution);
    assert_eq!(s.inbenta.closed_status, 5);
    assert_eq!(
        s.worker.retry_delays,
        vec![Duration::from_secs(2), Duration::from_secs(10)]
    );
}

#[test]
fn a_numeric_looking_value_for_a_new_string_key_stays_a_string() {
    let vars = [
        ("OMNIBRIDGE__CHANNELS__0__USERNAME", "4711"),
        ("OMNIBRIDGE__SERVER__MAX_BODY_BYTES", "1024"),
    ];
    let s = load_from_str(GETCHAT, "omnibridge.toml", &env(&vars)).unwrap();
    assert_eq!(s.channels[0].username.as_deref(), Some("4711"));
    assert_eq!(s.server.max_body_bytes, 1024);
}

#[test]
fn a_whole_channel_can_come_from_the_environment() {
    let vars = [
        ("OMNIBRIDGE__CHANNELS__1__ID", "support"),
        ("OMNIBRIDGE__CHANNELS__1__KIND", "getchat"),
        (
            "OMNIBRIDGE__CHANNELS__1__BASE_URL",
            "https://support.example.com",
        ),
        ("OMNIBRIDGE__CHANNELS__1__TOKEN", "t"),
        ("OMNIBRIDGE__CHANNELS__1__WEBHOOK_SECRET", "w"),
    ];
    let s = load_from_str(GETCHAT, "omnibridge.toml", &env(&vars)).unwrap();
    assert_eq!(s.channels[1].id, "support");
}

#[test]
fn a_bad_override_names_the_variable_and_hides_secrets() {
    let err = load_err(GETCHAT, &[("OMNIBRIDGE__WORKER__CONCURRENCY", "many")]);
    assert_eq!(
        err,
        "environment variable OMNIBRIDGE__WORKER__CONCURRENCY: worker.concurrency: invalid type: string \"many\", expected usize"
    );
    let vars = env(&[("OMNIBRIDGE__SERVER__ADMIN_TOKEN", "[1, 2]")]);
    let s = load_from_str(GETCHAT, "omnibridge.toml", &vars).unwrap();
    assert_eq!(
        s.server
            .admin_token
            .map(|t| t.expose_secret().to_owned())
            .as_deref(),
        Some("[1, 2]")
    );

    let err = load_err(
        GETCHAT,
        &[("OMNIBRIDGE__DATABASE__URL", "mysql://root:hunter2@db")],
    );
    assert_eq!(
        err,
        "environment variable OMNIBRIDGE__DATABASE__URL: database.url must start with sqlite:, postgres:// or postgresql:// (value not shown)"
    );

    let err = load_err(GETCHAT, &[("OMNIBRIDGE__SERVER__LISTEN_ADDR", "x")]);
    assert!(err.starts_with("environment variable OMNIBRIDGE__SERVER__LISTEN_ADDR: server.listen_addr: unknown field"), "{err}");

    let err = load_err(GETCHAT, &[("OMNIBRIDGE__CHANNELS__5__TOKEN", "x")]);
    assert!(
        err.contains("index 5 in channels[5] is out of range"),
        "{err}"
    );
}

#[test]
fn describe_shows_what_is_enabled_and_no_secret() {
    let vars = [(
        "OMNIBRIDGE__DATABASE__URL",
        "postgres://bridge:db-pass-42@db.internal/omni",
    )];
    let s = load_from_str(EXAMPLE, "deploy/omnibridge.example.toml", &env(&vars)).unwrap();
    let mut s = s;
    s.server.admin_token = Some("admin-secret-1".into());
    s.inbenta.api_key = Some("inbenta-key-2".into());
    s.inbenta.secret = None;
    s.channels[0].token = Some("getchat-token-3".into());
    s.channels[1].client_secret = Some("qontak-secret-4".into());
    let report = describe(&s);
    for secret in [
        "db-pass-42",
        "admin-secret-1",
        "inbenta-key-2",
        "getchat-token-3",
        "qontak-secret-4",
    ] {
        assert!(!report.contains(secret), "{secret} leaked:\n{report}");
    }
    for expected in [
        "config source: deploy/omnibridge.example.toml",
        "listen: 127.0.0.1:8080",
        "database: postgres postgres://bridge:***@db.internal/omni",
        "api_key: [set], secret: [missing]",
        "- sales (getchat, enabled): https://acme.inbox.getchat.360dialog.io/",
        "transport: webhook, auth: token [set]",
        "- jakarta (qontak, enabled)",
        "fallback template: follow_up (id, 1 parameter(s))",
        "media: conversions not implemented yet",
        "access_token [placeholder]",
    ] {
        assert!(report.contains(expected), "{expected:?} not in:\n{report}");
    }
}

#[test]
fn database_urls_are_redacted() {
    assert_eq!(
        describe::redact_url("postgres://user:pw@host/db"),
        "postgres://user:***@host/db"
    );
    assert_eq!(
        describe::redact_url("postgres://host/db?user=u&password=pw"),
        "postgres://host/db?user=u&password=***"
    );
    assert_eq!(
        describe::redact_url("sqlite://./data/omnibridge.db"),
        "sqlite://./data/omnibridge.db"
    );
}

#[test]
fn load_reads_the_given_file_and_names_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bridge.toml");
    std::fs::write(&path, GETCHAT).unwrap();
    let settings = load(Some(&path)).unwrap();
    assert_eq!(settings.source.as_deref(), Some(path.as_path()));
    assert_eq!(settings.channels[0].id, "sales");

    let missing = dir.path().join("nope.toml");
    let err = load(Some(&missing)).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "{}: cannot read the config file",
            missing.display()
        )),
        "{err}"
    );
}

#[test]
fn unbuilt_transports_are_refused_as_not_implemented_with_file_line_and_key() {
    for transport in ["websocket", "both"] {
        let text = GETCHAT.replace(
            "token = \"tok-789\"\n",
            &format!("token = \"tok-789\"\ntransport = \"{transport}\"\n"),
        );
        assert_eq!(
            load_err(&text, &[]),
            format!(
                "omnibridge.toml:11: channels[0] (id \"sales\"): transport = \"{transport}\" is not \
                 implemented yet; only \"webhook\" is (remove the key)"
            )
        );
    }
    let text = GETCHAT.replace(
        "token = \"tok-789\"\n",
        "token = \"tok-789\"\ntransport = \"webhook\"\n",
    );
    load_from_str(&text, "omnibridge.toml", &[]).unwrap();
    let err = load_err(
        GETCHAT,
        &[("OMNIBRIDGE__CHANNELS__0__TRANSPORT", "websocket")],
    );
    assert!(
        err.starts_with("environment variable OMNIBRIDGE__CHANNELS__0__TRANSPORT: channels[0]")
            && err.contains("not implemented yet"),
        "{err}"
    );
}

#[test]
fn any_media_key_is_refused_as_not_implemented() {
    let text = format!("{GETCHAT}\n[media]\nffmpeg = \"ffmpeg\"\npublic_links = false\n");
    let problems = load_from_str(&text, "omnibridge.toml", &[])
        .unwrap_err()
        .problems();
    assert_eq!(
        problems,
        [
            "omnibridge.toml:14: media.ffmpeg is not implemented yet (files are passed on as received); remove the key",
            "omnibridge.toml:15: media.public_links is not implemented yet (files are passed on as received); remove the key",
        ]
    );
    let err = load_err(GETCHAT, &[("OMNIBRIDGE__MEDIA__VOICE_FOR_TICKETS", "mp3")]);
    assert_eq!(
        err,
        "environment variable OMNIBRIDGE__MEDIA__VOICE_FOR_TICKETS: media.voice_for_tickets is not \
         implemented yet (files are passed on as received); remove the key"
    );
    // An empty section sets nothing.
    load_from_str(&format!("{GETCHAT}\n[media]\n"), "omnibridge.toml", &[]).unwrap();
}

#[test]
fn partner_and_broadcasts_sections_are_refused_as_not_implemented() {
    let text = format!(
        "{GETCHAT}\n[getchat_partner]\nbase_url = \"https://api.inbox.platform.get.chat\"\napi_key = \"p-1\"\n\n[broadcasts]\nopt_out_keywords = [\"STOP\"]\n"
    );
    let problems = load_from_str(&text, "omnibridge.toml", &[])
        .unwrap_err()
        .problems();
    assert_eq!(
        problems,
        [
            "omnibridge.toml:13: [getchat_partner] is not implemented yet; remove the section",
            "omnibridge.toml:17: [broadcasts] is not implemented yet; remove the section",
        ]
    );
}

#[test]
fn the_examples_placeholders_are_listed_by_key_and_refused_for_serving() {
    let settings = load_from_str(EXAMPLE, "deploy/omnibridge.example.toml", &[]).unwrap();
    let listed = settings.unusable_secrets.join("\n");
    for key in [
        "server.admin_token",
        "inbenta.api_key",
        "inbenta.secret",
        "inbenta.webhook_secret",
        "channels[0] (id \"sales\") token",
        "channels[0] (id \"sales\") webhook_secret",
        "channels[1] (id \"jakarta\") access_token",
        "channels[1] (id \"jakarta\") refresh_token",
        "channels[1] (id \"jakarta\") client_id",
        "channels[1] (id \"jakarta\") client_secret",
        "channels[1] (id \"jakarta\") channel_integration_id",
        "channels[1] (id \"jakarta\") webhook_secret",
    ] {
        assert!(
            listed.contains(&format!("{key} is still a placeholder")),
            "{key} not in:\n{listed}"
        );
    }
    assert_eq!(settings.unusable_secrets.len(), 12, "{listed}");
    assert!(
        settings.unusable_secrets[0].starts_with(
            "deploy/omnibridge.example.toml:21: server.admin_token is still a placeholder (value not shown); \
             set the real value or OMNIBRIDGE__SERVER__ADMIN_TOKEN"
        ),
        "{listed}"
    );
    assert!(!listed.contains("change-me"), "{listed}");
    let err = settings.refuse_unusable_secrets().unwrap_err().to_string();
    assert!(
        err.contains("server.admin_token is still a placeholder"),
        "{err}"
    );
    assert!(!err.contains("change-me"), "{err}");
}

#[test]
fn empty_secrets_are_refused_for_serving_and_real_ones_pass() {
    let settings = load_from_str(GETCHAT, "omnibridge.toml", &[]).unwrap();
    assert!(settings.unusable_secrets.is_empty());
    settings.refuse_unusable_secrets().unwrap();

    let text = format!("[server]\nadmin_token = \"  \"\n{GETCHAT}");
    let text = text.replace("hook-000", "xxxx");
    let settings = load_from_str(&text, "omnibridge.toml", &[]).unwrap();
    assert_eq!(
        settings.unusable_secrets,
        [
            "omnibridge.toml:2: server.admin_token is empty (value not shown); set the real value or OMNIBRIDGE__SERVER__ADMIN_TOKEN",
            "omnibridge.toml:13: channels[0] (id \"sales\") webhook_secret is still a placeholder (value not shown); set the real value or OMNIBRIDGE__CHANNELS__0__WEBHOOK_SECRET",
        ]
    );
    // An override that fills the placeholder in is what counts.
    let vars = env(&[("OMNIBRIDGE__CHANNELS__0__WEBHOOK_SECRET", "a-real-one")]);
    let text = text.replace("admin_token = \"  \"\n", "");
    let settings = load_from_str(&text, "omnibridge.toml", &vars).unwrap();
    settings.refuse_unusable_secrets().unwrap();
    // The environment can bring a placeholder too; it is named.
    let vars = env(&[("OMNIBRIDGE__INBENTA__SECRET", "TODO")]);
    let settings = load_from_str(GETCHAT, "omnibridge.toml", &vars).unwrap();
    assert_eq!(
        settings.unusable_secrets,
        [
            "environment variable OMNIBRIDGE__INBENTA__SECRET: inbenta.secret is still a placeholder (value not shown); set the real value or OMNIBRIDGE__INBENTA__SECRET"
        ]
    );
}

#[test]
fn a_disabled_channels_placeholders_do_not_count() {
    let text = GETCHAT.replace("tok-789", "change-me").replace(
        "kind = \"getchat\"\n",
        "kind = \"getchat\"\nenabled = false\n",
    );
    let settings = load_from_str(&text, "omnibridge.toml", &[]).unwrap();
    assert!(
        settings.unusable_secrets.is_empty(),
        "{:?}",
        settings.unusable_secrets
    );
}
