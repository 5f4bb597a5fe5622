//! The vocabulary every section report shares: Coder's severity scale, the stable finding codes,
//! a finding (`{"code", "message"}`) and the fields common to every section. It depends on
//! nothing else of ours, so every layer can use it.

use std::fmt;

use serde::{Serialize, Serializer};

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

/// A warning entry: `{"code": "EDB02", "message": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    pub code: Code,
    pub message: String,
}

impl Message {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Message {
            code,
            message: message.into(),
        }
    }

    /// Coder's display form, `CODE: text`, which is also how a coded section `error` is written.
    pub fn display(&self) -> String {
        format!("{}: {}", self.code, self.message)
    }
}

/// The fields every section shares (Coder's `BaseReport`, plus our additive `skipped`,
/// `skip_reason` and `duration_ms`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct BaseReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub severity: Severity,
    pub warnings: Vec<Message>,
    pub dismissed: bool,
    pub skipped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    pub duration_ms: u64,
    /// The severity Coder would give the section, when findings of ours (ELST01...) raised
    /// `severity` above it; the top-level verdict is computed from this.
    #[serde(skip)]
    pub coder_severity: Option<Severity>,
}

impl BaseReport {
    /// Raises the severity; it never goes down.
    pub fn raise(&mut self, severity: Severity) {
        self.severity = self.severity.max(severity);
    }

    pub fn warn(&mut self, severity: Severity, code: Code, message: impl Into<String>) {
        self.raise(severity);
        self.warnings.push(Message::new(code, message));
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
        self.coder_severity.get_or_insert(self.severity);
        self.warn(severity, code, message);
    }

    /// The severity Coder's verdict counts for this section.
    pub fn severity_for_coder(&self) -> Severity {
        self.coder_severity.unwrap_or(self.severity)
    }

    /// Sets the section error as `CODE: message` at severity error.
    pub fn fail(&mut self, code: Code, message: impl Into<String>) {
        self.severity = Severity::Error;
        self.error = Some(Message::new(code, message).display());
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
    Epg01,
    Epg02,
    Epg03,
    Epq01,
    Elic01,
}

impl Code {
    pub const ALL: [Code; 29] = [
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
