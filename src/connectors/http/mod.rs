//! The one HTTP layer every vendor connector talks through.
//!
//! A [`VendorHttp`] is one vendor's reqwest client (TLS, user agent and timeouts set up here
//! once) together with what differs per vendor: its name and how to find its explanation in an
//! error body. It sends requests ([`VendorHttp::send`]), sends them with a token that is
//! replaced once when the vendor answers 401 ([`VendorHttp::send_authed`], the token itself
//! comes from the vendor's [`TokenSource`]), reads JSON answers within a size limit and
//! classifies failures (`answer.rs`), reading `Retry-After` and `x-ratelimit-reset` one way
//! (`retry_after.rs`).
//!
//! Errors never carry a URL: query strings hold ids and signatures, and reqwest's own errors
//! are stripped of theirs ([`reqwest::Error::without_url`]).

mod answer;
mod clock;
mod retry_after;
#[cfg(test)]
mod tests;
mod urls;

pub(crate) use answer::Failure;
#[cfg(test)]
pub(crate) use clock::ShiftedClock;
pub(crate) use clock::{Clock, SystemClock};
#[cfg(test)]
pub(crate) use retry_after::parse_retry_after;
pub(crate) use retry_after::retry_after;
pub(crate) use urls::{join, same_origin, with_segments};

use crate::connectors::ConnectorError;
use crate::domain::MediaFile;
use async_trait::async_trait;
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a vendor explains a failure: its message found in an error body, `None` when the body
/// holds none (the start of the body is quoted then).
pub(crate) type ErrorText = fn(&[u8]) -> Option<String>;

/// Where a vendor's access token comes from; each connector obtains its own.
#[async_trait]
pub(crate) trait TokenSource: Send + Sync {
    /// What a request is signed with (a token, or a token and the host it is valid for).
    type Token: Clone + Send + Sync;

    /// A token to send, obtaining one first when there is none yet.
    async fn token(&self) -> Result<Self::Token, ConnectorError>;

    /// A token for the repeat after the vendor refused `rejected` with 401: a new one, or one
    /// another call obtained meanwhile. `None` when no other can be obtained (the 401 stands).
    async fn replace(&self, rejected: &Self::Token) -> Result<Option<Self::Token>, ConnectorError>;
}

/// One vendor's HTTP client; cheap to clone (the client and clock are shared).
#[derive(Clone)]
pub(crate) struct VendorHttp {
    vendor: &'static str,
    client: Client,
    /// The client's timeout, to name it when it strikes.
    timeout: Duration,
    error_text: ErrorText,
    clock: Arc<dyn Clock>,
}

impl VendorHttp {
    /// A client whose every call must be answered, body included, within `timeout`.
    pub(crate) fn new(
        vendor: &'static str,
        timeout: Duration,
        error_text: ErrorText,
    ) -> Result<Self, reqwest::Error> {
        Self::build(
            vendor,
            timeout,
            error_text,
            Client::builder().timeout(timeout),
        )
    }

    /// A client for large downloads: only a stall longer than `timeout` fails (connecting, or
    /// between two reads), and redirects are not followed, so the caller decides where its
    /// credentials go.
    pub(crate) fn for_downloads(
        vendor: &'static str,
        timeout: Duration,
        error_text: ErrorText,
    ) -> Result<Self, reqwest::Error> {
        let builder = Client::builder()
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none());
        Self::build(vendor, timeout, error_text, builder)
    }

    fn build(
        vendor: &'static str,
        timeout: Duration,
        error_text: ErrorText,
        builder: reqwest::ClientBuilder,
    ) -> Result<Self, reqwest::Error> {
        install_crypto_provider();
        let client = builder
            .user_agent(concat!("omnibridge/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            vendor,
            client,
            timeout,
            error_text,
            clock: Arc::new(SystemClock),
        })
    }

    /// Read time from `clock` instead of the system's.
    #[cfg(test)]
    pub(crate) fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Send `request`. A request that cannot be built (or whose URL is too long to send) is a
    /// permanent error; a network error or timeout is transient (see
    /// [`ConnectorError::from_transport`]). The answer is returned whatever its status.
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<Response, ConnectorError> {
        let (client, request) = request.build_split();
        let request = request.map_err(|e| self.transport_error(e))?;
        urls::check_length(self.vendor, request.url())?;
        let (method, path) = (request.method().clone(), request.url().path().to_owned());
        let started = Instant::now();
        let result = client.execute(request).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(response) => {
                tracing::debug!(vendor = self.vendor, %method, %path, status = response.status().as_u16(), elapsed_ms, "Vendor call answered.");
                Ok(response)
            }
            Err(err) => {
                let err = self.transport_error(err);
                tracing::debug!(vendor = self.vendor, %method, %path, elapsed_ms, error = %err, "Vendor call failed.");
                Err(err)
            }
        }
    }

    /// Send the request `build` makes with a token from `tokens`; when the vendor answers 401,
    /// get a replacement once and send it again. The answer is returned whatever its status.
    pub(crate) async fn send_authed<S: TokenSource + ?Sized>(
        &self,
        tokens: &S,
        build: impl Fn(&Client, &S::Token) -> Result<RequestBuilder, ConnectorError>,
    ) -> Result<Response, ConnectorError> {
        let token = tokens.token().await?;
        let response = self.send(build(&self.client, &token)?).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let Some(token) = tokens.replace(&token).await? else {
            return Ok(response);
        };
        tracing::info!(
            vendor = self.vendor,
            "The vendor refused the token; sending again with a new one."
        );
        self.send(build(&self.client, &token)?).await
    }

    /// A reqwest error, classified, without its URL.
    pub(crate) fn transport_error(&self, err: reqwest::Error) -> ConnectorError {
        ConnectorError::from_transport(self.vendor, err, self.timeout)
    }
}

/// A multipart part holding `file`; a mime type reqwest cannot parse is sent as the default
/// (`application/octet-stream`).
pub(crate) fn file_part(file: &MediaFile) -> reqwest::multipart::Part {
    let part =
        || reqwest::multipart::Part::bytes(file.bytes.clone()).file_name(file.filename.clone());
    part().mime_str(&file.mime_type).unwrap_or_else(|_| part())
}

/// reqwest is built without a default TLS crypto provider; install ring's unless the process
/// already chose one (start-up normally does this first).
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing the race to another thread installing one is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
