//! Operations: admin API auth and filters, health, readiness, metrics.

use crate::helpers::{Db, eventually, spawn_app};
use crate::ingest::onprem_text;
use crate::on_both_databases;

on_both_databases!(
    the_links_api_needs_the_admin_token_and_filters,
    |db: Db| async move {
        let (_env, app) = spawn_app(db).await;
        let url = format!("{}/api/v1/links", app.address);
        assert_eq!(app.client.get(&url).send().await.unwrap().status(), 401);
        assert_eq!(
            app.client
                .get(&url)
                .bearer_auth("wrong")
                .send()
                .await
                .unwrap()
                .status(),
            401
        );

        app.post_getchat(&onprem_text("4918001", "Gil", "wamid.L1", "a"))
            .await;
        app.post_getchat(&onprem_text("4918002", "Hal", "wamid.L2", "b"))
            .await;
        eventually("two links", || async {
            (app.links().await.len() == 2).then_some(())
        })
        .await;

        let filtered: Vec<serde_json::Value> = app
            .admin_get("/api/v1/links?channel=sales&conversation=4918002")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(filtered.len(), 1);
        assert_eq!(filtered[0]["contact_name"], "Hal");
        let none: Vec<serde_json::Value> = app
            .admin_get("/api/v1/links?channel=other")
            .await
            .json()
            .await
            .unwrap();
        assert!(none.is_empty());
        app.stop().await;
    }
);

on_both_databases!(health_readiness_and_metrics_answer, |db: Db| async move {
    let (_env, app) = spawn_app(db).await;
    let get = |path: &'static str| {
        let client = app.client.clone();
        let url = format!("{}{path}", app.address);
        async move { client.get(url).send().await.unwrap() }
    };
    assert_eq!(get("/healthz").await.status(), 200);
    let ready = get("/readyz").await;
    assert_eq!(ready.status(), 200);
    app.post_getchat(&onprem_text("4918003", "Ivy", "wamid.M1", "hello"))
        .await;
    let metrics = eventually("processing counted in metrics", || async {
        let text = get("/metrics").await.text().await.unwrap();
        text.contains("omnibridge_events_processed_total")
            .then_some(text)
    })
    .await;
    assert!(metrics.contains("omnibridge_webhooks_received_total"));
    assert!(metrics.contains("omnibridge_vendor_calls_total"));
    assert!(metrics.contains("omnibridge_queue_depth"));
    app.stop().await;
});
