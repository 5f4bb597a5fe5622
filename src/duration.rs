//! Go-style durations: parsing flag values such as `15ms` or `1m30s`, and printing durations the
//! way Go's `time.Duration.String` does, which is what Coder puts in `latency` and
//! `round_trip_ping`.

use std::time::Duration;

/// Parses `300ms`, `1.5s`, `2m`, `1m30s`, `1h`, `10us`/`10µs`, `5ns`. A bare `0` is zero.
pub fn parse(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    let bad =
        |why: &str| format!("invalid duration {input:?}: {why} (expected e.g. 15ms, 5s, 1m30s)");
    if s.is_empty() {
        return Err(bad("empty"));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.starts_with('-') {
        return Err(bad("negative"));
    }
    // Integer arithmetic, as Go's ParseDuration: floats lose nanoseconds on large values.
    let mut total_nanos: u128 = 0;
    let too_large = || bad("too large");
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| bad("missing unit"))?;
        if number_len == 0 {
            return Err(bad("expected a number"));
        }
        let number = &rest[..number_len];
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
            return Err(bad("malformed number"));
        }
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => return Err(bad(&format!("unknown unit {other:?}"))),
        };
        rest = &rest[unit_len..];
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_large())?
        };
        // Fraction digits past nanosecond precision of the largest unit change nothing.
        let frac = &frac[..frac.len().min(20)];
        let frac_value: u128 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad("malformed number"))?
        };
        let frac_nanos = frac_value * nanos_per_unit / 10u128.pow(frac.len() as u32);
        total_nanos = whole
            .checked_mul(nanos_per_unit)
            .and_then(|n| n.checked_add(frac_nanos))
            .and_then(|n| n.checked_add(total_nanos))
            .ok_or_else(too_large)?;
        if total_nanos > u128::from(u64::MAX) {
            return Err(too_large());
        }
    }
    Ok(Duration::from_nanos(total_nanos as u64))
}

/// As `parse`, plus whole or fractional days (`14d`, `1d12h`); only for flags of ours that
/// Coder does not have, since Go durations have no days.
pub fn parse_with_days(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    let Some(d_at) = s.find('d') else {
        return parse(input);
    };
    let bad = |why: &str| format!("invalid duration {input:?}: {why} (expected e.g. 14d, 336h)");
    let days: f64 = s[..d_at]
        .parse()
        .map_err(|_| bad("malformed number of days"))?;
    if days < 0.0 || !days.is_finite() {
        return Err(bad("negative"));
    }
    let rest = &s[d_at + 1..];
    let rest = if rest.is_empty() {
        Duration::ZERO
    } else {
        parse(rest)?
    };
    let total = days * 86_400.0 + rest.as_secs_f64();
    if total > u64::MAX as f64 / 1e9 {
        return Err(bad("too large"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Formats like Go's `time.Duration.String`: `0s`, `1ns`, `1.5µs`, `10ms`, `1.234567ms`, `1s`,
/// `1m0s`, `1h2m3.5s`.
pub fn go_string(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", fraction(nanos, 3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", fraction(nanos, 6));
    }
    let seconds_part = fraction(nanos % 60_000_000_000, 9);
    let total_minutes = nanos / 60_000_000_000;
    if total_minutes == 0 {
        return format!("{seconds_part}s");
    }
    let hours = total_minutes / 60;
    let minutes = total_minutes % 60;
    if hours == 0 {
        format!("{minutes}m{seconds_part}s")
    } else {
        format!("{hours}h{minutes}m{seconds_part}s")
    }
}

/// `value / 10^digits` with trailing zeros (and a bare dot) removed.
fn fraction(value: u128, digits: u32) -> String {
    let scale = 10u128.pow(digits);
    let whole = value / scale;
    let frac = value % scale;
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:0width$}", width = digits as usize);
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// A short human form for tables, e.g. `0.42ms`, `12ms`, `1.2s`.
pub fn short(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.1}s", ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("15ms"), Ok(Duration::from_millis(15)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse("10µs"), Ok(Duration::from_micros(10)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert!(parse("15").unwrap_err().contains("missing unit"));
        assert!(parse("abc").is_err());
        assert!(parse("5 s").is_err());
        assert!(parse("-1s").is_err());
        assert!(parse("").is_err());
        assert!(parse("3d").unwrap_err().contains("unknown unit"));
        assert!(parse("18446744073709551616ns")
            .unwrap_err()
            .contains("too large"));
        assert_eq!(
            parse("18446744073709551615ns"),
            Ok(Duration::from_nanos(u64::MAX))
        );
        assert!(parse("1.2.3s").is_err());
        assert!(parse(".s").is_err());
        assert_eq!(parse(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(
            parse("1.0000000001s"),
            Ok(Duration::from_nanos(1_000_000_000))
        );
        assert!(parse("99999999999h").unwrap_err().contains("too large"));
        assert_eq!(
            parse("18446744073709ms"),
            Ok(Duration::from_millis(18_446_744_073_709))
        );
    }

    #[test]
    fn days_only_where_asked_for() {
        assert_eq!(parse_with_days("14d"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(
            parse_with_days("336h"),
            Ok(Duration::from_secs(14 * 86_400))
        );
        assert_eq!(
            parse_with_days("1d12h"),
            Ok(Duration::from_secs(36 * 3_600))
        );
        assert_eq!(parse_with_days("0.5d"), Ok(Duration::from_secs(12 * 3_600)));
        assert!(parse_with_days("d").is_err());
        assert!(parse_with_days("-1d").is_err());
        assert!(parse_with_days("2dx").is_err());
        assert!(parse("14d").is_err());
    }

    #[test]
    fn formats_like_go() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_micros(1), "1µs"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_millis(10), "10ms"),
            (Duration::from_nanos(1_234_567), "1.234567ms"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(60), "1m0s"),
            (Duration::from_millis(3_723_500), "1h2m3.5s"),
        ];
        for (d, want) in cases {
            assert_eq!(go_string(d), want, "{d:?}");
        }
    }
}
