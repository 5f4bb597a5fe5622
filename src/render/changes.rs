//! Watch mode's change lines for a table that is not on a terminal: one line per section whose
//! status or codes changed since the last run, `TIME SECTION OLD -> NEW [CODES][: finding]`,
//! read from the same rows the table shows.

use std::fmt::Write;

use super::present::sections;
use super::{rows, section_status, RenderOptions, Status};
use crate::report::{Code, Report, SectionId};

/// What a section looked like in the last run.
#[derive(Clone, PartialEq, Eq)]
struct State {
    status: Status,
    codes: Vec<Code>,
}

/// The previous run's states, to tell what changed.
#[derive(Default)]
pub struct Changes {
    previous: Option<Vec<(SectionId, State)>>,
}

impl Changes {
    /// One line per section that changed since the last call (every section on the first).
    pub fn lines(&mut self, report: &Report, options: &RenderOptions) -> String {
        let mut out = String::new();
        let mut now = Vec::new();
        for view in sections(report) {
            let section_findings = rows(&view);
            let mut codes: Vec<Code> = section_findings.iter().filter_map(|f| f.code).collect();
            codes.dedup();
            let state = State {
                status: section_status(&section_findings),
                codes,
            };
            let before = self
                .previous
                .as_ref()
                .and_then(|p| p.iter().find(|(id, _)| *id == view.id))
                .map(|(_, s)| s);
            if before != Some(&state) {
                let _ = write!(
                    out,
                    "{} {} {} -> {}",
                    report.time,
                    view.id.cli_name(),
                    before.map_or("-", |s| s.status.label()),
                    state.status.label()
                );
                if !state.codes.is_empty() {
                    let codes: Vec<&str> = state.codes.iter().map(|c| c.as_str()).collect();
                    let _ = write!(out, " {}", codes.join(","));
                }
                if let Some(first) = section_findings.iter().find(|f| f.status != Status::Ok) {
                    let text = options.clean(&first.text).replace('\n', " ");
                    let _ = write!(out, ": {text}");
                }
                out.push('\n');
            }
            now.push((view.id, state));
        }
        self.previous = Some(now);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Severity;
    use crate::settings::Settings;

    #[test]
    fn only_changes_are_lines() {
        let options = RenderOptions::for_run(&Settings::default(), false);
        let mut changes = Changes::default();
        let mut report = Report {
            time: "T1".to_string(),
            ..Report::default()
        };
        report.base_mut(SectionId::Derp).skip("skipped by --skip");
        let first = changes.lines(&report, &options);
        assert_eq!(first.lines().count(), SectionId::ALL.len(), "{first}");
        assert!(first.contains("T1 access-url - -> OK\n"), "{first}");
        assert!(
            first.contains("T1 derp - -> SKIPPED: skipped by --skip\n"),
            "{first}"
        );
        assert_eq!(changes.lines(&report, &options), "", "nothing changed");
        report.time = "T2".to_string();
        report
            .base_mut(SectionId::Database)
            .warn(Severity::Warning, Code::Edb02, "slow\nping");
        assert_eq!(
            changes.lines(&report, &options),
            "T2 database OK -> WARN EDB02: slow ping\n"
        );
    }
}
