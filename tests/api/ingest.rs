//! Webhook ingest: shapes, authentication, malformed bodies, duplicates.

use crate::helpers::{Db, WEBHOOK_SECRET, eventually, spawn_app};
use crate::on_both_databases;
use serde_json::{Value, json};

/// An on-prem style text webhook (contacts + messages), as get.chat forwards it.
pub fn onprem_text(wa_id: &str, name: &str, wamid: &str, text: &str) -> Value {
    json!({
        "contacts": [{ "profile": { "name": name }, "wa_id": wa_id }],
        "messages": [{
            "from": wa_id, "id": wamid, "timestamp": "1700000000", "type": "text",
            "text": { "body": text }
        }]
    })
}

/// A Cloud API style text webhook.
pub fn cloud_text(wa_id: &str, name: &str, wamid: &str, text: &str) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "1234", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "4930000", "phone_number_id": "1122" },
            "contacts": [{ "profile": { "name": name }, "wa_id": wa_id }],
            "messages": [{ "from": wa_id, "id": wamid, "timestamp": "1700000001", "type": "text",
                "text": { "body": text } }]
        }}]}]
    })
}

/// A get.chat `incoming_messages` webhook.
pub fn getchat_incoming_text(wa_id: &str, name: &str, wamid: &str, text: &str) -> Value {
    json!({
        "incoming_messages": [{
            "id": uuid::Uuid::new_v4().to_string(),
            "waba_payload": { "from": wa_id, "id": wamid, "timestamp": 1700000002, "type": "text",
                "text": { "body": text } },
            "contact": { "wa_id": wa_id, "waba_payload": { "profile": { "name": name }, "wa_id": wa_id } },
            "from_us": false, "received": true, "sender": null, "context": null,
            "customer_wa_id": wa_id, "tags": [], "chat_tags": []
        }]
    })
}

on_both_databases!(
    first_message_creates_a_ticket_with_the_default_title,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        let response = app
            .post_getchat(&onprem_text(
                "4915111",
                "Ana Lima",
                "wamid.A1",
                "Hello, my order is late",
            ))
            .await;
        assert_eq!(response.status(), 200);

        let ticket = eventually("a ticket in Inbenta", || async {
            env.inbenta.tickets().into_iter().next()
        })
        .await;
        assert_eq!(ticket.title, "WhatsApp Ana Lima (4915111)");
        assert!(
            ticket.message.contains("Hello, my order is late"),
            "{}",
            ticket.message
        );
        let users = env.inbenta.users();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].name, "Ana Lima");
        assert_eq!(users[0].address, "4915111@whatsapp.invalid");

        let links = eventually("the link row", || async {
            let links = app.links().await;
            (!links.is_empty()).then_some(links)
        })
        .await;
        assert_eq!(links[0]["channel"], "sales");
        assert_eq!(links[0]["conversation_key"], "4915111");
        assert_eq!(links[0]["inbenta_ticket_id"], ticket.id.to_string());
        assert_eq!(links[0]["state"], "open");
        app.stop().await;
    }
);

on_both_databases!(
    all_three_body_shapes_reach_the_same_ticket_in_order,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        assert_eq!(
            app.post_getchat(&onprem_text("4915222", "Bo", "wamid.S1", "one"))
                .await
                .status(),
            200
        );
        assert_eq!(
            app.post_getchat(&cloud_text("4915222", "Bo", "wamid.S2", "two"))
                .await
                .status(),
            200
        );
        assert_eq!(
            app.post_getchat(&getchat_incoming_text("4915222", "Bo", "wamid.S3", "three"))
                .await
                .status(),
            200
        );

        let ticket = eventually("a ticket with two replies", || async {
            env.inbenta
                .tickets()
                .into_iter()
                .find(|t| t.replies.len() == 2)
        })
        .await;
        assert!(ticket.message.contains("one"));
        assert!(ticket.replies[0].message.contains("two"));
        assert!(ticket.replies[1].message.contains("three"));
        assert_eq!(env.inbenta.tickets().len(), 1);
        app.stop().await;
    }
);

on_both_databases!(
    a_duplicate_delivery_is_answered_200_and_changes_nothing,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        let body = onprem_text("4915333", "Cy", "wamid.D1", "only once");
        assert_eq!(app.post_getchat(&body).await.status(), 200);
        let second = app.post_getchat(&body).await;
        assert_eq!(second.status(), 200);
        let answer: Value = second.json().await.unwrap();
        assert_eq!(answer["duplicates"], 1);
        assert_eq!(answer["stored"], 0);
        // The same message arriving in another shape is the same message.
        assert_eq!(
            app.post_getchat(&cloud_text("4915333", "Cy", "wamid.D1", "only once"))
                .await
                .status(),
            200
        );
        // A later distinct message proves processing went on, then nothing else was created.
        assert_eq!(
            app.post_getchat(&onprem_text("4915333", "Cy", "wamid.D2", "second"))
                .await
                .status(),
            200
        );
        let ticket = eventually("the reply to the second message", || async {
            env.inbenta
                .tickets()
                .into_iter()
                .find(|t| !t.replies.is_empty())
        })
        .await;
        assert_eq!(env.inbenta.tickets().len(), 1);
        assert_eq!(ticket.replies.len(), 1);
        assert!(ticket.replies[0].message.contains("second"));
        app.stop().await;
    }
);

on_both_databases!(
    wrong_or_missing_secret_unknown_channel_and_malformed_bodies_are_refused,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        let body = onprem_text("4915444", "Di", "wamid.X1", "hi").to_string();
        assert_eq!(
            app.post_getchat_raw("sales", Some("wrong"), body.clone())
                .await
                .status(),
            401
        );
        assert_eq!(
            app.post_getchat_raw("sales", None, body.clone())
                .await
                .status(),
            401
        );
        assert_eq!(
            app.post_getchat_raw("nope", Some(WEBHOOK_SECRET), body.clone())
                .await
                .status(),
            404
        );

        let not_json = app
            .post_getchat_raw("sales", Some(WEBHOOK_SECRET), "{not json".into())
            .await;
        assert_eq!(not_json.status(), 400);
        let err: Value = not_json.json().await.unwrap();
        assert_eq!(err["code"], "invalid_json");
        assert!(err["detail"].as_str().is_some());

        let unknown_shape = app
            .post_getchat_raw("sales", Some(WEBHOOK_SECRET), r#"{"foo": 1}"#.into())
            .await;
        assert_eq!(unknown_shape.status(), 422);
        let err: Value = unknown_shape.json().await.unwrap();
        assert_eq!(err["code"], "unrecognized_payload");

        let missing_id =
            json!({ "messages": [{ "from": "4915444", "type": "text", "text": { "body": "x" } }] });
        assert_eq!(app.post_getchat(&missing_id).await.status(), 422);

        // Nothing of the refused requests was stored or sent.
        let metrics = app.metrics().await;
        assert!(
            metrics.contains("omnibridge_webhooks_received_total"),
            "{metrics}"
        );
        assert!(app.links().await.is_empty());
        assert!(env.inbenta.tickets().is_empty());
        app.stop().await;
    }
);

on_both_databases!(
    statuses_and_other_events_are_accepted_and_stored_not_sent,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        let statuses = json!({ "statuses": [{
            "id": "gBEGkYhISZKCAgl1GmhZTFwTs9I", "getchat_id": "b4da75b2-aa49-46da-9fc0-eb5453fa5b47",
            "recipient_id": "4915555", "status": "read", "timestamp": "1696999433"
        }]});
        assert_eq!(app.post_getchat(&statuses).await.status(), 200);
        let assignment = json!({ "chat_assignment": {
            "wa_id": "4915555", "assigned_to_user_set": { "id": 1, "username": "agent" },
            "assigned_to_user_was_cleared": false, "assigned_group_set": null,
            "assigned_group_was_cleared": false, "done_by": null, "timestamp": 1696999500
        }});
        assert_eq!(app.post_getchat(&assignment).await.status(), 200);
        // Both went through the queue without creating anything in Inbenta.
        let _ = eventually("the queue to drain", || async {
            let metrics = app
                .client
                .get(format!("{}/metrics", app.address))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            metrics.contains("omnibridge_queue_depth 0").then_some(())
        })
        .await;
        assert!(env.inbenta.tickets().is_empty());
        app.stop().await;
    }
);
