//! The sync worker: order per conversation, ticket lifecycle, routes.

use crate::helpers::{AppOptions, Db, eventually, spawn_app, spawn_app_with};
use crate::ingest::onprem_text;
use crate::on_both_databases;
use omnibridge::store::Store;

on_both_databases!(
    many_concurrent_conversations_keep_their_order,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        const CONVERSATIONS: usize = 12;
        const MESSAGES: usize = 8;
        let mut posts = Vec::new();
        for c in 0..CONVERSATIONS {
            let app_address = app.address.clone();
            let client = app.client.clone();
            posts.push(tokio::spawn(async move {
                // Each conversation posts its messages one after the other; conversations interleave.
                for m in 0..MESSAGES {
                    let body = onprem_text(
                        &format!("49160{c:03}"),
                        "Order Test",
                        &format!("wamid.O{c}.{m}"),
                        &format!("message {m}"),
                    );
                    let status = client
                        .post(format!(
                            "{app_address}/webhooks/getchat/sales?auth={}",
                            crate::helpers::WEBHOOK_SECRET
                        ))
                        .json(&body)
                        .send()
                        .await
                        .unwrap()
                        .status();
                    assert_eq!(status, 200);
                }
            }));
        }
        for post in posts {
            post.await.unwrap();
        }
        let tickets = eventually("every message on its ticket", || async {
            let tickets = env.inbenta.tickets();
            (tickets.len() == CONVERSATIONS
                && tickets.iter().all(|t| t.replies.len() == MESSAGES - 1))
            .then_some(tickets)
        })
        .await;
        for ticket in tickets {
            assert!(ticket.message.contains("message 0"));
            for (i, reply) in ticket.replies.iter().enumerate() {
                assert!(
                    reply.message.contains(&format!("message {}", i + 1)),
                    "ticket {} reply {i}: {}",
                    ticket.id,
                    reply.message
                );
            }
        }
        app.stop().await;
    }
);

on_both_databases!(
    every_message_delivered_twice_at_once_reaches_its_ticket_once_in_order,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        const CONVERSATIONS: usize = 6;
        const MESSAGES: usize = 10;
        let mut posts = Vec::new();
        for c in 0..CONVERSATIONS {
            let (address, client) = (app.address.clone(), app.client.clone());
            posts.push(tokio::spawn(async move {
                let url = format!(
                    "{address}/webhooks/getchat/sales?auth={}",
                    crate::helpers::WEBHOOK_SECRET
                );
                for m in 0..MESSAGES {
                    let body = onprem_text(
                        &format!("49170{c:03}"),
                        "Twice",
                        &format!("wamid.T{c}.{m}"),
                        &format!("message {m}"),
                    );
                    // The same delivery twice at the same moment (a vendor retry racing the
                    // original): both are answered 200, and ingest sees them in one batch.
                    let (a, b) = tokio::join!(
                        client.post(&url).json(&body).send(),
                        client.post(&url).json(&body).send()
                    );
                    assert_eq!(a.unwrap().status(), 200);
                    assert_eq!(b.unwrap().status(), 200);
                }
            }));
        }
        for post in posts {
            post.await.unwrap();
        }
        let tickets = eventually("every message on its ticket", || async {
            let tickets = env.inbenta.tickets();
            (tickets.len() == CONVERSATIONS
                && tickets.iter().all(|t| t.replies.len() >= MESSAGES - 1))
            .then_some(tickets)
        })
        .await;
        for ticket in tickets {
            let texts: Vec<&str> = std::iter::once(ticket.message.as_str())
                .chain(ticket.replies.iter().map(|r| r.message.as_str()))
                .collect();
            assert_eq!(texts.len(), MESSAGES, "ticket {}: {texts:?}", ticket.id);
            for (i, text) in texts.iter().enumerate() {
                assert!(
                    text.contains(&format!("message {i}")),
                    "ticket {}: {texts:?}",
                    ticket.id
                );
            }
        }
        let store = env.store().await;
        let query = "SELECT COUNT(*) FROM inbound_events WHERE kind = 'customer_message'";
        let stored: i64 = match &store {
            Store::Sqlite(sqlite) => sqlx::query_scalar(query).fetch_one(sqlite.readers()).await,
            Store::Postgres(pool) => sqlx::query_scalar(query).fetch_one(pool).await,
        }
        .expect("event count");
        assert_eq!(
            stored,
            (CONVERSATIONS * MESSAGES) as i64,
            "each delivery stored once"
        );
        app.stop().await;
    }
);

on_both_databases!(
    a_message_after_the_ticket_was_closed_opens_a_new_ticket,
    |db: Db| async move {
        let (env, app) = spawn_app_with(
            db,
            AppOptions {
                status_check_interval: std::time::Duration::ZERO,
                ..AppOptions::default()
            },
        )
        .await;
        app.post_getchat(&onprem_text("4917001", "Eve", "wamid.C1", "first problem"))
            .await;
        let first = eventually("the first ticket", || async {
            env.inbenta.tickets().into_iter().next()
        })
        .await;
        env.inbenta.set_ticket_status(first.id, 3);

        app.post_getchat(&onprem_text("4917001", "Eve", "wamid.C2", "a new problem"))
            .await;
        let second = eventually("a second ticket", || async {
            env.inbenta.tickets().into_iter().find(|t| t.id != first.id)
        })
        .await;
        assert!(second.message.contains("a new problem"));
        assert_eq!(
            second.creator, first.creator,
            "the same customer user is reused"
        );
        assert!(
            env.inbenta
                .tickets()
                .iter()
                .find(|t| t.id == first.id)
                .unwrap()
                .replies
                .is_empty()
        );

        // The ticket exists in Inbenta a moment before the bridge commits its link.
        let links = eventually("the second link", || async {
            let links = app.links().await;
            (links.len() == 2).then_some(links)
        })
        .await;
        assert_eq!(links[0]["generation"], 2);
        assert_eq!(links[0]["state"], "open");
        assert_eq!(links[1]["state"], "closed");
        app.stop().await;
    }
);

const REOPEN_RULES: &str = r#"
[[route]]
name = "refunds"
channel = "sales"
when.text_matches = "(?i)refund"
ticket.title = "Refund: {contact.name}"
ticket.queue = 3
reopen_within = "72h"

[[route]]
name = "default"
channel = "*"
reopen_within = "72h"
"#;

on_both_databases!(
    routes_pick_title_and_queue_and_reopen_within_reopens,
    |db: Db| async move {
        let (env, app) = spawn_app_with(
            db,
            AppOptions {
                status_check_interval: std::time::Duration::ZERO,
                mappings: Some(REOPEN_RULES),
                ..AppOptions::default()
            },
        )
        .await;
        app.post_getchat(&onprem_text(
            "4917002",
            "Finn",
            "wamid.R1",
            "I want a REFUND",
        ))
        .await;
        let ticket = eventually("the refund ticket", || async {
            env.inbenta.tickets().into_iter().next()
        })
        .await;
        assert_eq!(ticket.title, "Refund: Finn");
        assert_eq!(ticket.queue, Some(3));
        env.inbenta.set_ticket_status(ticket.id, 3);

        app.post_getchat(&onprem_text("4917002", "Finn", "wamid.R2", "still waiting"))
            .await;
        let reopened = eventually("the reply on the reopened ticket", || async {
            env.inbenta
                .tickets()
                .into_iter()
                .find(|t| !t.replies.is_empty())
        })
        .await;
        assert_eq!(reopened.id, ticket.id);
        assert_eq!(reopened.status, 1, "reopened with inbenta.open_status");
        assert_eq!(env.inbenta.tickets().len(), 1);
        app.stop().await;
    }
);

on_both_databases!(
    messages_delivered_at_once_are_applied_in_the_vendors_timestamp_order,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        // One delivery, listed newest first: the oldest message must open the ticket and the
        // others follow it in the customer's order, not in the order they arrived.
        let message = |id: &str, timestamp: &str, text: &str| {
            serde_json::json!({ "from": "4915777", "id": id, "timestamp": timestamp,
                "type": "text", "text": { "body": text } })
        };
        let body = serde_json::json!({
            "contacts": [{ "profile": { "name": "Ana" }, "wa_id": "4915777" }],
            "messages": [
                message("wamid.O3", "1700000030", "third"),
                message("wamid.O1", "1700000010", "first"),
                message("wamid.O2", "1700000020", "second"),
            ]
        });
        assert_eq!(app.post_getchat(&body).await.status(), 200);
        let ticket = eventually("the ticket with both replies", || async {
            env.inbenta
                .tickets()
                .into_iter()
                .find(|t| t.replies.len() == 2)
        })
        .await;
        assert!(ticket.message.contains("first"), "{}", ticket.message);
        assert!(ticket.replies[0].message.contains("second"));
        assert!(ticket.replies[1].message.contains("third"));
        app.stop().await;
    }
);
