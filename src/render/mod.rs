//! Renderers turn a finished report into bytes. They never probe anything.

pub mod explain;
pub mod json;
pub mod junit;
pub mod present;
pub mod problems;
pub mod prometheus;
pub mod table;

pub use present::SectionView;

use crate::report::{Report, Severity};
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

/// The renderer of each output format: the one place a format is picked.
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

/// One finding as shown to people: error first, then warnings.
pub struct Finding {
    pub status: Status,
    pub code: Option<crate::report::Code>,
    pub text: String,
}

/// The findings of one section, derived from its report. A warning entry whose code is an
/// error by nature (EPD01, EUNKNOWN, ELST02, ETLS02) in a section at severity error is shown as
/// an error.
pub fn findings(view: &SectionView<'_>) -> Vec<Finding> {
    let (base, summary) = (view.base, view.summary.as_str());
    if base.skipped {
        return vec![Finding {
            status: Status::Skipped,
            code: None,
            text: base.skip_reason.clone().unwrap_or_default(),
        }];
    }
    let mut out = Vec::new();
    if let Some(error) = &base.error {
        let (code, text) = split_code(error);
        out.push(Finding {
            status: Status::Error,
            code,
            text,
        });
    }
    if base.error.is_none() && base.severity == Severity::Error {
        for text in problems::group_problems(&view.problems) {
            out.push(Finding {
                status: Status::Error,
                code: None,
                text,
            });
        }
    }
    for warning in &base.warnings {
        let status = if base.severity == Severity::Error
            && warning.code.info().severity == Severity::Error
        {
            Status::Error
        } else {
            Status::Warn
        };
        out.push(Finding {
            status,
            code: Some(warning.code),
            text: warning.message.clone(),
        });
    }
    if out.is_empty() {
        let status = if base.severity == Severity::Ok {
            Status::Ok
        } else {
            Status::Warn
        };
        out.push(Finding {
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

/// The status a section is shown with: its worst finding's.
pub fn section_status(findings: &[Finding]) -> Status {
    let rank = |s: Status| match s {
        Status::Skipped => 0,
        Status::Ok => 1,
        Status::Dismissed => 2,
        Status::Warn => 3,
        Status::Error => 4,
    };
    findings
        .iter()
        .map(|f| f.status)
        .max_by_key(|s| rank(*s))
        .unwrap_or(Status::Ok)
}

/// Splits Coder's `CODE: text` error form.
pub fn split_code(error: &str) -> (Option<crate::report::Code>, String) {
    if let Some((head, rest)) = error.split_once(": ") {
        if let Some(code) = crate::report::Code::parse(head) {
            return (Some(code), rest.to_string());
        }
    }
    (None, error.to_string())
}
