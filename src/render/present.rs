//! How each section reads in the table: one summary line when it has no findings, the extra
//! lines of `--verbose`, and the failures Coder keeps below the section. This is wording for
//! people, so it lives with the renderers, not in the report model.

use std::time::Duration;

use time::OffsetDateTime;

use crate::duration::{go_string, short};
use crate::report::access_url::AccessUrlReport;
use crate::report::certificates::CertificatesReport;
use crate::report::database::{DatabaseReport, PINGS};
use crate::report::derp::{node_label, DerpReport, NodeReport};
use crate::report::provisioner_daemons::{ProvisionerDaemonsReport, STALE_INTERVAL};
use crate::report::websocket::{Probe, WebsocketReport};
use crate::report::workspace_proxy::{WorkspaceProxy, WorkspaceProxyReport, PRIMARY};
use crate::report::{BaseReport, Report, SectionId, Severity};
use crate::text::snippet;

pub use super::problems::Problem;

/// Names listed in one table line before "and N more".
const NAMES_IN_SUMMARY: usize = 5;

/// The table's wording for one section report.
pub trait Present {
    /// One concrete line for the table when the section has no findings.
    fn summary(&self) -> String;
    /// Extra lines for `--verbose`.
    fn details(&self) -> Vec<String> {
        Vec::new()
    }
    /// Failures that Coder's report keeps below the section (a DERP node's errors, say) rather
    /// than in the section's `error`; the table shows them as the section's error rows.
    fn problems(&self) -> Vec<Problem> {
        Vec::new()
    }
}

/// Read-only view of one section for renderers.
pub struct SectionView<'a> {
    pub id: SectionId,
    pub base: &'a BaseReport,
    pub summary: String,
    pub details: Vec<String>,
    pub problems: Vec<Problem>,
}

/// Every section of the report, in run order, with its wording.
pub fn sections(report: &Report) -> Vec<SectionView<'_>> {
    SectionId::ALL
        .into_iter()
        .map(|id| {
            let present: &dyn Present = match id {
                SectionId::AccessUrl => &report.access_url,
                SectionId::Websocket => &report.websocket,
                SectionId::Database => &report.database,
                SectionId::Derp => &report.derp,
                SectionId::WorkspaceProxy => &report.workspace_proxy,
                SectionId::ProvisionerDaemons => &report.provisioner_daemons,
                SectionId::Certificates => &report.certificates,
            };
            SectionView {
                id,
                base: report.base(id),
                summary: present.summary(),
                details: present.details(),
                problems: present.problems(),
            }
        })
        .collect()
}

impl Present for AccessUrlReport {
    fn summary(&self) -> String {
        let mut line = format!(
            "GET /healthz answered {} {:?}",
            self.status_code,
            self.healthz_response.trim()
        );
        if let Some(to) = &self.redirected_to {
            line.push_str(&format!(" after redirects to {to}"));
        }
        line
    }
    fn details(&self) -> Vec<String> {
        let mut lines = vec![format!("access URL: {}", self.access_url)];
        if let Some(local) = &self.local_listener {
            let outcome = match &local.error {
                Some(e) => format!("no answer: {e}"),
                None => format!("answered HTTP {}", local.status_code),
            };
            let tls = if local.address.starts_with("https") {
                " (TLS, certificate not verified: it is issued for the access URL's name)"
            } else {
                ""
            };
            lines.push(format!(
                "coderd's own listener {}{tls}: {outcome}",
                local.address
            ));
        }
        lines
    }
}

impl Present for CertificatesReport {
    fn summary(&self) -> String {
        let soonest = self.certificates.iter().min_by_key(|c| c.days_left);
        let mut line = match soonest {
            Some(c) => format!(
                "{} certificate{} read; the first to expire: {} on {} ({} days left)",
                self.certificates.len(),
                if self.certificates.len() == 1 {
                    ""
                } else {
                    "s"
                },
                c.endpoint,
                c.not_after,
                c.days_left
            ),
            None => "no certificate could be read".to_string(),
        };
        if !self.unread.is_empty() {
            line.push_str(&format!(
                "; {} endpoint{} not read (see {})",
                self.unread.len(),
                if self.unread.len() == 1 { "" } else { "s" },
                if self.unread.len() == 1 {
                    "its section"
                } else {
                    "their sections"
                }
            ));
        }
        line
    }
    fn details(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "warning when a certificate expires within {} days",
            self.warning_days
        )];
        for c in &self.certificates {
            lines.push(format!(
                "{} ({}): subject {}, issuer {}, valid {} to {} ({} days left)",
                c.endpoint,
                c.used_by.join(", "),
                c.subject,
                c.issuer,
                c.not_before,
                c.not_after,
                c.days_left
            ));
        }
        for u in &self.unread {
            lines.push(format!(
                "{} ({}): not read: {}",
                u.endpoint,
                u.used_by.join(", "),
                u.error
            ));
        }
        lines.extend(self.notes.iter().cloned());
        lines
    }
}

impl Present for WebsocketReport {
    fn summary(&self) -> String {
        match self.probe {
            Probe::Echo => format!(
                "echoed {} messages over {} (Coder's echo test)",
                self.echoed, self.url
            ),
            Probe::DerpKey => format!(
                "WebSocket upgrade on {} passed and the DERP relay sent its key; \
                 pass --token for Coder's echo test",
                self.url
            ),
            Probe::None => format!("WebSocket upgrade answered HTTP {}", self.code),
        }
    }
    fn details(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match self.probe {
            Probe::Echo => lines.push(
                "probe: Coder's echo test (text messages \"0\", \"1\", \"2\") with the session token"
                    .to_string(),
            ),
            Probe::DerpKey => lines.push(
                "probe: DERP over WebSocket (subprotocol derp), token-free; not Coder's echo test"
                    .to_string(),
            ),
            Probe::None => {}
        }
        if !self.url.is_empty() {
            lines.push(format!("URL: {}", self.url));
        }
        if self.code != 0 {
            lines.push(format!("upgrade answered HTTP {}", self.code));
        }
        if let Some(took) = self.upgrade_time {
            lines.push(format!(
                "connect + upgrade took {}",
                crate::duration::short(took)
            ));
        }
        if let Some(key) = &self.relay_key {
            lines.push(format!("relay public key: {key}"));
        }
        if !self.body.is_empty() {
            lines.push(format!("body: {}", snippet(&self.body, 200)));
        }
        lines
    }
}

impl Present for DatabaseReport {
    fn summary(&self) -> String {
        format!(
            "median ping {} of {PINGS} to {} (threshold {}ms)",
            self.latency, self.endpoint, self.threshold_ms
        )
    }
    fn details(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .pings
            .iter()
            .enumerate()
            .map(|(i, d)| format!("ping {}: {}", i + 1, short(*d)))
            .collect();
        // Beyond Coder's: the pubsub round trip and the connection slots.
        if let Some(p) = &self.pubsub {
            lines.push(match (p.round_trip, &p.error) {
                (Some(took), _) => format!("pubsub: NOTIFY heard by a LISTEN in {}", short(took)),
                (None, error) => format!("pubsub: {}", error.as_deref().unwrap_or("unknown")),
            });
        }
        if let Some(c) = &self.connections {
            lines.push(format!(
                "connections: {} in use of max_connections {} ({} reserved for superusers)",
                c.used, c.max, c.reserved
            ));
        }
        lines
    }
}

impl Present for DerpReport {
    fn summary(&self) -> String {
        let nodes: Vec<&NodeReport> = self
            .regions
            .values()
            .flat_map(|r| &r.node_reports)
            .collect();
        let relays: Vec<&&NodeReport> = nodes.iter().filter(|n| !n.node.stun_only).collect();
        let stun: Vec<&&NodeReport> = nodes.iter().filter(|n| n.stun.enabled).collect();
        let mut parts = vec![format!(
            "{} region{}, {}/{} DERP node{} exchanged messages",
            self.regions.len(),
            if self.regions.len() == 1 { "" } else { "s" },
            relays.iter().filter(|n| n.can_exchange_messages).count(),
            relays.len(),
            if relays.len() == 1 { "" } else { "s" },
        )];
        if let Some(fastest) = relays
            .iter()
            .filter(|n| n.can_exchange_messages)
            .min_by_key(|n| n.round_trip_ping_ms)
        {
            parts.push(format!("round trip {}", fastest.round_trip_ping));
        }
        parts.push(format!(
            "{}/{} STUN server{} answered",
            stun.iter().filter(|n| n.stun.can_stun).count(),
            stun.len(),
            if stun.len() == 1 { "" } else { "s" }
        ));
        parts.join(", ")
    }
    /// One line per failing region or node, naming it and saying why.
    fn problems(&self) -> Vec<Problem> {
        let mut lines = Vec::new();
        for region in self.regions.values() {
            if let Some(e) = &region.error {
                lines.push(Problem {
                    label: String::new(),
                    name: region.region.region_id.to_string(),
                    detail: format!(
                        "region {} ({}): {e}",
                        region.region.region_id,
                        if region.region.region_name.is_empty() {
                            &region.region.region_code
                        } else {
                            &region.region.region_name
                        }
                    ),
                    subjects: Vec::new(),
                });
            }
            for node in region
                .node_reports
                .iter()
                .filter(|n| n.severity == Severity::Error)
            {
                let label = node_label(&node.node, &region.region);
                let detail = match &node.error {
                    Some(e) => e
                        .strip_prefix(&format!("{label}: "))
                        .unwrap_or(e)
                        .to_string(),
                    None => "failed".to_string(),
                };
                let n = &node.node;
                lines.push(Problem {
                    label,
                    name: n.name.clone(),
                    detail,
                    subjects: n.subjects(),
                });
            }
        }
        lines
    }

    fn details(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for region in self.regions.values() {
            lines.push(format!(
                "region {} {} ({}): {}",
                region.region.region_id,
                region.region.region_code,
                region.region.region_name,
                region.severity.as_str()
            ));
            for node in &region.node_reports {
                let mut parts = Vec::new();
                if !node.node.stun_only {
                    if node.can_exchange_messages {
                        parts.push(format!(
                            "DERP ok, round trip {}{}",
                            node.round_trip_ping,
                            if node.uses_websocket {
                                " over WebSocket"
                            } else {
                                ""
                            }
                        ));
                    } else {
                        let why = node.client_errs.iter().flatten().last();
                        parts.push(match why {
                            Some(e) => format!("DERP failed: {e}"),
                            None => "DERP failed".to_string(),
                        });
                    }
                }
                if node.stun.enabled {
                    match (&node.stun.mapped_address, &node.stun.error) {
                        (Some(mapped), _) => parts.push(format!("STUN mapped address {mapped}")),
                        (None, Some(e)) => parts.push(format!("STUN failed: {e}")),
                        _ => parts.push("STUN failed".to_string()),
                    }
                }
                lines.push(format!(
                    "  {} {}: {}",
                    node.node.name,
                    node.severity.as_str(),
                    parts.join("; ")
                ));
            }
        }
        lines
    }
}

impl Present for WorkspaceProxyReport {
    fn summary(&self) -> String {
        let regions = &self.workspace_proxies.regions;
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
        for region in &self.workspace_proxies.regions {
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
        if let Some(l) = &self.license {
            lines.push(format!(
                "license: the latest expires {} ({} days left)",
                rfc3339(l.expires_at),
                l.days_left
            ));
        }
        lines.extend(self.view.notes.iter().cloned());
        lines
    }
}

impl Present for ProvisionerDaemonsReport {
    fn summary(&self) -> String {
        let names: Vec<String> = self
            .items
            .iter()
            .map(|i| {
                let d = &i.provisioner_daemon;
                format!(
                    "{} ({})",
                    d.name,
                    d.version.as_deref().unwrap_or("version unknown")
                )
            })
            .collect();
        format!(
            "{} provisioner daemon{} active (seen within {} by the database clock): {}",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            go_string(STALE_INTERVAL),
            shorten(&names)
        )
    }
    fn details(&self) -> Vec<String> {
        let v = &self.view;
        let mut lines = Vec::new();
        if !v.place.is_empty() {
            let now = v.db_now.map(rfc3339).unwrap_or_default();
            lines.push(format!(
                "read from {} (database clock {now}); active = seen within {}",
                v.place,
                go_string(STALE_INTERVAL)
            ));
        }
        lines.push(format!(
            "server version: {}",
            v.server_version.as_deref().unwrap_or("unknown")
        ));
        for (item, age) in self.items.iter().zip(&v.ages) {
            let d = &item.provisioner_daemon;
            lines.push(format!(
                "{}: version {}, API {}, last seen {} ago, provisioners {}, tags {}",
                d.name,
                d.version.as_deref().unwrap_or("unknown"),
                d.api_version.as_deref().unwrap_or("unknown"),
                age_text(*age),
                d.provisioners.join(","),
                d.tags
            ));
        }
        if !v.inactive.is_empty() {
            let names: Vec<String> = v
                .inactive
                .iter()
                .map(|(name, age)| match age {
                    Some(age) => format!("{name} (last seen {} ago)", age_text(Some(*age))),
                    None => format!("{name} (never connected)"),
                })
                .collect();
            lines.push(format!("not active: {}", shorten(&names)));
        }
        if !v.missing_columns.is_empty() {
            lines.push(format!(
                "this Coder schema has no provisioner_daemons column {}: reported as unknown",
                v.missing_columns.join(", ")
            ));
        }
        if let Some(jobs) = &self.pending_jobs {
            lines.push(format!(
                "pending jobs older than the warning: {}, in {} group(s) by organization, \
                 provisioner and tags",
                jobs.count,
                jobs.groups.len()
            ));
        }
        lines.extend(v.notes.iter().cloned());
        lines
    }
}

pub(super) fn shorten(names: &[String]) -> String {
    if names.len() <= NAMES_IN_SUMMARY {
        names.join(", ")
    } else {
        format!(
            "{} and {} more",
            names[..NAMES_IN_SUMMARY].join(", "),
            names.len() - NAMES_IN_SUMMARY
        )
    }
}

fn age_text(age_micros: Option<i64>) -> String {
    match age_micros {
        Some(us) => crate::duration::short(Duration::from_micros(us.max(0) as u64)),
        None => "unknown".to_string(),
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
