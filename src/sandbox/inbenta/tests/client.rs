//! The real [`InbentaClient`] against the simulator: a whole ticket flow, refusals, attachments,
//! webhook registration and deliveries, polling for updated tickets.

use super::{Caller, client_for, deliveries_after, webhook_receiver};
use crate::connectors::inbenta::InbentaClient;
use crate::connectors::{
    ConnectorError, NewReply, NewTicket, Registration, TicketAttachment, TicketConnector,
};
use crate::domain::{ActivitySubject, ExternalId, MediaFile, ReplyAuthor, TicketState};
use crate::sandbox::inbenta::{AGENT_USER_ID, InbentaSim, InbentaSimOptions};
use secrecy::SecretString;
use std::time::Duration;

#[tokio::test]
async fn inbenta_client_runs_a_whole_ticket_flow_against_the_simulator() {
    let sim = InbentaSim::start_with(InbentaSimOptions {
        apis_in_auth_answer: false,
        ..InbentaSimOptions::default()
    })
    .await
    .expect("simulator starts");
    let client = client_for(&sim);
    let address = "62812@whatsapp.invalid";

    assert_eq!(client.find_user(address).await.expect("lookup"), None);
    let user = client.create_user("Ana", address).await.expect("user");
    assert_eq!(
        client.find_user(address).await.expect("lookup"),
        Some(user.clone())
    );
    let media = client
        .upload_media(&MediaFile {
            filename: "photo.jpg".into(),
            mime_type: "image/jpeg".into(),
            bytes: vec![7; 1000],
        })
        .await
        .expect("media");
    let ticket = client
        .create_ticket(&NewTicket {
            title: "WhatsApp Ana".into(),
            creator: user.clone(),
            message_html: "<p>hello</p>".into(),
            queue: Some(2),
            source: None,
            attachments: vec![media.clone()],
            external_id: "wa:x:62812".into(),
        })
        .await
        .expect("ticket");
    assert_eq!(
        client.find_ticket("wa:x:62812").await.expect("lookup"),
        Some(ticket.clone())
    );

    sim.expire_all_tokens();
    let reply = NewReply {
        creator: user.clone(),
        message_html: "second".into(),
        attachments: vec![],
    };
    client
        .add_reply(&ticket, &reply)
        .await
        .expect("reply after re-auth");
    let ticket_id: i64 = ticket.as_str().parse().expect("numeric");
    sim.add_agent_answer(ticket_id, "<p>answer</p>")
        .expect("ticket exists");
    client
        .set_ticket_state(&ticket, &TicketState::Closed)
        .await
        .expect("state set");

    let replies = client.list_replies(&ticket).await.expect("replies");
    assert_eq!(
        replies.iter().map(|r| r.author).collect::<Vec<_>>(),
        [ReplyAuthor::Customer, ReplyAuthor::Agent]
    );
    assert_eq!(
        replies[1].creator,
        Some(ExternalId::new(AGENT_USER_ID.to_string()))
    );
    assert_eq!(
        client.ticket_state(&ticket).await.expect("state"),
        Some(TicketState::Closed)
    );
    assert_eq!(sim.ticket(ticket_id).expect("stored").status, 3);
    let stored = sim.ticket(ticket_id).expect("stored");
    assert_eq!(stored.attachments, vec![media.to_string()]);
    assert_eq!(stored.queue, Some(2));
    assert_eq!(sim.media()[0].size_bytes, 1000);
    assert_eq!(sim.request_count("GET", "/v1/apis"), 2);
}

#[tokio::test]
async fn inbenta_client_classifies_simulator_refusals() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let client = client_for(&sim);

    sim.fail_next("GET", "/prod/ticketing/v1/users", 503, 1);
    let unavailable = client.find_user("a@x.invalid").await.expect_err("503");
    let unknown_creator = client
        .create_ticket(&NewTicket {
            title: "t".into(),
            creator: ExternalId::new("424242"),
            message_html: "hi".into(),
            queue: None,
            source: None,
            attachments: vec![],
            external_id: "e".into(),
        })
        .await
        .expect_err("unknown creator");
    let missing = client
        .ticket_state(&ExternalId::new("999999"))
        .await
        .expect_err("unknown ticket");

    assert!(
        matches!(unavailable, ConnectorError::Transient { .. }),
        "{unavailable:?}"
    );
    assert!(
        matches!(
            unknown_creator,
            ConnectorError::Permanent {
                status: Some(400),
                ..
            }
        ),
        "{unknown_creator:?}"
    );
    assert!(unknown_creator.to_string().contains("user_not_found"));
    assert!(
        matches!(missing, ConnectorError::NotFound { .. }),
        "{missing:?}"
    );
}

#[tokio::test]
async fn largest_file_the_client_accepts_fits_the_ten_megabyte_payload_limit() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let client = client_for(&sim);
    let file = MediaFile {
        filename: "largest.bin".into(),
        mime_type: "application/octet-stream".into(),
        bytes: vec![0xAB; client.max_attachment_bytes()],
    };

    client
        .upload_media(&file)
        .await
        .expect("accepted by the simulator");

    assert_eq!(sim.media()[0].size_bytes, client.max_attachment_bytes());
}

#[tokio::test]
async fn cleared_failures_do_not_fire() {
    let caller = Caller::start().await;
    caller
        .sim
        .fail_next("GET", "/prod/ticketing/v1/users", 503, 5);

    caller.sim.clear_failures();

    assert_eq!(caller.get("/v1/users").await.0, 200);
}

/// A user and a ticket created through the client; the ticket's numeric id too.
async fn open_ticket(client: &InbentaClient, external_id: &str) -> (ExternalId, i64) {
    let user = match client.find_user("ana@wa.invalid").await.expect("lookup") {
        Some(user) => user,
        None => client
            .create_user("Ana", "ana@wa.invalid")
            .await
            .expect("user"),
    };
    let ticket = client
        .create_ticket(&NewTicket {
            title: "WhatsApp Ana".into(),
            creator: user,
            message_html: "<p>hello</p>".into(),
            queue: None,
            source: None,
            attachments: vec![],
            external_id: external_id.into(),
        })
        .await
        .expect("ticket");
    let numeric = ticket.as_str().parse().expect("numeric ticket id");
    (ticket, numeric)
}

#[tokio::test]
async fn inbenta_client_reads_answer_attachments_and_downloads_them() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let client = client_for(&sim);
    let (ticket, ticket_id) = open_ticket(&client, "wa:1").await;
    let photo = vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
    sim.add_agent_answer_with_attachment(
        ticket_id,
        "<p>here</p>",
        "receipt.jpg",
        "image/jpeg",
        photo.clone(),
    )
    .expect("ticket exists");

    let replies = client.list_replies(&ticket).await.expect("replies");
    let answer = &replies[0];
    let attachment = &answer.attachments[0];
    let file = client
        .fetch_attachment(attachment)
        .await
        .expect("downloaded");

    assert_eq!(answer.author, ReplyAuthor::Agent);
    let written = answer.created_at.expect("creation time");
    assert!(
        (written - chrono::Utc::now()).num_seconds().abs() < 60,
        "{written}"
    );
    assert_eq!(attachment.name.as_deref(), Some("receipt.jpg"));
    assert_eq!(attachment.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(attachment.size, Some(photo.len() as u64));
    assert_eq!(file.filename, "receipt.jpg");
    assert_eq!(file.mime_type, "image/jpeg");
    assert_eq!(file.bytes, photo);
}

#[tokio::test]
async fn inbenta_client_downloads_by_media_uuid_when_no_link_is_given() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let client = client_for(&sim);
    let uuid = client
        .upload_media(&MediaFile {
            filename: "notes.txt".into(),
            mime_type: "text/plain".into(),
            bytes: b"call me back".to_vec(),
        })
        .await
        .expect("uploaded");

    let file = client
        .fetch_attachment(&TicketAttachment {
            id: uuid,
            name: None,
            mime_type: None,
            url: None,
            size: None,
        })
        .await
        .expect("downloaded");

    assert_eq!(file.bytes, b"call me back");
    assert_eq!(file.mime_type, "text/plain");
    assert!(file.filename.ends_with(".txt"), "{}", file.filename);
}

#[tokio::test]
async fn inbenta_client_refuses_an_attachment_larger_than_its_limit() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let client = client_for(&sim).with_max_download_bytes(4);
    let (ticket, ticket_id) = open_ticket(&client, "wa:2").await;
    sim.add_agent_answer_with_attachment(ticket_id, "big", "a.bin", "application/zip", vec![0; 5])
        .expect("ticket exists");
    let mut attachment =
        client.list_replies(&ticket).await.expect("replies")[0].attachments[0].clone();
    attachment.size = None;

    let err = client
        .fetch_attachment(&attachment)
        .await
        .expect_err("too large");

    assert!(
        matches!(err, ConnectorError::Permanent { status: None, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn inbenta_client_registers_the_reply_webhook_once() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let client = client_for(&sim);
    let (url, _receiver) = webhook_receiver(true).await;
    let secret = SecretString::from("s3cret");

    let first = client
        .register_webhook(&url, &secret)
        .await
        .expect("registered");
    let second = client
        .register_webhook(&url, &secret)
        .await
        .expect("listed");

    assert_eq!(first, Registration::Created);
    assert_eq!(second, Registration::AlreadyRegistered);
    let hooks = sim.webhooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        (hooks[0].item.as_str(), hooks[0].url.as_str()),
        ("reply", url.as_str())
    );
    assert_eq!(sim.request_count("POST", "/prod/ticketing/v1/webhooks"), 1);
}

#[tokio::test]
async fn failed_webhook_verification_is_reported_with_inbentas_message() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let client = client_for(&sim);
    let (url, _receiver) = webhook_receiver(false).await;

    let err = client
        .register_webhook(&url, &SecretString::from("s3cret"))
        .await
        .expect_err("challenge not echoed");

    assert!(
        matches!(
            err,
            ConnectorError::Permanent {
                status: Some(400),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("Webhook verification failed"),
        "{err}"
    );
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert!(sim.webhooks().is_empty());
}

#[tokio::test]
async fn inbenta_client_parses_the_simulators_reply_delivery() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let client = client_for(&sim);
    let (url, _receiver) = webhook_receiver(true).await;
    client
        .register_webhook(&url, &SecretString::from("s3cret"))
        .await
        .expect("registered");
    let (ticket, ticket_id) = open_ticket(&client, "wa:3").await;
    let reply = sim
        .add_agent_answer(ticket_id, "hi")
        .expect("ticket exists");

    let deliveries = deliveries_after(&sim, 1).await;
    let body = serde_json::to_vec(&deliveries[0].body).expect("JSON");
    let events = client.parse_webhook(&body).expect("parsed");

    assert_eq!(events.len(), 1);
    assert_eq!(events[0].activity.ticket, ticket);
    assert_eq!(events[0].activity.subject, ActivitySubject::Reply);
    assert_eq!(events[0].activity.action, "add");
    assert_eq!(events[0].activity.object_id.as_str(), reply.to_string());
    assert_eq!(events[0].dedupe_key, format!("inbenta:reply:{reply}:add"));
}

#[tokio::test]
async fn inbenta_client_polls_tickets_updated_after_a_time_oldest_first() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let client = client_for(&sim);
    let (first, first_id) = open_ticket(&client, "wa:4").await;
    let (second, second_id) = open_ticket(&client, "wa:5").await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(10);

    sim.advance_clock(Duration::from_secs(100));
    sim.set_ticket_status(second_id, 3);
    sim.advance_clock(Duration::from_secs(100));
    sim.add_agent_answer(first_id, "later")
        .expect("ticket exists");
    let closed_at = sim.ticket(second_id).expect("ticket").last_update;
    let answered_at = sim.ticket(first_id).expect("ticket").last_update;

    let all = client.updated_tickets(before).await.expect("polled");
    let after_close = client
        .updated_tickets(chrono::DateTime::from_timestamp(closed_at, 0).expect("time"))
        .await
        .expect("polled");
    let after_answer = client
        .updated_tickets(chrono::DateTime::from_timestamp(answered_at, 0).expect("time"))
        .await
        .expect("polled");

    let ids = |list: &[crate::connectors::HelpdeskEvent]| {
        list.iter()
            .map(|t| t.activity.ticket.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&all), [second.clone(), first.clone()]);
    assert!(
        all[0]
            .dedupe_key
            .contains(&format!(":update:{}:3", closed_at * 1000)),
        "keyed by its change time and status: {}",
        all[0].dedupe_key
    );
    assert_eq!(all[0].occurred_at.timestamp(), closed_at);
    assert_eq!(ids(&after_close), [first]);
    assert!(after_answer.is_empty());
}

#[tokio::test]
async fn polling_finds_an_answer_whose_webhook_was_lost() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let client = client_for(&sim);
    let (url, _receiver) = webhook_receiver(true).await;
    client
        .register_webhook(&url, &SecretString::from("s3cret"))
        .await
        .expect("registered");
    let (ticket, ticket_id) = open_ticket(&client, "wa:6").await;
    let since = chrono::Utc::now();
    sim.advance_clock(Duration::from_secs(5));

    sim.pause_webhooks(true);
    sim.add_agent_answer(ticket_id, "while the bridge was down")
        .expect("ticket exists");

    let updated = client.updated_tickets(since).await.expect("polled");
    let replies = client.list_replies(&ticket).await.expect("replies");
    assert_eq!(
        updated
            .iter()
            .map(|t| &t.activity.ticket)
            .collect::<Vec<_>>(),
        [&ticket]
    );
    assert_eq!(replies.last().map(|r| r.author), Some(ReplyAuthor::Agent));
    assert!(sim.deliveries().is_empty());
}
