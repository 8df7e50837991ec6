//! The HTTP listener: our own accept loop instead of `axum::serve`, so that every connection has
//! deadlines (`connection.rs`), the number of open connections is bounded without locking out
//! new clients (`registry.rs`), and accept errors back off and are logged at a rate.

mod connection;
mod registry;

use axum::Router;
use registry::Registry;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Pause after an accept error that is not about one connection (out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Repeated warnings (accept errors, refused connections) are logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// File descriptors kept free of connections for the database, vendor calls and files.
const FD_RESERVE: u64 = 256;
/// Fewest connections allowed whatever the open-file limit.
const MIN_CONNECTIONS: usize = 16;

/// The `[server]` settings the listener applies.
#[derive(Clone, Copy, Debug)]
pub struct ListenerSettings {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

/// `server.max_connections`, lowered so that connections leave file descriptors for everything
/// else: at most the open-file limit minus a reserve (a quarter of it below 1,024).
pub fn effective_max_connections(configured: usize, open_file_limit: Option<u64>) -> usize {
    let Some(limit) = open_file_limit else {
        return configured;
    };
    let reserve = FD_RESERVE.min(limit / 4);
    let room = usize::try_from(limit.saturating_sub(reserve)).unwrap_or(usize::MAX);
    configured.min(room).max(MIN_CONNECTIONS.min(configured))
}

/// Logs the first occurrence, then at most one per interval with the number left out between.
pub(crate) struct RateLimitedLog {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedLog {
    pub(crate) fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(left out since the last logged one)` when this occurrence should be logged.
    pub(crate) fn hit(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// Errors that concern one connection only (it went away before we accepted it).
fn is_connection_error(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        err.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset | Interrupted
    )
}

/// Accept and serve connections until `shutdown`, then stop accepting and wait for the
/// connections to finish the requests they are answering.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: ListenerSettings,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let registry = Registry::new(settings.max_connections);
    let timeouts = connection::Timeouts {
        header_read: settings.header_read_timeout,
        idle: settings.idle_timeout,
    };
    let connections = TaskTracker::new();
    let mut accept_errors = RateLimitedLog::new(LOG_EVERY);
    let mut refused = RateLimitedLog::new(LOG_EVERY);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(err) if is_connection_error(&err) => continue,
            Err(err) => {
                if let Some(suppressed) = accept_errors.hit(Instant::now()) {
                    tracing::error!(error = %err, suppressed, open = registry.len(), "Accepting a connection failed; retrying shortly (logged at most every 10 s, `suppressed` counts the errors left out).");
                }
                // Most likely out of file descriptors: free one for the next client.
                registry.evict_oldest_idle();
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let activity = connection::Activity::new(Instant::now());
        let Some(slot) = registry.admit(activity.clone()) else {
            crate::metrics::connection_closed("refused");
            if let Some(suppressed) = refused.hit(Instant::now()) {
                tracing::warn!(
                    max_connections = settings.max_connections,
                    suppressed,
                    "Connection closed at once: server.max_connections are open and all are answering requests (logged at most every 10 s)."
                );
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection::serve(
            stream,
            router.clone(),
            activity,
            slot,
            timeouts,
            shutdown.clone(),
        ));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_error_is_logged_then_one_per_interval_with_the_count_left_out() {
        let mut log = RateLimitedLog::new(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(log.hit(start), Some(0));
        for ms in [1, 50, 9_999] {
            assert_eq!(log.hit(start + Duration::from_millis(ms)), None);
        }
        assert_eq!(log.hit(start + Duration::from_secs(10)), Some(3));
        assert_eq!(log.hit(start + Duration::from_secs(11)), None);
        assert_eq!(log.hit(start + Duration::from_secs(25)), Some(1));
    }

    #[test]
    fn the_connection_limit_leaves_file_descriptors_for_everything_else() {
        assert_eq!(effective_max_connections(1024, Some(65_536)), 1024);
        assert_eq!(effective_max_connections(1024, Some(1024)), 768);
        assert_eq!(effective_max_connections(1024, Some(256)), 192);
        assert_eq!(effective_max_connections(1024, Some(8)), MIN_CONNECTIONS);
        assert_eq!(effective_max_connections(4, Some(8)), 4);
        assert_eq!(effective_max_connections(50, None), 50);
    }
}
