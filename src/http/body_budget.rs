//! Request bodies in memory: each is read whole before its handler runs, against a deadline
//! (`server.body_read_timeout`) and a shared budget of bytes (`server.max_body_bytes_in_flight`)
//! held until the handler has answered, so concurrent large webhooks cannot take unbounded memory.

use super::refusal::json_refusal;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget counts in KiB, so that a permit count fits the semaphore's `u32` requests.
const UNIT: usize = 1024;
/// Seconds a client is told to wait after a 503 for lack of budget.
const RETRY_AFTER_SECS: u64 = 1;
/// Initial buffer for a body of unknown length (chunked); it grows up to `max_body_bytes`.
const CHUNKED_START: usize = 64 * 1024;

#[derive(Clone)]
pub struct BodyLimits {
    max_body_bytes: usize,
    read_timeout: Duration,
    budget: Arc<Semaphore>,
}

/// What the head says about the body.
#[derive(Debug, PartialEq, Eq)]
enum Declared {
    Empty,
    Length(usize),
    Chunked,
}

impl BodyLimits {
    /// `in_flight_bytes` is at least `max_body_bytes` (checked with the settings).
    pub fn new(max_body_bytes: usize, in_flight_bytes: usize, read_timeout: Duration) -> Self {
        let units = units(in_flight_bytes.max(max_body_bytes));
        Self {
            max_body_bytes,
            read_timeout,
            budget: Arc::new(Semaphore::new(units as usize)),
        }
    }

    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Room for `bytes` of body, waiting at most `wait` for others to give theirs back.
    async fn reserve(&self, bytes: usize, wait: Duration) -> Option<OwnedSemaphorePermit> {
        let wanted = units(bytes.min(self.max_body_bytes));
        let acquire = Arc::clone(&self.budget).acquire_many_owned(wanted);
        tokio::time::timeout(wait, acquire).await.ok()?.ok()
    }

    #[cfg(test)]
    fn available_bytes(&self) -> usize {
        self.budget.available_permits() * UNIT
    }
}

fn units(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX)
}

fn declared(headers: &HeaderMap) -> Declared {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return Declared::Chunked;
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    match length {
        Some(0) | None => Declared::Empty,
        Some(n) => Declared::Length(n),
    }
}

/// Middleware: buffer the body within the deadline and the budget, then run the handler.
pub(super) async fn bounded_body(
    State(limits): State<BodyLimits>,
    request: Request,
    next: Next,
) -> Response {
    // What to reserve, and what to allocate before the first byte.
    let (reserve, capacity) = match declared(request.headers()) {
        Declared::Empty => return next.run(request).await,
        Declared::Length(n) if n > limits.max_body_bytes => {
            return refuse_after_discarding(request.into_body(), n, &limits).await;
        }
        Declared::Length(n) => (n, n),
        Declared::Chunked => (limits.max_body_bytes, CHUNKED_START),
    };
    let Some(mut permit) = limits.reserve(reserve, limits.read_timeout).await else {
        return busy();
    };
    let (parts, body) = request.into_parts();
    let read = read_body(body, capacity, limits.max_body_bytes);
    let bytes = match tokio::time::timeout(limits.read_timeout, read).await {
        Err(_) => return timed_out(&limits),
        Ok(Err(ReadError::TooLarge)) => return too_large(&limits),
        Ok(Err(ReadError::Broken(err))) => return unreadable(&err),
        Ok(Ok(bytes)) => bytes,
    };
    // A chunked body reserved the most it could be: give back what it did not use.
    let used = units(bytes.len()) as usize;
    if permit.num_permits() > used {
        drop(permit.split(permit.num_permits() - used));
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    // Held until the answer is sent (or dropped), after the handler let go of the body.
    response.map(|body| {
        Body::new(Held {
            body,
            _permit: permit,
        })
    })
}

enum ReadError {
    TooLarge,
    Broken(axum::Error),
}

async fn read_body(body: Body, capacity: usize, max: usize) -> Result<Bytes, ReadError> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::with_capacity(capacity.min(max));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(ReadError::Broken)?;
        if buf.len() + chunk.len() > max {
            discard(stream, buf.len() + chunk.len(), max).await;
            return Err(ReadError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// Bodies over the limit are read and thrown away up to this many times the limit, so the
/// client, still sending, gets to read the 413 instead of a broken pipe; beyond it the
/// connection is simply closed.
const DISCARD_FACTOR: usize = 4;

/// Read and drop the rest of a body that is over the limit (within [`DISCARD_FACTOR`]).
async fn discard(mut stream: axum::body::BodyDataStream, mut seen: usize, max: usize) {
    let cap = max.saturating_mul(DISCARD_FACTOR);
    while seen <= cap {
        match stream.next().await {
            Some(Ok(chunk)) => seen += chunk.len(),
            _ => return,
        }
    }
}

/// A declared body over the limit: drain it (bounded, within the read timeout), then 413.
async fn refuse_after_discarding(body: Body, declared: usize, limits: &BodyLimits) -> Response {
    if declared <= limits.max_body_bytes.saturating_mul(DISCARD_FACTOR) {
        let stream = body.into_data_stream();
        let _ = tokio::time::timeout(
            limits.read_timeout,
            discard(stream, 0, limits.max_body_bytes),
        )
        .await;
    }
    too_large(limits)
}

/// The answer's body, keeping the request's share of the budget until it is dropped.
struct Held {
    body: Body,
    _permit: OwnedSemaphorePermit,
}

impl HttpBody for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A refusal after which the rest of the body is not read: the connection cannot be reused.
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn too_large(limits: &BodyLimits) -> Response {
    crate::metrics::body_refused("too_large");
    closing(json_refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "the body is larger than server.max_body_bytes ({} bytes)",
            limits.max_body_bytes
        ),
    ))
}

fn timed_out(limits: &BodyLimits) -> Response {
    crate::metrics::body_refused("timeout");
    tracing::warn!(
        timeout = ?limits.read_timeout,
        "Request refused: its body did not arrive within server.body_read_timeout."
    );
    closing(json_refusal(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!(
            "the body did not arrive within {}",
            humantime::format_duration(limits.read_timeout)
        ),
    ))
}

fn unreadable(err: &axum::Error) -> Response {
    closing(json_refusal(
        StatusCode::BAD_REQUEST,
        "unreadable_body",
        format!("the body could not be read: {err}"),
    ))
}

fn busy() -> Response {
    crate::metrics::body_refused("busy");
    tracing::warn!(
        "Request answered 503: server.max_body_bytes_in_flight stayed full for server.body_read_timeout."
    );
    let mut response = closing(json_refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "too many request bodies in memory; retry later".to_owned(),
    ));
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

#[cfg(test)]
mod tests;
