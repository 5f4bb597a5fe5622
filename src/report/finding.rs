//! The vocabulary every section report shares: Coder's severity scale, the stable finding codes,
//! a typed finding (code, severity, message, evidence) and the fields common to every section. It depends on
//! nothing else of ours, so every layer can use it.

use std::fmt;

use serde::{Serialize, Serializer};

use super::evidence::Evidence;

/// Coder's three-step scale; the worst finding wins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Ok,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One finding: its code, the severity the check gave it, its message and what was observed.
/// In Coder's JSON a warning entry is `{"code", "message"}` (plus our additive `evidence`); a
/// section error is the line `CODE: message`, spelled so only when the JSON is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub code: Code,
    /// What the check gave it (it raised the section to at least this); how it is *shown*
    /// is decided by `BaseReport::shown` alone.
    pub severity: Severity,
    pub message: String,
    pub evidence: Option<Evidence>,
}

/// The old name of a warning entry; every entry is now a `Finding`.
pub type Message = Finding;

impl Finding {
    /// A finding at warning severity, without evidence (a warning entry).
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Finding {
            code,
            severity: Severity::Warning,
            message: message.into(),
            evidence: None,
        }
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn with_evidence(mut self, evidence: impl Into<Option<Evidence>>) -> Self {
        self.evidence = evidence.into();
        self
    }

    /// Coder's display form, `CODE: text`, which is also how a coded section `error` is written.
    pub fn display(&self) -> String {
        format!("{}: {}", self.code, self.message)
    }
}

/// A warning entry as Coder writes it, with our evidence beside it when there is some.
impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Entry<'a> {
            code: Code,
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            evidence: Option<&'a Evidence>,
        }
        Entry {
            code: self.code,
            message: &self.message,
            evidence: self.evidence.as_ref(),
        }
        .serialize(serializer)
    }
}

/// The fields every section shares (Coder's `BaseReport`, plus our additive `skipped`,
/// `skip_reason` and `duration_ms`). Its findings are typed: Coder's `error` string is
/// spelled from `errors` when the JSON is written.
#[derive(Clone, Debug, Default)]
pub struct BaseReport {
    /// The findings that make up Coder's `error`, one line of it each (several EWP04 lines).
    pub errors: Vec<Finding>,
    /// An error Coder writes without a code, in its own words (a parse failure, "error
    /// fetching provisioner daemons: ..."); shown as the section's error.
    pub uncoded_error: Option<String>,
    pub severity: Severity,
    pub warnings: Vec<Finding>,
    pub dismissed: bool,
    pub skipped: bool,
    pub skip_reason: Option<String>,
    pub duration_ms: u64,
    /// The severity Coder would give the section, when findings of ours (ELST01...) raised
    /// `severity` above it; the top-level verdict is computed from this.
    pub coder_severity: Option<Severity>,
}

/// Coder's field order and spelling of a `BaseReport`; `error_evidence` is our additive key.
impl Serialize for BaseReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            error: Option<String>,
            severity: Severity,
            warnings: &'a [Finding],
            dismissed: bool,
            skipped: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            skip_reason: Option<&'a str>,
            duration_ms: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            error_evidence: Option<&'a Evidence>,
        }
        Wire {
            error: self.error_text(),
            severity: self.severity,
            warnings: &self.warnings,
            dismissed: self.dismissed,
            skipped: self.skipped,
            skip_reason: self.skip_reason.as_deref(),
            duration_ms: self.duration_ms,
            error_evidence: self.errors.iter().find_map(|f| f.evidence.as_ref()),
        }
        .serialize(serializer)
    }
}

impl BaseReport {
    /// Raises the severity; it never goes down.
    pub fn raise(&mut self, severity: Severity) {
        self.severity = self.severity.max(severity);
    }

    pub fn warn(&mut self, severity: Severity, code: Code, message: impl Into<String>) {
        self.add_warning(Finding::new(code, message).with_severity(severity));
    }

    /// `warn`, with what was observed.
    pub fn warn_with(
        &mut self,
        severity: Severity,
        code: Code,
        message: impl Into<String>,
        evidence: impl Into<Option<Evidence>>,
    ) {
        self.add_warning(
            Finding::new(code, message)
                .with_severity(severity)
                .with_evidence(evidence),
        );
    }

    /// Adds a warning entry; the section rises to the finding's severity.
    pub fn add_warning(&mut self, finding: Finding) {
        self.raise(finding.severity);
        self.warnings.push(finding);
    }

    /// A finding beyond Coder's (one of our codes): it raises `severity`, for the table and the
    /// exit code, but not the severity Coder's verdict sees. Called after the section's own
    /// findings are in.
    pub fn warn_beyond_coder(
        &mut self,
        severity: Severity,
        code: Code,
        message: impl Into<String>,
    ) {
        self.warn_beyond_coder_with(severity, code, message, None);
    }

    /// `warn_beyond_coder`, with what was observed.
    pub fn warn_beyond_coder_with(
        &mut self,
        severity: Severity,
        code: Code,
        message: impl Into<String>,
        evidence: impl Into<Option<Evidence>>,
    ) {
        self.coder_severity.get_or_insert(self.severity);
        self.warn_with(severity, code, message, evidence);
    }

    /// The severity Coder's verdict counts for this section.
    pub fn severity_for_coder(&self) -> Severity {
        self.coder_severity.unwrap_or(self.severity)
    }

    /// Sets the section error (`CODE: message` in the JSON) at severity error, replacing any
    /// earlier one.
    pub fn fail(&mut self, code: Code, message: impl Into<String>) {
        self.fail_with(code, message, None);
    }

    /// `fail`, with what was observed.
    pub fn fail_with(
        &mut self,
        code: Code,
        message: impl Into<String>,
        evidence: impl Into<Option<Evidence>>,
    ) {
        self.errors.clear();
        self.uncoded_error = None;
        self.add_error(Finding::new(code, message).with_evidence(evidence));
    }

    /// Adds one more line to the section error, at severity error.
    pub fn add_error(&mut self, finding: Finding) {
        self.severity = Severity::Error;
        self.errors.push(finding.with_severity(Severity::Error));
    }

    /// Sets the section error in Coder's own uncoded words, at severity error.
    pub fn fail_uncoded(&mut self, message: impl Into<String>) {
        self.errors.clear();
        self.severity = Severity::Error;
        self.uncoded_error = Some(message.into());
    }

    /// Coder's `error` string: the uncoded error, then each coded one as `CODE: message`, one
    /// per line. Only the JSON (and tests) need this spelling.
    pub fn error_text(&self) -> Option<String> {
        let lines: Vec<String> = self
            .uncoded_error
            .iter()
            .cloned()
            .chain(self.errors.iter().map(Finding::display))
            .collect();
        (!lines.is_empty()).then(|| lines.join("\n"))
    }

    /// Whether the section error is there, coded or not.
    pub fn has_error(&self) -> bool {
        self.uncoded_error.is_some() || !self.errors.is_empty()
    }

    /// The coded section error with this code, if any.
    pub fn error_coded(&self, code: Code) -> Option<&Finding> {
        self.errors.iter().find(|f| f.code == code)
    }

    /// A warning entry with this code, if any.
    pub fn warning_coded(&self, code: Code) -> Option<&Finding> {
        self.warnings.iter().find(|f| f.code == code)
    }

    /// Every coded finding, error lines first, then warning entries.
    pub fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        self.errors.iter().chain(&self.warnings)
    }

    pub fn skip(&mut self, reason: impl Into<String>) {
        self.skipped = true;
        self.skip_reason = Some(reason.into());
        self.severity = Severity::Ok;
    }
}

/// A stable finding code, as Coder spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    Eacs01,
    Eacs02,
    Eacs03,
    Eacs04,
    Ews01,
    Ews02,
    Ews03,
    Edb01,
    Edb02,
    Ederp01,
    Ederp02,
    Estun01,
    Estun02,
    Ewp01,
    Ewp02,
    Ewp04,
    Epd01,
    Epd02,
    Epd03,
    Eunknown,
    Etls01,
    Etls02,
    Elst01,
    Elst02,
    Eurl01,
    Epg01,
    Epg02,
    Epg03,
    Epq01,
    Elic01,
}

impl Code {
    pub const ALL: [Code; 30] = [
        Code::Eacs01,
        Code::Eacs02,
        Code::Eacs03,
        Code::Eacs04,
        Code::Ews01,
        Code::Ews02,
        Code::Ews03,
        Code::Edb01,
        Code::Edb02,
        Code::Ederp01,
        Code::Ederp02,
        Code::Estun01,
        Code::Estun02,
        Code::Ewp01,
        Code::Ewp02,
        Code::Ewp04,
        Code::Epd01,
        Code::Epd02,
        Code::Epd03,
        Code::Eunknown,
        Code::Etls01,
        Code::Etls02,
        Code::Elst01,
        Code::Elst02,
        Code::Eurl01,
        Code::Epg01,
        Code::Epg02,
        Code::Epg03,
        Code::Epq01,
        Code::Elic01,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::Eacs01 => "EACS01",
            Code::Eacs02 => "EACS02",
            Code::Eacs03 => "EACS03",
            Code::Eacs04 => "EACS04",
            Code::Ews01 => "EWS01",
            Code::Ews02 => "EWS02",
            Code::Ews03 => "EWS03",
            Code::Edb01 => "EDB01",
            Code::Edb02 => "EDB02",
            Code::Ederp01 => "EDERP01",
            Code::Ederp02 => "EDERP02",
            Code::Estun01 => "ESTUN01",
            Code::Estun02 => "ESTUN02",
            Code::Ewp01 => "EWP01",
            Code::Ewp02 => "EWP02",
            Code::Ewp04 => "EWP04",
            Code::Epd01 => "EPD01",
            Code::Epd02 => "EPD02",
            Code::Epd03 => "EPD03",
            Code::Eunknown => "EUNKNOWN",
            Code::Etls01 => "ETLS01",
            Code::Etls02 => "ETLS02",
            Code::Elst01 => "ELST01",
            Code::Elst02 => "ELST02",
            Code::Eurl01 => "EURL01",
            Code::Epg01 => "EPG01",
            Code::Epg02 => "EPG02",
            Code::Epg03 => "EPG03",
            Code::Epq01 => "EPQ01",
            Code::Elic01 => "ELIC01",
        }
    }

    /// Whether the code is one of Coder's own (ours go beyond Coder's report and never change
    /// its top-level verdict).
    pub fn is_coders(self) -> bool {
        !matches!(
            self,
            Code::Etls01
                | Code::Etls02
                | Code::Elst01
                | Code::Elst02
                | Code::Eurl01
                | Code::Epg01
                | Code::Epg02
                | Code::Epg03
                | Code::Epq01
                | Code::Elic01
        )
    }

    /// Accepts any letter case (`edb02`, `EDB02`).
    pub fn parse(s: &str) -> Option<Code> {
        let wanted = s.trim();
        Code::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(wanted))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
