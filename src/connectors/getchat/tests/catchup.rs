//! `find_sent`, `poll` and `acknowledge` against the get.chat simulator.

use super::recipient;
use super::sending::{file, media, sim_channel};
use crate::connectors::ChannelConnector;
use crate::domain::{EventKind, InboundEvent, MediaKind, MessageBody, OutboundBody};
use crate::sandbox::getchat::GetchatSim;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

fn minutes_ago(minutes: i64) -> DateTime<Utc> {
    Utc::now() - Duration::minutes(minutes)
}

fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(0, 0).unwrap()
}

/// The Message objects `GET messages/` lists, newest first, read straight from the simulator.
async fn listed(sim: &GetchatSim) -> Vec<Value> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let page: Value = reqwest::Client::new()
        .get(format!("{}messages/?limit=1000", sim.api_url()))
        .header("Authorization", format!("Token {}", sim.token()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["results"].as_array().unwrap().clone()
}

#[tokio::test]
async fn find_sent_finds_a_sent_text_by_its_body_and_names_it_by_wamid() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    let to = recipient("48123");
    let text = OutboundBody::Text {
        text: "Your ticket is open".into(),
    };
    let sent = channel.send(&to, &text).await.unwrap();
    let found = channel
        .find_sent(&to, minutes_ago(2), &text)
        .await
        .unwrap()
        .expect("the sent text");
    let listed = listed(&sim).await;
    assert_eq!(listed[0]["id"], sent.id.as_str());
    assert_eq!(
        found.as_str(),
        listed[0]["waba_payload"]["id"].as_str().unwrap()
    );
    let other_text = OutboundBody::Text {
        text: "Your ticket is closed".into(),
    };
    assert_eq!(
        channel
            .find_sent(&to, minutes_ago(2), &other_text)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        channel
            .find_sent(&recipient("48999"), minutes_ago(2), &text)
            .await
            .unwrap(),
        None
    );
    let later = Utc::now() + Duration::minutes(5);
    assert_eq!(channel.find_sent(&to, later, &text).await.unwrap(), None);
}

#[tokio::test]
async fn find_sent_ignores_what_the_customer_wrote() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    let now = Utc::now().timestamp();
    sim.add_incoming_message("48123", "Ann", "wamid.in", "same words", now);
    let text = OutboundBody::Text {
        text: "same words".into(),
    };
    let found = channel
        .find_sent(&recipient("48123"), minutes_ago(2), &text)
        .await
        .unwrap();
    assert_eq!(found, None);
}

#[tokio::test]
async fn find_sent_tells_files_apart_by_their_bytes_and_templates_by_name() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    let to = recipient("48123");
    let first = media(
        MediaKind::Image,
        file("a.jpg", "image/jpeg", b"first"),
        None,
    );
    let second = media(
        MediaKind::Image,
        file("b.jpg", "image/jpeg", b"second"),
        None,
    );
    let never_sent = media(
        MediaKind::Image,
        file("c.jpg", "image/jpeg", b"third"),
        None,
    );
    channel.send(&to, &first).await.unwrap();
    channel.send(&to, &second).await.unwrap();
    let listed = listed(&sim).await;
    let wamid_of = |i: usize| listed[i]["waba_payload"]["id"].as_str().unwrap().to_owned();
    let since = minutes_ago(2);
    let found_first = channel
        .find_sent(&to, since, &first)
        .await
        .unwrap()
        .unwrap();
    let found_second = channel
        .find_sent(&to, since, &second)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found_first.as_str(), wamid_of(1));
    assert_eq!(found_second.as_str(), wamid_of(0));
    assert_eq!(
        channel.find_sent(&to, since, &never_sent).await.unwrap(),
        None
    );
    let captioned = media(
        MediaKind::Image,
        file("a.jpg", "image/jpeg", b"first"),
        Some("with caption"),
    );
    assert_eq!(
        channel.find_sent(&to, since, &captioned).await.unwrap(),
        None
    );

    let template = OutboundBody::Template {
        name: "ticket_update".into(),
        language: "en".into(),
        parameters: vec!["#42".into()],
    };
    channel.send(&to, &template).await.unwrap();
    assert!(
        channel
            .find_sent(&to, since, &template)
            .await
            .unwrap()
            .is_some()
    );
    let other_parameters = OutboundBody::Template {
        name: "ticket_update".into(),
        language: "en".into(),
        parameters: vec!["#43".into()],
    };
    assert_eq!(
        channel
            .find_sent(&to, since, &other_parameters)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn find_sent_names_a_queued_message_by_getchats_id() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    sim.queue_messages(true);
    let to = recipient("48123");
    let text = OutboundBody::Text {
        text: "queued".into(),
    };
    let sent = channel.send(&to, &text).await.unwrap();
    let found = channel.find_sent(&to, minutes_ago(2), &text).await.unwrap();
    assert_eq!(found, Some(sent.id));
}

/// The events a webhook makes for a listed Message object, as `incoming_messages` (customer) or
/// `outgoing_messages` (from us) — what get.chat would have POSTed.
fn webhook_events(channel: &impl ChannelConnector, object: &Value) -> Vec<InboundEvent> {
    let section = if object["from_us"] == json!(true) {
        "outgoing_messages"
    } else {
        "incoming_messages"
    };
    let mut body = json!({});
    body[section] = json!([object]);
    channel.parse_webhook(body.to_string().as_bytes()).unwrap()
}

#[tokio::test]
async fn poll_yields_the_events_the_webhooks_would_have_made_oldest_first() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    let now = Utc::now().timestamp();
    sim.add_incoming_message("48111", "Ann", "wamid.A1", "first", now - 30);
    sim.add_incoming_message("48222", "Bob", "wamid.B1", "second", now - 20);
    let reply = OutboundBody::Text {
        text: "answer".into(),
    };
    let sent = channel.send(&recipient("48111"), &reply).await.unwrap();

    let batch = channel.poll(Utc::now() - Duration::hours(1)).await.unwrap();
    assert!(!batch.more);
    let keys: Vec<&str> = batch.events.iter().map(|e| e.dedupe_key.as_str()).collect();
    assert_eq!(
        keys,
        ["wamid.A1", "wamid.B1", &format!("outgoing:{}", sent.id)]
    );
    assert_eq!(batch.newest, Some(batch.events[2].occurred_at));

    // Each polled event is exactly what the webhook path makes for the same message.
    for object in listed(&sim).await {
        let from_webhook = webhook_events(&channel, &object);
        assert_eq!(from_webhook.len(), 1);
        let polled = batch
            .events
            .iter()
            .find(|e| e.dedupe_key == from_webhook[0].dedupe_key)
            .expect("the same dedupe key");
        assert_eq!(polled, &from_webhook[0]);
    }
    let EventKind::CustomerMessage(message) = &batch.events[0].kind else {
        panic!("{:?}", batch.events[0]);
    };
    assert_eq!(message.contact.name.as_deref(), Some("Ann"));
    let EventKind::AgentMessage(agent) = &batch.events[2].kind else {
        panic!("{:?}", batch.events[2]);
    };
    assert_eq!(
        agent.remote_id, sent.id,
        "an echo is recognised by send's id"
    );
    assert!(
        agent
            .alt_remote_id
            .as_ref()
            .is_some_and(|id| id.as_str().starts_with("gBGG"))
    );
    assert_eq!(
        agent.body,
        MessageBody::Text {
            text: "answer".into()
        }
    );
    assert_eq!(batch.events[2].conversation.as_str(), "48111");
}

#[tokio::test]
async fn poll_and_the_onprem_webhook_agree_on_the_customer_message_key() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    let body = crate::sandbox::getchat::onprem_text_webhook("48123", "Ann", "wamid.X", "hello");
    let from_webhook = channel.parse_webhook(body.to_string().as_bytes()).unwrap();
    sim.add_incoming_message("48123", "Ann", "wamid.X", "hello", Utc::now().timestamp());
    let polled = channel.poll(minutes_ago(5)).await.unwrap();
    assert_eq!(polled.events.len(), 1);
    assert_eq!(polled.events[0].dedupe_key, from_webhook[0].dedupe_key);
    assert_eq!(polled.events[0].conversation, from_webhook[0].conversation);
    assert_eq!(polled.events[0].kind.name(), "customer_message");
}

/// Poll from `since` until no more pages follow; every event seen, in order.
async fn poll_all(channel: &impl ChannelConnector, since: DateTime<Utc>) -> (Vec<String>, usize) {
    let mut cursor = since;
    let mut keys: Vec<String> = Vec::new();
    for calls in 1..=50 {
        let batch = channel.poll(cursor).await.unwrap();
        for event in &batch.events {
            if !keys.contains(&event.dedupe_key) {
                keys.push(event.dedupe_key.clone());
            }
        }
        if !batch.more {
            return (keys, calls);
        }
        let newest = batch.newest.expect("a cursor when more follows");
        assert!(newest > cursor, "the cursor moves on");
        cursor = newest;
    }
    panic!("polling did not finish");
}

#[tokio::test]
async fn poll_pages_through_a_backlog_from_the_oldest_message_on() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    let start = Utc::now().timestamp() - 10_000;
    for i in 0..250 {
        let wa_id = format!("48{}", i % 7);
        sim.add_incoming_message(&wa_id, "Cy", &format!("wamid.{i:03}"), "x", start + i);
    }
    let first = channel.poll(epoch()).await.unwrap();
    assert!(first.more);
    assert_eq!(first.events[0].dedupe_key, "wamid.000");
    let (keys, calls) = poll_all(&channel, epoch()).await;
    let want: Vec<String> = (0..250).map(|i| format!("wamid.{i:03}")).collect();
    assert_eq!(keys, want);
    assert!(calls <= 4, "{calls} polls");
}

#[tokio::test]
async fn a_burst_within_one_second_does_not_stall_the_poll() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    let second = Utc::now().timestamp() - 100;
    for i in 0..150 {
        sim.add_incoming_message("48123", "Di", &format!("wamid.{i:03}"), "x", second);
    }
    sim.add_incoming_message("48123", "Di", "wamid.later", "x", second + 5);
    let (keys, _) = poll_all(&channel, DateTime::from_timestamp(second, 0).unwrap()).await;
    assert_eq!(keys.len(), 151);
    assert_eq!(keys.last().map(String::as_str), Some("wamid.later"));
}

#[tokio::test]
async fn acknowledge_marks_each_customers_newest_polled_message() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    let now = Utc::now().timestamp();
    sim.add_incoming_message("48111", "Ann", "wamid.1", "a", now - 50);
    sim.add_incoming_message("48111", "Ann", "wamid.2", "b", now - 40);
    sim.add_incoming_message("48222", "Bob", "wamid.3", "c", now - 30);
    channel
        .send(
            &recipient("48222"),
            &OutboundBody::Text { text: "hi".into() },
        )
        .await
        .unwrap();
    let batch = channel.poll(minutes_ago(5)).await.unwrap();
    assert_eq!(batch.events.len(), 4);
    channel.acknowledge(&batch).await.unwrap();
    assert_eq!(sim.received_mark("48111"), Some(now - 40));
    assert_eq!(sim.received_mark("48222"), Some(now - 30));
    assert_eq!(sim.request_count("POST", "mark_as_received/"), 2);
    let empty = channel
        .poll(Utc::now() + Duration::minutes(5))
        .await
        .unwrap();
    assert!(empty.events.is_empty() && empty.newest.is_none() && !empty.more);
    channel.acknowledge(&empty).await.unwrap();
    assert_eq!(sim.request_count("POST", "mark_as_received/"), 2);
}
