//! Qontak rooms in sync with Inbenta tickets, through the real bridge and a simulated Qontak.

use crate::answers::webhook_registered;
use crate::helpers::{
    AppOptions, Db, TestApp, TestEnv, eventually, fallback_template, spawn_app, spawn_app_with,
};
use crate::on_both_databases;
use serde_json::Value;

const PHONE: &str = "6281234567890";

/// A customer writes in a new room; returns (room id, ticket id) once the bridge linked it.
async fn room_with_ticket(env: &TestEnv, app: &TestApp, phone: &str) -> (String, i64) {
    let room = env.qontak.add_room(phone, "Budi");
    let body = env
        .qontak
        .customer_text(&room, "Halo, pesanan saya belum sampai");
    assert_eq!(app.post_qontak(&body).await.status(), 200);
    let link = eventually("the room is linked to a ticket", || async {
        app.links()
            .await
            .into_iter()
            .find(|l| l["conversation_key"] == room.as_str() && l["inbenta_ticket_id"].is_string())
    })
    .await;
    assert_eq!(link["channel"], "jakarta");
    (
        room,
        link["inbenta_ticket_id"].as_str().unwrap().parse().unwrap(),
    )
}

async fn sent_into(
    env: &TestEnv,
    room: &str,
    count: usize,
) -> Vec<omnibridge::sandbox::qontak::SimSentMessage> {
    eventually(&format!("{count} message(s) in room {room}"), || async {
        let sent: Vec<_> = env
            .qontak
            .sent_messages()
            .into_iter()
            .filter(|m| m.room_id == room)
            .collect();
        (sent.len() >= count).then_some(sent)
    })
    .await
}

on_both_databases!(
    room_messages_become_a_ticket_and_answers_go_back_to_the_room,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        webhook_registered(&env).await;
        let (room, ticket) = room_with_ticket(&env, &app, PHONE).await;
        let created = env.inbenta.ticket(ticket).unwrap();
        assert!(created.message.contains("Halo, pesanan saya belum sampai"));
        // The same delivery again is a duplicate; a later message is a reply, in order.
        let second = env.qontak.customer_text(&room, "Nomor pesanan 1042");
        for _ in 0..2 {
            assert_eq!(app.post_qontak(&second).await.status(), 200);
        }
        eventually("the second message is a reply", || async {
            let replies = env.inbenta.ticket(ticket).unwrap().replies;
            (replies.len() == 1 && replies[0].message.contains("Nomor pesanan 1042")).then_some(())
        })
        .await;
        // The agent answers in Inbenta: the bridge writes into the room.
        env.inbenta
            .add_agent_answer(ticket, "<p>Baik <b>Budi</b>, kami cek.</p>")
            .unwrap();
        let sent = sent_into(&env, &room, 1).await;
        assert_eq!(sent[0].message_type, "text");
        assert_eq!(sent[0].text.as_deref(), Some("Baik *Budi*, kami cek."));
        // Qontak reports the bridge's own message back as an agent message: dropped (echo).
        let mut echo = env
            .qontak
            .agent_text(&room, "Bot", "Baik *Budi*, kami cek.");
        echo["id"] = Value::String(sent[0].id.clone());
        assert_eq!(app.post_qontak(&echo).await.status(), 200);
        // An agent writing in Qontak's own inbox shows on the ticket.
        let inbox = env
            .qontak
            .agent_text(&room, "Sari", "Paket dikirim hari ini");
        assert_eq!(app.post_qontak(&inbox).await.status(), 200);
        eventually("the inbox message is noted", || async {
            env.inbenta
                .ticket(ticket)
                .unwrap()
                .replies
                .into_iter()
                .find(|r| r.message.contains("Paket dikirim hari ini"))
        })
        .await;
        let replies = env.inbenta.ticket(ticket).unwrap().replies;
        assert_eq!(
            replies
                .iter()
                .filter(|r| r.message.contains("kami cek"))
                .count(),
            1,
            "only the agent's own answer, the echo was not noted: {replies:?}"
        );
        assert_eq!(env.qontak.sent_messages().len(), 1);
        // At start the bridge registered its webhook URL for message and room interactions.
        let registered = eventually("the Qontak webhooks are registered", || async {
            let r = env.qontak.registrations();
            (r.message_interactions.is_some() && r.room_interactions.is_some()).then_some(r)
        })
        .await;
        let expected = format!(
            "{}/webhooks/qontak/jakarta?auth={}",
            env.public_url(),
            crate::helpers::WEBHOOK_SECRET
        );
        for registration in [
            &registered.message_interactions,
            &registered.room_interactions,
        ] {
            let body = registration.as_ref().expect("registered").to_string();
            assert!(body.contains(&expected), "{body}");
        }
        app.stop().await;
    }
);

on_both_databases!(
    expired_session_sends_the_direct_template,
    |db: Db| async move {
        let options = AppOptions {
            fallback_template: Some(fallback_template("follow_up", "en", &["{reply.text}"])),
            ..AppOptions::default()
        };
        let (env, app) = spawn_app_with(db, options).await;
        env.qontak.add_template("follow_up", "en", "Update: {{1}}");
        webhook_registered(&env).await;
        let (room, ticket) = room_with_ticket(&env, &app, PHONE).await;
        env.qontak.set_session(&room, "expired");
        env.inbenta
            .add_agent_answer(ticket, "<p>Refund approved</p>")
            .unwrap();
        let broadcast = eventually("a direct template", || async {
            env.qontak.direct_broadcasts().into_iter().next()
        })
        .await;
        assert_eq!(broadcast.to_number, PHONE);
        assert_eq!(broadcast.language, "en");
        assert_eq!(broadcast.parameters, ["Refund approved"]);
        assert!(env.qontak.sent_messages().is_empty());
        assert!(app.dead_letters().await.is_empty());
        app.stop().await;
    }
);

on_both_databases!(
    token_refresh_mid_run_is_persisted_across_a_restart,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        webhook_registered(&env).await;
        let (room, ticket) = room_with_ticket(&env, &app, PHONE).await;
        let issued = env.qontak.tokens_issued();
        env.qontak.expire_access_token();
        env.inbenta.add_agent_answer(ticket, "<p>One</p>").unwrap();
        sent_into(&env, &room, 1).await;
        assert_eq!(env.qontak.tokens_issued(), issued + 1, "one refresh");
        // The configuration still names the first tokens, which no longer work (the refresh
        // token was rotated). After a restart the bridge uses the stored ones.
        app.stop().await;
        let app = env.start_app().await;
        env.inbenta.add_agent_answer(ticket, "<p>Two</p>").unwrap();
        let sent = sent_into(&env, &room, 2).await;
        assert_eq!(sent[1].text.as_deref(), Some("Two"));
        assert_eq!(
            env.qontak.tokens_issued(),
            issued + 1,
            "no refresh needed after restart"
        );
        app.stop().await;
    }
);

on_both_databases!(
    room_resolution_and_ticket_closing_follow_each_other,
    |db: Db| async move {
        let options = AppOptions {
            reconcile_interval: std::time::Duration::from_millis(300),
            sync_resolution: true,
            ..AppOptions::default()
        };
        let (env, app) = spawn_app_with(db, options).await;
        let (room, ticket) = room_with_ticket(&env, &app, PHONE).await;
        let resolved = env.qontak.resolve_room_by_agent(&room);
        assert_eq!(app.post_qontak(&resolved).await.status(), 200);
        eventually("the ticket is closed", || async {
            (env.inbenta.ticket(ticket).unwrap().status == 3).then_some(())
        })
        .await;
        let (other_room, other_ticket) = room_with_ticket(&env, &app, "6289876543210").await;
        assert!(env.inbenta.set_ticket_status(other_ticket, 3));
        eventually("the room is resolved in Qontak", || async {
            env.qontak
                .resolved_rooms()
                .contains(&other_room)
                .then_some(())
        })
        .await;
        app.stop().await;
    }
);

on_both_databases!(
    a_lost_answer_from_qontak_reaches_the_room_exactly_once,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        webhook_registered(&env).await;
        let (room, ticket) = room_with_ticket(&env, &app, PHONE).await;
        // Qontak writes the agent's answer into the room, but the bridge never sees its answer.
        env.qontak
            .lose_answer_next("POST", "messages/whatsapp/bot", 502, 1);
        env.inbenta
            .add_agent_answer(ticket, "<p>Pesanan sedang dikirim</p>")
            .unwrap();
        let recorded = eventually("the answer is recorded as sent", || async {
            let messages: Vec<Value> = app
                .admin_get("/api/v1/messages")
                .await
                .json()
                .await
                .unwrap();
            messages.into_iter().find(|m| m["status"] == "sent")
        })
        .await;
        let sent = sent_into(&env, &room, 1).await;
        assert_eq!(
            sent.len(),
            1,
            "the retry found the sent message in the room's history: {sent:?}"
        );
        assert_eq!(sent[0].text.as_deref(), Some("Pesanan sedang dikirim"));
        assert_eq!(recorded["remote_id"], sent[0].id.as_str(), "{recorded}");
        assert_eq!(
            env.qontak.request_count("POST", "messages/whatsapp/bot"),
            1,
            "sent once, never again"
        );
        assert!(
            env.qontak
                .request_count("GET", &format!("rooms/{room}/histories"))
                > 0
        );
        // The next answer goes out as usual.
        env.inbenta
            .add_agent_answer(ticket, "<p>Sudah sampai?</p>")
            .unwrap();
        let sent = sent_into(&env, &room, 2).await;
        assert_eq!(sent[1].text.as_deref(), Some("Sudah sampai?"));
        assert_eq!(env.qontak.sent_messages().len(), 2);
        assert!(app.dead_letters().await.is_empty());
        app.stop().await;
    }
);

on_both_databases!(
    a_retried_photo_is_not_mistaken_for_the_one_sent_before,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        webhook_registered(&env).await;
        let (room, ticket) = room_with_ticket(&env, &app, PHONE).await;
        let photo = include_bytes!("../../src/sandbox/assets/photo.png").to_vec();
        let mut other_photo = photo.clone();
        other_photo.extend_from_slice(b"another picture");
        env.inbenta
            .add_agent_answer_with_attachment(ticket, "", "label.png", "image/png", photo)
            .unwrap();
        sent_into(&env, &room, 1).await;
        // The second photo's first attempt fails; the retry looks for it in the room's history,
        // where the first photo (same kind, no caption) must not pass for it.
        env.qontak
            .fail_next("POST", "messages/whatsapp/bot", 503, 1);
        env.inbenta
            .add_agent_answer_with_attachment(
                ticket,
                "",
                "parcel.png",
                "image/png",
                other_photo.clone(),
            )
            .unwrap();
        let sent = sent_into(&env, &room, 2).await;
        let file = sent[1].file.as_ref().expect("a file");
        assert_eq!(file.bytes, other_photo);
        assert_eq!(
            env.qontak.request_count("POST", "messages/whatsapp/bot"),
            3,
            "the first photo, the failed attempt, the retry"
        );
        assert!(app.dead_letters().await.is_empty());
        app.stop().await;
    }
);
