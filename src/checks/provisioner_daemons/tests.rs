//! Coder's provisioner daemon cases (coder-test-scenarios.md G) as pure roll-up logic.

use super::*;
use crate::render::present::Present;
use time::OffsetDateTime;
use uuid::Uuid;

const FRESH: i64 = 0;
/// Coder's "stale": 90 s + 1 s ago.
const STALE: i64 = 91_000_000;

fn daemon(name: &str, version: &str, api: &str, age: i64) -> DaemonRow {
    DaemonRow {
        id: Uuid::nil(),
        created_at: OffsetDateTime::UNIX_EPOCH,
        name: name.to_string(),
        provisioners: vec!["echo".into(), "terraform".into()],
        tags: Some(serde_json::json!({})),
        last_seen_at: Some(OffsetDateTime::UNIX_EPOCH),
        age_micros: Some(age),
        version: Some(version.to_string()),
        api_version: Some(api.to_string()),
        organization_id: None,
        key_id: None,
    }
}

fn server(version: &str, api_major: i64) -> Server {
    Server {
        version: Some(version.to_string()),
        version_error: None,
        api_major: Ok(api_major),
    }
}

fn run_judge(rows: Vec<DaemonRow>, server: &Server) -> ProvisionerDaemonsReport {
    let mut report = ProvisionerDaemonsReport::default();
    let daemons = Daemons {
        rows,
        has_last_seen_at: true,
        has_version: true,
        has_api_version: true,
        missing_columns: Vec::new(),
    };
    judge(&mut report, daemons, server);
    report
}

fn codes(messages: &[Message]) -> Vec<Code> {
    messages.iter().map(|m| m.code).collect()
}

fn item_texts(report: &ProvisionerDaemonsReport, i: usize) -> Vec<String> {
    report.items[i]
        .warnings
        .iter()
        .map(|w| w.display())
        .collect()
}

#[test]
fn g2_no_daemons_is_epd01_in_warnings_at_error() {
    let report = run_judge(vec![], &server("v1.2.3", 1));
    assert_eq!(report.base.severity, Severity::Error);
    assert!(report.base.error_text().is_none());
    assert_eq!(codes(&report.base.warnings), vec![Code::Epd01]);
    assert_eq!(
        report.base.warnings[0].message,
        "No active provisioner daemons found!"
    );
    assert!(report.items.is_empty());
}

#[test]
fn g4_up_to_date_daemon_is_ok() {
    let report = run_judge(
        vec![daemon("pd-ok", "v1.2.3", "1.0", FRESH)],
        &server("v1.2.3", 1),
    );
    assert_eq!(report.base.severity, Severity::Ok);
    assert!(report.base.warnings.is_empty());
    assert_eq!(report.items.len(), 1);
    assert!(report.items[0].warnings.is_empty());
}

#[test]
fn g5_out_of_date_daemon_is_epd02() {
    let report = run_judge(
        vec![daemon("pd-old", "v1.1.2", "1.0", FRESH)],
        &server("v1.2.3", 1),
    );
    assert_eq!(report.base.severity, Severity::Warning);
    assert_eq!(codes(&report.base.warnings), vec![Code::Epd02]);
    assert_eq!(
        report.base.warnings[0].message,
        "Some provisioner daemons report mismatched versions: pd-old (v1.1.2)"
    );
    assert_eq!(
        item_texts(&report, 0),
        vec![r#"EPD02: Mismatched version "v1.1.2""#]
    );
}

#[test]
fn g6_invalid_version_is_eunknown_error() {
    let report = run_judge(
        vec![daemon("pd-invalid-version", "invalid", "1.0", FRESH)],
        &server("v1.2.3", 1),
    );
    assert_eq!(report.base.severity, Severity::Error);
    assert!(report.base.error_text().is_none());
    assert_eq!(codes(&report.base.warnings), vec![Code::Eunknown]);
    assert!(report.base.warnings[0]
        .message
        .starts_with("Some provisioner daemons report invalid version information"));
    assert_eq!(
        item_texts(&report, 0),
        vec![r#"EUNKNOWN: Invalid version "invalid""#]
    );
}

#[test]
fn a_version_without_v_is_invalid() {
    let report = run_judge(
        vec![daemon("pd", "1.2.3", "1.0", FRESH)],
        &server("v1.2.3", 1),
    );
    assert_eq!(report.base.severity, Severity::Error);
    assert_eq!(
        item_texts(&report, 0),
        vec![r#"EUNKNOWN: Invalid version "1.2.3""#]
    );
}

#[test]
fn g7_invalid_api_version_is_eunknown_error() {
    let report = run_judge(
        vec![daemon("pd-invalid-api", "v1.2.3", "invalid", FRESH)],
        &server("v1.2.3", 1),
    );
    assert_eq!(report.base.severity, Severity::Error);
    assert_eq!(codes(&report.base.warnings), vec![Code::Eunknown]);
    assert_eq!(
        item_texts(&report, 0),
        vec!["EUNKNOWN: Invalid API version: invalid version string: invalid"]
    );
    // A schema between migrations 000179 and 000184 can still hold `v1.0`.
    let report = run_judge(
        vec![daemon("pd", "v1.2.3", "v1.0", FRESH)],
        &server("v1.2.3", 1),
    );
    assert_eq!(
        item_texts(&report, 0),
        vec!["EUNKNOWN: Invalid API version: invalid major version: v1.0"]
    );
}

#[test]
fn g8_old_api_major_is_epd03_naming_the_servers_major() {
    let report = run_judge(
        vec![daemon("pd-old-api", "v2.3.4", "1.0", FRESH)],
        &server("v2.3.4", 2),
    );
    assert_eq!(report.base.severity, Severity::Warning);
    assert_eq!(codes(&report.base.warnings), vec![Code::Epd03]);
    assert!(report.base.warnings[0]
        .message
        .contains("pd-old-api (API 1.0)"));
    assert_eq!(
        item_texts(&report, 0),
        vec!["EPD03: Deprecated major API version 2."]
    );
}

#[test]
fn g9_one_up_to_date_one_out_of_date() {
    let report = run_judge(
        vec![
            daemon("pd-ok", "v1.2.3", "1.0", FRESH),
            daemon("pd-old", "v1.1.2", "1.0", FRESH),
        ],
        &server("v1.2.3", 1),
    );
    assert_eq!(report.base.severity, Severity::Warning);
    assert_eq!(codes(&report.base.warnings), vec![Code::Epd02]);
    assert_eq!(report.items[0].provisioner_daemon.name, "pd-ok");
    assert!(report.items[0].warnings.is_empty());
    assert_eq!(codes(&report.items[1].warnings), vec![Code::Epd02]);
}

#[test]
fn g10_newer_daemon_mismatches_too() {
    let report = run_judge(
        vec![
            daemon("pd-new", "v2.3.4", "1.0", FRESH),
            daemon("pd-ok", "v1.2.3", "1.0", FRESH),
        ],
        &server("v1.2.3", 1),
    );
    assert_eq!(report.base.severity, Severity::Warning);
    assert_eq!(
        item_texts(&report, 0),
        vec![r#"EPD02: Mismatched version "v2.3.4""#]
    );
    assert!(report.items[1].warnings.is_empty());
}

#[test]
fn g11_stale_daemons_are_ignored() {
    let report = run_judge(
        vec![
            daemon("pd-ok", "v2.3.4", "1.0", FRESH),
            daemon("pd-stale", "v1.2.3", "0.9", STALE),
        ],
        &server("v2.3.4", 1),
    );
    assert_eq!(report.base.severity, Severity::Ok);
    assert_eq!(report.items.len(), 1);
    assert_eq!(report.items[0].provisioner_daemon.name, "pd-ok");
    assert_eq!(
        report.view.inactive,
        vec![("pd-stale".to_string(), Some(STALE))]
    );
}

#[test]
fn g12_only_stale_is_epd01() {
    let report = run_judge(
        vec![daemon("pd-stale", "v2.3.4", "1.0", STALE)],
        &server("v2.3.4", 1),
    );
    assert_eq!(report.base.severity, Severity::Error);
    assert_eq!(codes(&report.base.warnings), vec![Code::Epd01]);
}

#[test]
fn stale_boundary_is_inclusive_and_never_seen_is_inactive() {
    let mut never = daemon("pd-never", "v2.3.4", "1.0", FRESH);
    never.last_seen_at = None;
    never.age_micros = None;
    let report = run_judge(
        vec![daemon("pd-edge", "v2.3.4", "1.0", 90_000_000), never],
        &server("v2.3.4", 1),
    );
    assert_eq!(report.items.len(), 1);
    assert_eq!(report.items[0].provisioner_daemon.name, "pd-edge");
    assert_eq!(report.view.inactive, vec![("pd-never".to_string(), None)]);
}

#[test]
fn section_warnings_repeat_per_daemon_and_severity_only_rises() {
    let report = run_judge(
        vec![
            daemon("a", "invalid", "1.0", FRESH),
            daemon("b", "v1.1.0", "1.0", FRESH),
            daemon("c", "v1.1.0", "0.1", FRESH),
        ],
        &server("v1.2.3", 1),
    );
    assert_eq!(report.base.severity, Severity::Error);
    assert_eq!(
        codes(&report.base.warnings),
        vec![Code::Eunknown, Code::Epd02, Code::Epd02, Code::Epd03]
    );
    assert!(report.base.warnings[2].message.ends_with("c (v1.1.0)"));
}

#[test]
fn dev_builds_match_everything() {
    let report = run_judge(
        vec![daemon("pd", "v0.0.0-devel+abc", "1.0", FRESH)],
        &server("v2.18.1", 1),
    );
    assert_eq!(report.base.severity, Severity::Ok);
}

#[test]
fn g1_unknown_server_version_is_reported_not_passed() {
    let server = Server {
        version: None,
        version_error: Some("no access URL configured".into()),
        api_major: Ok(1),
    };
    let report = run_judge(vec![daemon("pd", "v1.0.0", "1.0", FRESH)], &server);
    assert_eq!(report.base.severity, Severity::Warning);
    assert_eq!(
        report.base.warnings[0].display(),
        "EUNKNOWN: cannot compare daemon versions: server version unknown (no access URL configured)"
    );
    // Invalid versions are still found without the server's.
    let report = run_judge(vec![daemon("pd", "1.0.0", "1.0", FRESH)], &server);
    assert_eq!(report.base.severity, Severity::Error);
}

#[test]
fn older_schemas_report_unknowns() {
    let mut report = ProvisionerDaemonsReport::default();
    let mut row = daemon("pd", "v1.2.3", "", FRESH);
    row.api_version = None;
    judge(
        &mut report,
        Daemons {
            rows: vec![row],
            has_last_seen_at: true,
            has_version: true,
            has_api_version: false,
            missing_columns: vec!["api_version", "organization_id", "key_id"],
        },
        &server("v1.2.3", 1),
    );
    assert_eq!(report.base.severity, Severity::Ok);
    assert!(report.items[0].provisioner_daemon.api_version.is_none());
    assert!(report
        .details()
        .iter()
        .any(|l| l.contains("api_version, organization_id, key_id")));

    let mut report = ProvisionerDaemonsReport::default();
    judge(
        &mut report,
        Daemons {
            rows: vec![daemon("pd", "v1.2.3", "1.0", FRESH)],
            has_last_seen_at: false,
            has_version: false,
            has_api_version: false,
            missing_columns: vec!["last_seen_at"],
        },
        &server("v1.2.3", 1),
    );
    assert_eq!(report.base.severity, Severity::Warning);
    assert!(report.base.warnings[0]
        .message
        .contains("cannot tell which"));
}

/// Keys appear in `text` in this order (serde_json's Value would sort them, so read the text).
pub(crate) fn assert_key_order(text: &str, keys: &[&str]) {
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| {
            text.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("no key {k} in {text}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "key order {keys:?} in {text}"
    );
}

#[test]
fn item_json_has_codersdk_shape() {
    let report = run_judge(
        vec![daemon("pd-ok", "v1.2.3", "1.0", FRESH)],
        &server("v1.2.3", 1),
    );
    let text = serde_json::to_string(&report).unwrap();
    assert_key_order(&text, &["severity", "warnings", "dismissed", "items"]);
    assert_key_order(
        &text,
        &[
            "provisioner_daemon",
            "id",
            "organization_id",
            "key_id",
            "created_at",
            "last_seen_at",
            "name",
            "version",
            "api_version",
            "provisioners",
            "tags",
            "key_name",
            "status",
            "current_job",
            "previous_job",
        ],
    );
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let d = &json["items"][0]["provisioner_daemon"];
    assert_eq!(d["created_at"], "1970-01-01T00:00:00Z");
    assert_eq!(d["provisioners"], serde_json::json!(["echo", "terraform"]));
    assert_eq!(json["items"][0]["warnings"], serde_json::json!([]));
    assert!(json.get("error").is_none());
}

#[test]
fn epd01_names_at_most_ten_inactive_daemons() {
    let daemons: Vec<_> = (0..12)
        .map(|i| daemon(&format!("pd-{i:02}"), "v1.2.3", "1.0", 120_000_000))
        .collect();
    let report = run_judge(daemons, &server("v1.2.3", 1));
    let message = &report.base.warnings[0].message;
    assert!(
        message.starts_with(
            "No active provisioner daemons found! Registered but not seen within 1m30s: \
             pd-00 last seen 2m0s ago, pd-01"
        ),
        "{message}"
    );
    assert!(
        message.ends_with("pd-09 last seen 2m0s ago and 2 more"),
        "{message}"
    );
}
