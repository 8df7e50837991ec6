//! When to try a failed vendor call again.

use rand::Rng;
use std::time::Duration;

/// Configured delays plus jitter, the vendor's Retry-After honoured within bounds, a cap on
/// attempts after which the event becomes a dead letter.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Delay before attempt n+1 is `delays[n]`; the last one repeats.
    pub delays: Vec<Duration>,
    pub max_attempts: u32,
}

/// Never wait longer than this, whatever a vendor asks.
const MAX_DELAY: Duration = Duration::from_secs(3600);

impl RetryPolicy {
    /// Delay after the `attempts`-th failed attempt (1-based), or None when the budget is spent.
    pub fn delay_after(&self, attempts: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let index = (attempts.max(1) - 1) as usize;
        let base = self
            .delays
            .get(index)
            .or(self.delays.last())
            .copied()
            .unwrap_or(Duration::from_secs(1));
        let jitter = base.mul_f64(rand::rng().random_range(0.0..0.2));
        let delay = (base + jitter).max(retry_after.unwrap_or_default());
        Some(delay.min(MAX_DELAY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            delays: vec![Duration::from_secs(1), Duration::from_secs(10)],
            max_attempts: 4,
        }
    }

    #[test]
    fn delays_follow_the_schedule_with_bounded_jitter() {
        let first = policy().delay_after(1, None).unwrap();
        assert!(first >= Duration::from_secs(1) && first <= Duration::from_millis(1200));
        let third = policy().delay_after(3, None).unwrap();
        assert!(third >= Duration::from_secs(10) && third <= Duration::from_secs(12));
    }

    #[test]
    fn retry_after_from_the_vendor_is_honoured_but_capped() {
        let d = policy()
            .delay_after(1, Some(Duration::from_secs(30)))
            .unwrap();
        assert_eq!(d, Duration::from_secs(30));
        let d = policy()
            .delay_after(1, Some(Duration::from_secs(86_400)))
            .unwrap();
        assert_eq!(d, MAX_DELAY);
    }

    #[test]
    fn budget_is_spent_after_max_attempts() {
        assert!(policy().delay_after(3, None).is_some());
        assert!(policy().delay_after(4, None).is_none());
    }
}
