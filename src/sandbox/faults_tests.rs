//! Each fault kind against a tiny router whose one handler counts the work it did.

use super::{Fault, RetryHeader, SimProfile};
use crate::sandbox::server::SimServer;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn error_body(status: StatusCode, messages: &[String]) -> Response {
    let messages = if messages.is_empty() {
        vec!["Tiny failure".to_owned()]
    } else {
        messages.to_vec()
    };
    (status, axum::Json(json!({"tiny_error": messages}))).into_response()
}

static TINY: SimProfile = SimProfile {
    name: "tiny",
    api_root: "/api/",
    error_body,
    retry_header: RetryHeader::RetryAfterSeconds,
    default_retry_after: Duration::from_secs(1),
};

static TINY_RESET: SimProfile = SimProfile {
    retry_header: RetryHeader::RateLimitReset,
    default_retry_after: Duration::from_secs(2),
    ..TINY
};

/// A server with `POST /api/work` (201, counts its calls) and `POST /api/other`.
struct Tiny {
    server: SimServer,
    work_done: Arc<AtomicUsize>,
    base_url: String,
    http: reqwest::Client,
}

impl Tiny {
    async fn start(profile: &'static SimProfile) -> Tiny {
        crate::startup::install_crypto_provider();
        let work_done = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&work_done);
        let (server, base_url) = SimServer::start(0, profile, move |base_url| {
            let work = move || async move {
                counter.fetch_add(1, Ordering::SeqCst);
                (StatusCode::CREATED, "done")
            };
            let router = Router::new()
                .route("/api/work", post(work))
                .route("/api/other", post(|| async { "other" }));
            (router, base_url)
        })
        .await
        .expect("tiny server starts");
        Tiny {
            server,
            work_done,
            base_url,
            http: reqwest::Client::new(),
        }
    }

    fn faults(&self) -> &super::FaultTable {
        self.server.faults()
    }

    async fn post(&self, path: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base_url))
            .send()
            .await
            .expect("answered")
    }

    async fn status(&self, path: &str) -> u16 {
        self.post(path).await.status().as_u16()
    }

    fn work_done(&self) -> usize {
        self.work_done.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn fail_next_answers_the_status_n_times_without_doing_the_work() {
    let tiny = Tiny::start(&TINY).await;
    tiny.faults()
        .inject(Fault::fail("post", "work", 503).times(2));
    let failed = tiny.post("/api/work").await;
    assert_eq!(failed.status(), 503);
    assert!(
        failed.headers().get("retry-after").is_none(),
        "only 429 gets a default hint"
    );
    let body: Value = failed.json().await.unwrap();
    assert_eq!(body, json!({"tiny_error": ["Tiny failure"]}));
    assert_eq!(
        tiny.status("/api/other").await,
        200,
        "another path is not failed"
    );
    assert_eq!(tiny.status("/api/work").await, 503);
    assert_eq!(tiny.work_done(), 0);
    assert_eq!(tiny.status("/api/work").await, 201);
    assert_eq!(tiny.work_done(), 1);
}

#[tokio::test]
async fn a_lost_answer_does_the_work_then_answers_the_status() {
    let tiny = Tiny::start(&TINY).await;
    tiny.faults()
        .inject(Fault::lose_answer("POST", "/api/work", 502));
    assert_eq!(tiny.status("/api/work").await, 502);
    assert_eq!(tiny.work_done(), 1, "the handler ran");
    assert_eq!(tiny.status("/api/work").await, 201);
    assert_eq!(tiny.work_done(), 2);
}

#[tokio::test]
async fn retry_hints_follow_the_vendors_header() {
    let tiny = Tiny::start(&TINY).await;
    tiny.faults().inject(Fault::fail("POST", "work", 429));
    tiny.faults()
        .inject(Fault::fail("POST", "work", 503).retry_after(Duration::from_millis(2500)));
    let limited = tiny.post("/api/work").await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "1", "the default hint");
    let unavailable = tiny.post("/api/work").await;
    assert_eq!(unavailable.status(), 503);
    assert_eq!(
        unavailable.headers()["retry-after"],
        "3",
        "rounded up to seconds"
    );

    let reset = Tiny::start(&TINY_RESET).await;
    reset.faults().inject(Fault::fail("POST", "work", 429));
    let limited = reset.post("/api/work").await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().get("retry-after").is_none());
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    let at: i64 = limited.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let ahead = at - chrono::Utc::now().timestamp();
    assert!((1..=2).contains(&ahead), "reset {ahead} s ahead");
}

#[tokio::test]
async fn fault_texts_go_into_the_vendors_error_body() {
    let tiny = Tiny::start(&TINY).await;
    tiny.faults()
        .inject(Fault::fail("POST", "work", 422).messages(&["text is too long", "again"]));
    let refused = tiny.post("/api/work").await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body, json!({"tiny_error": ["text is too long", "again"]}));
}

#[tokio::test]
async fn the_first_matching_fault_fires_first_and_clear_forgets_the_rest() {
    let tiny = Tiny::start(&TINY).await;
    tiny.faults()
        .inject(Fault::fail("GET", "work", 500).times(5));
    tiny.faults().inject(Fault::fail("POST", "work", 500));
    tiny.faults()
        .inject(Fault::fail("POST", "work", 400).times(9));
    assert_eq!(
        tiny.status("/api/work").await,
        500,
        "another method's fault is skipped"
    );
    assert_eq!(tiny.status("/api/work").await, 400);
    tiny.faults().clear();
    assert_eq!(tiny.status("/api/work").await, 201);
    tiny.faults()
        .inject(Fault::fail("POST", "work", 500).times(0));
    assert_eq!(
        tiny.status("/api/work").await,
        201,
        "zero times never fires"
    );
}

#[tokio::test]
async fn requests_are_counted_by_method_and_path_prefix() {
    let tiny = Tiny::start(&TINY).await;
    tiny.faults().inject(Fault::fail("POST", "work", 503));
    for path in ["/api/work", "/api/work", "/api/other", "/elsewhere"] {
        tiny.post(path).await;
    }
    let faults = tiny.faults();
    assert_eq!(
        faults.request_count("POST", "work"),
        2,
        "failed ones included"
    );
    assert_eq!(faults.request_count("post", "/api/work"), 2);
    assert_eq!(faults.request_count("POST", "/api/"), 3);
    assert_eq!(faults.request_count("POST", "/"), 4, "unknown routes too");
    assert_eq!(faults.request_count("GET", "/"), 0);
}

#[tokio::test]
async fn a_delay_holds_every_request_until_it_is_reset() {
    let tiny = Tiny::start(&TINY).await;
    let delay = Duration::from_millis(400);
    tiny.faults().set_delay(delay);
    tiny.faults().inject(Fault::fail("POST", "work", 503));
    let started = Instant::now();
    assert_eq!(tiny.status("/api/work").await, 503, "failures wait too");
    assert_eq!(tiny.status("/api/other").await, 200);
    assert!(started.elapsed() >= delay * 2, "{:?}", started.elapsed());
    tiny.faults().clear();
    let started = Instant::now();
    tiny.status("/api/other").await;
    assert!(started.elapsed() >= delay, "clear keeps the delay");
    tiny.faults().set_delay(Duration::ZERO);
    let started = Instant::now();
    tiny.status("/api/other").await;
    assert!(started.elapsed() < delay, "{:?}", started.elapsed());
}

#[tokio::test]
async fn the_server_stops_when_dropped() {
    let tiny = Tiny::start(&TINY).await;
    let address = tiny.server.address();
    assert_eq!(tiny.status("/api/other").await, 200);
    drop(tiny);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(address).await.is_ok() {
        assert!(Instant::now() < deadline, "still listening on {address}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
