//! How each finding is shown: the one rule every reader asks (the table, the JSON's order, the
//! Prometheus counts, JUnit, watch's change lines and the diagnosis), so they cannot drift apart.

use super::{BaseReport, Code, Evidence, Finding, Severity};

/// One finding as every renderer shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shown<'a> {
    /// `None` for an error Coder writes without a code.
    pub code: Option<Code>,
    /// Error or warning.
    pub severity: Severity,
    pub message: &'a str,
    pub evidence: Option<&'a Evidence>,
    /// A line of Coder's section `error` (else a `warnings` entry).
    pub in_error: bool,
}

impl BaseReport {
    /// The section's findings in the order they are shown, each with the severity it is shown
    /// with: the error lines first (the uncoded one, then the coded ones), all errors; then the
    /// warning entries in the order the check made them, each an error when the check gave it
    /// error and the section is at error (ELST02 beside EACS03, EPD01, ETLS02), else a warning.
    /// A skipped section shows nothing here (its reason is not a finding).
    pub fn shown(&self) -> Vec<Shown<'_>> {
        if self.skipped {
            return Vec::new();
        }
        let uncoded = self.uncoded_error.iter().map(|message| Shown {
            code: None,
            severity: Severity::Error,
            message,
            evidence: None,
            in_error: true,
        });
        let coded = self.errors.iter().map(|f| Shown {
            severity: Severity::Error,
            in_error: true,
            ..Shown::of(f)
        });
        let warnings = self.warnings.iter().map(|f| Shown {
            severity: if f.severity == Severity::Error && self.severity == Severity::Error {
                Severity::Error
            } else {
                Severity::Warning
            },
            in_error: false,
            ..Shown::of(f)
        });
        uncoded.chain(coded).chain(warnings).collect()
    }
}

impl<'a> Shown<'a> {
    fn of(finding: &'a Finding) -> Shown<'a> {
        Shown {
            code: Some(finding.code),
            severity: finding.severity,
            message: &finding.message,
            evidence: finding.evidence.as_ref(),
            in_error: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_first_and_an_error_warning_only_in_a_failing_section() {
        let mut base = BaseReport::default();
        base.warn(Severity::Warning, Code::Eacs04, "slow");
        base.warn_beyond_coder(Severity::Error, Code::Elst02, "coderd down");
        base.fail(Code::Eacs03, "no answer");
        let shown = base.shown();
        let seen: Vec<(Option<Code>, Severity)> =
            shown.iter().map(|s| (s.code, s.severity)).collect();
        assert_eq!(
            seen,
            [
                (Some(Code::Eacs03), Severity::Error),
                (Some(Code::Eacs04), Severity::Warning),
                (Some(Code::Elst02), Severity::Error),
            ]
        );
        // A section whose severity a roll-up lowered shows its entries as warnings.
        base.severity = Severity::Warning;
        base.errors.clear();
        assert!(base.shown().iter().all(|s| s.severity == Severity::Warning));
    }
}
