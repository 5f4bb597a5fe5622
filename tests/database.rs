//! Database section against a real PostgreSQL started by the harness.

mod support;

use support::postgres::{PgOptions, PgServer, PASSWORD};
use support::run_json;

#[test]
fn healthy_database_reports_median_of_five_pings() {
    let pg = PgServer::shared();
    let out = run_json(&["--only", "database", "--postgres-url", &pg.dsn("sslmode=disable")]);
    let json = out.json();
    let db = &json["database"];
    assert_eq!(db["severity"], "ok", "{db}");
    assert_eq!(db["healthy"], true);
    assert_eq!(db["reachable"], true);
    assert_eq!(db["threshold_ms"], 15);
    assert!(db["latency_ms"].as_u64().unwrap() < 15);
    assert!(!db["latency"].as_str().unwrap().is_empty());
    assert!(db.get("error").is_none());
    assert_eq!(out.code, 0, "{}", out.stdout);
}
