//! The edge and the queue under hostile or damaged input: refused identifiers, NUL characters,
//! duplicates that must wake nothing, stored events that no longer read.

use crate::helpers::{Db, eventually, spawn_app};
use crate::ingest::onprem_text;
use crate::on_both_databases;
use omnibridge::store::Store;
use serde_json::{Value, json};

/// `(next_seq, due_at)` of a conversation, straight from the database.
async fn conversation_row(store: &Store, key: &str) -> (i64, Option<i64>) {
    let query = "SELECT next_seq, due_at FROM conversations WHERE conversation_key = $1";
    match store {
        Store::Sqlite(sqlite) => {
            sqlx::query_as(query)
                .bind(key)
                .fetch_one(sqlite.readers())
                .await
        }
        Store::Postgres(pool) => sqlx::query_as(query).bind(key).fetch_one(pool).await,
    }
    .expect("conversation row")
}

async fn execute(store: &Store, query: &'static str, key: &str) {
    match store {
        Store::Sqlite(sqlite) => sqlx::query(query)
            .bind(key)
            .execute(sqlite.writer())
            .await
            .map(|_| ()),
        Store::Postgres(pool) => sqlx::query(query).bind(key).execute(pool).await.map(|_| ()),
    }
    .expect("statement");
}

fn two_messages(first: (&str, &str), second: (&str, &str)) -> Value {
    let message = |(wa_id, id): (&str, &str), text: &str| {
        json!({ "from": wa_id, "id": id, "timestamp": "1700000000", "type": "text",
                "text": { "body": text } })
    };
    json!({
        "contacts": [{ "profile": { "name": "Ana" }, "wa_id": first.0 }],
        "messages": [message(first, "valid one"), message(second, "bad one")]
    })
}

on_both_databases!(
    a_duplicate_webhook_costs_a_lookup_and_wakes_nothing,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        let body = onprem_text("4915300", "Ana", "wamid.D1", "hello");
        assert_eq!(app.post_getchat(&body).await.status(), 200);
        eventually("the ticket", || async {
            env.inbenta.tickets().into_iter().next()
        })
        .await;
        let store = env.store().await;
        let before = eventually("the conversation is idle", || async {
            let row = conversation_row(&store, "4915300").await;
            row.1.is_none().then_some(row)
        })
        .await;
        let again = app.post_getchat(&body).await;
        assert_eq!(again.status(), 200);
        let answer: Value = again.json().await.unwrap();
        assert_eq!(answer["duplicates"], 1);
        assert_eq!(answer["stored"], 0);
        assert_eq!(
            conversation_row(&store, "4915300").await,
            before,
            "no seq bump, no wake-up"
        );
        store.close().await;
        app.stop().await;
    }
);

on_both_databases!(
    one_invalid_message_does_not_sink_the_valid_one_delivered_with_it,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        let mixed = two_messages(("4915301", "wamid.V1"), ("4915301", "wamid.\u{0}bad"));
        let response = app.post_getchat(&mixed).await;
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            (answer["stored"].clone(), answer["refused"].clone()),
            (json!(1), json!(1))
        );
        let ticket = eventually("the ticket", || async {
            env.inbenta.tickets().into_iter().next()
        })
        .await;
        assert!(ticket.message.contains("valid one"), "{}", ticket.message);

        for wa_id in [
            "../../../../etc/passwd",
            "1.8446744073709552e+19",
            "",
            "62\u{0}81",
        ] {
            let body = onprem_text(wa_id, "Mallory", "wamid.X1", "hi");
            let refused = app.post_getchat(&body).await;
            assert_eq!(refused.status(), 422, "{wa_id:?}");
            let error: Value = refused.json().await.unwrap();
            // Refused either by the parser (no usable sender) or by the edge rules (field named).
            match error["code"].as_str() {
                Some("invalid_event") => {
                    assert!(
                        error["detail"].as_str().unwrap().contains("conversation"),
                        "{error}"
                    )
                }
                Some("unrecognized_payload") => {}
                other => panic!("unexpected refusal {other:?}: {error}"),
            }
        }
        assert_eq!(
            env.inbenta.tickets().len(),
            1,
            "refused messages open nothing"
        );
        assert_eq!(env.inbenta.users().len(), 1);
        app.stop().await;
    }
);

on_both_databases!(
    a_nul_in_the_profile_name_still_opens_the_ticket_and_the_link,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        let body = onprem_text("4915302", "A\u{0}na", "wamid.N1", "he\u{0}llo");
        assert_eq!(app.post_getchat(&body).await.status(), 200);
        let link = eventually("the link", || async {
            app.links().await.into_iter().next()
        })
        .await;
        assert_eq!(link["contact_name"], "A\u{FFFD}na");
        let ticket = env.inbenta.tickets().into_iter().next().expect("ticket");
        assert!(!ticket.message.contains('\u{0}'));
        let later = onprem_text("4915302", "Ana", "wamid.N2", "second");
        assert_eq!(app.post_getchat(&later).await.status(), 200);
        eventually("the second message on the same ticket", || async {
            env.inbenta
                .ticket(ticket.id)
                .filter(|t| t.replies.iter().any(|r| r.message.contains("second")))
        })
        .await;
        app.stop().await;
    }
);

on_both_databases!(
    an_unreadable_stored_event_is_parked_and_the_conversation_goes_on,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        let first = onprem_text("4915303", "Ana", "wamid.U1", "first");
        assert_eq!(app.post_getchat(&first).await.status(), 200);
        let ticket = eventually("the ticket", || async {
            env.inbenta.tickets().into_iter().next()
        })
        .await;
        let store = env.store().await;
        // Damage the stored first event and put it back in the queue, as a bad upgrade would.
        execute(
            &store,
            "UPDATE inbound_events SET payload = '{\"not\": \"an event\"}', state = 'pending' \
             WHERE dedupe_key = $1",
            "wamid.U1",
        )
        .await;
        let later = onprem_text("4915303", "Ana", "wamid.U2", "after the damage");
        assert_eq!(app.post_getchat(&later).await.status(), 200);
        eventually("the later message is on the ticket", || async {
            env.inbenta.ticket(ticket.id).filter(|t| {
                t.replies
                    .iter()
                    .any(|r| r.message.contains("after the damage"))
            })
        })
        .await;
        let dead = app.wait_for_dead_letters().await;
        assert_eq!(dead.len(), 1);
        assert!(
            dead[0]["last_error"]
                .as_str()
                .unwrap()
                .contains("unreadable"),
            "{}",
            dead[0]
        );
        store.close().await;
        app.stop().await;
    }
);
