//! Workspace proxies: the non-deleted proxies from Coder's database, each probed from this host as
//! Coder's proxy health poller probes it, plus Coder's synthetic, always-healthy `primary` region,
//! then Coder's roll-up (coder-health.md 6.1 steps 4-7). Because the primary counts, proxies that
//! are down give a warning, as in Coder's own report. A proxy whose version differs from the
//! server's is named too (Coder's older EWP03 check, now a warning).

pub mod license;
pub mod probe;

use time::OffsetDateTime;

use crate::checks::versions::versions_match;
use crate::checks::{Context, REPORT_MARGIN};
use crate::coder_db::{ProxyRow, SiteConfigs};
use crate::redact::redact_url;
use crate::report::workspace_proxy::{
    ProxyHealth, ProxyHealthReport, ProxyStatus, WorkspaceProxy, WorkspaceProxyReport, PRIMARY,
};
use crate::report::{Code, Finding, Severity};
use crate::settings::AccessUrl;
use probe::{probe_all, Probe};

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

/// `license_warning`: ELIC01 for a license expiring within it.
pub fn run(
    access_url: Option<&AccessUrl>,
    license_warning: std::time::Duration,
    ctx: &Context,
) -> WorkspaceProxyReport {
    let mut report = WorkspaceProxyReport::default();
    let snapshot = ctx.db().and_then(|db| db.snapshot(ctx.deadline));
    let licenses = snapshot.as_ref().map(|s| (s.licenses.clone(), s.now)).ok();
    let read = snapshot
        .and_then(|snapshot| Ok((snapshot.proxies?, snapshot.site_configs?, snapshot.place)));
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
    let probe_deadline = ctx.deadline.less(REPORT_MARGIN);
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
    regions.push(primary(&configs, access_url.map(AccessUrl::raw)));
    let build = ctx.deployment.build_info(ctx.deadline.less(REPORT_MARGIN));
    let server: ServerVersion = match &build {
        Ok(info) => info
            .version
            .as_deref()
            .ok_or("the server did not report one"),
        Err(e) => Err(e.as_str()),
    };
    judge(&mut report, regions, server);
    if let Some((licenses, now)) = licenses {
        license::judge(&mut report, licenses, now, license_warning);
    }
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
            evidence: probe.evidence,
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
            evidence: None,
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
            errors.push(
                Finding::new(Code::Ewp04, format!("{}: {e}", region.name))
                    .with_evidence(region.status.evidence.clone()),
            );
        }
    }
    report.base.severity = severity(total, healthy, warned);
    report.healthy = report.base.severity != Severity::Error;
    for e in errors {
        if report.base.severity == Severity::Error {
            report.base.add_error(e);
        } else {
            report.base.warnings.push(e);
        }
    }
    // Named, but the severity stays Coder's (like ESTUN02 in the DERP section).
    for note in version_notes {
        report
            .base
            .warnings
            .push(crate::report::Message::new(Code::Ewp04, note));
    }
    report.workspace_proxies.regions = regions;
}

#[cfg(test)]
mod tests;
