//! Building vendor URLs. Every failure here is permanent: the same input builds the same URL.

use crate::connectors::ConnectorError;
use url::Url;

/// Longer request URLs are refused before sending: servers answer them with 414 or drop the
/// connection (which would look like a network error worth retrying), and the HTTP stack
/// cannot carry one past 64 KiB at all.
pub(crate) const MAX_URL_CHARS: usize = 8 * 1024;

/// `base` joined with the relative `path` (`messages/`, `rooms`).
pub(crate) fn join(vendor: &'static str, base: &Url, path: &str) -> Result<Url, ConnectorError> {
    base.join(path)
        .map_err(|e| unbuildable(vendor, format!("cannot build the URL for {path}: {e}")))
}

/// `base` with each of `segments` appended as one percent-encoded path segment (an empty last
/// segment of `base`, its trailing slash, is replaced).
pub(crate) fn with_segments(
    vendor: &'static str,
    base: &Url,
    segments: &[&str],
) -> Result<Url, ConnectorError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| unbuildable(vendor, "the base URL cannot hold a path".into()))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// Same scheme, host and port: where a vendor's credentials may be sent.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The request URL is short enough to send; it never appears in the error.
pub(crate) fn check_length(vendor: &'static str, url: &Url) -> Result<(), ConnectorError> {
    let length = url.as_str().len();
    if length <= MAX_URL_CHARS {
        return Ok(());
    }
    Err(unbuildable(
        vendor,
        format!(
            "cannot build the request: its URL would be {length} characters long, more than the \
             {MAX_URL_CHARS} vendors accept (an id or address in it is far too long)"
        ),
    ))
}

fn unbuildable(vendor: &'static str, message: String) -> ConnectorError {
    ConnectorError::Permanent {
        vendor,
        status: None,
        message,
    }
}
