//! Times and durations written the way the reference (Go) writes them in its JSON.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serializer;

/// RFC 3339 in UTC with nanoseconds, trailing zeros trimmed, as Go's `time.RFC3339Nano`:
/// `2026-11-27T07:59:33.00493866Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    let mut s = format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    let nanos = d.subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Whole seconds as the reference's uptimes and idle times: `45s`, `1m2s`, `3h0m5s`,
/// `2d1h0m0s`, `1y2d0h0m0s`.
pub fn uptime(d: Duration) -> String {
    let secs = d.as_secs();
    let (mins, hrs, days, yrs) = (secs / 60, secs / 3600, secs / 86_400, secs / 86_400 / 365);
    if yrs > 0 {
        format!(
            "{yrs}y{}d{}h{}m{}s",
            days % 365,
            hrs % 24,
            mins % 60,
            secs % 60
        )
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hrs % 24, mins % 60, secs % 60)
    } else if hrs > 0 {
        format!("{hrs}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// A round trip as the reference shows it: Go's `Duration.String()` after truncating to
/// microseconds below a millisecond (`445µs`, `1.234567ms`, `2.5s`).
pub fn rtt(d: Duration) -> String {
    let d = if d > Duration::from_micros(1) && d < Duration::from_millis(1) {
        Duration::from_micros(d.as_micros() as u64)
    } else {
        d
    };
    go_duration(d)
}

/// Go's `time.Duration.String()`.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_string();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", fraction(ns, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", fraction(ns, 1_000_000));
    }
    let secs = ns / 1_000_000_000;
    let sub = ns % 1_000_000_000;
    let s = fraction(
        u128::from((secs % 60) as u64) * 1_000_000_000 + sub,
        1_000_000_000,
    );
    let (mins, hrs) = (secs / 60 % 60, secs / 3600);
    if hrs > 0 {
        format!("{hrs}h{mins}m{s}s")
    } else if secs >= 60 {
        format!("{mins}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// `n / unit` with the remainder as decimals, trailing zeros dropped.
fn fraction(n: u128, unit: u128) -> String {
    let (whole, rest) = (n / unit, n % unit);
    if rest == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let frac = format!("{rest:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Serializes a float as Go's `encoding/json` does: whole numbers without a fraction
/// (`0`, `1`), others in the shortest form.
pub fn go_float<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let t = UNIX_EPOCH + Duration::new(1_795_766_373, 4_938_660);
        assert_eq!(rfc3339(t), "2026-11-27T07:59:33.00493866Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(uptime(Duration::from_secs(62)), "1m2s");
        assert_eq!(uptime(Duration::from_secs(3 * 3600 + 5)), "3h0m5s");
        assert_eq!(uptime(Duration::from_secs(86_400 * 2 + 3600)), "2d1h0m0s");
        assert_eq!(rtt(Duration::from_nanos(445_678)), "445µs");
        assert_eq!(rtt(Duration::from_nanos(1_234_567)), "1.234567ms");
        assert_eq!(go_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_secs(62)), "1m2s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }
}
