//! The Database section's checks beyond Coder's: pubsub round trip (EPG01), connection headroom
//! (EPG02), a DSN at a standby (EPG03). Findings of ours: they never change Coder's verdict.

use std::time::{Duration, Instant};

use crate::coder_db::pubsub::{Listening, Probe};
use crate::coder_db::{DbError, ServerFacts, SharedDb};
use crate::net::deadline::Deadline;
use crate::report::database::{Connections, DatabaseReport, Holder, Pubsub};
use crate::report::{Code, Evidence, Severity};

/// How the pubsub probe ended.
#[derive(Debug)]
pub enum RoundTrip {
    Heard(Duration),
    /// LISTEN was in place and NOTIFY went out, but nothing came back by the deadline.
    NotHeard(Duration),
    /// The listener could not connect or LISTEN.
    Failed(DbError),
    /// The NOTIFY could not be sent on the run's connection (busy, or broken): nothing is
    /// known about pubsub.
    Unchecked(DbError),
}

/// Waits for the listener, sends the NOTIFY on the shared connection and waits for it to come
/// back, all before `deadline`.
pub fn round_trip(
    db: &SharedDb,
    probe: &Probe,
    listening: Listening,
    deadline: Deadline,
) -> RoundTrip {
    match listening.ready.recv_timeout(deadline.remaining()) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return RoundTrip::Failed(e),
        Err(_) => {
            return RoundTrip::Failed(DbError::Connect(
                format!(
                    "the listening connection to {} was not ready within {}",
                    db.endpoint(),
                    deadline.words()
                ),
                None,
            ))
        }
    }
    // Timed from when the connection is ours: waiting for another section's turn is no part
    // of the round trip.
    let sent = match db.with(deadline, |conn| {
        let sent = Instant::now();
        conn.notify(probe).map(|()| sent)
    }) {
        Ok(sent) => sent,
        Err(e) => return RoundTrip::Unchecked(e),
    };
    // The listener gives up at the same deadline; a little more lets its answer arrive.
    match listening
        .heard
        .recv_timeout(deadline.remaining() + Duration::from_millis(20))
    {
        Ok(Ok(Some(at))) => RoundTrip::Heard(at.saturating_duration_since(sent)),
        Ok(Err(e)) => RoundTrip::Failed(e),
        Ok(Ok(None)) | Err(_) => RoundTrip::NotHeard(sent.elapsed()),
    }
}

/// A connection refused for want of a slot (SQLSTATE 53300).
pub fn out_of_slots(report: &mut DatabaseReport, why: &str, evidence: Option<&Evidence>) {
    report.base.warn_beyond_coder_with(
        Severity::Error,
        Code::Epg02,
        format!("no connection slot left: the server refused a connection ({why})"),
        evidence.cloned(),
    );
}

/// Files what the server facts and the pubsub probe say.
pub fn judge(
    report: &mut DatabaseReport,
    facts: Result<ServerFacts, DbError>,
    pubsub: Option<RoundTrip>,
    warning_percent: u8,
) {
    let endpoint = report.endpoint.clone();
    let mut standby = false;
    let mut slots_error = false;
    // Unread facts are not ours to report twice: the sections reading Coder's tables say why.
    if let Ok(facts) = facts {
        standby = facts.in_recovery;
        if standby {
            report.base.warn_beyond_coder(
                Severity::Error,
                Code::Epg03,
                format!(
                    "the DSN points at a standby: pg_is_in_recovery() is true at {endpoint}; \
                     coderd needs the primary (writes fail on a standby with SQLSTATE 25006)"
                ),
            );
        }
        if let Some((severity, message)) = headroom(&facts, warning_percent) {
            slots_error = severity == Severity::Error;
            report
                .base
                .warn_beyond_coder(severity, Code::Epg02, message);
        }
        report.connections = Some(Connections {
            used: facts.used,
            max: facts.max_connections,
            reserved: facts.reserved,
            top: facts
                .top
                .into_iter()
                .map(|(name, count)| Holder { name, count })
                .collect(),
        });
    }
    let Some(pubsub) = pubsub else {
        return;
    };
    let mut result = Pubsub::default();
    match pubsub {
        RoundTrip::Heard(took) => {
            result.round_trip = Some(took);
            result.round_trip_ms = Some((took.as_secs_f64() * 1e6).round() / 1e3);
        }
        RoundTrip::NotHeard(waited) => {
            let waited = crate::duration::short(waited);
            result.error = Some(format!("no notification within {waited}"));
            // A standby cannot LISTEN at all; EPG03 says why.
            if !standby {
                report.base.warn_beyond_coder(
                    Severity::Error,
                    Code::Epg01,
                    format!(
                        "LISTEN/NOTIFY does not work through this DSN: a NOTIFY on one connection \
                         to {endpoint} did not reach a LISTEN on another within {waited}, while \
                         queries work; most likely a PgBouncer in transaction (or statement) \
                         pooling mode. Coder's pubsub needs session pooling or a direct \
                         connection"
                    ),
                );
            }
        }
        RoundTrip::Failed(DbError::OutOfSlots(why, evidence)) => {
            result.error = Some(why.clone());
            if !slots_error {
                out_of_slots(report, &why, evidence.as_ref());
            }
        }
        RoundTrip::Failed(e @ DbError::Query(_)) if !standby => {
            let why = e.to_string();
            result.error = Some(why.clone());
            report.base.warn_beyond_coder(
                Severity::Error,
                Code::Epg01,
                format!("LISTEN/NOTIFY does not work through this DSN: {why}"),
            );
        }
        // The listener could not connect although the run's connection could, or the NOTIFY
        // could not be sent: said in the JSON, but no finding that would blame pubsub for it.
        RoundTrip::Failed(e) | RoundTrip::Unchecked(e) => result.error = Some(e.to_string()),
    }
    report.pubsub = Some(result);
}

/// EPG02 from the slots in use: an error when a non-superuser would get none, a warning at
/// `warning_percent` of them.
pub fn headroom(facts: &ServerFacts, warning_percent: u8) -> Option<(Severity, String)> {
    let usable = facts.usable();
    let top = if facts.top.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = facts
            .top
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        format!("; largest holders: {}", names.join(", "))
    };
    let counts = format!(
        "{} of {usable} connection slots in use (max_connections {}, {} reserved for superusers)",
        facts.used, facts.max_connections, facts.reserved
    );
    if facts.used >= usable {
        return Some((
            Severity::Error,
            format!("no connection slot left for a non-superuser: {counts}{top}"),
        ));
    }
    // Whole percent, rounded down, so 80% is reached at exactly 80 of 100.
    let percent = facts.used * 100 / usable.max(1);
    (percent >= i64::from(warning_percent)).then(|| {
        (
            Severity::Warning,
            format!("connection slots running out: {counts}, {percent}% (warning at {warning_percent}%){top}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(used: i64, max: i64, reserved: i64) -> ServerFacts {
        ServerFacts {
            in_recovery: false,
            max_connections: max,
            reserved,
            used,
            top: vec![("coderd (coder)".to_string(), used)],
        }
    }

    #[test]
    fn headroom_warns_at_the_percentage_and_fails_when_full() {
        assert_eq!(headroom(&facts(79, 103, 3), 80), None);
        let (severity, text) = headroom(&facts(80, 103, 3), 80).unwrap();
        assert_eq!(severity, Severity::Warning);
        assert!(text.contains("80 of 100 connection slots"), "{text}");
        assert!(
            text.contains("largest holders: coderd (coder) 80"),
            "{text}"
        );
        let (severity, text) = headroom(&facts(100, 103, 3), 80).unwrap();
        assert_eq!(severity, Severity::Error);
        assert!(text.starts_with("no connection slot left"), "{text}");
        // More reserved slots than connections: nothing usable is an error, not a panic.
        assert_eq!(headroom(&facts(1, 3, 5), 80).unwrap().0, Severity::Error);
        assert_eq!(headroom(&facts(1, 100, 0), 1).unwrap().0, Severity::Warning);
    }

    #[test]
    fn a_standby_is_epg03_and_its_failed_listen_is_not_epg01() {
        let mut report = DatabaseReport::default();
        let mut standby = facts(1, 100, 3);
        standby.in_recovery = true;
        judge(
            &mut report,
            Ok(standby),
            Some(RoundTrip::Failed(DbError::Query(
                "LISTEN: cannot execute LISTEN during recovery".to_string(),
            ))),
            80,
        );
        let codes: Vec<Code> = report.base.warnings.iter().map(|w| w.code).collect();
        assert_eq!(codes, [Code::Epg03]);
        assert_eq!(report.base.severity, Severity::Error);
        assert_eq!(report.base.severity_for_coder(), Severity::Ok);
        assert!(report.pubsub.unwrap().error.unwrap().contains("recovery"));
    }

    #[test]
    fn a_notification_that_never_comes_is_epg01() {
        let mut report = DatabaseReport::default();
        judge(
            &mut report,
            Ok(facts(1, 100, 3)),
            Some(RoundTrip::NotHeard(Duration::from_secs(2))),
            80,
        );
        assert_eq!(report.base.warnings[0].code, Code::Epg01);
        assert!(report.base.warnings[0].message.contains("PgBouncer"));
        let heard = {
            let mut r = DatabaseReport::default();
            judge(
                &mut r,
                Ok(facts(1, 100, 3)),
                Some(RoundTrip::Heard(Duration::from_micros(420))),
                80,
            );
            r
        };
        assert!(heard.base.warnings.is_empty());
        assert_eq!(heard.pubsub.unwrap().round_trip_ms, Some(0.42));
    }

    #[test]
    fn refused_for_want_of_a_slot_is_epg02_once() {
        let mut report = DatabaseReport::default();
        judge(
            &mut report,
            Ok(facts(100, 103, 3)),
            Some(RoundTrip::Failed(DbError::OutOfSlots(
                "too many connections (SQLSTATE 53300)".to_string(),
                None,
            ))),
            80,
        );
        let codes: Vec<Code> = report.base.warnings.iter().map(|w| w.code).collect();
        assert_eq!(codes, [Code::Epg02]);
    }
}
