//! The one clock the connectors read: token expiry and `x-ratelimit-reset` times are compared
//! with it, and tests move it forward instead of sleeping.

use chrono::{DateTime, Utc};

/// Where "now" comes from.
pub(crate) trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Now in unix seconds.
    fn unix_seconds(&self) -> i64 {
        self.now().timestamp()
    }
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The wall clock moved forward by hand.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct ShiftedClock {
    offset_secs: std::sync::atomic::AtomicI64,
}

#[cfg(test)]
impl ShiftedClock {
    pub(crate) fn advance(&self, secs: i64) {
        self.offset_secs
            .fetch_add(secs, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = self.offset_secs.load(std::sync::atomic::Ordering::Relaxed);
        Utc::now() + chrono::Duration::seconds(offset)
    }
}
