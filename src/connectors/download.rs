//! Reading a file download with a size limit, shared by every connector.

use super::ConnectorError;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};

/// A downloaded body with the headers that name it.
pub(crate) struct Download {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub content_disposition: Option<String>,
}

/// Read `response`'s body, refusing more than `max` bytes: up front when `Content-Length` says
/// so, else as soon as the body grows past it. `too_big(size)` builds the vendor's error.
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    vendor: &'static str,
    max: u64,
    too_big: impl Fn(u64) -> ConnectorError,
) -> Result<Download, ConnectorError> {
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(CONTENT_TYPE);
    let content_disposition = header(CONTENT_DISPOSITION);
    let announced = header(CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(length) = announced.filter(|&length| length > max) {
        return Err(too_big(length));
    }
    let mut bytes =
        Vec::with_capacity(usize::try_from(announced.unwrap_or(0).min(max)).unwrap_or(0));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ConnectorError::from_transport(vendor, &e.without_url()))?
    {
        let total = bytes.len() as u64 + chunk.len() as u64;
        if total > max {
            return Err(too_big(total));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Download {
        bytes,
        content_type,
        content_disposition,
    })
}
