//! The report model: plain data whose serde form is the JSON of `--json` (Coder's shape plus a few
//! additive fields). Checks fill it, renderers read it; nothing here probes or prints.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::checks::access_url::AccessUrlReport;
use crate::checks::database::DatabaseReport;
use crate::checks::derp::DerpReport;
use crate::checks::provisioner_daemons::ProvisionerDaemonsReport;
use crate::checks::websocket::WebsocketReport;
use crate::checks::workspace_proxy::WorkspaceProxyReport;
use crate::codes::Code;
use crate::section::SectionId;

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

/// What every section report offers the runner and the renderers.
pub trait SectionReport: Serialize + Default + Send + 'static {
    fn base(&self) -> &BaseReport;
    fn base_mut(&mut self) -> &mut BaseReport;
    /// One concrete line for the table when the section has no findings.
    fn summary(&self) -> String;
    /// Extra lines for `--verbose`.
    fn details(&self) -> Vec<String> {
        Vec::new()
    }
    /// Failures that Coder's report keeps below the section (a DERP node's errors, say) rather
    /// than in the section's `error`; the table shows them as the section's error rows.
    fn problems(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Read-only view of one section for renderers.
pub struct SectionView<'a> {
    pub id: SectionId,
    pub base: &'a BaseReport,
    pub summary: String,
    pub details: Vec<String>,
    pub problems: Vec<String>,
}

/// The whole report, in the key order of Coder's `/api/v2/debug/health`.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub time: String,
    pub healthy: bool,
    pub severity: Severity,
    pub derp: DerpReport,
    pub access_url: AccessUrlReport,
    pub websocket: WebsocketReport,
    pub database: DatabaseReport,
    pub workspace_proxy: WorkspaceProxyReport,
    pub provisioner_daemons: ProvisionerDaemonsReport,
    pub coder_version: String,
    pub healthcheck_version: &'static str,
    /// Run-wide remarks for `--verbose` (why the version is unknown, how dismissals were read).
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl Report {
    pub fn base(&self, id: SectionId) -> &BaseReport {
        match id {
            SectionId::AccessUrl => self.access_url.base(),
            SectionId::Websocket => self.websocket.base(),
            SectionId::Database => self.database.base(),
            SectionId::Derp => self.derp.base(),
            SectionId::WorkspaceProxy => self.workspace_proxy.base(),
            SectionId::ProvisionerDaemons => self.provisioner_daemons.base(),
        }
    }

    pub fn base_mut(&mut self, id: SectionId) -> &mut BaseReport {
        match id {
            SectionId::AccessUrl => self.access_url.base_mut(),
            SectionId::Websocket => self.websocket.base_mut(),
            SectionId::Database => self.database.base_mut(),
            SectionId::Derp => self.derp.base_mut(),
            SectionId::WorkspaceProxy => self.workspace_proxy.base_mut(),
            SectionId::ProvisionerDaemons => self.provisioner_daemons.base_mut(),
        }
    }

    pub fn sections(&self) -> Vec<SectionView<'_>> {
        fn view<R: SectionReport>(id: SectionId, r: &R) -> SectionView<'_> {
            SectionView {
                id,
                base: r.base(),
                summary: r.summary(),
                details: r.details(),
                problems: r.problems(),
            }
        }
        vec![
            view(SectionId::AccessUrl, &self.access_url),
            view(SectionId::Websocket, &self.websocket),
            view(SectionId::Database, &self.database),
            view(SectionId::Derp, &self.derp),
            view(SectionId::WorkspaceProxy, &self.workspace_proxy),
            view(SectionId::ProvisionerDaemons, &self.provisioner_daemons),
        ]
    }

    /// Computes the top-level `healthy` and `severity` as Coder does: dismissal plays no part.
    pub fn compute_verdict(&mut self) {
        let bases: Vec<(SectionId, BaseReport)> = SectionId::ALL
            .into_iter()
            .map(|id| (id, self.base(id).clone()))
            .collect();
        self.severity = bases
            .iter()
            .map(|(_, b)| b.severity)
            .max()
            .unwrap_or_default();
        self.healthy = !bases.iter().any(|(id, b)| section_fails(*id, b.severity));
    }

    pub fn set_dismissed(&mut self, dismissed: &BTreeSet<SectionId>) {
        for id in dismissed {
            self.base_mut(*id).dismissed = true;
        }
    }
}

/// Coder's failing-section rule: the access URL fails at warning (a non-200 `/healthz`), every
/// other section only at error.
pub fn section_fails(id: SectionId, severity: Severity) -> bool {
    match id {
        SectionId::AccessUrl => severity > Severity::Ok,
        _ => severity > Severity::Warning,
    }
}

/// How the run should end, given `--fail-on`. Dismissed and skipped sections never fail it.
pub fn run_fails(report: &Report, fail_on: Severity) -> bool {
    SectionId::ALL.into_iter().any(|id| {
        let base = report.base(id);
        !base.dismissed
            && !base.skipped
            && (section_fails(id, base.severity) || base.severity >= fail_on.max(Severity::Warning))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(id: SectionId, severity: Severity) -> Report {
        let mut report = Report::default();
        report.base_mut(id).severity = severity;
        report.compute_verdict();
        report
    }

    #[test]
    fn aggregation_matches_coder() {
        // Coder's aggregation table (coder-test-scenarios.md A1-A10).
        let ok = with(SectionId::Derp, Severity::Ok);
        assert!(ok.healthy);
        assert_eq!(ok.severity, Severity::Ok);
        for id in SectionId::ALL {
            let failed = with(id, Severity::Error);
            assert!(!failed.healthy, "{id}");
            assert_eq!(failed.severity, Severity::Error);
            let warned = with(id, Severity::Warning);
            assert_eq!(warned.severity, Severity::Warning);
            assert_eq!(warned.healthy, id != SectionId::AccessUrl, "{id}");
        }
    }

    #[test]
    fn dismissal_changes_exit_not_verdict() {
        let mut report = with(SectionId::Database, Severity::Error);
        report.set_dismissed(&[SectionId::Database].into());
        report.compute_verdict();
        assert!(!report.healthy);
        assert!(!run_fails(&report, Severity::Error));
    }

    #[test]
    fn fail_on_warning() {
        let report = with(SectionId::Derp, Severity::Warning);
        assert!(!run_fails(&report, Severity::Error));
        assert!(run_fails(&report, Severity::Warning));
        let access = with(SectionId::AccessUrl, Severity::Warning);
        assert!(run_fails(&access, Severity::Error));
    }
}
