//! The report model: plain data whose serde form is the JSON of `--json` (Coder's shape plus a few
//! additive fields), and Coder's rules for turning section severities into a verdict. Checks fill
//! it, renderers read it; it imports nothing from checks, net or render.

pub mod evidence;
mod finding;
pub mod section;
mod shown;

pub mod access_url;
pub mod certificates;
pub mod database;
pub mod derp;
pub mod diagnosis;
pub mod provisioner_daemons;
pub mod websocket;
pub mod workspace_proxy;

use std::collections::BTreeSet;

use serde::Serialize;

pub use evidence::{Evidence, Phase, TlsProblem};
pub use finding::{BaseReport, Code, Finding, Message, Severity};
pub use section::SectionId;
pub use shown::Shown;

use access_url::AccessUrlReport;
use certificates::CertificatesReport;
use database::DatabaseReport;
use derp::DerpReport;
use diagnosis::Diagnosis;
use provisioner_daemons::ProvisionerDaemonsReport;
use websocket::WebsocketReport;
use workspace_proxy::WorkspaceProxyReport;

/// Serialises an unknown value (a column an older Coder schema lacks) as Go's zero value, so the
/// JSON has the types Coder's own clients declare (`""`, `false`, the nil UUID), never `null`.
fn zero_if_unknown<T, S>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error>
where
    T: Serialize + Default,
    S: serde::Serializer,
{
    match value {
        Some(v) => v.serialize(serializer),
        None => T::default().serialize(serializer),
    }
}

/// What the runner needs of every section report, whatever its type.
pub trait SectionReport: Serialize + Default + Send + 'static {
    fn base(&self) -> &BaseReport;
    fn base_mut(&mut self) -> &mut BaseReport;
}

/// Which field of `Report` holds which section: from this one list come each report type's
/// `SectionReport` impl (it embeds its `BaseReport` as the field `base`) and `Report::base` /
/// `Report::base_mut`.
macro_rules! sections_in_report {
    ($($id:ident => $field:ident: $report:ty),* $(,)?) => {
        $(impl SectionReport for $report {
            fn base(&self) -> &BaseReport {
                &self.base
            }
            fn base_mut(&mut self) -> &mut BaseReport {
                &mut self.base
            }
        })*

        impl Report {
            pub fn base(&self, id: SectionId) -> &BaseReport {
                match id {
                    $(SectionId::$id => &self.$field.base,)*
                }
            }

            pub fn base_mut(&mut self, id: SectionId) -> &mut BaseReport {
                match id {
                    $(SectionId::$id => &mut self.$field.base,)*
                }
            }
        }
    };
}

sections_in_report!(
    AccessUrl => access_url: AccessUrlReport,
    Websocket => websocket: WebsocketReport,
    Database => database: DatabaseReport,
    Derp => derp: DerpReport,
    WorkspaceProxy => workspace_proxy: WorkspaceProxyReport,
    ProvisionerDaemons => provisioner_daemons: ProvisionerDaemonsReport,
    Certificates => certificates: CertificatesReport,
);

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
    /// Additive: ours, not Coder's (it never changes `healthy` or `severity`).
    pub certificates: CertificatesReport,
    pub coder_version: String,
    pub healthcheck_version: &'static str,
    /// Additive: probable root causes that account for several findings.
    pub diagnosis: Vec<Diagnosis>,
    /// Run-wide remarks for `--verbose` (why the version is unknown, how dismissals were read).
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl Report {
    /// Computes the top-level `healthy` and `severity` as Coder does: over Coder's own sections
    /// and findings only; dismissal plays no part.
    pub fn compute_verdict(&mut self) {
        let severities: Vec<(SectionId, Severity)> = SectionId::ALL
            .into_iter()
            .filter(|id| id.is_coders())
            .map(|id| (id, self.base(id).severity_for_coder()))
            .collect();
        self.severity = severities.iter().map(|(_, s)| *s).max().unwrap_or_default();
        self.healthy = !severities.iter().any(|(id, s)| section_fails(*id, *s));
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
    SectionId::ALL
        .into_iter()
        .any(|id| fails_run(id, report.base(id), fail_on))
}

/// Whether this one section makes the exit code 1 (the JUnit report's failures are these).
pub fn fails_run(id: SectionId, base: &BaseReport, fail_on: Severity) -> bool {
    !base.dismissed
        && !base.skipped
        && (section_fails(id, base.severity) || base.severity >= fail_on.max(Severity::Warning))
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
        for id in SectionId::ALL.into_iter().filter(|id| id.is_coders()) {
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
    fn our_findings_count_for_the_exit_code_but_not_coders_verdict() {
        let expired = with(SectionId::Certificates, Severity::Error);
        assert!(expired.healthy);
        assert_eq!(expired.severity, Severity::Ok);
        assert!(run_fails(&expired, Severity::Error));

        let mut local = Report::default();
        local
            .access_url
            .base
            .warn_beyond_coder(Severity::Error, Code::Elst02, "down");
        local.compute_verdict();
        assert!(local.healthy);
        assert_eq!(local.severity, Severity::Ok);
        assert_eq!(local.access_url.base.severity, Severity::Error);
        assert!(run_fails(&local, Severity::Error));
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
