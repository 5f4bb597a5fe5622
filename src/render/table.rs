//! The default human output: a header line, a table of findings, remediation for each code
//! found, and a one-line verdict.

use std::collections::BTreeSet;
use std::fmt::Write;

use colored::Colorize;
use comfy_table::{presets, Cell, Color, ContentArrangement, Table};

use super::{findings, section_status, RenderError, RenderOptions, Renderer, Status};
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
            let section_findings = findings(&view);
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
                    Cell::new(options.clean(&finding.text)),
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

fn status_cell(status: Status) -> Cell {
    let cell = Cell::new(status.label());
    match status {
        Status::Ok => cell.fg(Color::Green),
        Status::Warn => cell.fg(Color::Yellow),
        Status::Error => cell.fg(Color::Red),
        Status::Skipped | Status::Dismissed => cell.fg(Color::DarkGrey),
    }
}

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
        options.clean(&access),
        options.clean(&version)
    )
}
