//! What the simulator does: typed replies with attachments and times, media downloads,
//! `last_update` sorting and filtering, webhook registration and (paused) deliveries.

use super::{Caller, deliveries_after, first_error_code, register, webhook_receiver};
use crate::sandbox::inbenta::{AGENT_USER_ID, API_KEY};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn replies_are_typed_by_who_wrote_them() {
    let caller = Caller::start().await;
    let user = caller.new_user().await;
    let ticket = caller.new_ticket(user).await;

    let (status, _) = caller
        .post(
            &format!("/v1/tickets/{ticket}/replies"),
            json!({ "creator": user, "message": "more" }),
        )
        .await;
    assert_eq!(status, 201);
    caller
        .sim
        .add_agent_answer(ticket, "<p>on it</p>")
        .expect("ticket exists");

    let (_, listed) = caller.get(&format!("/v1/tickets/{ticket}/replies")).await;
    assert_eq!(listed["data"][0]["type"], "reply");
    assert_eq!(listed["data"][1]["type"], "answer");
    assert_eq!(listed["data"][1]["creator"]["id"], AGENT_USER_ID);
}

#[tokio::test]
async fn tickets_are_found_by_external_id() {
    let caller = Caller::start().await;
    let user = caller.new_user().await;
    let ticket = caller.new_ticket(user).await;

    let (_, found) = caller.get("/v1/tickets?external_id=ext-1").await;
    let (_, missing) = caller.get("/v1/tickets?external_id=other").await;

    assert_eq!(found["data"][0]["id"], ticket);
    assert_eq!(missing["data"], json!([]));
}

#[tokio::test]
async fn injected_failures_answer_then_stop() {
    let caller = Caller::start().await;
    caller
        .sim
        .fail_next("GET", "/prod/ticketing/v1/users", 429, 1);

    let response = caller
        .http
        .get(caller.url("/v1/users"))
        .header("x-inbenta-key", API_KEY)
        .bearer_auth(&caller.token)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(caller.get("/v1/users").await.0, 200);
    assert_eq!(
        caller.sim.request_count("GET", "/prod/ticketing/v1/users"),
        2
    );
}

#[tokio::test]
async fn injected_failures_speak_inbentas_error_shape() {
    let caller = Caller::start().await;
    caller.sim.fail_next_with_retry_after(
        "GET",
        "/prod/ticketing/v1/users",
        503,
        Duration::from_secs(7),
        1,
    );
    caller
        .sim
        .fail_next_with("GET", "/prod/ticketing/v1/users", 400, &["bad filter"], 1);

    let response = caller
        .http
        .get(caller.url("/v1/users"))
        .header("x-inbenta-key", API_KEY)
        .bearer_auth(&caller.token)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({ "errors": [{ "message": "Injected failure (HTTP 503)", "code": 503 }] })
    );
    let (status, body) = caller.get("/v1/users").await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({ "errors": [{ "message": "bad filter", "code": 400 }] })
    );
}

#[tokio::test]
async fn webhook_is_registered_only_when_the_receiver_echoes_the_challenge() {
    let caller = Caller::start().await;
    let (bad_url, _bad) = webhook_receiver(false).await;
    let (good_url, _good) = webhook_receiver(true).await;

    let (refused, body) = caller
        .post(
            "/v1/webhooks",
            json!({ "item": "reply", "url": bad_url, "secret": "s3cret" }),
        )
        .await;
    let (accepted, _) = caller
        .post(
            "/v1/webhooks",
            json!({ "item": "reply", "url": good_url, "secret": "s3cret" }),
        )
        .await;

    assert_eq!(
        (refused, first_error_code(&body)),
        (400, "webhook_verification_failed")
    );
    assert_eq!(accepted, 201);
    assert_eq!(caller.sim.webhooks().len(), 1);
    let (_, listed) = caller.get("/v1/webhooks").await;
    assert_eq!(listed["data"][0]["url"], good_url.as_str());
}

#[tokio::test]
async fn agent_answer_is_announced_to_reply_webhooks() {
    let caller = Caller::start().await;
    let (url, _receiver) = webhook_receiver(true).await;
    register(&caller, "reply", &url).await;
    let user = caller.new_user().await;
    let ticket = caller.new_ticket(user).await;

    let reply = caller
        .sim
        .add_agent_answer(ticket, "hello")
        .expect("ticket exists");

    let deliveries = deliveries_after(&caller.sim, 1).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, Some(200));
    assert_eq!(deliveries[0].body[0]["id"], reply);
    assert_eq!(deliveries[0].body[0]["item"], "reply");
    assert_eq!(deliveries[0].body[0]["action"], "add");
    assert_eq!(deliveries[0].body[0]["parent"], ticket);
    assert_eq!(deliveries[0].body[0]["actor"], AGENT_USER_ID);
}

#[tokio::test]
async fn replies_posted_through_the_api_are_announced_too() {
    let caller = Caller::start().await;
    let (url, _receiver) = webhook_receiver(true).await;
    register(&caller, "reply", &url).await;
    let user = caller.new_user().await;
    let ticket = caller.new_ticket(user).await;

    let (status, created) = caller
        .post(
            &format!("/v1/tickets/{ticket}/replies"),
            json!({ "creator": user, "message": "from the customer" }),
        )
        .await;
    assert_eq!(status, 201, "{created}");

    let deliveries = deliveries_after(&caller.sim, 1).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].body[0]["actor"], user);
    assert_eq!(deliveries[0].body[0]["parent"], ticket);
    assert_eq!(
        deliveries[0].body[0]["id"].to_string(),
        created["uuid"].as_str().expect("reply id")
    );
}

#[tokio::test]
async fn paused_webhooks_lose_the_deliveries_made_meanwhile() {
    let caller = Caller::start().await;
    let (url, _receiver) = webhook_receiver(true).await;
    register(&caller, "reply", &url).await;
    let user = caller.new_user().await;
    let ticket = caller.new_ticket(user).await;

    caller.sim.pause_webhooks(true);
    let lost = caller.sim.add_agent_answer(ticket, "during the outage");
    caller.sim.pause_webhooks(false);
    let announced = caller.sim.add_agent_answer(ticket, "after the outage");

    let deliveries = deliveries_after(&caller.sim, 1).await;
    let announced_ids: Vec<_> = deliveries.iter().map(|d| d.body[0]["id"].clone()).collect();
    assert_eq!(
        announced_ids,
        vec![json!(announced.expect("ticket exists"))]
    );
    assert!(lost.is_some(), "the answer itself is stored");
    assert_eq!(caller.sim.ticket(ticket).expect("ticket").replies.len(), 2);
}

#[tokio::test]
async fn agent_answer_lists_its_attachment_and_the_file_is_served() {
    let caller = Caller::start().await;
    let user = caller.new_user().await;
    let ticket = caller.new_ticket(user).await;
    let pdf = b"%PDF-1.4 invoice".to_vec();

    caller
        .sim
        .add_agent_answer_with_attachment(
            ticket,
            "<p>your invoice</p>",
            "invoice.pdf",
            "application/pdf",
            pdf.clone(),
        )
        .expect("ticket exists");

    let (_, listed) = caller.get(&format!("/v1/tickets/{ticket}/replies")).await;
    let reply = &listed["data"][0];
    assert_eq!(reply["type"], "answer");
    assert!(reply["creation_date"].as_i64().is_some(), "{reply}");
    let attachment = &reply["attachments"][0];
    assert_eq!(attachment["name"], "invoice.pdf");
    assert_eq!(attachment["size"], pdf.len());
    assert_eq!(attachment["content_type"], "application/pdf");
    let uuid = attachment["uuid"].as_str().expect("uuid");
    assert_eq!(
        attachment["url"].as_str(),
        Some(caller.url(&format!("/v1/media/{uuid}")).as_str())
    );

    let served = caller
        .http
        .get(caller.url(&format!("/v1/media/{uuid}")))
        .header("x-inbenta-key", API_KEY)
        .bearer_auth(&caller.token)
        .send()
        .await
        .expect("answered");
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "application/pdf");
    assert_eq!(served.bytes().await.expect("body").to_vec(), pdf);
}

#[tokio::test]
async fn media_is_served_only_with_a_token_and_only_when_it_exists() {
    let caller = Caller::start().await;
    let (status, uploaded) = caller
        .post(
            "/v1/media",
            json!({ "name": "photo.PNG", "content": "iVBORw0KGgo=" }),
        )
        .await;
    assert_eq!(status, 201);
    let uuid = uploaded["uuid"].as_str().expect("uuid");

    let anonymous = caller
        .http
        .get(caller.url(&format!("/v1/media/{uuid}")))
        .header("x-inbenta-key", API_KEY)
        .send()
        .await
        .expect("answered");
    let (unknown, _) = caller.get("/v1/media/no-such-media").await;
    let served = caller
        .http
        .get(caller.url(&format!("/v1/media/{uuid}")))
        .header("x-inbenta-key", API_KEY)
        .bearer_auth(&caller.token)
        .send()
        .await
        .expect("answered");

    assert_eq!(anonymous.status(), 401);
    assert_eq!(unknown, 404);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(
        caller.sim.media_content(uuid),
        Some(b"\x89PNG\r\n\x1a\n".to_vec())
    );
}

#[tokio::test]
async fn replies_and_status_changes_move_the_tickets_last_update() {
    let caller = Caller::start().await;
    let user = caller.new_user().await;
    let ticket = caller.new_ticket(user).await;
    let created = caller.sim.ticket(ticket).expect("ticket").last_update;

    caller.sim.advance_clock(Duration::from_secs(100));
    caller.sim.add_agent_answer(ticket, "answer");
    let after_answer = caller.sim.ticket(ticket).expect("ticket").last_update;
    caller.sim.advance_clock(Duration::from_secs(100));
    caller.sim.set_ticket_status(ticket, 3);
    let after_close = caller.sim.ticket(ticket).expect("ticket");

    assert!(after_answer >= created + 100, "{created} -> {after_answer}");
    assert!(after_close.last_update >= after_answer + 100);
    assert_eq!(after_close.status, 3);
    assert_eq!(
        after_close.replies[0].created_at, after_answer,
        "the reply's creation_date is the update"
    );
    let (_, listed) = caller.get(&format!("/v1/tickets/{ticket}")).await;
    assert_eq!(listed["last_update"], after_close.last_update);
}

#[tokio::test]
async fn tickets_are_sorted_and_filtered_by_last_update() {
    let caller = Caller::start().await;
    let user = caller.new_user().await;
    let first = caller.new_ticket(user).await;
    let second = caller.new_ticket(user).await;
    caller.sim.advance_clock(Duration::from_secs(100));
    caller.sim.add_agent_answer(first, "first moves last");
    let moved = caller.sim.ticket(first).expect("ticket").last_update;
    let ids = |body: &serde_json::Value| -> Vec<i64> {
        body["data"]
            .as_array()
            .expect("list")
            .iter()
            .map(|t| t["id"].as_i64().expect("id"))
            .collect()
    };

    let (_, by_id) = caller.get("/v1/tickets").await;
    let (_, oldest_first) = caller.get("/v1/tickets?sort=last_update&order=asc").await;
    let (_, newest_first) = caller.get("/v1/tickets?sort=last_update&order=desc").await;
    let (_, from_move) = caller
        .get(&format!(
            "/v1/tickets?sort=last_update&last_update_from={moved}"
        ))
        .await;
    let (_, second_page) = caller
        .get("/v1/tickets?sort=last_update&length=1&page=2")
        .await;
    let (refused, body) = caller.get("/v1/tickets?sort=title").await;

    assert_eq!(ids(&by_id), [first, second]);
    assert_eq!(ids(&oldest_first), [second, first]);
    assert_eq!(ids(&newest_first), [first, second]);
    assert_eq!(ids(&from_move), [first]);
    assert_eq!(ids(&second_page), [first]);
    assert_eq!((refused, first_error_code(&body)), (400, "invalid_sort"));
}
