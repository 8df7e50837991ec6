//! Hostile input at the HTTP edge: every refusal is JSON `{code, detail}`.

use crate::helpers::{Db, WEBHOOK_SECRET, spawn_app};
use crate::ingest::onprem_text;
use crate::on_both_databases;

async fn assert_json_refusal(response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: serde_json::Value = response.json().await.expect("a JSON refusal");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

on_both_databases!(
    a_body_over_the_limit_and_a_duplicated_auth_are_refused_in_json,
    |db: Db| async move {
        let (_env, app) = spawn_app(db).await;
        let huge = "x".repeat(3 * 1024 * 1024);
        let body = onprem_text("4930009", "Ola", "wamid.BIG", &huge).to_string();
        let response = app
            .post_getchat_raw("sales", Some(WEBHOOK_SECRET), body)
            .await;
        assert_json_refusal(response, 413, "payload_too_large").await;

        let url = format!(
            "{}/webhooks/getchat/sales?auth={WEBHOOK_SECRET}&auth={WEBHOOK_SECRET}",
            app.address
        );
        let body = onprem_text("4930009", "Ola", "wamid.DUP", "hello");
        let response = app.client.post(url).json(&body).send().await.unwrap();
        assert_json_refusal(response, 400, "invalid_query").await;

        let response = app
            .client
            .get(format!("{}/no/such/route", app.address))
            .send()
            .await
            .unwrap();
        assert_json_refusal(response, 404, "not_found").await;
        app.stop().await;
    }
);
