//! Agent answers back to WhatsApp: exactly once, echoes ignored, attachments, the 24-hour window,
//! delivery statuses, the helpdesk webhook handshake.

use crate::helpers::{
    AppOptions, Db, TestApp, TestEnv, eventually, fallback_template, spawn_app, spawn_app_with,
};
use crate::ingest::onprem_text;
use crate::on_both_databases;
use omnibridge::sandbox::getchat::{SimSentMessage, outgoing_text_webhook, status_webhook};
use serde_json::{Value, json};

pub const WA_ID: &str = "4915550001";

/// A customer writes; returns the ticket id once the bridge has linked it.
pub async fn open_ticket(env: &TestEnv, app: &TestApp, wa_id: &str) -> i64 {
    let body = onprem_text(
        wa_id,
        "Ana",
        &format!("wamid.open.{wa_id}"),
        "Hello, I need help",
    );
    assert_eq!(app.post_getchat(&body).await.status(), 200);
    let link = eventually("the ticket is linked", || async {
        app.links()
            .await
            .into_iter()
            .find(|l| l["conversation_key"] == wa_id && l["inbenta_ticket_id"].is_string())
    })
    .await;
    let ticket: i64 = link["inbenta_ticket_id"].as_str().unwrap().parse().unwrap();
    assert!(env.inbenta.ticket(ticket).is_some());
    ticket
}

/// The bridge registered its helpdesk webhook (it does so at start, asynchronously).
pub async fn webhook_registered(env: &TestEnv) {
    eventually("the helpdesk webhook is registered", || async {
        (!env.inbenta.webhooks().is_empty()).then_some(())
    })
    .await;
}

/// Messages the bridge sent to `wa_id`, once there are `count` of them.
pub async fn sent_to(env: &TestEnv, wa_id: &str, count: usize) -> Vec<SimSentMessage> {
    eventually(&format!("{count} message(s) sent to {wa_id}"), || async {
        let sent: Vec<_> = env
            .getchat
            .sent_messages()
            .into_iter()
            .filter(|m| m.wa_id == wa_id)
            .collect();
        (sent.len() >= count).then_some(sent)
    })
    .await
}

async fn messages(app: &TestApp) -> Vec<Value> {
    app.admin_get("/api/v1/messages")
        .await
        .json()
        .await
        .unwrap()
}

on_both_databases!(
    agent_answer_reaches_whatsapp_exactly_once,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        webhook_registered(&env).await;
        let ticket = open_ticket(&env, &app, WA_ID).await;
        env.inbenta
            .add_agent_answer(ticket, "<p>Hello <strong>Ana</strong>, we are on it.</p>")
            .unwrap();
        let sent = sent_to(&env, WA_ID, 1).await;
        assert_eq!(sent[0].message_type, "text");
        assert_eq!(sent[0].body["text"]["body"], "Hello *Ana*, we are on it.");
        // Inbenta delivers the same events again: a duplicate, nothing is stored or sent.
        let delivery = eventually("the delivery was answered", || async {
            env.inbenta
                .deliveries()
                .into_iter()
                .find(|d| d.item == "reply" && d.status == Some(200))
        })
        .await;
        let again = app
            .client
            .post(format!("{}/webhooks/inbenta", app.address))
            .header("x-hook-signature", "inbenta-hook-secret")
            .json(&delivery.body)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 200);
        let answer: Value = again.json().await.unwrap();
        assert_eq!(answer["stored"], 0, "{answer}");
        // A second answer: only it goes out; the first is not sent again.
        env.inbenta
            .add_agent_answer(ticket, "<p>Done!</p>")
            .unwrap();
        let sent = sent_to(&env, WA_ID, 2).await;
        assert_eq!(sent[1].body["text"]["body"], "Done!");
        let recorded = eventually("both messages recorded", || async {
            let m = messages(&app).await;
            (m.len() == 2).then_some(m)
        })
        .await;
        assert!(recorded.iter().all(|m| m["status"] == "sent"));
        assert_eq!(env.getchat.sent_messages().len(), 2);
        app.stop().await;
    }
);

on_both_databases!(
    echoes_of_the_bridges_own_posts_are_ignored,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        webhook_registered(&env).await;
        let ticket = open_ticket(&env, &app, WA_ID).await;
        // An inbox user writes in get.chat: the ticket shows it as a note from the bridge…
        let inbox = outgoing_text_webhook("gc-inbox-1", WA_ID, "Ana", "We are looking into it");
        assert_eq!(app.post_getchat(&inbox).await.status(), 200);
        let note = eventually("the inbox message is noted on the ticket", || async {
            env.inbenta.ticket(ticket).and_then(|t| {
                t.replies
                    .into_iter()
                    .find(|r| r.message.contains("We are looking into it"))
            })
        })
        .await;
        assert_eq!(note.kind, "answer", "the note is agent-side");
        // …whose webhook must not send it back to WhatsApp. A real answer after it is processed
        // after it (same conversation, in order), so once the answer is out, the echo was seen.
        env.inbenta
            .add_agent_answer(ticket, "<p>Real answer</p>")
            .unwrap();
        let sent = sent_to(&env, WA_ID, 1).await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].body["text"]["body"], "Real answer");
        // get.chat reports the bridge's own message back as an outgoing message: no note.
        let echo = outgoing_text_webhook(&sent[0].id, WA_ID, "Ana", "Real answer");
        assert_eq!(app.post_getchat(&echo).await.status(), 200);
        env.inbenta
            .add_agent_answer(ticket, "<p>Second answer</p>")
            .unwrap();
        sent_to(&env, WA_ID, 2).await;
        let replies = env.inbenta.ticket(ticket).unwrap().replies;
        assert_eq!(
            replies
                .iter()
                .filter(|r| r.message.contains("Real answer"))
                .count(),
            1,
            "the bridge's own message was not noted again: {replies:?}"
        );
        assert_eq!(env.getchat.sent_messages().len(), 2);
        app.stop().await;
    }
);

on_both_databases!(
    answer_attachment_goes_out_as_whatsapp_media,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        webhook_registered(&env).await;
        let ticket = open_ticket(&env, &app, WA_ID).await;
        let png = include_bytes!("../../src/sandbox/assets/photo.png").to_vec();
        let pdf = b"%PDF-1.4 invoice".to_vec();
        env.inbenta
            .add_agent_answer_with_attachment(
                ticket,
                "<p>Your label</p>",
                "label.png",
                "image/png",
                png.clone(),
            )
            .unwrap();
        env.inbenta
            .add_agent_answer_with_attachment(
                ticket,
                "",
                "invoice.pdf",
                "application/pdf",
                pdf.clone(),
            )
            .unwrap();
        let sent = sent_to(&env, WA_ID, 3).await;
        let kinds: Vec<&str> = sent.iter().map(|m| m.message_type.as_str()).collect();
        assert_eq!(kinds, ["text", "image", "document"]);
        for (message, bytes) in [(&sent[1], &png), (&sent[2], &pdf)] {
            let kind = message.message_type.as_str();
            let link = message.body[kind]["link"].as_str().expect("sent by link");
            let id = link
                .split("/media/")
                .nth(1)
                .and_then(|rest| rest.split('?').next())
                .expect("a get.chat media link");
            assert_eq!(
                &env.getchat.media(id).expect("uploaded to get.chat").bytes,
                bytes
            );
        }
        assert_eq!(sent[2].body["document"]["filename"], "invoice.pdf");
        app.stop().await;
    }
);

on_both_databases!(
    closed_window_without_template_parks_the_answer_and_tells_the_agent,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        webhook_registered(&env).await;
        let ticket = open_ticket(&env, &app, WA_ID).await;
        env.getchat.close_window(WA_ID);
        env.inbenta
            .add_agent_answer(ticket, "<p>Are you still there?</p>")
            .unwrap();
        let dead = app.wait_for_dead_letters().await;
        assert!(
            dead[0]["last_error"]
                .as_str()
                .unwrap()
                .starts_with("window_closed"),
            "{dead:?}"
        );
        let note = eventually("a note tells the agent", || async {
            env.inbenta.ticket(ticket).and_then(|t| {
                t.replies
                    .into_iter()
                    .find(|r| r.message.contains("could not be reached"))
            })
        })
        .await;
        assert_eq!(note.kind, "answer");
        assert!(env.getchat.sent_messages().is_empty());
        // The customer writes again; the admin redrives the parked answer: it goes out once.
        env.getchat.open_window(WA_ID);
        let id = dead[0]["id"].as_i64().unwrap();
        let retried = app
            .client
            .post(format!("{}/api/v1/jobs/{id}/retry", app.address))
            .bearer_auth(crate::helpers::ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(retried.status(), 200);
        let sent = sent_to(&env, WA_ID, 1).await;
        assert_eq!(sent[0].body["text"]["body"], "Are you still there?");
        eventually("the dead letter is gone", || async {
            app.dead_letters().await.is_empty().then_some(())
        })
        .await;
        let notes = env
            .inbenta
            .ticket(ticket)
            .unwrap()
            .replies
            .into_iter()
            .filter(|r| r.message.contains("could not be reached"))
            .count();
        assert_eq!(
            notes, 1,
            "one note, not one per event that saw the parked answer"
        );
        assert_eq!(env.getchat.sent_messages().len(), 1);
        app.stop().await;
    }
);

on_both_databases!(
    closed_window_with_fallback_template_sends_the_template,
    |db: Db| async move {
        let options = AppOptions {
            fallback_template: Some(fallback_template("follow_up", "en", &["{reply.text}"])),
            ..AppOptions::default()
        };
        let (env, app) = spawn_app_with(db, options).await;
        webhook_registered(&env).await;
        let ticket = open_ticket(&env, &app, WA_ID).await;
        env.getchat.close_window(WA_ID);
        env.inbenta
            .add_agent_answer(ticket, "<p>Your refund is ready</p>")
            .unwrap();
        let sent = sent_to(&env, WA_ID, 1).await;
        assert_eq!(sent[0].message_type, "template");
        let template = &sent[0].body["template"];
        assert_eq!(template["name"], "follow_up");
        assert_eq!(template["language"]["code"], "en");
        assert_eq!(
            template["components"][0]["parameters"][0]["text"],
            "Your refund is ready"
        );
        assert!(app.dead_letters().await.is_empty());
        app.stop().await;
    }
);

on_both_databases!(
    delivery_statuses_are_matched_and_failures_noted,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        webhook_registered(&env).await;
        let ticket = open_ticket(&env, &app, WA_ID).await;
        env.inbenta.add_agent_answer(ticket, "<p>One</p>").unwrap();
        let sent = sent_to(&env, WA_ID, 1).await;
        let id = sent[0].id.clone();
        for status in ["sent", "read", "delivered"] {
            let body = status_webhook("wamid.status.1", Some(&id), WA_ID, status);
            assert_eq!(app.post_getchat(&body).await.status(), 200);
        }
        eventually("the message shows read", || async {
            messages(&app)
                .await
                .into_iter()
                .find(|m| m["status"] == "read")
        })
        .await;
        // A late `delivered` did not move it back.
        env.inbenta.add_agent_answer(ticket, "<p>Two</p>").unwrap();
        let sent = sent_to(&env, WA_ID, 2).await;
        let failed = json!({"statuses": [{
            "id": "wamid.status.2", "getchat_id": sent[1].id, "recipient_id": WA_ID,
            "status": "failed", "timestamp": "1700000000", "type": "message",
            "errors": [{"code": 131047, "title": "Re-engagement message"}]
        }]});
        assert_eq!(app.post_getchat(&failed).await.status(), 200);
        let note = eventually("the failure is noted on the ticket", || async {
            env.inbenta.ticket(ticket).and_then(|t| {
                t.replies
                    .into_iter()
                    .find(|r| r.message.contains("could not deliver"))
            })
        })
        .await;
        assert!(note.message.contains("131047"), "{}", note.message);
        // The note is posted before the status is committed with the event: wait for it.
        eventually("the failure is recorded, newest first", || async {
            let statuses: Vec<String> = messages(&app)
                .await
                .iter()
                .map(|m| m["status"].as_str().unwrap().to_owned())
                .collect();
            (statuses == ["failed", "read"]).then_some(())
        })
        .await;
        assert_eq!(
            env.getchat.sent_messages().len(),
            2,
            "the failure note is not sent back"
        );
        app.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_helpdesk_delivery_is_refused_when_a_webhook_secret_is_set() {
    let (env, app) = spawn_app(Db::Sqlite).await;
    let url = format!("{}/webhooks/inbenta", app.address);
    // A well-formed delivery about a reply, as Inbenta sends it, but without X-Hook-Signature.
    let delivery = json!([{
        "id": 9001, "item": "reply", "action": "add", "actor": 1, "parent": 5001,
        "timestamp": chrono::Utc::now().timestamp(),
    }]);
    let unsigned = app.client.post(&url).json(&delivery).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let answer: Value = unsigned.json().await.unwrap();
    assert_eq!(answer["code"], "unauthorized", "{answer}");
    assert_eq!(
        answer["detail"], "X-Hook-Signature is missing (inbenta.webhook_secret is set)",
        "{answer}"
    );
    // Signed, the same delivery is taken.
    let signed = app
        .client
        .post(&url)
        .header("x-hook-signature", "inbenta-hook-secret")
        .json(&delivery)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    // A handshake without its challenge is a 400 naming what is missing.
    let no_challenge = app
        .client
        .get(&url)
        .header("x-hook-signature", "inbenta-hook-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(no_challenge.status(), 400);
    let answer: Value = no_challenge.json().await.unwrap();
    assert_eq!(answer["code"], "missing_challenge", "{answer}");
    drop(env);
    app.stop().await;
}

on_both_databases!(helpdesk_webhook_handshake, |db: Db| async move {
    let (env, app) = spawn_app(db).await;
    // The bridge registered itself at start, passing Inbenta's challenge.
    webhook_registered(&env).await;
    let hooks = env.inbenta.webhooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        hooks[0].url,
        format!("{}/webhooks/inbenta", env.public_url())
    );
    let url = format!("{}/webhooks/inbenta", app.address);
    let good = app
        .client
        .get(&url)
        .header("x-hook-signature", "inbenta-hook-secret")
        .header("x-inbenta-challenge", "challenge-123")
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
    assert_eq!(good.text().await.unwrap(), "challenge-123");
    let bad = app
        .client
        .get(&url)
        .header("x-hook-signature", "not-the-secret")
        .header("x-inbenta-challenge", "challenge-123")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let forged = app
        .client
        .post(&url)
        .header("x-hook-signature", "not-the-secret")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let garbage = app
        .client
        .post(&url)
        .header("x-hook-signature", "inbenta-hook-secret")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    // A restart does not register a second webhook.
    app.stop().await;
    let lookups = env
        .inbenta
        .request_count("GET", "/prod/ticketing/v1/webhooks");
    let app = env.start_app().await;
    eventually("the restarted bridge checks its registration", || async {
        (env.inbenta
            .request_count("GET", "/prod/ticketing/v1/webhooks")
            > lookups)
            .then_some(())
    })
    .await;
    // Give a (wrong) second registration the time to land before looking.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(env.inbenta.webhooks().len(), 1);
    app.stop().await;
});
