//! What webhooks miss, polling heals; what happens on one side's conversation state shows on the
//! other (assignment, tags, resolution).

use crate::answers::{WA_ID, open_ticket, sent_to, webhook_registered};
use crate::helpers::{AppOptions, Db, eventually, spawn_app_with};
use crate::on_both_databases;
use omnibridge::sandbox::getchat::chat_resolved_webhook;
use serde_json::json;

fn polling() -> AppOptions {
    AppOptions {
        reconcile_interval: std::time::Duration::from_millis(300),
        sync_resolution: true,
        ..AppOptions::default()
    }
}

on_both_databases!(
    missed_webhooks_are_healed_by_reconciliation,
    |db: Db| async move {
        let (env, app) = spawn_app_with(db, polling()).await;
        webhook_registered(&env).await;
        // The first round starts the cursors at "now"; wait for it so the test's message is newer.
        eventually("the first reconciliation round", || async {
            (env.getchat.request_count("GET", "messages/") > 0).then_some(())
        })
        .await;
        // A customer message whose webhook never came: only `GET messages/` knows it.
        let now = chrono::Utc::now().timestamp();
        env.getchat.add_incoming_message(
            "4915550077",
            "Bea",
            "wamid.missed.1",
            "Anyone there?",
            now,
        );
        let ticket = eventually("the missed message became a ticket", || async {
            env.inbenta
                .tickets()
                .into_iter()
                .find(|t| t.message.contains("Anyone there?"))
        })
        .await;
        // An agent answer whose webhook never came: the ticket's last_update tells.
        env.inbenta.pause_webhooks(true);
        env.inbenta
            .add_agent_answer(ticket.id, "<p>Yes, we are here.</p>")
            .unwrap();
        let sent = sent_to(&env, "4915550077", 1).await;
        assert_eq!(sent[0].body["text"]["body"], "Yes, we are here.");
        // Polling again and again does not repeat anything.
        let polls = env.getchat.request_count("GET", "messages/");
        eventually("a few more rounds", || async {
            (env.getchat.request_count("GET", "messages/") >= polls + 3).then_some(())
        })
        .await;
        assert_eq!(env.inbenta.tickets().len(), 1);
        assert_eq!(env.inbenta.ticket(ticket.id).unwrap().replies.len(), 1);
        assert_eq!(env.getchat.sent_messages().len(), 1);
        app.stop().await;
    }
);

on_both_databases!(resolution_follows_both_ways, |db: Db| async move {
    let (env, app) = spawn_app_with(db, polling()).await;
    webhook_registered(&env).await;
    // Resolved in get.chat → ticket closed in Inbenta.
    let first = open_ticket(&env, &app, WA_ID).await;
    assert_eq!(
        app.post_getchat(&chat_resolved_webhook(WA_ID, true))
            .await
            .status(),
        200
    );
    eventually("the ticket is closed", || async {
        (env.inbenta.ticket(first).unwrap().status == 3).then_some(())
    })
    .await;
    let first_id = first.to_string();
    let link = eventually("the link is closed", || async {
        app.links().await.into_iter().find(|l| {
            l["inbenta_ticket_id"].as_str() == Some(first_id.as_str()) && l["state"] == "closed"
        })
    })
    .await;
    assert!(link["resolved_on_channel_at"].is_i64(), "{link}");
    // Closed in Inbenta → chat resolved in get.chat (sync_resolution = true).
    let second = open_ticket(&env, &app, "4915550002").await;
    assert!(env.inbenta.set_ticket_status(second, 3));
    eventually("the chat is resolved", || async {
        (env.getchat.chat_resolved("4915550002") == Some(true)).then_some(())
    })
    .await;
    app.stop().await;
});

on_both_databases!(
    assignment_and_tags_are_recorded_on_the_link,
    |db: Db| async move {
        let (env, app) = spawn_app_with(db, polling()).await;
        open_ticket(&env, &app, WA_ID).await;
        let assignment = json!({"chat_assignment": {
            "wa_id": WA_ID,
            "assigned_to_user_set": {"id": 7, "username": "maria@example.com"},
            "assigned_group_set": {"id": 2, "name": "Billing"},
            "timestamp": 1_700_000_100
        }});
        let tagging = json!({"chat_tagging": {
            "timestamp": 1_700_000_200, "action": "added",
            "tag": {"id": 5, "name": "vip", "web_inbox_color": "#ff0000"},
            "chat": {"wa_id": WA_ID}
        }});
        assert_eq!(app.post_getchat(&assignment).await.status(), 200);
        assert_eq!(app.post_getchat(&tagging).await.status(), 200);
        let link = eventually("assignment and tags on the link", || async {
            app.links()
                .await
                .into_iter()
                .find(|l| l["assignee"].is_string() && l["tags"].is_string())
        })
        .await;
        let assignee = link["assignee"].as_str().unwrap();
        assert!(
            assignee.contains("maria@example.com") || assignee.contains('7'),
            "{assignee}"
        );
        assert!(
            assignee.contains("Billing") || assignee.contains('2'),
            "{assignee}"
        );
        assert_eq!(link["tags"], "[\"vip\"]");
        app.stop().await;
    }
);
