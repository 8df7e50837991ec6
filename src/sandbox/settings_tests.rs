//! What the builder writes comes back through the real loader unchanged.

use super::*;
use std::time::Duration;

struct Sims {
    getchat: GetchatSim,
    inbenta: InbentaSim,
    qontak: QontakSim,
}

async fn sims() -> Sims {
    Sims {
        getchat: GetchatSim::start().await.unwrap(),
        inbenta: InbentaSim::start().await.unwrap(),
        qontak: QontakSim::start().await.unwrap(),
    }
}

fn every_knob(sims: &Sims) -> SimSettings {
    let template = FallbackTemplate {
        name: "follow_up".into(),
        language: "en".into(),
        parameters: vec!["{reply.text}".into(), "say \"hi\"".into()],
    };
    let channel = |base: SimChannel| SimChannel {
        webhook_secret: Some("hook-secret".into()),
        sync_resolution: true,
        fallback_template: Some(template.clone()),
        timeout: Some(Duration::from_secs(5)),
        ..base
    };
    SimSettings {
        listen: Some("127.0.0.1:0".into()),
        public_url: Some("http://127.0.0.1:4321".into()),
        admin_token: Some("admin-token".into()),
        database_url: Some("postgres://postgres@127.0.0.1:5432/test".into()),
        max_connections: Some(16),
        pg_schema: Some("test_schema".into()),
        worker: WorkerKnobs {
            concurrency: Some(3),
            lease_ttl: Some(Duration::from_secs(300)),
            max_attempts: Some(10_000),
            retry_delays: Some(vec![Duration::from_millis(50), Duration::from_millis(1500)]),
            sweep_interval: Some(Duration::from_millis(200)),
            reconcile_interval: Some(Duration::from_secs(3600)),
        },
        mappings_dir: Some(PathBuf::from("/tmp/some \"quoted\" dir")),
        inbenta: Some(SimInbenta {
            webhook_secret: Some("inbenta-hook".into()),
            status_check_interval: Some(Duration::ZERO),
            timeout: Some(Duration::from_secs(5)),
            ..SimInbenta::new(&sims.inbenta)
        }),
        channels: vec![
            channel(SimChannel::getchat("sales", &sims.getchat)),
            channel(SimChannel::qontak("jakarta", &sims.qontak)),
        ],
        server_extra: Some("idle_timeout = \"7s\"".into()),
    }
}

#[tokio::test]
async fn every_knob_reaches_the_loaded_settings() {
    let sims = sims().await;
    let settings = every_knob(&sims).load("sim.toml").expect("valid settings");
    assert_eq!(settings.server.listen, "127.0.0.1:0");
    assert_eq!(settings.server.idle_timeout, Duration::from_secs(7));
    assert_eq!(
        settings.server.public_url.unwrap().as_str(),
        "http://127.0.0.1:4321/"
    );
    assert_eq!(
        settings.server.admin_token.unwrap().expose_secret(),
        "admin-token"
    );
    assert_eq!(settings.database.max_connections, 16);
    assert_eq!(settings.database.schema.as_deref(), Some("test_schema"));
    let worker = &settings.worker;
    assert_eq!(worker.concurrency, 3);
    assert_eq!(worker.lease_ttl, Duration::from_secs(300));
    assert_eq!(worker.max_attempts, 10_000);
    assert_eq!(
        worker.retry_delays,
        [Duration::from_millis(50), Duration::from_millis(1500)]
    );
    assert_eq!(worker.sweep_interval, Duration::from_millis(200));
    assert_eq!(worker.reconcile_interval, Duration::from_secs(3600));
    assert_eq!(
        settings.mappings.dir,
        PathBuf::from("/tmp/some \"quoted\" dir")
    );
    let inbenta = &settings.inbenta;
    assert_eq!(
        inbenta.auth_url.as_str(),
        format!("{}/", sims.inbenta.auth_url())
    );
    assert_eq!(
        inbenta.secret.as_ref().unwrap().expose_secret(),
        inbenta::SECRET
    );
    assert_eq!(inbenta.status_check_interval, Duration::ZERO);
    assert_eq!(inbenta.timeout, Duration::from_secs(5));

    let [sales, jakarta] = settings.channels.as_slice() else {
        panic!("two channels: {:?}", settings.channels);
    };
    assert_eq!(
        (sales.id.as_str(), sales.kind),
        ("sales", config::ChannelKind::Getchat)
    );
    assert_eq!(
        sales.token.as_ref().unwrap().expose_secret(),
        sims.getchat.token()
    );
    assert_eq!(jakarta.kind, config::ChannelKind::Qontak);
    assert_eq!(
        jakarta.refresh_token.as_ref().unwrap().expose_secret(),
        sims.qontak.refresh_token()
    );
    assert_eq!(
        jakarta.channel_integration_id.as_deref(),
        Some(sims.qontak.channel_integration_id().as_str())
    );
    for channel in [sales, jakarta] {
        assert!(channel.sync_resolution);
        assert_eq!(channel.timeout, Duration::from_secs(5));
        let template = channel.fallback_template.as_ref().expect("a template");
        assert_eq!(template.parameters, ["{reply.text}", "say \"hi\""]);
    }
}

#[tokio::test]
async fn unset_knobs_are_left_to_the_loaders_defaults() {
    let sims = sims().await;
    let minimal = SimSettings {
        inbenta: Some(SimInbenta::new(&sims.inbenta)),
        channels: vec![SimChannel {
            webhook_secret: Some("hook-secret".into()),
            ..SimChannel::getchat("sales", &sims.getchat)
        }],
        ..SimSettings::default()
    };
    let text = minimal.to_toml();
    for absent in [
        "[server]",
        "[worker]",
        "[database]",
        "timeout",
        "fallback_template",
    ] {
        assert!(!text.contains(absent), "{absent} in:\n{text}");
    }
    let settings = minimal.load("sim.toml").expect("valid settings");
    let defaults = config::WorkerConfig::default();
    assert_eq!(settings.worker.retry_delays, defaults.retry_delays);
    assert_eq!(settings.worker.concurrency, defaults.concurrency);
    assert!(!settings.channels[0].sync_resolution);
}

#[test]
fn the_debug_form_hides_the_secrets() {
    let settings = SimSettings {
        admin_token: Some("very-secret-admin".into()),
        database_url: Some("postgres://user:pw-secret@db/x".into()),
        ..SimSettings::default()
    };
    let debug = format!("{settings:?}");
    assert!(!debug.contains("very-secret-admin"), "{debug}");
    assert!(!debug.contains("pw-secret"), "{debug}");
}
