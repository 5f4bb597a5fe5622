//! Workspace proxies: the non-deleted proxies from Coder's database, each probed from this host as
//! Coder's proxy health poller probes it, plus Coder's synthetic, always-healthy `primary` region,
//! then Coder's roll-up (coder-health.md 6.1 steps 4-7). Because the primary counts, proxies that
//! are down give a warning, as in Coder's own report. A proxy whose version differs from the
//! server's is named too (Coder's older EWP03 check, now a warning).

pub mod probe;

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::checks::provisioner_daemons::version::versions_match;
use crate::checks::Context;
use crate::coder_db::{CoderDb, ProxyRow, SiteConfigs};
use crate::codes::Code;
use crate::redact::redact_url;
use crate::report::{BaseReport, SectionReport, Severity};
use probe::{probe_all, Probe, ProxyHealth, ProxyHealthReport};

/// Time kept back from the section deadline to assemble the report after probing.
const REPORT_MARGIN: Duration = Duration::from_millis(100);

#[derive(Debug, Default, Serialize)]
pub struct WorkspaceProxyReport {
    pub healthy: bool,
    #[serde(flatten)]
    pub base: BaseReport,
    pub workspace_proxies: WorkspaceProxies,
    #[serde(skip)]
    pub view: ProxiesView,
}

#[derive(Debug, Default, Serialize)]
pub struct WorkspaceProxies {
    pub regions: Option<Vec<WorkspaceProxy>>,
}

/// codersdk's `WorkspaceProxy`. `null` in `derp_enabled`, `derp_only` or `version` means an older
/// Coder schema has no such column.
#[derive(Clone, Debug, Serialize)]
pub struct WorkspaceProxy {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub icon_url: String,
    pub healthy: bool,
    pub path_app_url: String,
    pub wildcard_hostname: String,
    pub derp_enabled: Option<bool>,
    pub derp_only: Option<bool>,
    pub status: ProxyStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub deleted: bool,
    pub version: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProxyStatus {
    pub status: ProxyHealth,
    pub report: ProxyHealthReport,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
}

/// Facts for the table and `--verbose`.
#[derive(Debug, Default)]
pub struct ProxiesView {
    pub place: String,
    pub missing_columns: Vec<&'static str>,
    /// How long each region's probe took, by name.
    pub probe_times: Vec<(String, Duration)>,
}

impl SectionReport for WorkspaceProxyReport {
    fn base(&self) -> &BaseReport {
        &self.base
    }
    fn base_mut(&mut self) -> &mut BaseReport {
        &mut self.base
    }
    fn summary(&self) -> String {
        let regions = self
            .workspace_proxies
            .regions
            .as_deref()
            .unwrap_or_default();
        let proxies: Vec<&WorkspaceProxy> = regions.iter().filter(|r| r.name != PRIMARY).collect();
        if proxies.is_empty() {
            return "no workspace proxies configured; only the primary region".to_string();
        }
        let down: Vec<String> = proxies
            .iter()
            .filter(|p| !p.healthy)
            .map(|p| format!("{} ({})", p.name, p.status.status.as_str()))
            .collect();
        let mut line = format!(
            "{} of {} workspace proxies healthy, probed from this host",
            proxies.len() - down.len(),
            proxies.len()
        );
        if !down.is_empty() {
            line.push_str(&format!("; not healthy: {}", down.join(", ")));
        }
        line
    }
    fn details(&self) -> Vec<String> {
        let mut lines = vec![
            "proxy health as probed from this host (GET <proxy URL>/healthz-report), not coderd's \
             cached view; each coderd replica keeps its own"
                .to_string(),
        ];
        if !self.view.place.is_empty() {
            lines.push(format!("proxies read from {}", self.view.place));
        }
        for region in self
            .workspace_proxies
            .regions
            .as_deref()
            .unwrap_or_default()
        {
            let took = self
                .view
                .probe_times
                .iter()
                .find(|(name, _)| *name == region.name)
                .map(|(_, d)| format!(" in {}", crate::duration::short(*d)))
                .unwrap_or_default();
            let mut line = format!(
                "{} ({}): {}{took}, URL {:?}, version {}",
                region.name,
                region.display_name,
                region.status.status.as_str(),
                region.path_app_url,
                region
                    .version
                    .as_deref()
                    .map_or("unknown", |v| if v.is_empty() { "none" } else { v }),
            );
            for e in &region.status.report.errors {
                line.push_str(&format!("; error: {e}"));
            }
            for w in &region.status.report.warnings {
                line.push_str(&format!("; warning: {w}"));
            }
            lines.push(line);
        }
        if !self.view.missing_columns.is_empty() {
            lines.push(format!(
                "this Coder schema has no workspace_proxies column {}: reported as unknown",
                self.view.missing_columns.join(", ")
            ));
        }
        lines
    }
}

/// The name of Coder's synthetic region for the deployment itself.
pub const PRIMARY: &str = "primary";

/// Coder's severity rule over all regions (6.1 step 6).
pub fn severity(total: usize, healthy: usize, warned: usize) -> Severity {
    if total == 0 || (healthy == total && warned == 0) {
        Severity::Ok
    } else if healthy == 0 {
        Severity::Error
    } else {
        Severity::Warning
    }
}

/// The server's version, or why it is unknown.
pub type ServerVersion<'a> = Result<&'a str, &'a str>;

pub fn run(ctx: &Context) -> WorkspaceProxyReport {
    let mut report = WorkspaceProxyReport::default();
    let Some(setting) = &ctx.settings.postgres else {
        report.base.skip(
            "no database configured (set --postgres-url or CODER_PG_CONNECTION_URL; \
             no built-in PostgreSQL was discovered)",
        );
        return report;
    };
    let read = CoderDb::connect(setting, ctx.deadline).and_then(|mut db| {
        db.read(ctx.deadline, |r| {
            let proxies = r.workspace_proxies()?;
            let configs = r.site_configs()?;
            Ok((proxies, configs, r.place.clone()))
        })
    });
    let (proxies, configs, place) = match read {
        Ok(read) => read,
        Err(e) => {
            report.healthy = false;
            report
                .base
                .fail(Code::Ewp02, format!("fetch workspace proxies: {e}"));
            return report;
        }
    };
    report.view.place = place;
    report.view.missing_columns = proxies.missing_columns;
    let urls: Vec<String> = proxies.rows.iter().map(|p| p.url.clone()).collect();
    let probe_deadline = ctx
        .deadline
        .checked_sub(REPORT_MARGIN)
        .unwrap_or(ctx.deadline);
    let probes = match probe_all(&ctx.net.http, &urls, probe_deadline) {
        Ok(probes) => probes,
        Err(e) => {
            report.healthy = true;
            report.base.warn(
                Severity::Warning,
                Code::Ewp01,
                format!("update proxy health: {e}"),
            );
            return report;
        }
    };
    let mut regions: Vec<WorkspaceProxy> = Vec::with_capacity(proxies.rows.len() + 1);
    for (row, probe) in proxies.rows.into_iter().zip(probes) {
        if probe.status != ProxyHealth::Unregistered {
            report.view.probe_times.push((row.name.clone(), probe.took));
        }
        regions.push(region(row, probe));
    }
    regions.push(primary(&configs, ctx.settings.access_url.as_deref()));
    let server: ServerVersion = match (
        &ctx.deployment.coder_version,
        &ctx.deployment.buildinfo_error,
    ) {
        (Some(v), _) => Ok(v),
        (None, Some(e)) => Err(e),
        (None, None) => Err("the server did not report one"),
    };
    judge(&mut report, regions, server);
    report
}

fn region(row: ProxyRow, probe: Probe) -> WorkspaceProxy {
    WorkspaceProxy {
        id: row.id,
        name: row.name,
        display_name: row.display_name,
        icon_url: row.icon,
        healthy: probe.status == ProxyHealth::Ok,
        path_app_url: redact_url(&row.url),
        wildcard_hostname: row.wildcard_hostname,
        derp_enabled: row.derp_enabled,
        derp_only: row.derp_only,
        status: ProxyStatus {
            status: probe.status,
            report: probe.report,
            checked_at: probe.checked_at,
        },
        created_at: row.created_at,
        updated_at: row.updated_at,
        deleted: row.deleted,
        version: row.version,
    }
}

/// Coder's synthetic region for the deployment itself: always healthy, created "now". Its
/// wildcard hostname is Coder's `--wildcard-access-url`, which this tool is not told, so it is
/// left empty.
pub fn primary(configs: &SiteConfigs, access_url: Option<&str>) -> WorkspaceProxy {
    let now = OffsetDateTime::now_utc();
    WorkspaceProxy {
        id: configs.deployment_uuid(),
        name: PRIMARY.to_string(),
        display_name: configs.proxy_display_name(),
        icon_url: configs.proxy_icon_url(),
        healthy: true,
        path_app_url: access_url.map(redact_url).unwrap_or_default(),
        wildcard_hostname: String::new(),
        derp_enabled: Some(false),
        derp_only: Some(false),
        status: ProxyStatus {
            status: ProxyHealth::Ok,
            report: ProxyHealthReport::default(),
            checked_at: now,
        },
        created_at: now,
        updated_at: now,
        deleted: false,
        version: Some(String::new()),
    }
}

/// Coder's roll-up over the regions (6.1 steps 4-7). Proxy versions are compared with the
/// server's and a difference is named in an EWP04 entry, but, as in Coder's newest report (which
/// retired the version check), it does not change the verdict: a proxy reports its own skew in
/// its health report.
pub fn judge(
    report: &mut WorkspaceProxyReport,
    mut regions: Vec<WorkspaceProxy>,
    server: ServerVersion,
) {
    regions.retain(|r| !r.deleted);
    regions.sort_by_key(|r| r.created_at);
    let (mut total, mut healthy, mut warned) = (0, 0, 0);
    let mut errors = Vec::new();
    let mut version_notes = Vec::new();
    for region in &regions {
        total += 1;
        if region.healthy {
            healthy += 1;
        }
        let warnings: Vec<String> = region.status.report.warnings.clone();
        if let (Some(v), Ok(server)) = (region.version.as_deref(), server) {
            if !v.is_empty() && !versions_match(server, v) {
                version_notes.push(format!(
                    "{}: version {v} differs from the server's {server}",
                    region.name
                ));
            }
        }
        if !warnings.is_empty() {
            warned += 1;
        }
        for w in warnings {
            report.base.warnings.push(crate::report::Message::new(
                Code::Ewp04,
                format!("{}: {w}", region.name),
            ));
        }
        for e in &region.status.report.errors {
            errors.push(format!("{}: {e}", region.name));
        }
    }
    report.base.severity = severity(total, healthy, warned);
    report.healthy = report.base.severity != Severity::Error;
    for e in errors {
        if report.base.severity == Severity::Error {
            let line = crate::report::Message::new(Code::Ewp04, e).display();
            report.base.error = Some(match report.base.error.take() {
                Some(previous) => format!("{previous}\n{line}"),
                None => line,
            });
        } else {
            report
                .base
                .warnings
                .push(crate::report::Message::new(Code::Ewp04, e));
        }
    }
    // Named, but the severity stays Coder's (like ESTUN02 in the DERP section).
    for note in version_notes {
        report
            .base
            .warnings
            .push(crate::report::Message::new(Code::Ewp04, note));
    }
    report.workspace_proxies.regions = Some(regions);
}

#[cfg(test)]
mod tests;
