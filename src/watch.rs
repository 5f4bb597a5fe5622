//! `--watch DUR`: the one runner (`checks::run`) again and again, DUR from the start of one run
//! to the start of the next (a run longer than DUR is followed at once), until SIGINT or SIGTERM
//! (see `shutdown`). What each run writes:
//! - `--output FILE`: the whole report in the chosen format, FILE replaced atomically each run;
//! - JSON on stdout: one compact document per line per run;
//! - the table on a terminal: the screen cleared and redrawn, headed by the time of the run;
//! - the table elsewhere: one line per section whose status or codes changed,
//!   `TIME SECTION OLD -> NEW [CODES][: finding]`; the first run gives every section's state
//!   with OLD `-`; a run that changes nothing prints nothing.

use std::fmt::Write;
use std::time::{Duration, Instant};

use crate::net::Net;
use crate::output::Destination;
use crate::render::present::sections;
use crate::render::{renderer, rows, section_status, RenderOptions, Status};
use crate::report::{run_fails, Code, Report, SectionId};
use crate::settings::{OutputFormat, Settings};
use crate::shutdown;

/// Home the cursor and clear the screen.
pub const CLEAR: &str = "\x1b[H\x1b[2J";

/// Runs forever; the process ends from `shutdown` (a signal) or when stdout is gone.
pub fn run(settings: &Settings, net: &Net, every: Duration, destination: &Destination) -> u8 {
    let mut changes = Changes::default();
    loop {
        let started = Instant::now();
        let report = crate::checks::run(settings, net.clone(), &|_| {});
        let failed = run_fails(&report, settings.output.fail_on);
        let code = u8::from(failed);
        let mut options = RenderOptions::for_run(settings, failed);
        let format = settings.output.format;
        let bytes = if !destination.is_stdout() {
            renderer(format).render(&report, &options)
        } else if format == OutputFormat::Json {
            options.one_line = true;
            renderer(format).render(&report, &options)
        } else if settings.output.terminal {
            renderer(format).render(&report, &options).map(|table| {
                let mut screen = format!(
                    "{CLEAR}healthcheck --watch {}: last run {}, exit status {code}; Ctrl-C to stop\n\n",
                    crate::duration::go_string(every),
                    report.time
                )
                .into_bytes();
                screen.extend(table);
                screen
            })
        } else {
            Ok(changes.lines(&report, &options).into_bytes())
        };
        match bytes {
            Ok(bytes) => {
                let _writing = shutdown::writing();
                let written = destination.write(&bytes);
                shutdown::finished(code);
                if let Err(e) = written {
                    eprintln!("healthcheck: {}", settings.secrets.scrub(&e));
                    // Nobody reads a closed stdout; a file may be writable again next run.
                    if destination.is_stdout() {
                        return code;
                    }
                }
            }
            Err(e) => eprintln!("healthcheck: {}", settings.secrets.scrub(&e.to_string())),
        }
        drop(report);
        std::thread::sleep(every.saturating_sub(started.elapsed()));
    }
}

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
