//! One accepted connection: HTTP/1.1 served by hyper, with a deadline for each request head
//! (from accept for a new connection, from the first byte on a kept-alive one) and for idling
//! between requests. Body deadlines are the router's (`super::super::body_budget`).

use super::registry::Slot;
use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// After a connection is told to close, how long an answer still being written may take.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// hyper's read buffer per connection, which also bounds a request head (a larger one is
/// answered 431): 1,024 connections sending heads hold at most 64 MiB.
const READ_BUFFER_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) header_read: Duration,
    pub(crate) idle: Duration,
}

/// What a connection is doing, for its deadline and for eviction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for a request head: since accept (`fresh`) or since its last answer.
    Waiting {
        since: Instant,
        first_byte: Option<Instant>,
        fresh: bool,
    },
    /// This many requests are being answered.
    Busy(usize),
}

impl Phase {
    /// When the connection is closed if nothing changes; `None` while requests are answered.
    pub(super) fn deadline(&self, timeouts: &Timeouts) -> Option<Instant> {
        match *self {
            Phase::Busy(_) => None,
            Phase::Waiting { since, fresh, .. } if fresh => Some(since + timeouts.header_read),
            Phase::Waiting {
                first_byte: Some(at),
                ..
            } => Some(at + timeouts.header_read),
            Phase::Waiting { since, .. } => Some(since + timeouts.idle),
        }
    }
}

/// Shared between the connection's task, its I/O, its requests and the registry.
pub(crate) struct Activity {
    phase: Mutex<Phase>,
    /// The phase changed in a way that moves the deadline.
    changed: tokio::sync::Notify,
    /// The registry wants this connection closed (the limit was reached).
    evict: tokio::sync::Notify,
}

impl Activity {
    pub(crate) fn new(accepted: Instant) -> Arc<Self> {
        Arc::new(Self {
            phase: Mutex::new(Phase::Waiting {
                since: accepted,
                first_byte: None,
                fresh: true,
            }),
            changed: tokio::sync::Notify::new(),
            evict: tokio::sync::Notify::new(),
        })
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        // The phase is plain data: a panic elsewhere cannot leave it half-written.
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// No request is being answered (it may be sending a head, or nothing).
    pub(crate) fn is_idle(&self) -> bool {
        matches!(*self.phase(), Phase::Waiting { .. })
    }

    pub(crate) fn evict(&self) {
        self.evict.notify_one();
    }

    fn deadline(&self, timeouts: &Timeouts) -> Option<Instant> {
        self.phase().deadline(timeouts)
    }

    /// Bytes arrived: on a kept-alive connection the next request's head has begun.
    fn bytes_read(&self) {
        let mut phase = self.phase();
        if let Phase::Waiting {
            first_byte: first @ None,
            fresh: false,
            ..
        } = &mut *phase
        {
            *first = Some(Instant::now());
            self.changed.notify_one();
        }
    }

    /// Wait until the registry wants this connection closed.
    #[cfg(test)]
    pub(super) async fn evicted(&self) {
        self.evict.notified().await;
    }

    pub(super) fn request_started(&self) {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            Phase::Waiting { .. } => Phase::Busy(1),
        };
    }

    fn request_finished(&self) {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Waiting {
                since: Instant::now(),
                first_byte: None,
                fresh: false,
            },
        };
        self.changed.notify_one();
    }
}

/// Serve one connection until the client closes it, a deadline passes, the registry evicts it
/// or the server stops (then answers in progress finish first).
pub(crate) async fn serve(
    stream: TcpStream,
    router: Router,
    activity: Arc<Activity>,
    slot: Slot,
    timeouts: Timeouts,
    shutdown: CancellationToken,
) {
    let io = TokioIo::new(Watched {
        io: stream,
        activity: activity.clone(),
    });
    let service = Tracked {
        router,
        activity: activity.clone(),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Head deadlines are ours (hyper's would also count the idle time between requests).
    builder
        .keep_alive(true)
        .header_read_timeout(None)
        .max_buf_size(READ_BUFFER_BYTES);
    let mut conn = pin!(builder.serve_connection(io, service));
    let mut stopping = false;
    let reason = loop {
        let deadline = activity.deadline(&timeouts);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, "Connection ended with an error.");
                }
                return;
            }
            _ = activity.changed.notified() => {}
            _ = sleep_until(deadline) => {
                if activity.deadline(&timeouts).is_some_and(|d| d <= Instant::now()) {
                    break "deadline";
                }
            }
            _ = activity.evict.notified() => break "evicted",
            _ = shutdown.cancelled(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    };
    tracing::debug!(reason, "Closing connection.");
    crate::metrics::connection_closed(reason);
    drop(slot);
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(CLOSE_GRACE, conn).await;
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The socket, reporting reads to the connection's [`Activity`].
struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_read();
        }
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The router, marking the connection busy while it answers.
struct Tracked {
    router: Router,
    activity: Arc<Activity>,
}

/// Busy from the request's head until its answer is ready (also if the client goes away).
struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<axum::response::Response, Infallible>> + Send>>;

impl hyper::service::Service<hyper::Request<Incoming>> for Tracked {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        self.activity.request_started();
        let guard = RequestGuard(self.activity.clone());
        let router = self.router.clone();
        Box::pin(async move {
            let _guard = guard;
            tower::ServiceExt::oneshot(router, request.map(Body::new)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    #[test]
    fn each_phase_has_its_deadline() {
        let t0 = Instant::now();
        let waiting = |first_byte, fresh| Phase::Waiting {
            since: t0,
            first_byte,
            fresh,
        };
        // New connection: its first head is due a head timeout after accept, bytes or not.
        assert_eq!(
            waiting(None, true).deadline(&TIMEOUTS),
            Some(t0 + TIMEOUTS.header_read)
        );
        let later = t0 + Duration::from_secs(5);
        assert_eq!(
            waiting(Some(later), true).deadline(&TIMEOUTS),
            Some(t0 + TIMEOUTS.header_read)
        );
        // Kept alive: idle until the next head begins, then a head timeout from its first byte.
        assert_eq!(
            waiting(None, false).deadline(&TIMEOUTS),
            Some(t0 + TIMEOUTS.idle)
        );
        assert_eq!(
            waiting(Some(later), false).deadline(&TIMEOUTS),
            Some(later + TIMEOUTS.header_read)
        );
        assert_eq!(Phase::Busy(1).deadline(&TIMEOUTS), None);
    }

    #[test]
    fn a_kept_alive_connection_idles_from_its_last_answer_until_its_next_first_byte() {
        let activity = Activity::new(Instant::now());
        activity.request_started();
        assert_eq!(activity.deadline(&TIMEOUTS), None);
        assert!(!activity.is_idle());
        let before = Instant::now();
        activity.request_finished();
        let idle = activity.deadline(&TIMEOUTS).unwrap();
        assert!(idle >= before + TIMEOUTS.idle && idle <= Instant::now() + TIMEOUTS.idle);
        assert!(activity.is_idle());
        activity.bytes_read();
        let head = activity.deadline(&TIMEOUTS).unwrap();
        assert!(head < idle, "the head timeout replaces the idle timeout");
        // Later bytes of the same head do not push the deadline.
        activity.bytes_read();
        assert_eq!(activity.deadline(&TIMEOUTS), Some(head));
    }

    #[test]
    fn bytes_on_a_new_connection_do_not_move_its_deadline() {
        let accepted = Instant::now();
        let activity = Activity::new(accepted);
        activity.bytes_read();
        assert_eq!(
            activity.deadline(&TIMEOUTS),
            Some(accepted + TIMEOUTS.header_read)
        );
    }

    #[test]
    fn the_connection_is_busy_until_its_last_request_is_answered() {
        let activity = Activity::new(Instant::now());
        activity.request_started();
        activity.request_started();
        activity.request_finished();
        assert_eq!(activity.deadline(&TIMEOUTS), None);
        activity.request_finished();
        assert!(activity.is_idle());
    }
}
