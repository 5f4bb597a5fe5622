//! `--format prometheus`: the report as Prometheus text exposition (version 0.0.4), for
//! node_exporter's textfile collector. Every family is a gauge in base units (seconds, 0/1) and
//! always has its `# HELP` and `# TYPE`, even without samples, so dashboards see the same
//! families on every run. A section that did not run has no healthy/severity/duration samples
//! (unknown is not 0), only `skipped 1`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{RenderError, RenderOptions, Renderer};
use crate::report::workspace_proxy::PRIMARY;
use crate::report::{section_fails, BaseReport, Code, Report, SectionId, Severity};

pub struct PrometheusRenderer;

/// Label names and values of one sample, in order.
type Labels = Vec<(&'static str, String)>;

/// One metric family and its samples.
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Labels, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, labels: Labels, value: f64) {
        self.samples.push((labels, value));
    }
}

impl Renderer for PrometheusRenderer {
    fn render(&self, report: &Report, options: &RenderOptions) -> Result<Vec<u8>, RenderError> {
        let mut out = String::new();
        for family in families(report) {
            let _ = writeln!(out, "# HELP {} {}", family.name, help_escape(family.help));
            let _ = writeln!(out, "# TYPE {} gauge", family.name);
            // A repeated label set would make the textfile collector drop the whole file.
            let mut seen = BTreeSet::new();
            for (labels, value) in &family.samples {
                let labels: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", label_escape(&options.clean(v))))
                    .collect();
                let labels = if labels.is_empty() {
                    String::new()
                } else {
                    format!("{{{}}}", labels.join(","))
                };
                if seen.insert(labels.clone()) {
                    let _ = writeln!(out, "{}{labels} {}", family.name, number(*value));
                }
            }
        }
        Ok(out.into_bytes())
    }
}

/// Every family, in the order they are written: the verdict, the sections, then what each
/// section measured, then the run itself.
fn families(report: &Report) -> Vec<Family> {
    let mut all = verdict_families(report);
    all.extend(section_families(report));
    all.extend(database_families(report));
    all.extend(derp_families(report));
    all.push(proxy_family(report));
    all.push(daemon_family(report));
    all.push(certificate_family(report));
    all.extend(beyond_coders(report));
    all.extend(run_families(report));
    all
}

/// Coder's top-level verdict.
fn verdict_families(report: &Report) -> Vec<Family> {
    let mut healthy = Family::new(
        "coder_healthcheck_healthy",
        "Coder's top-level verdict: 1 healthy, 0 not (dismissed sections included, as Coder counts them).",
    );
    healthy.add(vec![], bool_value(report.healthy));
    let mut severity = Family::new(
        "coder_healthcheck_severity",
        "Coder's top-level severity: 0 ok, 1 warning, 2 error.",
    );
    severity.add(vec![], severity_value(report.severity));
    vec![healthy, severity]
}

/// Per section: verdict, severity, skipped, dismissed, duration, and its findings by code and
/// shown severity.
fn section_families(report: &Report) -> Vec<Family> {
    let mut section_healthy = Family::new(
        "coder_healthcheck_section_healthy",
        "Whether a section passes Coder's failing-section rule: 1 passes, 0 fails; absent when skipped.",
    );
    let mut section_severity = Family::new(
        "coder_healthcheck_section_severity",
        "A section's severity: 0 ok, 1 warning, 2 error; absent when skipped.",
    );
    let mut skipped = Family::new(
        "coder_healthcheck_section_skipped",
        "1 when the section did not run (not selected, or nothing to check it with).",
    );
    let mut dismissed = Family::new(
        "coder_healthcheck_section_dismissed",
        "1 when the section is dismissed: its findings are reported but do not fail the run.",
    );
    let mut duration = Family::new(
        "coder_healthcheck_section_duration_seconds",
        "How long the section's check took, in seconds; absent when skipped.",
    );
    let mut findings = Family::new(
        "coder_healthcheck_finding",
        "How many findings of one code a section has.",
    );
    for id in SectionId::ALL {
        let base = report.base(id);
        let section = || vec![("section", id.json_key().to_string())];
        skipped.add(section(), bool_value(base.skipped));
        dismissed.add(section(), bool_value(base.dismissed));
        if base.skipped {
            continue;
        }
        section_healthy.add(section(), bool_value(!section_fails(id, base.severity)));
        section_severity.add(section(), severity_value(base.severity));
        duration.add(section(), base.duration_ms as f64 / 1000.0);
        for ((code, level), count) in finding_counts(base) {
            findings.add(
                vec![
                    ("section", id.json_key().to_string()),
                    ("code", code.to_string()),
                    ("severity", level.as_str().to_string()),
                ],
                count as f64,
            );
        }
    }
    vec![
        section_healthy,
        section_severity,
        skipped,
        dismissed,
        duration,
        findings,
    ]
}

/// The database's median ping and the threshold it is judged by.
fn database_families(report: &Report) -> Vec<Family> {
    let mut db_latency = Family::new(
        "coder_healthcheck_database_latency_seconds",
        "Median of Coder's five database pings, in seconds; absent when the database was not reached.",
    );
    let mut db_threshold = Family::new(
        "coder_healthcheck_database_threshold_seconds",
        "The database latency at or above which EDB02 is reported, in seconds.",
    );
    let db = &report.database;
    if !db.base.skipped {
        if db.reachable {
            db_latency.add(vec![], seconds(&db.latency, db.latency_ms));
        }
        db_threshold.add(vec![], db.threshold_ms as f64 / 1000.0);
    }
    vec![db_latency, db_threshold]
}

/// Each DERP relay node's health and round trip, and each STUN node's health.
fn derp_families(report: &Report) -> Vec<Family> {
    let mut derp_healthy = Family::new(
        "coder_healthcheck_derp_node_healthy",
        "Whether a DERP relay node is healthy: 1 yes, 0 no.",
    );
    let mut derp_rtt = Family::new(
        "coder_healthcheck_derp_node_round_trip_seconds",
        "Round trip of a message through a DERP relay node, in seconds; absent when none got through.",
    );
    let mut stun_healthy = Family::new(
        "coder_healthcheck_stun_node_healthy",
        "Whether a STUN server answered: 1 yes, 0 no.",
    );
    for region in report.derp.regions.values() {
        for node in &region.node_reports {
            let labels = || {
                vec![
                    ("region_id", region.region.region_id.to_string()),
                    ("region_code", region.region.region_code.clone()),
                    ("node", node.node.name.clone()),
                ]
            };
            if !node.node.stun_only {
                derp_healthy.add(labels(), bool_value(node.healthy));
                if node.can_exchange_messages {
                    derp_rtt.add(
                        labels(),
                        seconds(&node.round_trip_ping, node.round_trip_ping_ms),
                    );
                }
            }
            if node.stun.enabled {
                stun_healthy.add(labels(), bool_value(node.stun.can_stun));
            }
        }
    }
    vec![derp_healthy, derp_rtt, stun_healthy]
}

/// Each workspace proxy's health (the primary is coderd itself, not a proxy).
fn proxy_family(report: &Report) -> Family {
    let mut proxies = Family::new(
        "coder_healthcheck_workspace_proxy_healthy",
        "Whether a workspace proxy is healthy as probed from this host: 1 yes, 0 no.",
    );
    for proxy in report
        .workspace_proxy
        .workspace_proxies
        .regions
        .iter()
        .filter(|p| p.name != PRIMARY)
    {
        proxies.add(
            vec![("name", proxy.name.clone())],
            bool_value(proxy.healthy),
        );
    }
    proxies
}

/// Provisioner daemons counted by state.
fn daemon_family(report: &Report) -> Family {
    let mut daemons = Family::new(
        "coder_healthcheck_provisioner_daemons",
        "Provisioner daemons by state: ok, stale (registered, not seen within 90s), version_mismatch.",
    );
    let pd = &report.provisioner_daemons;
    if !pd.base.skipped {
        let mismatched = pd.items.iter().filter(|i| !i.warnings.is_empty()).count();
        for (state, count) in [
            ("ok", pd.items.len() - mismatched),
            ("stale", pd.view.inactive.len()),
            ("version_mismatch", mismatched),
        ] {
            daemons.add(vec![("state", state.to_string())], count as f64);
        }
    }
    daemons
}

/// When each endpoint's leaf certificate expires.
fn certificate_family(report: &Report) -> Family {
    let mut certificates = Family::new(
        "coder_healthcheck_tls_certificate_expiry_timestamp_seconds",
        "When an endpoint's TLS leaf certificate expires, as a Unix timestamp in seconds.",
    );
    for cert in &report.certificates.certificates {
        if let Ok(expiry) = OffsetDateTime::parse(&cert.not_after, &Rfc3339) {
            certificates.add(
                vec![("endpoint", cert.endpoint.clone())],
                expiry.unix_timestamp() as f64,
            );
        }
    }
    certificates
}

/// When the run finished, and which versions took part.
fn run_families(report: &Report) -> Vec<Family> {
    let mut last_run = Family::new(
        "coder_healthcheck_last_run_timestamp_seconds",
        "When the run finished, as a Unix timestamp in seconds.",
    );
    if let Ok(at) = OffsetDateTime::parse(&report.time, &Rfc3339) {
        last_run.add(vec![], at.unix_timestamp_nanos() as f64 / 1e9);
    }
    let mut info = Family::new(
        "coder_healthcheck_info",
        "Always 1; labels name healthcheck's version and the Coder version the server reports.",
    );
    info.add(
        vec![
            ("version", report.healthcheck_version.to_string()),
            ("coder_version", report.coder_version.clone()),
        ],
        1.0,
    );
    vec![last_run, info]
}

/// The database and provisioner checks beyond Coder's (EPG01, EPG02, EPQ01, ELIC01).
fn beyond_coders(report: &Report) -> Vec<Family> {
    let mut pubsub = Family::new(
        "coder_healthcheck_db_pubsub_round_trip_seconds",
        "Round trip of a NOTIFY to a LISTEN on another connection, in seconds; absent when it did not come back.",
    );
    let mut connections = Family::new(
        "coder_healthcheck_db_connections",
        "Database connection slots: used (client connections open), max (max_connections), reserved (for superusers).",
    );
    let db = &report.database;
    if let Some(took) = db.pubsub.as_ref().and_then(|p| p.round_trip) {
        pubsub.add(vec![], took.as_secs_f64());
    }
    if let Some(c) = &db.connections {
        for (state, n) in [("used", c.used), ("max", c.max), ("reserved", c.reserved)] {
            connections.add(vec![("state", state.to_string())], n as f64);
        }
    }
    let mut pending = Family::new(
        "coder_healthcheck_provisioner_jobs_pending",
        "Provisioner jobs not started after --job-pending-warning, by whether a live daemon could take them.",
    );
    let mut oldest = Family::new(
        "coder_healthcheck_provisioner_job_oldest_pending_seconds",
        "Age of the oldest of those jobs, in seconds; absent when there is none.",
    );
    if let Some(jobs) = &report.provisioner_daemons.pending_jobs {
        for matched in [true, false] {
            let n: i64 = jobs
                .groups
                .iter()
                .filter(|g| g.matched == Some(matched))
                .map(|g| g.count)
                .sum();
            pending.add(vec![("matched", matched.to_string())], n as f64);
        }
        if let Some(age) = jobs.oldest_age_seconds {
            oldest.add(vec![], age);
        }
    }
    let mut license = Family::new(
        "coder_healthcheck_license_expiry_timestamp_seconds",
        "When the latest Coder license expires, as a Unix timestamp in seconds; absent without a license.",
    );
    if let Some(l) = &report.workspace_proxy.license {
        license.add(vec![], l.expires_at.unix_timestamp() as f64);
    }
    vec![pubsub, connections, pending, oldest, license]
}

/// Coded findings of one section by code and shown severity (`BaseReport::shown`).
fn finding_counts(base: &BaseReport) -> BTreeMap<(Code, Severity), usize> {
    let mut counts = BTreeMap::new();
    for shown in base.shown() {
        if let Some(code) = shown.code {
            *counts.entry((code, shown.severity)).or_insert(0) += 1;
        }
    }
    counts
}

/// A duration the report carries in Go's form (`370.125µs`, full precision) and in whole
/// milliseconds; the milliseconds only when the text is missing, since a local ping is under 1 ms.
fn seconds(go_text: &str, millis: u64) -> f64 {
    crate::duration::parse(go_text)
        .map(|d| d.as_secs_f64())
        .unwrap_or(millis as f64 / 1000.0)
}

fn bool_value(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

fn severity_value(s: Severity) -> f64 {
    match s {
        Severity::Ok => 0.0,
        Severity::Warning => 1.0,
        Severity::Error => 2.0,
    }
}

/// Rust's `Display` for f64 never uses exponents and prints integers without a fraction, both
/// of which the exposition format accepts.
fn number(v: f64) -> String {
    if v.is_finite() {
        v.to_string()
    } else {
        "NaN".to_string()
    }
}

/// Label values: backslash, double quote and line feed are escaped; nothing else may be.
pub fn label_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text: backslash and line feed are escaped.
fn help_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::derp::{DerpNode, NodeReport, RegionReport};

    fn options() -> RenderOptions {
        RenderOptions::for_run(&crate::settings::Settings::default(), false)
    }

    fn render(report: &Report) -> String {
        String::from_utf8(PrometheusRenderer.render(report, &options()).unwrap()).unwrap()
    }

    #[test]
    fn certificate_expiry_is_a_unix_timestamp_per_endpoint() {
        let mut report = Report::default();
        report
            .certificates
            .certificates
            .push(crate::report::certificates::Certificate {
                endpoint: "coder.example.com:443".to_string(),
                not_after: "2027-01-02T03:04:05Z".to_string(),
                ..Default::default()
            });
        let text = render(&report);
        assert!(
            text.contains(
                "coder_healthcheck_tls_certificate_expiry_timestamp_seconds\
                 {endpoint=\"coder.example.com:443\"} 1798859045\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(label_escape("line\nbreak"), "line\\nbreak");
    }

    #[test]
    fn every_family_has_help_and_type_and_skipped_sections_no_verdict() {
        let mut report = Report::default();
        for id in SectionId::ALL {
            report.base_mut(id).skip("not selected by --only");
        }
        report.compute_verdict();
        let text = render(&report);
        let families = families(&report);
        assert_eq!(families.len(), 23);
        for family in &families {
            assert!(
                text.contains(&format!("# HELP {} ", family.name)),
                "{}",
                family.name
            );
            assert!(text.contains(&format!("# TYPE {} gauge\n", family.name)));
        }
        assert!(text.contains("coder_healthcheck_section_skipped{section=\"database\"} 1\n"));
        assert!(
            !text.contains("coder_healthcheck_section_healthy{"),
            "{text}"
        );
        assert!(!text.contains("coder_healthcheck_tls_certificate_expiry_timestamp_seconds{"));
    }

    #[test]
    fn findings_count_per_code_and_duplicate_nodes_are_dropped() {
        let mut report = Report::default();
        let base = report.base_mut(SectionId::Derp);
        base.warn(Severity::Warning, Code::Estun01, "one");
        base.warn(Severity::Warning, Code::Estun01, "two");
        let node = |name: &str| NodeReport {
            healthy: true,
            node: DerpNode {
                name: name.to_string(),
                ..DerpNode::default()
            },
            ..NodeReport::default()
        };
        let mut region = RegionReport::default();
        region.region.region_id = 7;
        region.region.region_code = "x\"y".to_string();
        region.node_reports = vec![node("n\\1"), node("n\\1")];
        report.derp.regions.insert("7".to_string(), region);
        report.compute_verdict();
        let text = render(&report);
        assert!(text.contains(
            "coder_healthcheck_finding{section=\"derp\",code=\"ESTUN01\",severity=\"warning\"} 2\n"
        ));
        let line = "coder_healthcheck_derp_node_healthy{region_id=\"7\",region_code=\"x\\\"y\",node=\"n\\\\1\"} 1\n";
        assert_eq!(text.matches(line).count(), 1, "{text}");
    }
}
