//! Reply attachments and times in the shapes Inbenta may list them, and downloads: where the
//! file is fetched from, which headers go there, and how it is named and typed.

use super::{API_KEY, client_for, mount_auth, server_answering};
use crate::connectors::{ConnectorError, TicketAttachment, TicketConnector};
use crate::domain::ExternalId;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn attachment(id: &str, url: Option<String>) -> TicketAttachment {
    TicketAttachment {
        id: ExternalId::new(id),
        name: None,
        mime_type: None,
        url,
        size: None,
    }
}

#[tokio::test]
async fn reply_attachments_and_times_are_read_in_every_known_shape() {
    let server = server_answering(
        "GET",
        "/v1/tickets/42/replies",
        ResponseTemplate::new(200).set_body_json(json!({ "data": [
            { "id": 1, "type": "answer", "message": "uuids",
              "attachments": ["m-1", "m-2"], "creation_date": 1_717_000_000 },
            { "id": 2, "type": "answer", "message": "objects",
              "attachments": [{ "id": 9, "name": "a.pdf", "mime_type": "application/pdf",
                                "size": "2048", "url": "https://files.invalid/a.pdf" }],
              "created_at": "2024-05-29T16:26:40Z" },
            { "id": 3, "type": "answer", "message": "millis", "date": 1_717_000_000_000_i64 },
            { "id": 4, "type": "reply", "message": "nothing", "attachments": null },
        ]})),
    )
    .await;

    let replies = client_for(&server)
        .list_replies(&ExternalId::new("42"))
        .await
        .expect("replies");

    let at = chrono::DateTime::from_timestamp(1_717_000_000, 0);
    assert_eq!(replies.len(), 4);
    let ids: Vec<&str> = replies[0]
        .attachments
        .iter()
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(ids, ["m-1", "m-2"]);
    assert_eq!(replies[0].created_at, at);
    let pdf = &replies[1].attachments[0];
    assert_eq!(pdf.id.as_str(), "9");
    assert_eq!(pdf.name.as_deref(), Some("a.pdf"));
    assert_eq!(pdf.mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(pdf.size, Some(2048));
    assert_eq!(pdf.url.as_deref(), Some("https://files.invalid/a.pdf"));
    assert_eq!(replies[1].created_at, at);
    assert_eq!(replies[2].created_at, at);
    assert!(replies[3].attachments.is_empty());
    assert_eq!(replies[3].created_at, None);
}

#[tokio::test]
async fn attachment_without_link_is_fetched_from_the_media_endpoint_with_credentials() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    Mock::given(method("GET"))
        .and(path("/prod/ticketing/v1/media/m-1"))
        .and(header("x-inbenta-key", API_KEY))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/png")
                .set_body_bytes(b"png-bytes".to_vec()),
        )
        .expect(1)
        .mount(&server)
        .await;

    let file = client_for(&server)
        .fetch_attachment(&attachment("m-1", None))
        .await
        .expect("downloaded");

    assert_eq!(file.bytes, b"png-bytes");
    assert_eq!(file.mime_type, "image/png");
    assert_eq!(file.filename, "attachment-m-1.png");
}

#[tokio::test]
async fn link_on_another_host_is_fetched_without_inbenta_credentials() {
    let inbenta = MockServer::start().await;
    mount_auth(&inbenta, "token-1", None).await;
    let storage = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/bucket/scan.pdf"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/octet-stream")
                .set_body_bytes(b"%PDF".to_vec()),
        )
        .expect(1)
        .mount(&storage)
        .await;

    let file = client_for(&inbenta)
        .fetch_attachment(&attachment(
            "m-2",
            Some(format!("{}/bucket/scan.pdf", storage.uri())),
        ))
        .await
        .expect("downloaded");

    let request = &storage.received_requests().await.expect("recorded")[0];
    assert!(!request.headers.contains_key("authorization"));
    assert!(!request.headers.contains_key("x-inbenta-key"));
    assert_eq!(file.filename, "scan.pdf");
    assert_eq!(file.mime_type, "application/pdf", "guessed from the name");
}

#[tokio::test]
async fn redirect_from_the_ticketing_host_is_followed_without_credentials() {
    let inbenta = MockServer::start().await;
    mount_auth(&inbenta, "token-1", None).await;
    let storage = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/prod/ticketing/v1/media/m-3"))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/signed/m-3?sig=abc", storage.uri())),
        )
        .expect(1)
        .mount(&inbenta)
        .await;
    Mock::given(method("GET"))
        .and(path("/signed/m-3"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "audio/ogg")
                .insert_header("content-disposition", "attachment; filename=\"voice.ogg\"")
                .set_body_bytes(b"OggS".to_vec()),
        )
        .expect(1)
        .mount(&storage)
        .await;
    let file = client_for(&inbenta)
        .fetch_attachment(&attachment("m-3", None))
        .await
        .expect("downloaded");

    let request = &storage.received_requests().await.expect("recorded")[0];
    assert!(!request.headers.contains_key("authorization"));
    assert!(!request.headers.contains_key("x-inbenta-key"));
    assert_eq!(file.bytes, b"OggS");
    assert_eq!(file.filename, "voice.ogg");
    assert_eq!(file.mime_type, "audio/ogg");
}

#[tokio::test]
async fn announced_name_and_type_are_kept_when_the_answer_is_generic() {
    let server = server_answering(
        "GET",
        "/v1/media/m-4",
        ResponseTemplate::new(200).set_body_bytes(b"data".to_vec()),
    )
    .await;
    let announced = TicketAttachment {
        name: Some("../Quarterly report.xlsx".into()),
        mime_type: Some("application/vnd.ms-excel".into()),
        ..attachment("m-4", None)
    };

    let file = client_for(&server)
        .fetch_attachment(&announced)
        .await
        .expect("downloaded");

    assert_eq!(file.filename, "Quarterly report.xlsx");
    assert_eq!(file.mime_type, "application/vnd.ms-excel");
}

#[tokio::test]
async fn attachment_announced_larger_than_the_limit_is_not_downloaded() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    let client = client_for(&server).with_max_download_bytes(10);
    let large = TicketAttachment {
        size: Some(11),
        ..attachment("m-5", None)
    };

    let err = client
        .fetch_attachment(&large)
        .await
        .expect_err("too large");

    assert!(
        matches!(err, ConnectorError::Permanent { status: None, .. }),
        "{err:?}"
    );
    assert_eq!(
        super::requests_to(&server, "/prod/ticketing/v1/media/m-5").await,
        0
    );
}

#[tokio::test]
async fn download_larger_than_the_limit_is_refused() {
    let server = server_answering(
        "GET",
        "/v1/media/m-6",
        ResponseTemplate::new(200).set_body_bytes(vec![0_u8; 11]),
    )
    .await;

    let err = client_for(&server)
        .with_max_download_bytes(10)
        .fetch_attachment(&attachment("m-6", None))
        .await
        .expect_err("too large");

    assert!(
        err.to_string().contains("larger than the 10 bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn missing_media_is_not_found() {
    let server = server_answering(
        "GET",
        "/v1/media/gone",
        ResponseTemplate::new(404).set_body_json(json!({ "message": "Media not found" })),
    )
    .await;

    let err = client_for(&server)
        .fetch_attachment(&attachment("gone", None))
        .await
        .expect_err("404");

    assert!(matches!(err, ConnectorError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("Media not found"));
}
