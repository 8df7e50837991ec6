//! Reading vendor answers: JSON bodies within a size limit, and failed answers classified with
//! the vendor's own explanation and the delay it asked for.

use super::VendorHttp;
use crate::connectors::ConnectorError;
use crate::media::{DownloadError, human_size, read_limited};
use reqwest::{Response, StatusCode};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Largest JSON answer read: pages of messages or tickets stay far below it.
pub(crate) const MAX_JSON_BYTES: u64 = 16 * 1024 * 1024;

/// Largest error body read for its explanation.
const MAX_ERROR_BYTES: u64 = 64 * 1024;

/// Characters of a body quoted when the vendor's explanation cannot be found in it.
const QUOTED_CHARS: usize = 300;

/// A failed answer, read once so a connector can look at it before classifying it.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) vendor: &'static str,
    pub(crate) status: u16,
    /// The vendor's explanation (see [`VendorHttp::new`]), else the start of the body.
    pub(crate) explanation: Option<String>,
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    /// The explanation, or the status text when the vendor gave none.
    pub(crate) fn summary(&self) -> String {
        self.explanation.clone().unwrap_or_else(|| {
            StatusCode::from_u16(self.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("no explanation given")
                .to_owned()
        })
    }

    /// True when the explanation contains one of `needles` (lower case).
    pub(crate) fn mentions(&self, needles: &[&str]) -> bool {
        let text = self.summary().to_ascii_lowercase();
        needles.iter().any(|needle| text.contains(needle))
    }

    /// Classified by [`ConnectorError::from_status`].
    pub(crate) fn into_error(self) -> ConnectorError {
        let message = self.summary();
        ConnectorError::from_status(self.vendor, self.status, message, self.retry_after)
    }

    /// As [`Self::into_error`], the message starting with what we were `doing`.
    pub(crate) fn into_error_while(self, doing: &str) -> ConnectorError {
        let message = format!("{doing}: {}", self.summary());
        ConnectorError::from_status(self.vendor, self.status, message, self.retry_after)
    }
}

impl VendorHttp {
    /// Read a failed answer: status, explanation and requested delay.
    pub(crate) async fn failure(&self, response: Response) -> Failure {
        let status = response.status().as_u16();
        let retry_after = super::retry_after(response.headers(), self.clock.now());
        let body = match read_limited(response, MAX_ERROR_BYTES).await {
            Ok(download) => download.bytes,
            Err(_) => Vec::new(),
        };
        let explanation = (self.error_text)(&body).or_else(|| quote(&body));
        Failure {
            vendor: self.vendor,
            status,
            explanation,
            retry_after,
        }
    }

    /// The answer when it is a success, else its classified failure.
    pub(crate) async fn check(&self, response: Response) -> Result<Response, ConnectorError> {
        if response.status().is_success() {
            return Ok(response);
        }
        Err(self.failure(response).await.into_error())
    }

    /// A success answer read as `T` (at most [`MAX_JSON_BYTES`]); else the classified failure.
    /// An answer we cannot read is permanent: asking again gets the same answer.
    pub(crate) async fn read_json<T: DeserializeOwned>(
        &self,
        response: Response,
    ) -> Result<T, ConnectorError> {
        let response = self.check(response).await?;
        let body = read_limited(response, MAX_JSON_BYTES)
            .await
            .map_err(|e| self.download_error(e, "the answer", MAX_JSON_BYTES))?;
        serde_json::from_slice(&body.bytes).map_err(|e| ConnectorError::Permanent {
            vendor: self.vendor,
            status: None,
            message: format!("unreadable answer: {e}"),
        })
    }

    /// A success answer's file, at most `max` bytes; `what` names it in the error.
    pub(crate) async fn download(
        &self,
        response: Response,
        what: &str,
        max: u64,
    ) -> Result<crate::media::Download, ConnectorError> {
        read_limited(response, max)
            .await
            .map_err(|e| self.download_error(e, what, max))
    }

    /// A too-large file is permanent; a body that broke off is a transport error.
    pub(crate) fn download_error(
        &self,
        err: DownloadError,
        what: &str,
        max: u64,
    ) -> ConnectorError {
        match err {
            DownloadError::TooLarge { size } => ConnectorError::Permanent {
                vendor: self.vendor,
                status: None,
                message: format!(
                    "{what} is larger than the {} the bridge accepts (at least {})",
                    human_size(max),
                    human_size(size)
                ),
            },
            DownloadError::Body(err) => self.transport_error(err),
        }
    }
}

/// The start of a non-empty body.
fn quote(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(QUOTED_CHARS).collect())
}
