//! Coder's workspace proxy cases (coder-test-scenarios.md F) as pure roll-up logic.

use super::*;
use crate::render::present::Present;

fn proxy(name: &str, status: ProxyHealth, errors: &[&str], warnings: &[&str]) -> WorkspaceProxy {
    let mut p = primary(&SiteConfigs::default(), None);
    p.name = name.to_string();
    p.healthy = status == ProxyHealth::Ok;
    p.status.status = status;
    p.status.report = ProxyHealthReport {
        errors: errors.iter().map(|s| s.to_string()).collect(),
        warnings: warnings.iter().map(|s| s.to_string()).collect(),
    };
    p.created_at = OffsetDateTime::UNIX_EPOCH;
    p
}

fn ok(name: &str) -> WorkspaceProxy {
    proxy(name, ProxyHealth::Ok, &[], &[])
}

/// Coder's `fake(name, false)`: unreachable with one error.
fn bad(name: &str) -> WorkspaceProxy {
    proxy(
        name,
        ProxyHealth::Unreachable,
        &["assert.AnError general error for testing"],
        &[],
    )
}

fn rolled(regions: Vec<WorkspaceProxy>) -> WorkspaceProxyReport {
    let mut report = WorkspaceProxyReport::default();
    judge(&mut report, regions, Ok("v2.18.1"));
    report
}

fn with_primary(mut regions: Vec<WorkspaceProxy>) -> Vec<WorkspaceProxy> {
    regions.push(primary(
        &SiteConfigs::default(),
        Some("https://coder.example.com"),
    ));
    regions
}

fn codes(report: &WorkspaceProxyReport) -> Vec<Code> {
    report.base.warnings.iter().map(|w| w.code).collect()
}

#[test]
fn severity_function_table() {
    let cases = [
        ((0, 0, 0), Severity::Ok),
        ((1, 1, 0), Severity::Ok),
        ((1, 0, 0), Severity::Error),
        ((2, 2, 0), Severity::Ok),
        ((2, 1, 0), Severity::Warning),
        ((2, 0, 0), Severity::Error),
        ((1, 1, 1), Severity::Warning),
        ((2, 0, 1), Severity::Error),
    ];
    for ((total, healthy, warned), want) in cases {
        assert_eq!(
            severity(total, healthy, warned),
            want,
            "{total},{healthy},{warned}"
        );
    }
}

#[test]
fn coders_table_without_the_primary() {
    // F2-F8, F12-F14 as Coder's unit tests state them (no primary region).
    let r = rolled(vec![]);
    assert_eq!((r.healthy, r.base.severity), (true, Severity::Ok));
    assert_eq!(r.workspace_proxies.regions.len(), 0);
    let r = rolled(vec![ok("alpha")]);
    assert_eq!((r.healthy, r.base.severity), (true, Severity::Ok));
    let r = rolled(vec![bad("alpha")]);
    assert_eq!((r.healthy, r.base.severity), (false, Severity::Error));
    assert!(r
        .base
        .error_text()
        .as_deref()
        .unwrap()
        .starts_with("EWP04: alpha: "));
    let r = rolled(vec![ok("alpha"), ok("beta")]);
    assert_eq!(r.base.severity, Severity::Ok);
    let r = rolled(vec![bad("alpha"), ok("beta")]);
    assert_eq!((r.healthy, r.base.severity), (true, Severity::Warning));
    assert_eq!(codes(&r), vec![Code::Ewp04]);
    let r = rolled(vec![bad("alpha"), bad("beta")]);
    assert_eq!((r.healthy, r.base.severity), (false, Severity::Error));
    let error = r.base.error_text().unwrap();
    assert_eq!(error.lines().count(), 2, "{error}");
    assert!(error.lines().all(|l| l.starts_with("EWP04: ")));
    let mut deleted = bad("alpha");
    deleted.deleted = true;
    let r = rolled(vec![deleted]);
    assert_eq!((r.healthy, r.base.severity), (true, Severity::Ok));
    let r = rolled(vec![
        proxy("alpha", ProxyHealth::Ok, &[], &["warning"]),
        bad("beta"),
    ]);
    assert_eq!((r.healthy, r.base.severity), (true, Severity::Warning));
    assert_eq!(r.base.warnings[0].message, "alpha: warning");
    let r = rolled(vec![
        bad("alpha"),
        proxy("beta", ProxyHealth::Unreachable, &["x"], &["w"]),
    ]);
    assert_eq!((r.healthy, r.base.severity), (false, Severity::Error));
}

#[test]
fn the_primary_turns_down_proxies_into_a_warning() {
    let r = rolled(with_primary(vec![bad("alpha")]));
    assert_eq!((r.healthy, r.base.severity), (true, Severity::Warning));
    assert!(r.base.error_text().is_none());
    assert_eq!(codes(&r), vec![Code::Ewp04]);
    let r = rolled(with_primary(vec![bad("alpha"), bad("beta")]));
    assert_eq!((r.healthy, r.base.severity), (true, Severity::Warning));
    assert_eq!(codes(&r), vec![Code::Ewp04, Code::Ewp04]);
    let r = rolled(with_primary(vec![]));
    assert_eq!((r.healthy, r.base.severity), (true, Severity::Ok));
    assert_eq!(
        r.summary(),
        "no workspace proxies configured; only the primary region"
    );
}

#[test]
fn unregistered_proxies_warn_without_a_message() {
    let r = rolled(with_primary(vec![proxy(
        "slowpoke",
        ProxyHealth::Unregistered,
        &[],
        &[],
    )]));
    assert_eq!(r.base.severity, Severity::Warning);
    assert!(r.base.warnings.is_empty());
    assert!(
        r.summary().contains("slowpoke (unregistered)"),
        "{}",
        r.summary()
    );
}

#[test]
fn regions_sort_by_creation_with_the_primary_last() {
    let mut newer = ok("newer");
    newer.created_at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
    let r = rolled(with_primary(vec![newer, ok("older")]));
    let names: Vec<&str> = r
        .workspace_proxies
        .regions
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["older", "newer", "primary"]);
}

#[test]
fn proxy_versions_are_compared_with_the_servers() {
    let mut old = ok("alpha");
    old.version = Some("v2.17.0".into());
    let mut same = ok("beta");
    same.version = Some("v2.18.3".into());
    let mut unregistered = ok("gamma");
    unregistered.version = Some(String::new());
    let r = rolled(with_primary(vec![old.clone(), same, unregistered]));
    // Named, but Coder's newest report no longer lets versions change the verdict.
    assert_eq!(r.base.severity, Severity::Ok);
    assert_eq!(codes(&r), vec![Code::Ewp04]);
    assert_eq!(
        r.base.warnings[0].message,
        "alpha: version v2.17.0 differs from the server's v2.18.1"
    );
    let mut report = WorkspaceProxyReport::default();
    judge(
        &mut report,
        with_primary(vec![old]),
        Err("no access URL configured"),
    );
    assert_eq!(report.base.severity, Severity::Ok);
    assert!(report.base.warnings.is_empty());
}

#[test]
fn json_key_order_is_coders() {
    let r = rolled(with_primary(vec![ok("alpha")]));
    let text = serde_json::to_string(&r).unwrap();
    crate::checks::provisioner_daemons::tests::assert_key_order(
        &text,
        &[
            "healthy",
            "severity",
            "warnings",
            "dismissed",
            "workspace_proxies",
        ],
    );
    let regions = &text[text.find("\"regions\"").unwrap()..];
    crate::checks::provisioner_daemons::tests::assert_key_order(
        regions,
        &[
            "regions",
            "id",
            "name",
            "display_name",
            "icon_url",
            "healthy",
            "path_app_url",
            "wildcard_hostname",
            "derp_enabled",
            "derp_only",
            "status",
            "report",
            "errors",
            "warnings",
            "checked_at",
            "created_at",
            "updated_at",
            "deleted",
            "version",
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let primary = &json["workspace_proxies"]["regions"][1];
    assert_eq!(primary["name"], "primary");
    assert_eq!(primary["display_name"], "Default");
    assert_eq!(primary["icon_url"], "/emojis/1f3e1.png");
    assert_eq!(primary["id"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(primary["path_app_url"], "https://coder.example.com");
    assert_eq!(primary["status"]["status"], "ok");
}
