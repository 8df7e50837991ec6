//! Attachments: download from get.chat, checksum, upload to Inbenta, size limits.

use crate::helpers::{Db, eventually, spawn_app};
use crate::on_both_databases;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn image_webhook(wa_id: &str, wamid: &str, media_id: &str, sha256: &str, caption: &str) -> Value {
    json!({
        "contacts": [{ "profile": { "name": "Pic Sender" }, "wa_id": wa_id }],
        "messages": [{
            "from": wa_id, "id": wamid, "timestamp": "1700000100", "type": "image",
            "image": { "id": media_id, "mime_type": "image/jpeg", "sha256": sha256, "caption": caption }
        }]
    })
}

fn document_webhook(wa_id: &str, wamid: &str, media_id: &str, filename: &str) -> Value {
    json!({
        "contacts": [{ "profile": { "name": "Doc Sender" }, "wa_id": wa_id }],
        "messages": [{
            "from": wa_id, "id": wamid, "timestamp": "1700000200", "type": "document",
            "document": { "id": media_id, "mime_type": "application/pdf", "filename": filename }
        }]
    })
}

on_both_databases!(
    an_image_is_downloaded_checked_and_attached_to_the_ticket,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        let bytes: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        let media_id = env.getchat.add_media(bytes.clone(), "image/jpeg");
        let sha = hex::encode(Sha256::digest(&bytes));
        assert_eq!(
            app.post_getchat(&image_webhook(
                "4919001",
                "wamid.I1",
                &media_id,
                &sha,
                "my broken parcel"
            ))
            .await
            .status(),
            200
        );

        let ticket = eventually("the ticket with its attachment", || async {
            env.inbenta
                .tickets()
                .into_iter()
                .find(|t| !t.attachments.is_empty())
        })
        .await;
        assert!(
            ticket.message.contains("my broken parcel"),
            "{}",
            ticket.message
        );
        assert!(
            ticket.message.contains("Image attached"),
            "{}",
            ticket.message
        );
        let media = env.inbenta.media();
        let uploaded = media
            .iter()
            .find(|m| m.uuid == ticket.attachments[0])
            .expect("uploaded media");
        assert_eq!(uploaded.size_bytes, bytes.len());
        app.stop().await;
    }
);

on_both_databases!(
    a_file_too_large_for_inbenta_becomes_a_note_naming_it,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        let bytes = vec![7u8; 8 * 1024 * 1024];
        let media_id = env.getchat.add_media(bytes, "application/pdf");
        app.post_getchat(&document_webhook(
            "4919002",
            "wamid.I2",
            &media_id,
            "contract.pdf",
        ))
        .await;
        let ticket = eventually("the ticket", || async {
            env.inbenta.tickets().into_iter().next()
        })
        .await;
        assert!(ticket.attachments.is_empty());
        assert!(
            ticket.message.contains("contract.pdf"),
            "{}",
            ticket.message
        );
        assert!(ticket.message.contains("8.0 MB"), "{}", ticket.message);
        assert!(env.inbenta.media().is_empty());
        app.stop().await;
    }
);

on_both_databases!(
    a_checksum_mismatch_is_retried_then_parked_as_a_dead_letter,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        let media_id = env.getchat.add_media(b"real bytes".to_vec(), "image/jpeg");
        let wrong = hex::encode(Sha256::digest(b"other bytes"));
        app.post_getchat(&image_webhook("4919003", "wamid.I3", &media_id, &wrong, ""))
            .await;
        let dead = app.wait_for_dead_letters().await;
        assert_eq!(dead[0]["conversation"], "4919003");
        assert!(
            dead[0]["last_error"].as_str().unwrap().contains("checksum"),
            "{}",
            dead[0]
        );
        assert!(env.inbenta.tickets().is_empty());
        app.stop().await;
    }
);

on_both_databases!(
    a_media_id_too_long_for_any_url_is_refused_and_a_missing_file_becomes_a_note_at_once,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        // Once stored, such an id used to block its conversation for hours as "temporarily
        // unavailable": it is refused at the edge with the field named, and nothing is stored.
        let long_id = "7".repeat(20_000);
        let refused = app
            .post_getchat(&image_webhook("4915888", "wamid.L1", &long_id, "00", "pic"))
            .await;
        assert_eq!(refused.status(), 422);
        let error: Value = refused.json().await.unwrap();
        assert!(
            error["detail"].as_str().unwrap().contains("media id"),
            "{error}"
        );
        // A file get.chat does not have (404) is permanent: the ticket opens at once with a note,
        // no retry.
        let missing = image_webhook("4915888", "wamid.L2", "1234567890", "00", "pic");
        assert_eq!(app.post_getchat(&missing).await.status(), 200);
        let ticket = eventually("the ticket with a note", || async {
            env.inbenta.tickets().into_iter().next()
        })
        .await;
        assert!(ticket.message.contains("pic"), "{}", ticket.message);
        assert_eq!(
            env.getchat.request_count("GET", "media/1234567890"),
            1,
            "asked once, not retried"
        );
        assert!(app.dead_letters().await.is_empty());
        app.stop().await;
    }
);
