//! The command line, run as the real binary.

use crate::helpers::{AppOptions, Db, TestEnv};
use crate::ingest::onprem_text;

const RULES: &str = r#"
[[route]]
name = "refunds"
channel = "sales"
when.text_matches = "(?i)refund"
ticket.title = "Refund: {contact.name}"
ticket.queue = 3

[[route]]
name = "default"
channel = "*"
"#;

fn run(args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_omnibridge"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn mappings_explain_shows_the_matching_route_and_the_ticket_it_would_open() {
    let env = TestEnv::new(
        Db::Sqlite,
        AppOptions {
            mappings: Some(RULES),
            ..AppOptions::default()
        },
    )
    .await;
    let config = env.write_config("127.0.0.1:0");
    let event = config.with_file_name("event.json");
    std::fs::write(
        &event,
        onprem_text("4930001", "Pia", "wamid.E1", "Where is my refund?").to_string(),
    )
    .unwrap();
    let (code, stdout, stderr) = run(&[
        "mappings",
        "explain",
        "--channel",
        "sales",
        "--event",
        event.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("route \"refunds\": matches"), "{stdout}");
    assert!(stdout.contains("new ticket \"Refund: Pia\""), "{stdout}");
    assert!(stdout.contains("queue Some(3)"), "{stdout}");
}

#[tokio::test]
async fn check_config_names_the_file_line_and_key_and_never_prints_secrets() {
    let env = TestEnv::new(Db::Sqlite, AppOptions::default()).await;
    let config = env.write_config("127.0.0.1:0");
    let (code, stdout, stderr) = run(&["check-config", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("sales (getchat"), "{stdout}");
    assert!(
        !stdout.contains(crate::helpers::WEBHOOK_SECRET),
        "secret leaked: {stdout}"
    );
    assert!(
        !stdout.contains(omnibridge::sandbox::inbenta::SECRET),
        "secret leaked: {stdout}"
    );

    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("kind = \"getchat\"", "kind = \"whatsapp\"");
    std::fs::write(&config, text).unwrap();
    let (code, _, stderr) = run(&["check-config", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 1);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .expect("an error line");
    assert!(
        line.contains(".toml:") && line.contains("kind = \"whatsapp\""),
        "{line}"
    );
    assert!(!stderr.contains(crate::helpers::WEBHOOK_SECRET));
}

#[tokio::test]
async fn debug_logs_of_a_webhook_never_contain_its_secret() {
    let env = TestEnv::new(Db::Sqlite, AppOptions::default()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let config = env.write_config(&format!("127.0.0.1:{port}"));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_omnibridge"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("RUST_LOG", "debug")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Read the logs while the bridge runs, or a full pipe would block it.
    let mut stderr = child.stderr.take().unwrap();
    let reader = tokio::spawn(async move {
        let mut logs = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut stderr, &mut logs).await;
        logs
    });
    let client = reqwest::Client::new();
    let url = format!(
        "http://127.0.0.1:{port}/webhooks/getchat/sales?auth={}",
        crate::helpers::WEBHOOK_SECRET
    );
    crate::helpers::eventually("the webhook accepted", || {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let body = onprem_text("4930002", "Quin", "wamid.LOG1", "hello");
            let response = client.post(&url).json(&body).send().await.ok()?;
            (response.status() == 200).then_some(())
        }
    })
    .await;
    crate::helpers::eventually("the ticket", || async {
        env.inbenta.tickets().into_iter().next()
    })
    .await;
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let logs = reader.await.unwrap();
    let logs = String::from_utf8_lossy(&logs);
    assert!(
        logs.contains("/webhooks/getchat/sales"),
        "debug logs show the request: {logs}"
    );
    assert!(
        !logs.contains(crate::helpers::WEBHOOK_SECRET),
        "the webhook secret reached the logs"
    );
    assert!(
        !logs.contains(omnibridge::sandbox::inbenta::SECRET),
        "the Inbenta secret reached the logs"
    );
    assert!(
        !logs.contains(&env.getchat.token()),
        "the get.chat token reached the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_fetches_what_happened_before_the_first_start() {
    let env = TestEnv::new(Db::Sqlite, AppOptions::default()).await;
    // A customer wrote an hour ago; no webhook ever brought it.
    let an_hour_ago = chrono::Utc::now().timestamp() - 3600;
    env.getchat.add_incoming_message(
        "4930077",
        "Olga",
        "wamid.backfill.1",
        "Sent while the bridge was not there",
        an_hour_ago,
    );
    let config = env.write_config("127.0.0.1:0");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_omnibridge"))
        .args([
            "backfill",
            "--since",
            "2h",
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .await
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("poll:channel:sales: 1 event(s) polled, 1 new"),
        "{stdout}"
    );
    // The running bridge then turns it into a ticket.
    let app = env.start_app().await;
    crate::helpers::eventually("the backfilled message became a ticket", || async {
        env.inbenta
            .tickets()
            .into_iter()
            .find(|t| t.message.contains("Sent while the bridge was not there"))
    })
    .await;
    app.stop().await;
}

/// Run the binary with a deadline: a command that should refuse to start must not hang the test
/// when it starts after all.
async fn run_briefly(args: &[&str]) -> (i32, String, String) {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_omnibridge"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs");
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("omnibridge {args:?} is still running after 30 s"))
        .expect("the binary ran");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn placeholder_secrets_are_reported_by_check_config_and_refused_by_serve_and_worker() {
    let env = TestEnv::new(Db::Sqlite, AppOptions::default()).await;
    let config = env.write_config("127.0.0.1:0");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&env.getchat.token(), "<your token>")
        .replace(crate::helpers::ADMIN_TOKEN, " ");
    let admin_line = 1 + text
        .lines()
        .position(|l| l.starts_with("admin_token"))
        .expect("admin_token line");
    std::fs::write(&config, text).unwrap();
    let path = config.to_str().unwrap();

    let (code, stdout, stderr) = run_briefly(&["check-config", "--config", path]).await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("auth: token [placeholder]"), "{stdout}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(
        warnings[0].contains(&format!(".toml:{admin_line}: server.admin_token is empty")),
        "{stderr}"
    );
    assert!(
        warnings[1].contains("channels[0] (id \"sales\") token is still a placeholder"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`serve` and `worker` refuse to start"),
        "{stderr}"
    );

    for command in ["serve", "worker"] {
        let (code, _, stderr) = run_briefly(&[command, "--config", path]).await;
        assert_eq!(code, 1, "{command}: {stderr}");
        let line = stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("{command}: no error line in {stderr}"));
        assert!(
            line.contains("server.admin_token is empty")
                && line.contains("token is still a placeholder"),
            "{command}: {line}"
        );
        assert!(!stderr.contains("<your token>"), "{command}: {stderr}");
    }
}

#[tokio::test]
async fn keys_of_unbuilt_features_are_not_implemented_yet_for_check_config_and_serve() {
    let env = TestEnv::new(Db::Sqlite, AppOptions::default()).await;
    let config = env.write_config("127.0.0.1:0");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "kind = \"getchat\"\n",
        "kind = \"getchat\"\ntransport = \"websocket\"\n",
        1,
    );
    let text = format!(
        "{text}\n[media]\nvoice_for_tickets = \"mp3\"\n\n[getchat_partner]\nbase_url = \"https://partner.example\"\n"
    );
    std::fs::write(&config, &text).unwrap();
    let path = config.to_str().unwrap();
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.starts_with(needle))
            .map(|i| i + 1)
            .unwrap()
    };
    let expected = [
        format!(
            ".toml:{}: channels[0] (id \"sales\"): transport = \"websocket\" is not implemented yet",
            line_of("transport")
        ),
        format!(
            ".toml:{}: media.voice_for_tickets is not implemented yet",
            line_of("voice_for_tickets")
        ),
        format!(
            ".toml:{}: [getchat_partner] is not implemented yet",
            line_of("[getchat_partner]")
        ),
    ];
    for command in ["check-config", "serve", "worker"] {
        let (code, _, stderr) = run_briefly(&[command, "--config", path]).await;
        assert_eq!(code, 1, "{command}: {stderr}");
        for want in &expected {
            assert!(
                stderr.contains(want.as_str()),
                "{command}: {want} not in {stderr}"
            );
        }
    }
}
