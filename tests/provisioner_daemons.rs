//! Provisioner daemons read from a real PostgreSQL laid out as Coder's schema, judged against a
//! Coder look-alike's /api/v2/buildinfo (v2.18.1, provisioner API 1.20).

mod support;

use std::sync::OnceLock;

use serde_json::Value;
use support::coder_schema::{CoderDb, Generation, Seen};
use support::{run_json, warning_codes as codes, Output};

const SERVER_VERSION: &str = "v2.18.1";

fn access_url() -> String {
    static PORT: OnceLock<u16> = OnceLock::new();
    let port = PORT.get_or_init(|| support::http::coder_like(SERVER_VERSION));
    format!("http://127.0.0.1:{port}")
}

fn check(db: &CoderDb) -> Output {
    run_json(&[
        "--only",
        "workspace-proxy,provisioner-daemons",
        "--postgres-url",
        &db.dsn(),
        "--access-url",
        &access_url(),
        "--timeout",
        "3s",
    ])
}

fn section(out: &Output) -> Value {
    out.json()["provisioner_daemons"].clone()
}

use support::daemon_names as names;

#[test]
fn no_daemons_is_epd01_at_error_without_an_error_string() {
    let db = CoderDb::create("pd_none", Generation::Newest);
    let out = check(&db);
    let pd = section(&out);
    assert_eq!(pd["severity"], "error", "{pd}");
    assert!(pd.get("error").is_none(), "{pd}");
    assert_eq!(codes(&pd["warnings"]), ["EPD01"]);
    assert_eq!(
        pd["warnings"][0]["message"],
        "No active provisioner daemons found!"
    );
    assert_eq!(pd["items"], serde_json::json!([]));
    assert_eq!(out.json()["healthy"], false);
    assert_eq!(out.code, 1);
}

#[test]
fn a_daemon_stale_by_the_database_clock_is_not_active() {
    let db = CoderDb::create("pd_stale", Generation::Newest);
    db.add_daemon("pd-stale", SERVER_VERSION, "1.0", Seen::SecondsAgo(91));
    db.add_daemon("pd-never", SERVER_VERSION, "1.0", Seen::Never);
    let out = check(&db);
    let pd = section(&out);
    assert_eq!(pd["severity"], "error", "{pd}");
    assert_eq!(codes(&pd["warnings"]), ["EPD01"]);
    assert_eq!(pd["items"], serde_json::json!([]));
}

#[test]
fn matching_and_patch_different_daemons_are_ok_and_sorted_by_name() {
    let db = CoderDb::create("pd_ok", Generation::Newest);
    db.add_daemon("pd-b", "v2.18.0+abc1234", "1.0", Seen::SecondsAgo(5));
    db.add_daemon("pd-a", SERVER_VERSION, "1.20", Seen::SecondsAgo(1));
    db.add_daemon("PD-upper", "v2.18.9-rc.1", "1.2", Seen::SecondsAgo(80));
    db.add_daemon("pd-gone", "v1.0.0", "1.0", Seen::SecondsAgo(600));
    let out = check(&db);
    let pd = section(&out);
    assert_eq!(pd["severity"], "ok", "{pd}");
    assert_eq!(pd["warnings"], serde_json::json!([]));
    // Byte order: upper case sorts before lower case.
    assert_eq!(names(&pd), ["PD-upper", "pd-a", "pd-b"]);
    let item = &pd["items"][1];
    assert_eq!(item["warnings"], serde_json::json!([]));
    let d = &item["provisioner_daemon"];
    assert_eq!(d["version"], SERVER_VERSION);
    assert_eq!(d["api_version"], "1.20");
    assert_eq!(d["provisioners"], serde_json::json!(["echo", "terraform"]));
    assert_eq!(d["tags"]["scope"], "organization");
    assert_eq!(d["organization_id"], support::coder_schema::DEFAULT_ORG);
    assert_eq!(d["key_id"], support::coder_schema::BUILT_IN_KEY);
    assert!(d["last_seen_at"].as_str().unwrap().contains('T'));
    assert!(d["key_name"].is_null());
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn a_minor_version_difference_is_epd02_naming_the_daemon() {
    let db = CoderDb::create("pd_minor", Generation::Newest);
    db.add_daemon("pd-old", "v2.17.3", "1.0", Seen::SecondsAgo(2));
    db.add_daemon("pd-ok", SERVER_VERSION, "1.0", Seen::SecondsAgo(2));
    let out = check(&db);
    let pd = section(&out);
    assert_eq!(pd["severity"], "warning", "{pd}");
    assert_eq!(codes(&pd["warnings"]), ["EPD02"]);
    assert_eq!(
        pd["warnings"][0]["message"],
        "Some provisioner daemons report mismatched versions: pd-old (v2.17.3)"
    );
    assert_eq!(names(&pd), ["pd-ok", "pd-old"]);
    assert_eq!(pd["items"][0]["warnings"], serde_json::json!([]));
    assert_eq!(
        pd["items"][1]["warnings"][0]["message"],
        "Mismatched version \"v2.17.3\""
    );
    assert_eq!(out.json()["healthy"], true);
    assert_eq!(out.code, 0);
}

#[test]
fn invalid_versions_are_eunknown_errors() {
    let db = CoderDb::create("pd_invalid", Generation::Newest);
    db.add_daemon("pd-no-v", "2.18.1", "1.0", Seen::SecondsAgo(1));
    db.add_daemon("pd-bad-api", SERVER_VERSION, "v1.0", Seen::SecondsAgo(1));
    let out = check(&db);
    let pd = section(&out);
    assert_eq!(pd["severity"], "error", "{pd}");
    assert!(pd.get("error").is_none());
    assert_eq!(codes(&pd["warnings"]), ["EUNKNOWN", "EUNKNOWN"]);
    assert_eq!(
        pd["items"][0]["warnings"][0]["message"],
        "Invalid API version: invalid major version: v1.0"
    );
    assert_eq!(
        pd["items"][1]["warnings"][0]["message"],
        "Invalid version \"2.18.1\""
    );
    assert_eq!(out.code, 1);
}

#[test]
fn an_old_api_major_is_epd03_naming_the_servers_major() {
    let db = CoderDb::create("pd_api", Generation::Newest);
    db.add_daemon("pd-old-api", SERVER_VERSION, "0.9", Seen::SecondsAgo(1));
    let out = check(&db);
    let pd = section(&out);
    assert_eq!(pd["severity"], "warning", "{pd}");
    assert_eq!(codes(&pd["warnings"]), ["EPD03"]);
    assert!(pd["warnings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("pd-old-api (API 0.9)"));
    assert_eq!(
        pd["items"][0]["warnings"][0]["message"],
        "Deprecated major API version 1."
    );
}

#[test]
fn the_old_schema_generation_reads_without_the_later_columns() {
    let db = CoderDb::create("pd_old_schema", Generation::Old);
    db.add_daemon("pd-old-schema", SERVER_VERSION, "", Seen::SecondsAgo(3));
    db.add_daemon("pd-minor", "v2.16.0", "", Seen::SecondsAgo(3));
    let out = check(&db);
    let pd = section(&out);
    assert_eq!(pd["severity"], "warning", "{pd}");
    assert_eq!(codes(&pd["warnings"]), ["EPD02"]);
    let d = &pd["items"][1]["provisioner_daemon"];
    assert_eq!(d["name"], "pd-old-schema");
    // Columns this schema lacks read as Go's zero values, as Coder's client types expect.
    assert_eq!(d["api_version"], "", "{d}");
    assert_eq!(d["organization_id"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(d["key_id"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(d["version"], SERVER_VERSION);
}

#[test]
fn without_the_server_version_comparison_is_reported_as_not_possible() {
    let db = CoderDb::create("pd_unknown_server", Generation::Newest);
    db.add_daemon("pd-a", "v2.17.0", "1.0", Seen::SecondsAgo(1));
    let out = run_json(&[
        "--only",
        "workspace-proxy,provisioner-daemons",
        "--postgres-url",
        &db.dsn(),
        "--timeout",
        "3s",
    ]);
    let pd = section(&out);
    assert_eq!(pd["severity"], "warning", "{pd}");
    assert_eq!(codes(&pd["warnings"]), ["EUNKNOWN"]);
    assert_eq!(
        pd["warnings"][0]["message"],
        "cannot compare daemon versions: server version unknown (no access URL configured)"
    );
    assert_eq!(pd["items"][0]["warnings"], serde_json::json!([]));
}

#[test]
fn the_table_names_the_daemons_concerned() {
    let db = CoderDb::create("pd_table", Generation::Newest);
    db.add_daemon("pd-old", "v2.10.0", "1.0", Seen::SecondsAgo(1));
    let mut cmd = support::healthcheck();
    cmd.args([
        "run",
        "--only",
        "provisioner-daemons",
        "--postgres-url",
        &db.dsn(),
        "--access-url",
        &access_url(),
        "--verbose",
    ]);
    let out = support::run(cmd);
    assert!(out.stdout.contains("EPD02"), "{}", out.stdout);
    assert!(out.stdout.contains("pd-old (v2.10.0)"), "{}", out.stdout);
    assert!(out.stdout.contains("database clock"), "{}", out.stdout);
    assert!(!out.all().contains(support::postgres::PASSWORD));
}

#[test]
fn no_database_skips_both_sections() {
    let out = run_json(&["--only", "workspace-proxy,provisioner-daemons"]);
    let json = out.json();
    for name in ["provisioner_daemons", "workspace_proxy"] {
        let s = &json[name];
        assert_eq!(s["skipped"], true, "{s}");
        assert!(s["skip_reason"]
            .as_str()
            .unwrap()
            .starts_with("no database configured"));
    }
    assert_eq!(out.code, 0);
}
