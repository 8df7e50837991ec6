//! Faults every simulator can inject, in one table and one middleware: fail the next N matching
//! requests with a status (and a retry hint), carry a request out and then lose its answer, delay
//! every request, and count requests by method and path prefix.
//!
//! What stays each vendor's own is how a failure looks on the wire: a [`SimProfile`] names the
//! vendor's error body, the header that tells a client when to come back (`Retry-After` seconds or
//! Qontak's `x-ratelimit-reset` unix time) and the API root that relative path prefixes start at.
//! Each simulator exposes the same methods through [`fault_controls!`].

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How a simulated vendor answers an injected failure.
pub(crate) struct SimProfile {
    /// For logs: `get.chat`, `Qontak`, `Inbenta`.
    pub(crate) name: &'static str,
    /// Path prefixes not starting with `/` are relative to this (`/api/v1/`).
    pub(crate) api_root: &'static str,
    /// The vendor's error answer with this status; `messages` is empty unless the fault names
    /// texts (then the vendor's default wording is used).
    pub(crate) error_body: fn(StatusCode, &[String]) -> Response,
    /// How the vendor tells a client when to try again.
    pub(crate) retry_header: RetryHeader,
    /// The retry hint of an injected 429 that names none.
    pub(crate) default_retry_after: Duration,
}

/// Where a simulated vendor puts its retry hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetryHeader {
    /// `Retry-After: <seconds>`.
    RetryAfterSeconds,
    /// `x-ratelimit-reset: <unix seconds>` and `x-ratelimit-remaining: 0`.
    RateLimitReset,
}

/// One injected fault: which requests it matches, what they get and how many times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    method: String,
    path_prefix: String,
    status: u16,
    times: u32,
    retry_after: Option<Duration>,
    messages: Vec<String>,
    lose_answer: bool,
}

impl Fault {
    /// Answer the next matching request with `status` without handling it (nothing changes).
    /// `path_prefix` is a full path or relative to the simulator's API root.
    pub fn fail(method: &str, path_prefix: &str, status: u16) -> Fault {
        Fault {
            method: method.to_ascii_uppercase(),
            path_prefix: path_prefix.to_owned(),
            status,
            times: 1,
            retry_after: None,
            messages: Vec::new(),
            lose_answer: false,
        }
    }

    /// Handle the next matching request (its effect happens), then answer `status` anyway: the
    /// caller never learns that it worked.
    pub fn lose_answer(method: &str, path_prefix: &str, status: u16) -> Fault {
        Fault {
            lose_answer: true,
            ..Fault::fail(method, path_prefix, status)
        }
    }

    /// Fire for the next `times` matching requests (default 1).
    pub fn times(mut self, times: u32) -> Fault {
        self.times = times;
        self
    }

    /// Carry this retry hint, whatever the status (a 429 without one gets the vendor's default).
    pub fn retry_after(mut self, after: Duration) -> Fault {
        self.retry_after = Some(after);
        self
    }

    /// Put these texts in the vendor's error body instead of its default wording.
    pub fn messages(mut self, messages: &[&str]) -> Fault {
        self.messages = messages.iter().map(|m| (*m).to_owned()).collect();
        self
    }
}

/// Faults waiting to fire, the delay and the request counters of one simulator. Its own lock,
/// never held across an `.await`.
pub(crate) struct FaultTable {
    profile: &'static SimProfile,
    state: Mutex<TableState>,
}

#[derive(Default)]
struct TableState {
    faults: Vec<Fault>,
    delay: Duration,
    /// Requests by (upper-case method, path).
    counts: HashMap<(String, String), usize>,
}

impl FaultTable {
    pub(crate) fn new(profile: &'static SimProfile) -> FaultTable {
        FaultTable {
            profile,
            state: Mutex::new(TableState::default()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut TableState) -> R) -> R {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut state)
    }

    /// Queue a fault (after those already waiting; the first that matches fires).
    pub(crate) fn inject(&self, mut fault: Fault) {
        fault.path_prefix = self.full_path(&fault.path_prefix);
        if fault.times > 0 {
            self.with(|state| state.faults.push(fault));
        }
    }

    /// Forget the faults that have not fired yet (the delay stays).
    pub(crate) fn clear(&self) {
        self.with(|state| state.faults.clear());
    }

    /// Delay every request by `delay` before it is handled (zero to stop).
    pub(crate) fn set_delay(&self, delay: Duration) {
        self.with(|state| state.delay = delay);
    }

    /// Requests received with `method` and a path starting with `path_prefix` (full, or relative
    /// to the API root), failed ones included.
    pub(crate) fn request_count(&self, method: &str, path_prefix: &str) -> usize {
        let prefix = self.full_path(path_prefix);
        self.with(|state| {
            state
                .counts
                .iter()
                .filter(|((m, p), _)| m.eq_ignore_ascii_case(method) && p.starts_with(&prefix))
                .map(|(_, count)| count)
                .sum()
        })
    }

    fn full_path(&self, prefix: &str) -> String {
        if prefix.starts_with('/') {
            prefix.to_owned()
        } else {
            format!("{}{prefix}", self.profile.api_root)
        }
    }

    /// Count the request; the fault it uses up, if any, and the delay to wait first.
    fn on_request(&self, method: &str, path: &str) -> (Option<Fault>, Duration) {
        self.with(|state| {
            *state
                .counts
                .entry((method.to_ascii_uppercase(), path.to_owned()))
                .or_default() += 1;
            let fired = state
                .faults
                .iter_mut()
                .find(|f| f.method.eq_ignore_ascii_case(method) && path.starts_with(&f.path_prefix))
                .map(|fault| {
                    fault.times -= 1;
                    fault.clone()
                });
            state.faults.retain(|f| f.times > 0);
            (fired, state.delay)
        })
    }

    /// The vendor's answer to a fault that fired.
    fn failure(&self, fault: &Fault) -> Response {
        let status =
            StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (self.profile.error_body)(status, &fault.messages);
        let retry_after = fault.retry_after.or_else(|| {
            (status == StatusCode::TOO_MANY_REQUESTS).then_some(self.profile.default_retry_after)
        });
        if let Some(after) = retry_after {
            set_retry_hint(response.headers_mut(), self.profile.retry_header, after);
        }
        response
    }
}

fn set_retry_hint(headers: &mut HeaderMap, style: RetryHeader, after: Duration) {
    let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    match style {
        RetryHeader::RetryAfterSeconds => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        RetryHeader::RateLimitReset => {
            let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
            headers.insert("x-ratelimit-reset", HeaderValue::from(now + seconds));
            headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        }
    }
}

/// The middleware (`from_fn_with_state`) in front of every simulator's routes: count the request,
/// wait the delay, then answer an injected failure instead of (or after) the real handler.
pub(crate) async fn apply_faults(
    State(table): State<Arc<FaultTable>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let (fired, delay) = table.on_request(&method, &path);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let Some(fault) = fired else {
        return next.run(request).await;
    };
    if fault.lose_answer {
        let _carried_out = next.run(request).await;
    }
    table.failure(&fault)
}

/// The fault methods every simulator offers, as inherent methods of `$sim`, whose `server` field
/// is its [`SimServer`](crate::sandbox::server::SimServer).
macro_rules! fault_controls {
    ($sim:ty) => {
        impl $sim {
            /// Queue an injected [`Fault`](crate::sandbox::Fault) (the first matching one fires).
            pub fn inject(&self, fault: $crate::sandbox::Fault) {
                self.server.faults().inject(fault);
            }

            /// Answer the next `times` requests matching `method` and `path_prefix` with `status`
            /// in the vendor's error body, without doing anything; a 429 carries the vendor's
            /// retry hint. The prefix is a full path or relative to the simulator's API root.
            pub fn fail_next(&self, method: &str, path_prefix: &str, status: u16, times: u32) {
                let fault = $crate::sandbox::Fault::fail(method, path_prefix, status);
                self.inject(fault.times(times));
            }

            /// Like `fail_next`, with these texts in the vendor's error body.
            pub fn fail_next_with(
                &self,
                method: &str,
                path_prefix: &str,
                status: u16,
                messages: &[&str],
                times: u32,
            ) {
                let fault = $crate::sandbox::Fault::fail(method, path_prefix, status);
                self.inject(fault.messages(messages).times(times));
            }

            /// Like `fail_next`, telling the client to come back after `retry_after` (in the
            /// vendor's header), whatever the status.
            pub fn fail_next_with_retry_after(
                &self,
                method: &str,
                path_prefix: &str,
                status: u16,
                retry_after: std::time::Duration,
                times: u32,
            ) {
                let fault = $crate::sandbox::Fault::fail(method, path_prefix, status);
                self.inject(fault.retry_after(retry_after).times(times));
            }

            /// Carry out the next `times` matching requests, then answer `status` anyway: the
            /// effect happened but the caller never learns it (a lost answer).
            pub fn lose_answer_next(
                &self,
                method: &str,
                path_prefix: &str,
                status: u16,
                times: u32,
            ) {
                let fault = $crate::sandbox::Fault::lose_answer(method, path_prefix, status);
                self.inject(fault.times(times));
            }

            /// Delay every request by `delay` before it is handled (zero to stop).
            pub fn set_delay(&self, delay: std::time::Duration) {
                self.server.faults().set_delay(delay);
            }

            /// Forget injected failures that have not fired yet (a delay stays).
            pub fn clear_failures(&self) {
                self.server.faults().clear();
            }

            /// Requests received with `method` and a path starting with `path_prefix` (full, or
            /// relative to the API root), refused and failed ones included.
            pub fn request_count(&self, method: &str, path_prefix: &str) -> usize {
                self.server.faults().request_count(method, path_prefix)
            }
        }
    };
}
pub(crate) use fault_controls;

#[cfg(test)]
#[path = "faults_tests.rs"]
mod tests;
