//! Catch-up polling gives the events (and dedupe keys) the webhooks give.

use super::{bytes, sim_channel, to_room};
use crate::connectors::ChannelConnector;
use crate::domain::{EventKind, InboundEvent, OutboundBody};
use crate::sandbox::qontak::{MemoryCredentials, QontakSim};
use chrono::{Duration, Utc};
use std::collections::BTreeSet;
use std::sync::Arc;

fn find<'a>(events: &'a [InboundEvent], key: &str) -> &'a InboundEvent {
    events
        .iter()
        .find(|e| e.dedupe_key == key)
        .unwrap_or_else(|| panic!("no event {key} in {events:#?}"))
}

#[tokio::test]
async fn poll_finds_what_the_webhooks_would_have_said() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    sim.set_room_tags(&room, &["vip"]);
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    let since = Utc::now() - Duration::minutes(1);

    let customer_body = sim.customer_text(&room, "Halo");
    let agent_body = sim.agent_text(&room, "Agent Two", "Ada yang bisa dibantu?");
    let sent = channel
        .send(
            &to_room(&room),
            &OutboundBody::Text {
                text: "Dari bot".into(),
            },
        )
        .await
        .unwrap();
    let status_body = sim.message_status(sent.id.as_str(), "delivered").unwrap();
    let resolved_body = sim.resolve_room_by_agent(&room);

    let webhook_channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    let from_webhooks: Vec<InboundEvent> =
        [&customer_body, &agent_body, &status_body, &resolved_body]
            .into_iter()
            .flat_map(|body| webhook_channel.parse_webhook(&bytes(body)).unwrap())
            .collect();

    let batch = channel.poll(since).await.unwrap();
    assert!(!batch.more);
    for webhook_event in &from_webhooks {
        let polled = find(&batch.events, &webhook_event.dedupe_key);
        match (&webhook_event.kind, &polled.kind) {
            // The status webhook also names the message; the poll reads its current state.
            (EventKind::AgentMessage(a), EventKind::AgentMessage(b)) => {
                assert_eq!(a.remote_id, b.remote_id);
                assert_eq!(a.body, b.body);
            }
            _ => assert_eq!(polled, webhook_event),
        }
    }
    let bot = find(&batch.events, sent.id.as_str());
    assert!(matches!(&bot.kind, EventKind::AgentMessage(m) if m.remote_id == sent.id));
    assert!(batch.newest.is_some_and(|newest| newest > since));
}

#[tokio::test]
async fn messages_before_the_cursor_are_left_out() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    let now = Utc::now();
    sim.customer_text_at(&room, "yesterday", now - Duration::hours(20));
    sim.customer_text(&room, "today");
    let batch = channel.poll(now - Duration::hours(1)).await.unwrap();
    let texts: Vec<&str> = batch
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::CustomerMessage(m) => m.body.text_for_matching(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(texts, ["today"]);

    let nothing = channel.poll(Utc::now() + Duration::hours(1)).await.unwrap();
    assert!(nothing.events.is_empty());
    assert_eq!(nothing.newest, None);
    assert!(!nothing.more);
}

#[tokio::test]
async fn many_rooms_come_in_batches_until_none_is_left() {
    let sim = QontakSim::start().await.unwrap();
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    let since = Utc::now() - Duration::hours(1);
    let mut expected = BTreeSet::new();
    for i in 0..27 {
        let at = since + Duration::seconds(60 + i);
        let room = sim.add_room_at(&format!("62811000{i:04}"), &format!("Customer {i}"), at);
        let body = sim.customer_text_at(&room, &format!("message {i}"), at);
        expected.insert(body["id"].as_str().unwrap().to_owned());
    }

    let mut seen = BTreeSet::new();
    let mut cursor = since;
    let mut polls = 0;
    loop {
        polls += 1;
        assert!(polls <= 5, "polling does not end");
        let batch = channel.poll(cursor).await.unwrap();
        seen.extend(batch.events.iter().map(|e| e.dedupe_key.clone()));
        if !batch.more {
            break;
        }
        cursor = batch.newest.expect("a cursor when more follows");
    }
    assert!(polls >= 2, "27 rooms do not fit in one batch");
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn rooms_of_another_channel_integration_are_not_polled() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    sim.customer_text(&room, "Halo");
    let config = super::settings(
        &sim.base_url(),
        serde_json::json!({"access_token": sim.access_token(), "refresh_token": sim.refresh_token(),
                           "channel_integration_id": "another-integration"}),
    );
    let channel =
        crate::connectors::qontak::QontakChannel::new(&config, Arc::new(MemoryCredentials::new()))
            .unwrap();
    let batch = channel
        .poll(Utc::now() - Duration::minutes(1))
        .await
        .unwrap();
    assert!(batch.events.is_empty(), "{:?}", batch.events);
    assert_eq!(
        sim.request_count("GET", &format!("rooms/{room}/histories")),
        0
    );
}
