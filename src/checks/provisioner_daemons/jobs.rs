//! EPQ01: provisioner jobs that have waited too long to start. Jobs no live daemon can take
//! (Coder's matching rule, evaluated by the database) will wait forever: an error naming what
//! they ask for. Jobs a live daemon could take are only queued: a warning.

use std::time::Duration;

use crate::coder_db::{DbError, JobGroup, PendingJobs};
use crate::duration::go_string;
use crate::report::provisioner_daemons::{self as model, ProvisionerDaemonsReport};
use crate::report::{Code, Severity};

pub fn judge(report: &mut ProvisionerDaemonsReport, pending: Result<PendingJobs, DbError>) {
    let pending = match pending {
        Ok(pending) => pending,
        Err(e) => {
            report
                .view
                .notes
                .push(format!("pending provisioner jobs not checked: {e}"));
            return;
        }
    };
    report.view.notes.extend(pending.notes.iter().cloned());
    report.pending_jobs = Some(model::PendingJobs {
        count: pending.count,
        oldest_age_seconds: pending.oldest_age_micros.map(seconds),
        groups: pending
            .groups
            .iter()
            .map(|g| model::JobGroup {
                organization_id: g.organization_id,
                provisioner: g.provisioner.clone(),
                tags: g.tags.clone(),
                count: g.count,
                oldest_age_seconds: seconds(g.oldest_age_micros),
                matched: g.matched,
            })
            .collect(),
        notes: pending.notes.clone(),
    });
    if pending.count == 0 {
        return;
    }
    let threshold = go_string(pending.older_than);
    let unmatched: Vec<&JobGroup> = pending
        .groups
        .iter()
        .filter(|g| g.matched == Some(false))
        .collect();
    // Each group's own count only when it is not the whole.
    let alone = unmatched.len() == 1 && unmatched[0].count == pending.count;
    let unmatched: Vec<String> = unmatched
        .into_iter()
        .map(|g| {
            let mut text = format!("no live daemon has tags {}", g.tags);
            if let Some(p) = &g.provisioner {
                text.push_str(&format!(" with provisioner {p}"));
            }
            if let Some(o) = g.organization_id {
                text.push_str(&format!(" in organization {o}"));
            }
            if !alone {
                text.push_str(&format!(
                    " ({} job{}, the oldest {})",
                    g.count,
                    plural(g.count),
                    age(g.oldest_age_micros)
                ));
            }
            text
        })
        .collect();
    let unread = pending.group_count - pending.groups.len() as i64;
    let more = if unread > 0 {
        format!(" ({unread} smaller groups not read)")
    } else {
        String::new()
    };
    let oldest = pending
        .oldest_age_micros
        .map(|us| format!(" (the oldest {})", age(us)))
        .unwrap_or_default();
    if !unmatched.is_empty() {
        report.base.warn_beyond_coder(
            Severity::Error,
            Code::Epq01,
            format!(
                "{} provisioner job{} not started after {threshold}{oldest}: {}: these builds \
                 will wait forever{more}",
                pending.count,
                plural(pending.count),
                unmatched.join("; ")
            ),
        );
        return;
    }
    let why = if pending.groups.iter().any(|g| g.matched.is_none()) {
        "whether a live daemon can take them is unknown with this schema"
    } else {
        "a live daemon matches them, so the queue is slow"
    };
    report.base.warn_beyond_coder(
        Severity::Warning,
        Code::Epq01,
        format!(
            "{} provisioner job{} not started after {threshold}{oldest}; {why}{more}",
            pending.count,
            plural(pending.count)
        ),
    );
}

fn seconds(micros: i64) -> f64 {
    (micros.max(0) / 1000) as f64 / 1000.0
}

fn age(micros: i64) -> String {
    go_string(Duration::from_secs((micros.max(0) / 1_000_000) as u64))
}

fn plural(n: i64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(tags: &str, count: i64, matched: Option<bool>) -> JobGroup {
        JobGroup {
            organization_id: None,
            provisioner: Some("terraform".to_string()),
            tags: serde_json::from_str(tags).unwrap(),
            count,
            oldest_age_micros: 600_000_000,
            matched,
        }
    }

    fn pending(groups: Vec<JobGroup>) -> PendingJobs {
        PendingJobs {
            older_than: Duration::from_secs(300),
            count: groups.iter().map(|g| g.count).sum(),
            oldest_age_micros: Some(600_000_000),
            group_count: groups.len() as i64,
            groups,
            notes: vec![],
        }
    }

    #[test]
    fn unmatched_tags_are_an_error_naming_them() {
        let mut report = ProvisionerDaemonsReport::default();
        judge(
            &mut report,
            Ok(pending(vec![
                group(r#"{"region":"mars"}"#, 2, Some(false)),
                group("{}", 1, Some(true)),
            ])),
        );
        let w = &report.base.warnings[0];
        assert_eq!(w.code, Code::Epq01);
        assert_eq!(report.base.severity, Severity::Error);
        assert_eq!(report.base.severity_for_coder(), Severity::Ok);
        assert_eq!(
            w.message,
            r#"3 provisioner jobs not started after 5m0s (the oldest 10m0s): no live daemon has tags {"region":"mars"} with provisioner terraform (2 jobs, the oldest 10m0s): these builds will wait forever"#
        );
        assert_eq!(report.pending_jobs.unwrap().groups.len(), 2);
    }

    #[test]
    fn a_slow_queue_is_a_warning_and_no_jobs_no_finding() {
        let mut report = ProvisionerDaemonsReport::default();
        judge(&mut report, Ok(pending(vec![group("{}", 1, Some(true))])));
        assert_eq!(report.base.severity, Severity::Warning);
        assert!(report.base.warnings[0].message.contains("queue is slow"));

        let mut report = ProvisionerDaemonsReport::default();
        judge(&mut report, Ok(pending(vec![])));
        assert!(report.base.warnings.is_empty());
        assert_eq!(report.pending_jobs.unwrap().count, 0);
    }

    #[test]
    fn an_unreadable_jobs_table_is_a_note_not_a_finding() {
        let mut report = ProvisionerDaemonsReport::default();
        judge(
            &mut report,
            Err(DbError::NotCoder {
                place: "db".to_string(),
                what: "table provisioner_jobs is missing".to_string(),
            }),
        );
        assert!(report.base.warnings.is_empty());
        assert!(report.pending_jobs.is_none());
        assert!(report.view.notes[0].contains("provisioner_jobs is missing"));
    }
}
