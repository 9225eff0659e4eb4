//! `rate_limit_bps`: a push consumer delivers at most so many bits per second.
//!
//! A token bucket, as the reference's (`golang.org/x/time/rate`, bytes per second, a burst
//! of the largest message a client may publish), in integer nanosecond arithmetic so it
//! runs the same wherever the core runs. It starts full.

const NANOS: u128 = 1_000_000_000;

/// The burst: the reference's default `max_payload`, the largest message there is.
pub const BURST: u64 = 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimit {
    bytes_per_sec: u64,
    /// Bytes available, times a billion (so refills by the nanosecond are exact).
    tokens: u128,
    at: u64,
}

impl RateLimit {
    /// A limit of `bits_per_sec`, full at `now`; `None` for no limit.
    pub fn new(bits_per_sec: u64, now: u64) -> Option<RateLimit> {
        let bytes_per_sec = bits_per_sec / 8;
        (bytes_per_sec > 0).then_some(RateLimit {
            bytes_per_sec,
            tokens: u128::from(BURST) * NANOS,
            at: now,
        })
    }

    /// Takes `n` bytes at `now` if they are there; else when they will be (a message
    /// larger than the burst waits for a full bucket).
    pub fn take(&mut self, n: u64, now: u64) -> Result<(), u64> {
        let elapsed = u128::from(now.saturating_sub(self.at));
        self.at = self.at.max(now);
        let full = u128::from(BURST) * NANOS;
        self.tokens = (self.tokens + elapsed * u128::from(self.bytes_per_sec)).min(full);
        let need = u128::from(n.min(BURST)) * NANOS;
        if self.tokens >= need {
            self.tokens -= need;
            return Ok(());
        }
        let wait = (need - self.tokens).div_ceil(u128::from(self.bytes_per_sec));
        Err(now.saturating_add(u64::try_from(wait).unwrap_or(u64::MAX)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn a_full_bucket_then_the_rate() {
        // 8 Mbit/s: 1 MB/s, with a 1 MiB burst.
        let mut r = RateLimit::new(8_000_000, 0).unwrap();
        assert_eq!(r.take(BURST, 0), Ok(()));
        // Empty: 500,000 bytes take half a second.
        assert_eq!(r.take(500_000, 0), Err(SEC / 2));
        assert_eq!(r.take(500_000, SEC / 4), Err(SEC / 2));
        assert_eq!(r.take(500_000, SEC / 2), Ok(()));
        // Over a long idle time it refills only up to the burst.
        assert_eq!(r.take(BURST, 100 * SEC), Ok(()));
        assert!(r.take(1, 100 * SEC).is_err());
        assert_eq!(
            RateLimit::new(7, 0),
            None,
            "under a byte per second: no limit"
        );
    }
}
