//! The body budget and deadline, through a router with the middleware.

use super::*;
use axum::Router;
use axum::routing::post;
use std::convert::Infallible;
use tower::ServiceExt;

const KIB: usize = 1024;

fn limits(max_body: usize, in_flight: usize, timeout: Duration) -> BodyLimits {
    BodyLimits::new(max_body, in_flight, timeout)
}

/// A router echoing the body's length and the budget left while the handler runs.
fn app(limits: &BodyLimits) -> Router {
    let seen = limits.clone();
    Router::new()
        .route(
            "/",
            post(move |body: Bytes| {
                let seen = seen.clone();
                async move { format!("{} {}", body.len(), seen.available_bytes()) }
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            limits.clone(),
            bounded_body,
        ))
}

fn post_with_length(body: Body, length: usize) -> Request {
    Request::post("/")
        .header(header::CONTENT_LENGTH, length)
        .body(body)
        .unwrap()
}

async fn text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 64 * KIB)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn refusal(response: Response) -> (StatusCode, serde_json::Value) {
    let status = response.status();
    let body = text(response).await;
    (status, serde_json::from_str(&body).expect("a JSON refusal"))
}

#[test]
fn the_head_says_how_much_to_reserve() {
    let mut headers = HeaderMap::new();
    assert_eq!(declared(&headers), Declared::Empty);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    assert_eq!(declared(&headers), Declared::Empty);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(5000));
    assert_eq!(declared(&headers), Declared::Length(5000));
    headers.insert(
        header::TRANSFER_ENCODING,
        HeaderValue::from_static("chunked"),
    );
    assert_eq!(declared(&headers), Declared::Chunked);
}

#[tokio::test]
async fn a_body_holds_its_length_of_the_budget_while_its_handler_runs() {
    let limits = limits(8 * KIB, 16 * KIB, Duration::from_secs(5));
    let response = app(&limits)
        .oneshot(post_with_length(Body::from(vec![b'x'; 5000]), 5000))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // 5000 bytes hold 5 KiB (rounded up) while the handler runs…
    assert_eq!(text(response).await, format!("5000 {}", 11 * KIB));
    // …and give it back once the answer is gone.
    assert_eq!(limits.available_bytes(), 16 * KIB);
}

#[tokio::test]
async fn a_chunked_body_reserves_the_limit_then_keeps_only_what_it_used() {
    let limits = limits(8 * KIB, 8 * KIB, Duration::from_secs(5));
    let chunks = futures::stream::iter([
        Ok::<_, Infallible>(Bytes::from(vec![b'a'; 1000])),
        Ok(Bytes::from(vec![b'b'; 1000])),
    ]);
    let request = Request::post("/")
        .header(header::TRANSFER_ENCODING, "chunked")
        .body(Body::from_stream(chunks))
        .unwrap();
    let response = app(&limits).oneshot(request).await.unwrap();
    assert_eq!(text(response).await, format!("2000 {}", 6 * KIB));
    assert_eq!(limits.available_bytes(), 8 * KIB);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_before_it_is_read() {
    let limits = limits(4 * KIB, 8 * KIB, Duration::from_secs(5));
    let response = app(&limits)
        .oneshot(post_with_length(Body::from(vec![b'x'; 5000]), 5000))
        .await
        .unwrap();
    assert_eq!(response.headers()[header::CONNECTION], "close");
    let (status, body) = refusal(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "payload_too_large");
    // Chunked: refused once it grows past the limit.
    let chunks = futures::stream::iter([
        Ok::<_, Infallible>(Bytes::from(vec![b'a'; 3000])),
        Ok(Bytes::from(vec![b'b'; 3000])),
    ]);
    let request = Request::post("/")
        .header(header::TRANSFER_ENCODING, "chunked")
        .body(Body::from_stream(chunks))
        .unwrap();
    let (status, _) = refusal(app(&limits).oneshot(request).await.unwrap()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(limits.available_bytes(), 8 * KIB);
}

/// `elapsed` is the deadline, give or take scheduling.
fn at_deadline(elapsed: Duration, deadline: Duration) {
    assert!(
        elapsed >= deadline && elapsed < deadline + Duration::from_secs(2),
        "{elapsed:?} for a deadline of {deadline:?}"
    );
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_at_the_deadline() {
    let limits = limits(8 * KIB, 8 * KIB, Duration::from_millis(300));
    let first = futures::stream::iter([Ok::<_, Infallible>(Bytes::from_static(b"{\"par"))]);
    let stalled = first.chain(futures::stream::pending());
    let started = tokio::time::Instant::now();
    let response = app(&limits)
        .oneshot(post_with_length(Body::from_stream(stalled), 100))
        .await
        .unwrap();
    at_deadline(started.elapsed(), Duration::from_millis(300));
    assert_eq!(response.headers()[header::CONNECTION], "close");
    let (status, body) = refusal(response).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(body["code"], "request_timeout");
    assert_eq!(limits.available_bytes(), 8 * KIB);
}

#[tokio::test]
async fn without_room_in_the_budget_a_request_waits_then_gets_503_with_retry_after() {
    let limits = limits(8 * KIB, 8 * KIB, Duration::from_millis(300));
    // One body holds the whole budget while it trickles in.
    let held = futures::stream::iter([Ok::<_, Infallible>(Bytes::from(vec![b'x'; 100]))])
        .chain(futures::stream::pending());
    let holder =
        tokio::spawn(app(&limits).oneshot(post_with_length(Body::from_stream(held), 8 * KIB)));
    while limits.available_bytes() > 0 {
        tokio::task::yield_now().await;
    }
    let started = tokio::time::Instant::now();
    let response = app(&limits)
        .oneshot(post_with_length(Body::from(vec![b'y'; 10]), 10))
        .await
        .unwrap();
    at_deadline(started.elapsed(), Duration::from_millis(300));
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    let (status, body) = refusal(response).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "busy");
    let _ = holder.await;
}

#[tokio::test]
async fn a_waiting_request_goes_on_when_room_is_given_back() {
    let limits = limits(8 * KIB, 8 * KIB, Duration::from_secs(10));
    let permit = limits
        .reserve(8 * KIB, Duration::from_secs(1))
        .await
        .unwrap();
    let waiting =
        tokio::spawn(app(&limits).oneshot(post_with_length(Body::from(vec![b'y'; 10]), 10)));
    // It is queued for the budget (the semaphore counts it as waiting only by effect: give it
    // time to get there, then check it has not answered).
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "waits while the budget is taken");
    drop(permit);
    let response = waiting.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn requests_without_a_body_never_wait_for_the_budget() {
    let limits = limits(8 * KIB, 8 * KIB, Duration::from_secs(10));
    let _all = limits
        .reserve(8 * KIB, Duration::from_secs(1))
        .await
        .unwrap();
    let request = Request::post("/").body(Body::empty()).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(1), app(&limits).oneshot(request))
        .await
        .expect("not held up by the budget")
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}
