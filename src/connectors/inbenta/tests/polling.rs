//! Updated tickets: the query sent, tolerance of deployments that ignore it, and paging.

use super::{client_for, mount_auth, server_answering};
use crate::connectors::TicketConnector;
use crate::connectors::inbenta::convert::TicketSummary;
use crate::connectors::inbenta::polling::PAGE_LENGTH;
use crate::domain::ActivitySubject;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("time")
}

fn ids(list: &[TicketSummary]) -> Vec<&str> {
    list.iter().map(|t| t.id.as_str()).collect()
}

#[tokio::test]
async fn updated_tickets_are_asked_for_sorted_by_last_update_from_the_cursor() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    Mock::given(method("GET"))
        .and(path("/prod/ticketing/v1/tickets"))
        .and(query_param("sort", "last_update"))
        .and(query_param("order", "asc"))
        .and(query_param("last_update_from", "1717000000"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": [
            { "id": 11, "status": 1, "last_update": 1_717_000_100 },
            { "id": 12, "status": { "id": 3, "name": "Closed" }, "last_update": 1_717_000_200 },
        ]})))
        .expect(1)
        .mount(&server)
        .await;

    let updated = client_for(&server)
        .tickets_updated_after(at(1_717_000_000))
        .await
        .expect("polled");

    assert_eq!(ids(&updated), ["11", "12"]);
    assert_eq!(updated[0].status, Some(1));
    assert_eq!(updated[1].status, Some(3));
    assert_eq!(updated[1].last_update, at(1_717_000_200));
}

#[tokio::test]
async fn updated_tickets_become_ticket_changes_keyed_by_time_and_status() {
    let server = server_answering(
        "GET",
        "/v1/tickets",
        ResponseTemplate::new(200).set_body_json(json!({ "data": [
            { "id": 12, "status": { "id": 3, "name": "Closed" }, "last_update": 1_717_000_200 },
        ]})),
    )
    .await;

    let changes = client_for(&server)
        .updated_tickets(at(1_717_000_000))
        .await
        .expect("polled");

    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].activity.ticket.as_str(), "12");
    assert_eq!(changes[0].activity.subject, ActivitySubject::Ticket);
    assert_eq!(changes[0].occurred_at, at(1_717_000_200));
    assert_eq!(
        changes[0].dedupe_key,
        "inbenta:ticket:12:update:1717000200000:3"
    );
}

#[tokio::test]
async fn tickets_are_filtered_and_sorted_here_when_the_api_ignores_the_query() {
    let server = server_answering(
        "GET",
        "/v1/tickets",
        ResponseTemplate::new(200).set_body_json(json!([
            { "id": "T-3", "status": "2", "last_update": "2024-05-29T16:30:00Z" },
            { "id": "T-1", "last_update": 1_716_000_000 },
            { "id": "T-2", "last_update": 1_717_000_100_000_i64 },
            { "id": "T-0", "last_update": 1_717_000_000 },
            { "id": "T-4" },
            { "title": "no id", "last_update": 1_717_000_500 },
        ])),
    )
    .await;

    let updated = client_for(&server)
        .tickets_updated_after(at(1_717_000_000))
        .await
        .expect("polled");

    assert_eq!(
        ids(&updated),
        ["T-2", "T-3"],
        "strictly after the cursor, oldest first; unreadable entries skipped"
    );
    assert_eq!(updated[1].status, Some(2));
}

#[tokio::test]
async fn full_pages_are_followed_from_their_newest_change() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    let full_page: Vec<Value> = (0..PAGE_LENGTH as i64)
        .map(|n| json!({ "id": 100 + n, "last_update": 1_717_000_001 + n }))
        .collect();
    let newest_of_page = 1_717_000_000 + PAGE_LENGTH as i64;
    Mock::given(method("GET"))
        .and(path("/prod/ticketing/v1/tickets"))
        .and(query_param("last_update_from", "1717000000"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": full_page })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/prod/ticketing/v1/tickets"))
        .and(query_param("last_update_from", newest_of_page.to_string()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": [
            { "id": 100 + PAGE_LENGTH as i64 - 1, "last_update": newest_of_page },
            { "id": 999, "last_update": newest_of_page + 50 },
        ]})))
        .expect(1)
        .mount(&server)
        .await;

    let updated = client_for(&server)
        .tickets_updated_after(at(1_717_000_000))
        .await
        .expect("polled");

    assert_eq!(
        updated.len(),
        PAGE_LENGTH + 1,
        "the repeated ticket is listed once"
    );
    assert_eq!(updated[0].id.as_str(), "100");
    assert_eq!(updated[PAGE_LENGTH].id.as_str(), "999");
}

#[tokio::test]
async fn paging_stops_when_the_api_repeats_the_same_page() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    let page: Vec<Value> = (0..PAGE_LENGTH as i64)
        .map(|n| json!({ "id": n, "last_update": 1_717_000_001 }))
        .collect();
    Mock::given(method("GET"))
        .and(path("/prod/ticketing/v1/tickets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": page })))
        // The first page; the same second again; its page 2 (also the same): stop.
        .expect(3)
        .mount(&server)
        .await;

    let updated = client_for(&server)
        .tickets_updated_after(at(1_717_000_000))
        .await
        .expect("polled");

    assert_eq!(updated.len(), PAGE_LENGTH);
}

#[tokio::test]
async fn more_than_a_page_of_tickets_in_one_second_is_read_whole() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    let tickets = |range: std::ops::Range<i64>| -> Vec<Value> {
        range
            .map(|n| json!({ "id": n, "last_update": 1_717_000_001 }))
            .collect()
    };
    Mock::given(method("GET"))
        .and(path("/prod/ticketing/v1/tickets"))
        .and(query_param("page", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "data": tickets(0..PAGE_LENGTH as i64) })),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/prod/ticketing/v1/tickets"))
        .and(query_param("page", "2"))
        .and(query_param("last_update_from", "1717000001"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({ "data": tickets(PAGE_LENGTH as i64..PAGE_LENGTH as i64 + 30) }),
            ),
        )
        .mount(&server)
        .await;

    let updated = client_for(&server)
        .tickets_updated_after(at(1_717_000_000))
        .await
        .expect("polled");

    assert_eq!(
        updated.len(),
        PAGE_LENGTH + 30,
        "a burst in one second is read whole"
    );
}
