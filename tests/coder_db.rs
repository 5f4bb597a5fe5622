//! The read-only view of Coder's database: nothing is ever written, a SELECT-only role is enough,
//! a database that is not Coder's is called that, and Coder's dismissed sections are honoured.

mod support;

use std::sync::OnceLock;
use std::time::Duration;

use support::coder_schema::{CoderDb, Generation, Seen, SIGNING_SECRET};
use support::postgres::{PgServer, PASSWORD};
use support::{run_json, Output};

const SERVER_VERSION: &str = "v2.18.1";

fn access_url() -> String {
    static PORT: OnceLock<u16> = OnceLock::new();
    let port = PORT.get_or_init(|| support::http::coder_like(SERVER_VERSION));
    format!("http://127.0.0.1:{port}")
}

fn check(dsn: &str) -> Output {
    run_json(&[
        "--only",
        "workspace-proxy,provisioner-daemons",
        "--postgres-url",
        dsn,
        "--access-url",
        &access_url(),
        "--timeout",
        "3s",
    ])
}

fn healthy_proxy() -> String {
    let port = support::http::fixed_server(|_| {
        support::http::response(
            "200 OK",
            &[("Content-Type", "application/json")],
            r#"{"errors":[],"warnings":[]}"#,
        )
    });
    format!("http://127.0.0.1:{port}")
}

/// A scenario with something in every table the tool reads.
fn filled(name: &str, generation: Generation) -> CoderDb {
    let db = CoderDb::create(name, generation);
    db.add_daemon("pd-a", SERVER_VERSION, "1.0", Seen::SecondsAgo(1));
    db.add_daemon("pd-stale", "v2.10.0", "1.0", Seen::SecondsAgo(500));
    db.add_proxy("alpha", &healthy_proxy(), SERVER_VERSION, false, 10);
    db.add_proxy("old", "http://127.0.0.1:9", SERVER_VERSION, true, 20);
    db.set_site_config("health_settings", r#"{"dismissed_healthchecks":["DERP"]}"#);
    db
}

#[test]
fn a_run_writes_nothing() {
    for generation in [Generation::Newest, Generation::Old] {
        let name = format!("ro_nothing_written_{generation:?}").to_lowercase();
        let db = filled(&name, generation);
        let before = db.fingerprint();
        assert!(
            before
                .iter()
                .any(|l| l.starts_with("provisioner_daemons: 2 rows")),
            "{before:?}"
        );
        let out = check(&db.dsn());
        let json = out.json();
        assert_eq!(
            json["provisioner_daemons"]["severity"], "ok",
            "{}",
            out.stdout
        );
        assert_eq!(json["workspace_proxy"]["severity"], "ok", "{}", out.stdout);
        assert_eq!(json["derp"]["dismissed"], true, "dismissed list read");
        let after = db.fingerprint();
        assert_eq!(before, after, "{generation:?}");
    }
}

#[test]
fn a_select_only_role_is_enough() {
    let db = filled("ro_select_only", Generation::Newest);
    let role = "hc_select_only";
    db.exec(&format!(
        "RESET ROLE; CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'; \
         GRANT CONNECT ON DATABASE ro_select_only TO {role}; \
         GRANT USAGE ON SCHEMA public TO {role}; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role};"
    ));
    let dsn = PgServer::shared().dsn_for(role, PASSWORD, &db.name, "sslmode=disable");
    let out = check(&dsn);
    let json = out.json();
    assert_eq!(
        json["provisioner_daemons"]["severity"], "ok",
        "{}",
        out.stdout
    );
    assert_eq!(
        json["provisioner_daemons"]["items"][0]["provisioner_daemon"]["name"],
        "pd-a"
    );
    assert_eq!(json["workspace_proxy"]["severity"], "ok", "{}", out.stdout);
    assert_eq!(json["derp"]["dismissed"], true);
    assert_eq!(out.code, 0);
}

#[test]
fn a_role_without_rights_on_coders_tables_is_told_so() {
    let db = filled("ro_no_rights", Generation::Newest);
    let role = "hc_no_rights";
    db.exec(&format!(
        "RESET ROLE; CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'; \
         GRANT CONNECT ON DATABASE ro_no_rights TO {role};"
    ));
    let dsn = PgServer::shared().dsn_for(role, PASSWORD, &db.name, "sslmode=disable");
    let out = check(&dsn);
    let json = out.json();
    let pd_error = json["provisioner_daemons"]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        pd_error.starts_with("error fetching provisioner daemons: "),
        "{pd_error}"
    );
    assert!(
        pd_error.contains("cannot read table provisioner_daemons"),
        "{pd_error}"
    );
    assert!(json["workspace_proxy"]["error"]
        .as_str()
        .unwrap()
        .starts_with("EWP02: fetch workspace proxies: "));
}

#[test]
fn a_database_that_is_not_coders_is_called_that() {
    let name = PgServer::shared().create_database("ro_not_coder");
    let dsn = PgServer::shared().dsn_for("coder", PASSWORD, &name, "sslmode=disable");
    let out = check(&dsn);
    let json = out.json();
    let pd = &json["provisioner_daemons"];
    assert_eq!(pd["severity"], "error");
    let port = PgServer::shared().port;
    assert_eq!(
        pd["error"],
        format!(
            "error fetching provisioner daemons: the database at 127.0.0.1:{port}/ro_not_coder \
             does not look like Coder's: table provisioner_daemons is missing"
        )
    );
    let wp = &json["workspace_proxy"];
    assert_eq!(wp["severity"], "error");
    assert_eq!(wp["healthy"], false);
    assert_eq!(
        wp["error"],
        format!(
            "EWP02: fetch workspace proxies: the database at 127.0.0.1:{port}/ro_not_coder does \
             not look like Coder's: table workspace_proxies is missing"
        )
    );
    // Coder's client types declare an array here: never null.
    assert_eq!(wp["workspace_proxies"]["regions"], serde_json::json!([]));
    assert_eq!(out.code, 1);
}

#[test]
fn dismissed_sections_come_from_health_settings() {
    let db = CoderDb::create("ro_dismissed", Generation::Newest);
    db.set_site_config(
        "health_settings",
        r#"{"dismissed_healthchecks":["ProvisionerDaemons","Pubsub"]}"#,
    );
    let out = check(&db.dsn());
    let json = out.json();
    let pd = &json["provisioner_daemons"];
    assert_eq!(pd["dismissed"], true, "{pd}");
    assert_eq!(pd["severity"], "error", "Coder's verdict is kept");
    assert_eq!(json["workspace_proxy"]["dismissed"], false);
    assert_eq!(json["healthy"], false);
    assert_eq!(json["severity"], "error");
    assert_eq!(out.code, 0, "a dismissed section does not fail the run");
}

#[test]
fn odd_health_settings_dismiss_nothing() {
    for (i, value) in ["not json", r#"{"dismissed_healthchecks":null}"#, "{}"]
        .into_iter()
        .enumerate()
    {
        let db = CoderDb::create(&format!("ro_odd_settings_{i}"), Generation::Newest);
        db.set_site_config("health_settings", value);
        let out = check(&db.dsn());
        let json = out.json();
        assert_eq!(json["provisioner_daemons"]["dismissed"], false, "{value}");
        assert_eq!(json["provisioner_daemons"]["severity"], "error", "{value}");
        assert_eq!(out.code, 1, "{value}");
    }
}

#[test]
fn secrets_stay_secret() {
    let db = filled("ro_secrets", Generation::Newest);
    let mut cmd = support::healthcheck();
    cmd.args([
        "run",
        "--only",
        "workspace-proxy,provisioner-daemons",
        "--postgres-url",
        &db.dsn(),
        "--verbose",
    ]);
    let table = support::run(cmd);
    let json = check(&db.dsn());
    for out in [&table, &json] {
        assert!(!out.all().contains(PASSWORD), "{}", out.all());
        assert!(!out.all().contains(SIGNING_SECRET));
    }
    assert!(table.stdout.contains("not coderd's"), "{}", table.stdout);
}

#[test]
fn a_table_locked_by_a_migration_gives_up_at_the_deadline() {
    let db = filled("ro_locked", Generation::Newest);
    let mut migration = db.client();
    let mut tx = migration.transaction().unwrap();
    tx.batch_execute("LOCK TABLE provisioner_daemons IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let out = run_json(&[
        "--only",
        "provisioner-daemons",
        "--postgres-url",
        &db.dsn(),
        "--access-url",
        &access_url(),
        "--timeout",
        "1s",
    ]);
    tx.rollback().unwrap();
    let pd = &out.json()["provisioner_daemons"];
    let error = pd["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("error fetching provisioner daemons: ")
            && error.contains("statement timeout"),
        "{pd}"
    );
    assert!(pd["duration_ms"].as_u64().unwrap() < 1400, "{pd}");
    assert!(out.elapsed < Duration::from_secs(4), "{:?}", out.elapsed);
}
