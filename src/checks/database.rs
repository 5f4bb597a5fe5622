//! Database: connect with the DSN, then five pings on that one connection; the median decides,
//! exactly as Coder's rule (coder-health.md section 3).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::checks::Context;
use crate::codes::Code;
use crate::duration::{go_string, short};
use crate::net::postgres::{describe_pg_error, Dsn};
use crate::report::{BaseReport, SectionReport, Severity};
use crate::settings::{DsnSource, DEFAULT_DB_THRESHOLD};

pub const PINGS: usize = 5;

#[derive(Debug, Default, Serialize)]
pub struct DatabaseReport {
    #[serde(flatten)]
    pub base: BaseReport,
    pub healthy: bool,
    pub reachable: bool,
    pub latency: String,
    pub latency_ms: u64,
    pub threshold_ms: u64,
    /// Each ping, for `--verbose`.
    #[serde(skip)]
    pub pings: Vec<Duration>,
    /// Additive: where the DSN came from (never the DSN itself).
    #[serde(
        rename = "dsn_source",
        skip_serializing_if = "Option::is_none",
        serialize_with = "source_name"
    )]
    pub source: Option<DsnSource>,
    #[serde(skip)]
    pub endpoint: String,
}

impl SectionReport for DatabaseReport {
    fn base(&self) -> &BaseReport {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseReport {
        &mut self.base
    }
    fn summary(&self) -> String {
        format!(
            "median ping {} of {PINGS} to {} (threshold {}ms)",
            self.latency, self.endpoint, self.threshold_ms
        )
    }
    fn details(&self) -> Vec<String> {
        self.pings
            .iter()
            .enumerate()
            .map(|(i, d)| format!("ping {}: {}", i + 1, short(*d)))
            .collect()
    }
}

fn source_name<S: serde::Serializer>(
    source: &Option<DsnSource>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(source.map(DsnSource::describe).unwrap_or_default())
}

/// Coder's threshold in whole milliseconds; under 1 ms falls back to the 15 ms default.
pub fn threshold_ms(threshold: Duration) -> u64 {
    match threshold.as_millis() as u64 {
        0 => DEFAULT_DB_THRESHOLD.as_millis() as u64,
        ms => ms,
    }
}

/// The median of the sorted pings (index 2 of 5), and whether it is at or above the threshold
/// once truncated to whole milliseconds.
pub fn judge(pings: &[Duration], threshold_ms: u64) -> (Duration, u64, bool) {
    let mut sorted = pings.to_vec();
    sorted.sort();
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
    let median_ms = median.as_millis() as u64;
    (median, median_ms, median_ms >= threshold_ms)
}

pub fn run(ctx: &Context) -> DatabaseReport {
    let mut report = DatabaseReport {
        threshold_ms: threshold_ms(ctx.settings.db_threshold),
        ..DatabaseReport::default()
    };
    let Some(setting) = &ctx.settings.postgres else {
        report.base.skip(
            "no database configured (set --postgres-url or CODER_PG_CONNECTION_URL; \
             no built-in PostgreSQL was discovered)",
        );
        return report;
    };
    report.source = Some(setting.source);
    let dsn = match Dsn::parse(&setting.dsn) {
        Ok(dsn) => dsn,
        Err(e) => {
            report.base.fail(
                Code::Edb01,
                format!("parse DSN from {}: {e}", setting.source.describe()),
            );
            return report;
        }
    };
    report.endpoint = dsn.endpoint();
    let mut client = match dsn.connect(ctx.deadline) {
        Ok(client) => client,
        Err(e) => {
            report.base.fail(
                Code::Edb01,
                format!(
                    "ping database: connect to {}: {}",
                    dsn.endpoint(),
                    e.describe(&dsn)
                ),
            );
            return report;
        }
    };
    // Connection set-up is done; only the round trips are timed, as on Coder's pooled connection.
    for attempt in 1..=PINGS {
        let remaining = ctx.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            report.base.fail(
                Code::Edb01,
                format!(
                    "ping database: deadline of {} reached after {} of {PINGS} pings",
                    go_string(ctx.settings.timeout),
                    attempt - 1
                ),
            );
            return report;
        }
        let started = Instant::now();
        if let Err(e) = client.is_valid(remaining) {
            report.base.fail(
                Code::Edb01,
                format!(
                    "ping database: ping {attempt} of {PINGS}: {}",
                    describe_pg_error(&e, &dsn)
                ),
            );
            report.pings.clear();
            return report;
        }
        report.pings.push(started.elapsed());
    }
    let (median, median_ms, slow) = judge(&report.pings, report.threshold_ms);
    report.latency = go_string(median);
    report.latency_ms = median_ms;
    report.healthy = true;
    report.reachable = true;
    if slow {
        report.base.warn(
            Severity::Warning,
            Code::Edb02,
            format!(
                "median database ping above threshold: {} >= {}ms",
                report.latency, report.threshold_ms
            ),
        );
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn median_is_the_middle_of_five() {
        // Coder's C4: 1µs, 1s, 1ns, 1m, 1ms -> 1ms.
        let pings = [
            Duration::from_micros(1),
            Duration::from_secs(1),
            Duration::from_nanos(1),
            Duration::from_secs(60),
            ms(1),
        ];
        let (median, median_ms, slow) = judge(&pings, 15);
        assert_eq!(go_string(median), "1ms");
        assert_eq!(median_ms, 1);
        assert!(!slow);
    }

    #[test]
    fn threshold_is_inclusive_after_truncation() {
        let at = |v: Duration| judge(&[v; 5], 15).2;
        assert!(at(Duration::from_micros(15_900)));
        assert!(at(ms(15)));
        assert!(!at(Duration::from_micros(14_990)));
        // Coder's C5: 1s, 1ms, 1s, 1ms, 1s with threshold 1s -> warning at 1000ms.
        let (_, median_ms, slow) = judge(&[ms(1000), ms(1), ms(1000), ms(1), ms(1000)], 1000);
        assert_eq!(median_ms, 1000);
        assert!(slow);
    }

    #[test]
    fn sub_millisecond_threshold_falls_back() {
        assert_eq!(threshold_ms(Duration::from_micros(900)), 15);
        assert_eq!(threshold_ms(Duration::ZERO), 15);
        assert_eq!(threshold_ms(ms(1)), 1);
        assert_eq!(threshold_ms(Duration::from_secs(1)), 1000);
    }
}
