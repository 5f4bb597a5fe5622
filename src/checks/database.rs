//! Database: connect with the DSN, then five pings on that one connection; the median decides,
//! exactly as Coder's rule (coder-health.md section 3).

use std::time::{Duration, Instant};

use crate::checks::{Context, REPORT_MARGIN};
use crate::coder_db::pubsub::{self, Probe};
use crate::coder_db::DbError;
use crate::defaults;
use crate::duration::go_string;
use crate::report::database::{DatabaseReport, SettingSource, PINGS};
use crate::report::{Code, Severity};
use crate::settings::{CheckSettings, DsnSetting};

/// What the Database section is given besides the run's connection.
pub struct Options {
    pub threshold: Duration,
    /// Where the DSN came from, for the report.
    pub source: Option<SettingSource>,
    pub sslmode: Option<&'static str>,
    /// For the pubsub probe's own connection.
    pub dsn: Option<DsnSetting>,
    /// EPG02 warning at this percentage of the usable slots.
    pub connections_warning_percent: u8,
}

impl From<&CheckSettings> for Options {
    fn from(settings: &CheckSettings) -> Options {
        Options {
            threshold: settings.db_threshold,
            source: settings.postgres.as_ref().map(|p| p.source),
            sslmode: settings
                .postgres
                .as_ref()
                .and_then(|p| crate::net::dsn::Dsn::parse(&p.dsn).ok())
                .map(|dsn| dsn.sslmode.as_str()),
            dsn: settings.postgres.clone(),
            connections_warning_percent: settings.db_connections_warning_percent,
        }
    }
}

/// Coder's threshold in whole milliseconds; under 1 ms falls back to the 15 ms default.
pub fn threshold_ms(threshold: Duration) -> u64 {
    match threshold.as_millis() as u64 {
        0 => defaults::DB_THRESHOLD.as_millis() as u64,
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

pub fn run(options: &Options, ctx: &Context) -> DatabaseReport {
    let mut report = DatabaseReport {
        threshold_ms: threshold_ms(options.threshold),
        source: options.source,
        sslmode: options.sslmode,
        ..DatabaseReport::default()
    };
    let db = match ctx.db() {
        Ok(db) => db,
        Err(e) => {
            report
                .base
                .fail_with(Code::Edb01, e.to_string(), e.evidence().cloned());
            return report;
        }
    };
    report.endpoint = db.endpoint().to_string();
    // The listener connects and LISTENs while the pings run.
    let probe = Probe::new();
    let listening = options
        .dsn
        .as_ref()
        .map(|dsn| pubsub::listen(dsn, &probe, ctx.deadline.less(REPORT_MARGIN).at()));
    // The connection is shared and opened once; only the round trips are timed, as on Coder's
    // pooled connection, and each ping is timed only once this section has the connection.
    let pings = db.ping(ctx.deadline, |conn| {
        let mut pings = Vec::with_capacity(PINGS);
        for attempt in 1..=PINGS {
            let remaining = ctx.deadline.remaining();
            if remaining.is_zero() {
                return Err(DbError::Query(format!(
                    "deadline of {} reached after {} of {PINGS} pings",
                    ctx.deadline.words(),
                    attempt - 1
                )));
            }
            let started = Instant::now();
            conn.ping(remaining)
                .map_err(|e| DbError::Query(format!("ping {attempt} of {PINGS}: {e}")))?;
            pings.push(started.elapsed());
        }
        Ok(pings)
    });
    if pings.is_err() {
        // A ping that failed may still be in flight: nothing should queue behind it.
        db.mark_broken("the connection stopped answering the Database section's pings");
    }
    match pings {
        Ok(pings) => report.pings = pings,
        Err(DbError::Dsn(e)) => {
            report.base.fail(Code::Edb01, e);
            return report;
        }
        Err(e) => {
            report.base.fail_with(
                Code::Edb01,
                format!("ping database: {e}"),
                e.evidence().cloned(),
            );
            if let DbError::OutOfSlots(why, evidence) = &e {
                beyond::out_of_slots(&mut report, why, evidence.as_ref());
            }
            return report;
        }
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
    // Beyond Coder's checks, after Coder's own findings are in.
    let pubsub =
        listening.map(|l| beyond::round_trip(db, &probe, l, ctx.deadline.less(REPORT_MARGIN)));
    let facts = db.snapshot(ctx.deadline).and_then(|s| s.server);
    beyond::judge(
        &mut report,
        facts,
        pubsub,
        options.connections_warning_percent,
    );
    report
}

pub mod beyond;

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
