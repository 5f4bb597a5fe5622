//! The default human output: a header line, a table of findings, remediation for each code
//! found, and a one-line verdict.

use std::collections::BTreeSet;
use std::fmt::Write;

use colored::Colorize;
use comfy_table::{presets, Cell, Color, ContentArrangement, Table};

use super::{rows, section_status, RenderError, RenderOptions, Renderer, Status};
use crate::report::Code;
use crate::report::Report;

/// Width used when stdout is not a terminal, so piped output still wraps sensibly.
const PIPE_WIDTH: u16 = 120;

pub struct TableRenderer;

impl Renderer for TableRenderer {
    fn render(&self, report: &Report, options: &RenderOptions) -> Result<Vec<u8>, RenderError> {
        colored::control::set_override(options.color);
        let mut out = String::new();
        let _ = writeln!(out, "{}", header(report, options));

        let mut table = Table::new();
        table.load_preset(presets::UTF8_FULL_CONDENSED);
        table.set_content_arrangement(ContentArrangement::Dynamic);
        if options.color {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        if table.width().is_none() {
            table.set_width(PIPE_WIDTH);
        }
        table.set_header(["Section", "Status", "Code", "Finding"]);

        let mut codes_found = BTreeSet::new();
        let mut counts = [0usize; 5];
        for view in super::present::sections(report) {
            let section_findings = rows(&view);
            let worst = section_status(&section_findings);
            counts[worst as usize] += 1;
            for (i, finding) in section_findings.iter().enumerate() {
                if let Some(code) = finding.code {
                    codes_found.insert(code);
                }
                let section = if i == 0 { view.id.title() } else { "" };
                table.add_row(vec![
                    Cell::new(section),
                    status_cell(finding.status),
                    Cell::new(finding.code.map(Code::as_str).unwrap_or("")),
                    Cell::new(cell_text(&options.clean(&finding.text))),
                ]);
            }
        }
        let _ = writeln!(out, "{table}");
        for d in &report.diagnosis {
            let code = d.code.map(|c| format!("{c}: ")).unwrap_or_default();
            let _ = writeln!(
                out,
                "{} {code}{}",
                "Probable cause:".bold(),
                options.clean(&d.message)
            );
        }

        if options.verbose {
            let mut details = String::new();
            for view in super::present::sections(report) {
                if view.details.is_empty() || view.base.skipped {
                    continue;
                }
                let _ = writeln!(details, "{}:", view.id.title().bold());
                for line in &view.details {
                    let _ = writeln!(details, "  {}", options.clean(line));
                }
            }
            if !report.notes.is_empty() {
                let _ = writeln!(details, "{}:", "Run".bold());
                for note in &report.notes {
                    let _ = writeln!(details, "  {}", options.clean(note));
                }
            }
            if !details.is_empty() {
                let _ = write!(out, "\n{details}");
            }
        }

        for code in &codes_found {
            let info = code.info();
            let _ = writeln!(out, "\n{} {}", code.as_str().bold(), info.title.bold());
            let _ = writeln!(out, "  Problem:  {}", info.problem);
            let _ = writeln!(out, "  Solution: {}", info.solution);
            let _ = writeln!(out, "  Docs:     {}", code.docs_url(&options.docs_url));
        }

        let nothing_checked = counts[Status::Skipped as usize] == counts.iter().sum::<usize>();
        let verdict = if nothing_checked {
            "nothing was checked".yellow().bold()
        } else if options.failed {
            "UNHEALTHY".red().bold()
        } else if report.severity > crate::report::Severity::Ok {
            "healthy, with findings".yellow().bold()
        } else {
            "healthy".green().bold()
        };
        let _ = writeln!(
            out,
            "\n{} OK, {} warning, {} error, {} skipped, {} dismissed: {verdict}",
            counts[Status::Ok as usize],
            counts[Status::Warn as usize],
            counts[Status::Error as usize],
            counts[Status::Skipped as usize],
            counts[Status::Dismissed as usize],
        );
        Ok(out.into_bytes())
    }
}

/// Most characters of a finding shown in a cell. Much of a finding's text comes from servers,
/// and comfy-table lays out long words in quadratic time; the whole text is in `--json`.
const MAX_CELL_CHARS: usize = 1000;

/// A finding's text cut to a cell's size, with a marker saying how much was left out.
fn cell_text(text: &str) -> String {
    match text.char_indices().nth(MAX_CELL_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => format!(
            "{}… ({} more bytes; see --json)",
            &text[..cut],
            text.len() - cut
        ),
    }
}

fn status_cell(status: Status) -> Cell {
    let cell = Cell::new(status.label());
    match status {
        Status::Ok => cell.fg(Color::Green),
        Status::Warn => cell.fg(Color::Yellow),
        Status::Error => cell.fg(Color::Red),
        Status::Skipped | Status::Dismissed => cell.fg(Color::DarkGrey),
    }
}

/// The access URL and version in the header line are cut to this length.
const HEADER_PART_CHARS: usize = 200;

fn header(report: &Report, options: &RenderOptions) -> String {
    let access = options
        .access_url
        .clone()
        .unwrap_or_else(|| "no access URL".to_string());
    let version = if report.coder_version.is_empty() {
        "Coder version unknown".to_string()
    } else {
        format!("Coder {}", report.coder_version)
    };
    let dsn = match &options.dsn_source {
        Some(source) => format!("database from {source}"),
        None => "no database configured".to_string(),
    };
    format!(
        "{} {} · {} · {dsn}",
        "healthcheck".bold(),
        crate::text::snippet(&options.clean(&access), HEADER_PART_CHARS),
        crate::text::snippet(&options.clean(&version), HEADER_PART_CHARS)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::Secrets;
    use std::time::{Duration, Instant};

    fn options() -> RenderOptions {
        RenderOptions {
            verbose: true,
            access_url: Some("x".repeat(128 * 1024)),
            secrets: Secrets::default(),
            ..RenderOptions::for_run(&crate::settings::Settings::default(), true)
        }
    }

    #[test]
    fn a_huge_server_text_renders_quickly_and_is_cut_with_a_marker() {
        let mut report = Report::default();
        // One 1 MiB word (a server note) and 1 MiB of short words.
        report
            .access_url
            .base
            .fail(Code::Eacs03, "n".repeat(1 << 20));
        let words = "word ".repeat((1 << 20) / 5);
        report
            .websocket
            .base
            .warn(crate::report::Severity::Warning, Code::Ews01, words);
        let started = Instant::now();
        let bytes = TableRenderer.render(&report, &options()).unwrap();
        let took = started.elapsed();
        assert!(took < Duration::from_millis(500), "{took:?}");
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("more bytes; see --json)"), "{text}");
        assert!(text.len() < 32 * 1024, "{}", text.len());
        // The header's access URL is cut too.
        assert!(text.lines().next().unwrap().chars().count() < 600);
    }

    #[test]
    fn short_texts_are_untouched_and_long_ones_cut_on_a_char_boundary() {
        assert_eq!(cell_text("all is well"), "all is well");
        assert_eq!(cell_text(&"a".repeat(1000)), "a".repeat(1000));
        let cut = cell_text(&"é".repeat(1500));
        assert!(cut.ends_with("… (1000 more bytes; see --json)"), "{cut}");
    }
}
