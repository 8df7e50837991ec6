//! How long a vendor asked us to wait: `Retry-After` (delay-seconds or an HTTP date, RFC 9110
//! §10.2.3) or, from rate limiters that send no `Retry-After`, `x-ratelimit-reset` (Qontak: a
//! unix time, or a delay in seconds when small; CONTRACTS.md "Qontak").

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::Duration;

/// The rate limiter's reset header.
pub(crate) const RATE_LIMIT_RESET: &str = "x-ratelimit-reset";

/// Reset values above this are unix times (2001-09-09); smaller ones are delays.
const EPOCH_THRESHOLD: f64 = 1_000_000_000.0;

/// The delay the answer asks for: `Retry-After` first, else `x-ratelimit-reset`. A time in the
/// past means no wait.
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header(RETRY_AFTER.as_str())
        .and_then(|v| parse_retry_after(v, now))
        .or_else(|| header(RATE_LIMIT_RESET).and_then(|v| parse_rate_limit_reset(v, now)))
}

/// `Retry-After`: delay-seconds (a fraction is rounded up) or an HTTP date in any of the three
/// forms RFC 9110 asks recipients to accept.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Some(delay) = seconds(value) {
        return Some(delay);
    }
    let at = http_date(value)?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// `x-ratelimit-reset`: a unix time (seconds) or a delay in seconds.
pub(crate) fn parse_rate_limit_reset(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let reset: f64 = value.trim().parse().ok().filter(|v: &f64| v.is_finite())?;
    if reset <= EPOCH_THRESHOLD {
        return seconds(value);
    }
    let delay = reset.ceil() - now.timestamp() as f64;
    Some(Duration::from_secs(delay.max(0.0) as u64))
}

fn seconds(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok().filter(|v: &f64| v.is_finite())?;
    Some(Duration::from_secs(secs.max(0.0).ceil() as u64))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) or
/// asctime (`Sun Nov  6 08:49:37 1994`).
fn http_date(value: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc2822(value) {
        return Some(at.with_timezone(&Utc));
    }
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn retry_after_accepts_seconds_and_all_three_http_date_forms() {
        let now = at("1994-11-06T08:49:00Z");
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(parse_retry_after("120", now), secs(120));
        assert_eq!(parse_retry_after(" 1.5 ", now), secs(2));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            secs(37)
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now),
            secs(37)
        );
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994", now), secs(37));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            secs(0)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn rate_limit_reset_is_a_unix_time_or_a_delay() {
        let now = at("2026-01-01T00:00:00Z");
        let epoch = now.timestamp();
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(
            parse_rate_limit_reset(&(epoch + 42).to_string(), now),
            secs(42)
        );
        assert_eq!(
            parse_rate_limit_reset(&(epoch - 5).to_string(), now),
            secs(0)
        );
        assert_eq!(parse_rate_limit_reset("30", now), secs(30));
        assert_eq!(parse_rate_limit_reset("later", now), None);
    }

    #[test]
    fn retry_after_wins_over_the_rate_limit_reset() {
        let now = at("2026-01-01T00:00:00Z");
        let mut headers = HeaderMap::new();
        headers.insert(RATE_LIMIT_RESET, HeaderValue::from_static("30"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
