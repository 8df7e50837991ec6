//! Errors every connector returns, classified so the worker knows whether to retry.

use std::time::Duration;

/// How the worker treats a failed vendor call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Retry later (5xx, timeouts, connection errors, 408, 429).
    Retry,
    /// Park as a dead letter with the vendor's message.
    DeadLetter,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("{vendor} rate limit hit: {message}")]
    RateLimited {
        vendor: &'static str,
        retry_after: Option<Duration>,
        message: String,
    },
    #[error("{vendor} temporarily unavailable: {message}")]
    Transient {
        vendor: &'static str,
        message: String,
    },
    #[error("{vendor} refused our credentials: {message}")]
    Auth {
        vendor: &'static str,
        message: String,
    },
    #[error("{vendor} has no such resource: {message}")]
    NotFound {
        vendor: &'static str,
        message: String,
    },
    /// The customer-service window is closed: only a template may be sent.
    #[error(
        "{vendor}: the customer can no longer be reached with a free-form message (24-hour window closed): {message}"
    )]
    WindowClosed {
        vendor: &'static str,
        message: String,
    },
    #[error("{vendor} rejected the request{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Permanent {
        vendor: &'static str,
        status: Option<u16>,
        message: String,
    },
}

impl ConnectorError {
    /// Classify an HTTP error answer: 429 → rate limited; 401/403 → auth; 404 → not found;
    /// 408 and 5xx → transient; any other 4xx → permanent.
    pub fn from_status(
        vendor: &'static str,
        status: u16,
        message: impl Into<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        let message = message.into();
        match status {
            429 => ConnectorError::RateLimited {
                vendor,
                retry_after,
                message,
            },
            401 | 403 => ConnectorError::Auth { vendor, message },
            404 => ConnectorError::NotFound { vendor, message },
            408 | 500..=599 => ConnectorError::Transient { vendor, message },
            _ => ConnectorError::Permanent {
                vendor,
                status: Some(status),
                message,
            },
        }
    }

    /// Classify an error reqwest gave instead of an answer; its URL is left out of the message.
    /// A request that could not be built, an answer we cannot decode and a redirect we cannot
    /// follow are permanent (the same request fails the same way); a timeout (named as one,
    /// with the client's `timeout`) and a network error are transient.
    pub fn from_transport(vendor: &'static str, err: reqwest::Error, timeout: Duration) -> Self {
        let err = err.without_url();
        let permanent = |what: &str| ConnectorError::Permanent {
            vendor,
            status: None,
            message: format!("{what}: {}", error_chain(&err)),
        };
        if err.is_builder() {
            return permanent("cannot build the request");
        }
        if err.is_decode() {
            return permanent("unreadable answer");
        }
        if err.is_redirect() {
            return permanent("cannot follow the redirect");
        }
        let message = if err.is_timeout() {
            format!(
                "timed out after {} without an answer",
                humantime::format_duration(timeout)
            )
        } else {
            format!("network error: {}", error_chain(&err))
        };
        ConnectorError::Transient { vendor, message }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            ConnectorError::RateLimited { .. } | ConnectorError::Transient { .. } => {
                ErrorClass::Retry
            }
            ConnectorError::Auth { .. }
            | ConnectorError::NotFound { .. }
            | ConnectorError::WindowClosed { .. }
            | ConnectorError::Permanent { .. } => ErrorClass::DeadLetter,
        }
    }

    /// The delay the vendor asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn vendor(&self) -> &'static str {
        match self {
            ConnectorError::RateLimited { vendor, .. }
            | ConnectorError::Transient { vendor, .. }
            | ConnectorError::Auth { vendor, .. }
            | ConnectorError::NotFound { vendor, .. }
            | ConnectorError::WindowClosed { vendor, .. }
            | ConnectorError::Permanent { vendor, .. } => vendor,
        }
    }
}

/// An error and its sources, `outer: inner: innermost` (reqwest's own text alone says only
/// "error sending request").
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

/// Why a webhook body was refused. Answered as 400 (not JSON) or 422 (JSON of an unknown shape).
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    Unrecognized(String),
}

impl WebhookError {
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::InvalidJson(_) => "invalid_json",
            WebhookError::Unrecognized(_) => "unrecognized_payload",
        }
    }
}

/// Why a webhook request was not accepted as coming from the vendor, before its body is read.
#[derive(Debug, thiserror::Error)]
pub enum WebhookAuthError {
    /// The request does not prove it comes from the vendor (answered 401).
    #[error("{0}")]
    Unauthorized(String),
    /// A verification handshake without what it must carry (answered 400 with `code`).
    #[error("{detail}")]
    Malformed { code: &'static str, detail: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_for_retry_or_dead_letter() {
        let class = |s| ConnectorError::from_status("x", s, "m", None).class();
        assert_eq!(class(500), ErrorClass::Retry);
        assert_eq!(class(503), ErrorClass::Retry);
        assert_eq!(class(408), ErrorClass::Retry);
        assert_eq!(class(429), ErrorClass::Retry);
        assert_eq!(class(400), ErrorClass::DeadLetter);
        assert_eq!(class(422), ErrorClass::DeadLetter);
        assert_eq!(class(401), ErrorClass::DeadLetter);
    }

    #[test]
    fn permanent_error_names_vendor_status_and_message() {
        let err = ConnectorError::from_status("inbenta", 400, "title is required", None);
        assert_eq!(
            err.to_string(),
            "inbenta rejected the request (HTTP 400): title is required"
        );
    }
}
