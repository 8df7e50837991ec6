//! Request bodies we send and the answer shapes we tolerate.

use super::{client_for, config_for, customer_ticket, mount_auth, server_answering};
use crate::connectors::inbenta::{InbentaClient, MAX_ATTACHMENT_BYTES};
use crate::connectors::{ConnectorError, NewReply, TicketConnector};
use crate::domain::{ExternalId, MediaFile, ReplyAuthor, TicketState};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn ticket_is_created_with_numeric_creator_and_without_absent_optionals() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    Mock::given(method("POST"))
        .and(path("/prod/ticketing/v1/tickets"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "title": "WhatsApp +62 812",
            "creator": 1234,
            "message": "<p>Hello</p>",
            "attachments": ["media-1"],
            "external_id": "wa:chan:62812",
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "full_uuid": "T-0042" })))
        .expect(1)
        .mount(&server)
        .await;

    let id = client_for(&server)
        .create_ticket(&customer_ticket())
        .await
        .expect("created");

    assert_eq!(id, ExternalId::new("T-0042"));
}

#[tokio::test]
async fn created_ids_are_read_as_numbers_strings_or_wrapped() {
    for (answer, expected) in [
        (json!({ "uuid": 1234, "hash_uuid": "ab12" }), "1234"),
        (json!({ "id": "u-9" }), "u-9"),
        (json!({ "data": { "id": 55 } }), "55"),
        (json!({ "full_uuid": "F-1" }), "F-1"),
    ] {
        let server = server_answering(
            "POST",
            "/v1/users",
            ResponseTemplate::new(201).set_body_json(answer),
        )
        .await;
        let id = client_for(&server)
            .create_user("Ana", "62812@whatsapp.invalid")
            .await
            .expect("created");
        assert_eq!(id.as_str(), expected);
    }
}

#[tokio::test]
async fn answer_without_any_id_is_permanent() {
    let server = server_answering(
        "POST",
        "/v1/users",
        ResponseTemplate::new(201).set_body_json(json!({})),
    )
    .await;

    let err = client_for(&server)
        .create_user("Ana", "a@x.invalid")
        .await
        .expect_err("no id");

    assert!(matches!(err, ConnectorError::Permanent { .. }), "{err:?}");
}

#[tokio::test]
async fn empty_user_list_means_no_user() {
    let server = server_answering(
        "GET",
        "/v1/users",
        ResponseTemplate::new(200).set_body_json(json!({"data": []})),
    )
    .await;

    let user = client_for(&server)
        .find_user("a@x.invalid")
        .await
        .expect("lookup");

    assert_eq!(user, None);
}

#[tokio::test]
async fn user_lookup_never_picks_a_user_with_another_address() {
    let server = server_answering(
        "GET",
        "/v1/users",
        ResponseTemplate::new(200).set_body_json(json!({"data": [
            { "id": 1, "address": "someone@else.invalid" },
            { "id": 2, "address": "A@X.invalid" },
        ]})),
    )
    .await;

    let user = client_for(&server)
        .find_user("a@x.invalid")
        .await
        .expect("lookup");

    assert_eq!(user, Some(ExternalId::new("2")));
}

#[tokio::test]
async fn ticket_lookup_skips_tickets_with_another_external_id() {
    let server = server_answering(
        "GET",
        "/v1/tickets",
        ResponseTemplate::new(200).set_body_json(json!({"data": [
            { "id": 10, "external_id": "other" },
            { "id": 11, "external_id": "wa:chan:62812" },
        ]})),
    )
    .await;

    let ticket = client_for(&server)
        .find_ticket("wa:chan:62812")
        .await
        .expect("lookup");

    assert_eq!(ticket, Some(ExternalId::new("11")));
}

#[tokio::test]
async fn ticket_status_is_read_as_number_numeric_string_or_object() {
    let other = |n: &str| Some(TicketState::Other(n.into()));
    for (status, expected) in [
        (json!(3), Some(TicketState::Closed)),
        (json!(1), Some(TicketState::Open)),
        (json!("2"), other("2")),
        (json!({ "id": 4, "name": "Closed" }), other("4")),
        (json!({ "id": "3" }), Some(TicketState::Closed)),
        (json!("open"), None),
        (json!(null), None),
    ] {
        let server = server_answering(
            "GET",
            "/v1/tickets/42",
            ResponseTemplate::new(200)
                .set_body_json(json!({ "data": { "id": 42, "status": status } })),
        )
        .await;
        let got = client_for(&server)
            .ticket_state(&ExternalId::new("42"))
            .await
            .expect("status");
        assert_eq!(got, expected, "status {status}");
    }
}

#[tokio::test]
async fn ticket_state_is_set_with_a_put_of_the_configured_status() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    for status in [5, 1] {
        Mock::given(method("PUT"))
            .and(path("/prod/ticketing/v1/tickets/42"))
            .and(body_json(json!({ "status": status })))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
    }
    let config = crate::config::InbentaConfig {
        closed_status: 5,
        ..config_for(&server)
    };
    let client = InbentaClient::new(&config).expect("client builds");

    for state in [TicketState::Closed, TicketState::Open] {
        client
            .set_ticket_state(&ExternalId::new("42"), &state)
            .await
            .expect("state set");
    }
    let err = client
        .set_ticket_state(
            &ExternalId::new("42"),
            &TicketState::Other("pending".into()),
        )
        .await
        .expect_err("no number for it");
    assert!(matches!(err, ConnectorError::Permanent { .. }), "{err:?}");
}

#[tokio::test]
async fn replies_are_read_from_a_bare_array_or_wrapped_list() {
    let replies = json!([
        { "id": 1, "type": "reply", "creator": 1234, "message": "hi" },
        { "uuid": "r-2", "type": "answer", "creator": { "id": "9", "name": "Agent" }, "message": "<b>hello</b>" },
        { "type": "answer", "message": "no id, skipped" },
    ]);
    for body in [replies.clone(), json!({ "data": replies })] {
        let server = server_answering(
            "GET",
            "/v1/tickets/42/replies",
            ResponseTemplate::new(200).set_body_json(body),
        )
        .await;
        let listed = client_for(&server)
            .list_replies(&ExternalId::new("42"))
            .await
            .expect("replies");
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].id.as_str(), "1");
        assert_eq!(listed[0].author, ReplyAuthor::Customer);
        assert_eq!(listed[0].creator, Some(ExternalId::new("1234")));
        assert_eq!(listed[1].id.as_str(), "r-2");
        assert_eq!(listed[1].author, ReplyAuthor::Agent);
        assert_eq!(listed[1].creator, Some(ExternalId::new("9")));
        assert_eq!(listed[1].message_html, "<b>hello</b>");
    }
}

#[tokio::test]
async fn reply_is_posted_with_creator_message_and_attachments() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    Mock::given(method("POST"))
        .and(path("/prod/ticketing/v1/tickets/42/replies"))
        .and(body_json(
            json!({ "creator": 1234, "message": "more", "attachments": [] }),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "uuid": 901 })))
        .expect(1)
        .mount(&server)
        .await;
    let reply = NewReply {
        creator: ExternalId::new("1234"),
        message_html: "more".into(),
        attachments: vec![],
    };

    let id = client_for(&server)
        .add_reply(&ExternalId::new("42"), &reply)
        .await
        .expect("reply added");

    assert_eq!(id.as_str(), "901");
}

#[tokio::test]
async fn media_is_uploaded_as_base64_json() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    Mock::given(method("POST"))
        .and(path("/prod/ticketing/v1/media"))
        .and(body_json(
            json!({ "name": "photo.jpg", "content": "Y29udGVudA==" }),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "uuid": "m-1" })))
        .expect(1)
        .mount(&server)
        .await;
    let file = MediaFile {
        filename: "photo.jpg".into(),
        mime_type: "image/jpeg".into(),
        bytes: b"content".to_vec(),
    };

    let id = client_for(&server)
        .upload_media(&file)
        .await
        .expect("uploaded");

    assert_eq!(id.as_str(), "m-1");
}

#[tokio::test]
async fn media_larger_than_seven_megabytes_is_refused_before_sending() {
    let server = MockServer::start().await;
    let client = client_for(&server);
    let file = MediaFile {
        filename: "movie.mp4".into(),
        mime_type: "video/mp4".into(),
        bytes: vec![0; MAX_ATTACHMENT_BYTES + 1],
    };

    let err = client.upload_media(&file).await.expect_err("too large");

    assert!(
        matches!(err, ConnectorError::Permanent { status: None, .. }),
        "{err:?}"
    );
    assert_eq!(client.max_attachment_bytes(), 7 * 1024 * 1024);
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}
