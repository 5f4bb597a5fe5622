//! ELIC01: when Coder's license runs out, its premium features (workspace proxies among them)
//! stop, and nothing warns before. Only `licenses.exp` is read, never the license itself; no
//! license at all is a deployment without premium features, not a finding.

use std::time::Duration;

use time::OffsetDateTime;

use crate::coder_db::{DbError, Licenses};
use crate::report::workspace_proxy::{License, WorkspaceProxyReport};
use crate::report::{Code, Severity};

const DAY: i64 = 24 * 3600;

pub fn judge(
    report: &mut WorkspaceProxyReport,
    licenses: Result<Licenses, DbError>,
    now: OffsetDateTime,
    warning: Duration,
) {
    let licenses = match licenses {
        Ok(licenses) => licenses,
        Err(e) => {
            report
                .view
                .notes
                .push(format!("license expiry not checked: {e}"));
            return;
        }
    };
    let Some(expires_at) = licenses.latest_expiry else {
        return;
    };
    let left = (expires_at - now).whole_seconds();
    let days_left = left.div_euclid(DAY);
    report.license = Some(License {
        expires_at,
        days_left,
    });
    let date = expires_at.date();
    // In words, to the nearest day: 11.9 days left is "in 12 days".
    let nearest = |seconds: i64| (seconds + DAY / 2).div_euclid(DAY);
    if left <= 0 {
        let what = if licenses.count == 1 {
            "the Coder license has expired".to_string()
        } else {
            format!("all {} Coder licenses have expired", licenses.count)
        };
        report.base.warn_beyond_coder(
            Severity::Error,
            Code::Elic01,
            format!(
                "{what}: the latest on {date} ({} ago); premium features, workspace proxies \
                 among them, have stopped",
                days(nearest(-left))
            ),
        );
    } else if left <= warning.as_secs() as i64 {
        report.base.warn_beyond_coder(
            Severity::Warning,
            Code::Elic01,
            format!(
                "the Coder license expires on {date} (in {}); premium features, workspace \
                 proxies among them, stop then",
                days(nearest(left))
            ),
        );
    }
}

fn days(n: i64) -> String {
    match n {
        0 => "less than a day".to_string(),
        1 => "1 day".to_string(),
        n => format!("{n} days"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days_from_now: i64, now: OffsetDateTime) -> Licenses {
        Licenses {
            count: 2,
            latest_expiry: Some(now + time::Duration::seconds(days_from_now * DAY + 60)),
        }
    }

    #[test]
    fn expiry_within_the_warning_is_a_warning_and_past_it_an_error() {
        let now = OffsetDateTime::now_utc();
        let warning = Duration::from_secs(30 * DAY as u64);
        let mut report = WorkspaceProxyReport::default();
        judge(&mut report, Ok(at(10, now)), now, warning);
        assert_eq!(report.base.severity, Severity::Warning);
        assert!(report.base.warnings[0].message.contains("(in 10 days)"));
        assert_eq!(report.license.as_ref().unwrap().days_left, 10);

        let mut report = WorkspaceProxyReport::default();
        judge(&mut report, Ok(at(-3, now)), now, warning);
        assert_eq!(report.base.severity, Severity::Error);
        assert_eq!(report.base.severity_for_coder(), Severity::Ok);
        let text = &report.base.warnings[0].message;
        assert!(
            text.starts_with("all 2 Coder licenses have expired"),
            "{text}"
        );

        let mut report = WorkspaceProxyReport::default();
        judge(&mut report, Ok(at(40, now)), now, warning);
        assert!(report.base.warnings.is_empty());
        assert_eq!(report.license.unwrap().days_left, 40);
    }

    #[test]
    fn no_license_is_no_finding() {
        let now = OffsetDateTime::now_utc();
        let mut report = WorkspaceProxyReport::default();
        let none = Licenses {
            count: 0,
            latest_expiry: None,
        };
        judge(&mut report, Ok(none), now, Duration::from_secs(1));
        assert!(report.base.warnings.is_empty());
        assert!(report.license.is_none());
    }
}
