//! The start-up every simulator shares: bind loopback, put the fault middleware in front of the
//! vendor's routes, serve until the simulator is dropped.

use super::faults::{FaultTable, SimProfile, apply_faults};
use axum::Router;
use axum::middleware::from_fn_with_state;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A simulator's HTTP server on `127.0.0.1`. Stops (gracefully) when dropped.
pub(crate) struct SimServer {
    address: SocketAddr,
    faults: Arc<FaultTable>,
    shutdown: CancellationToken,
}

impl SimServer {
    /// Bind `127.0.0.1:port` (0: any free port), build the vendor's routes and state for the
    /// server's root URL (`http://127.0.0.1:<port>`) with `build`, and serve them behind the
    /// fault middleware.
    pub(crate) async fn start<S>(
        port: u16,
        profile: &'static SimProfile,
        build: impl FnOnce(String) -> (Router, S),
    ) -> std::io::Result<(SimServer, S)> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let address = listener.local_addr()?;
        let (routes, state) = build(format!("http://{address}"));
        let faults = Arc::new(FaultTable::new(profile));
        let app = routes.layer(from_fn_with_state(Arc::clone(&faults), apply_faults));
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let name = profile.name;
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(err) = served {
                tracing::warn!(error = %err, simulator = name, "Simulator stopped with an error.");
            }
        });
        tracing::debug!(%address, simulator = name, "Simulator listening.");
        let server = SimServer {
            address,
            faults,
            shutdown,
        };
        Ok((server, state))
    }

    pub(crate) fn address(&self) -> SocketAddr {
        self.address
    }

    pub(crate) fn faults(&self) -> &FaultTable {
        &self.faults
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
