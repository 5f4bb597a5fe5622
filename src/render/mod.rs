//! Renderers turn a finished report into bytes. They never probe anything.

pub mod changes;
pub mod explain;
pub mod json;
pub mod junit;
pub mod present;
pub mod problems;
pub mod prometheus;
pub mod table;

pub use present::SectionView;

use crate::report::{Report, Severity, Shown};
use crate::settings::{AccessUrl, OutputFormat, Settings};

/// What a renderer needs besides the report.
pub struct RenderOptions {
    pub color: bool,
    pub verbose: bool,
    pub docs_url: String,
    /// The access URL as configured (credentials redacted), for the header.
    pub access_url: Option<String>,
    /// Where the DSN came from, for the header.
    pub dsn_source: Option<String>,
    pub failed: bool,
    /// `--fail-on`: which sections count as failures (JUnit).
    pub fail_on: Severity,
    /// One line per document (JSON in watch mode) instead of the indented form.
    pub one_line: bool,
    /// Known secrets, scrubbed from every text that came from outside.
    pub secrets: crate::redact::Secrets,
}

impl RenderOptions {
    /// The options of one run's output; `failed` is that run's verdict for the exit code.
    pub fn for_run(settings: &Settings, failed: bool) -> RenderOptions {
        let output = &settings.output;
        RenderOptions {
            color: output.color,
            verbose: output.verbose,
            docs_url: output.docs_url.clone(),
            access_url: settings
                .checks
                .access_url
                .as_ref()
                .map(AccessUrl::for_header),
            dsn_source: settings
                .checks
                .postgres
                .as_ref()
                .map(|p| p.source.describe().to_string()),
            failed,
            fail_on: output.fail_on,
            one_line: false,
            secrets: settings.secrets.clone(),
        }
    }

    /// Text from servers, databases or settings, made safe to print: known secrets scrubbed and
    /// control characters (terminal escapes) removed; line breaks stay.
    pub fn clean(&self, text: &str) -> String {
        self.secrets
            .scrub(text)
            .chars()
            .filter(|c| *c == '\n' || !c.is_control())
            .collect()
    }
}

/// One output format: the finished report in, bytes out.
pub trait Renderer {
    fn render(&self, report: &Report, options: &RenderOptions) -> Result<Vec<u8>, RenderError>;
}

/// Why a report could not be rendered.
#[derive(Debug)]
pub struct RenderError(pub String);

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot render the report: {}", self.0)
    }
}

/// The renderer of each output format. Watch mode on stdout decides around it (one JSON document
/// per line, the redrawn screen, or the change lines of `changes`).
pub fn renderer(format: OutputFormat) -> Box<dyn Renderer> {
    match format {
        OutputFormat::Table => Box::new(table::TableRenderer),
        OutputFormat::Json => Box::new(json::JsonRenderer),
        OutputFormat::Prometheus => Box::new(prometheus::PrometheusRenderer),
        OutputFormat::Junit => Box::new(junit::JunitRenderer),
    }
}

/// The status of one line of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Error,
    Skipped,
    Dismissed,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Error => "ERROR",
            Status::Skipped => "SKIPPED",
            Status::Dismissed => "DISMISSED",
        }
    }
}

/// One line of a section as shown to people: a finding, a failure kept below the section, or
/// the section's summary.
pub struct Row {
    pub status: Status,
    pub code: Option<crate::report::Code>,
    pub text: String,
}

/// The lines of one section, in the order and with the severity `BaseReport::shown` gives its
/// findings: the error lines, then (in a failing section without an error of its own) the
/// failures Coder keeps below it, then the warning entries; the summary when there is nothing
/// else. A dismissed section's warnings and errors are shown as dismissed.
pub fn rows(view: &SectionView<'_>) -> Vec<Row> {
    let (base, summary) = (view.base, view.summary.as_str());
    if base.skipped {
        return vec![Row {
            status: Status::Skipped,
            code: None,
            text: base.skip_reason.clone().unwrap_or_default(),
        }];
    }
    let shown = base.shown();
    let row = |s: &Shown<'_>| Row {
        status: if s.severity == Severity::Error {
            Status::Error
        } else {
            Status::Warn
        },
        code: s.code,
        text: s.message.to_string(),
    };
    let mut out: Vec<Row> = shown.iter().filter(|s| s.in_error).map(row).collect();
    if !base.has_error() && base.severity == Severity::Error {
        for text in problems::group_problems(&view.problems) {
            out.push(Row {
                status: Status::Error,
                code: None,
                text,
            });
        }
    }
    out.extend(shown.iter().filter(|s| !s.in_error).map(row));
    if out.is_empty() {
        let status = if base.severity == Severity::Ok {
            Status::Ok
        } else {
            Status::Warn
        };
        out.push(Row {
            status,
            code: None,
            text: summary.to_string(),
        });
    }
    if base.dismissed {
        for f in &mut out {
            if matches!(f.status, Status::Warn | Status::Error) {
                f.status = Status::Dismissed;
            }
        }
    }
    out
}

/// The status a section is shown with: its worst line's.
pub fn section_status(rows: &[Row]) -> Status {
    let rank = |s: Status| match s {
        Status::Skipped => 0,
        Status::Ok => 1,
        Status::Dismissed => 2,
        Status::Warn => 3,
        Status::Error => 4,
    };
    rows.iter()
        .map(|f| f.status)
        .max_by_key(|s| rank(*s))
        .unwrap_or(Status::Ok)
}
