//! The whole run against a deployment laid out as Coder's docs recommend: a real nginx in front
//! (WebSocket upgrades passed), the Coder look-alike behind it, the DERP relay at `/derp`, a
//! real coturn for STUN and a real PostgreSQL with Coder's schema. Every section must pass.

mod support;

use support::deployment::Deployment;
use support::postgres::PASSWORD;
use support::report_schema::{health_report, mismatches};
use support::ws_server::VERSION;
use support::{healthcheck, run, run_json};

const TOKEN: &str = "e2e-owner-Token-5150";

#[test]
fn a_healthy_deployment_passes_every_section() {
    let deployment = Deployment::start("e2e_healthy", TOKEN);
    let args = deployment.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_json(&args);
    let json = out.json();
    for section in support::CODER_SECTIONS {
        assert_eq!(
            json[section]["severity"], "ok",
            "{section}: {}",
            json[section]
        );
        assert_eq!(json[section]["skipped"], false, "{section}");
        assert!(json[section].get("error").is_none(), "{section}");
    }
    assert_eq!(json["healthy"], true);
    assert_eq!(json["severity"], "ok");
    assert_eq!(json["coder_version"], VERSION);
    assert_eq!(json["websocket"]["code"], 101);
    assert_eq!(
        json["derp"]["regions"]["999"]["node_reports"][0]["can_exchange_messages"],
        true
    );
    assert_eq!(
        json["provisioner_daemons"]["items"][0]["provisioner_daemon"]["name"],
        "built-in"
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(!out.all().contains(TOKEN) && !out.all().contains(PASSWORD));
    assert_eq!(mismatches(&json, &health_report()), Vec::<String>::new());

    let mut cmd = healthcheck();
    cmd.arg("run").args(&args).arg("--verbose");
    let table = run(cmd);
    assert_eq!(table.code, 0, "{}", table.stdout);
    if std::env::var_os("SHOW_TABLE").is_some() {
        eprintln!("{}", table.stdout);
    }
    let last = table.stdout.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("6 OK, 0 warning, 0 error"),
        "{}",
        table.stdout
    );
    assert!(!table.all().contains(TOKEN) && !table.all().contains(PASSWORD));
}

/// Coder's typed clients must be able to read every report, including those of failing and
/// skipped runs (no `null` where they declare an array or a string).
#[test]
fn failing_and_skipped_reports_have_the_shape_coders_clients_declare() {
    let Deployment { nginx, db, .. } = Deployment::start("e2e_shape", TOKEN);
    let dead = support::free_port();
    let failing = run_json(&[
        "--access-url",
        &format!("http://127.0.0.1:{dead}"),
        "--postgres-url",
        &db.dsn().replace(PASSWORD, "wrong-password"),
        "--derp-server-stun-addresses",
        &format!("127.0.0.1:{dead}"),
        "--timeout",
        "2s",
    ]);
    let json = failing.json();
    assert_eq!(json["healthy"], false);
    // The checker itself catches a null where Coder's clients declare an array.
    let mut broken = json.clone();
    broken["derp"]["netcheck_logs"] = serde_json::Value::Null;
    assert_eq!(
        mismatches(&broken, &health_report()),
        ["$.derp.netcheck_logs: expected an array, found null"]
    );

    assert_eq!(mismatches(&json, &health_report()), Vec::<String>::new());
    assert_eq!(
        json["workspace_proxy"]["workspace_proxies"]["regions"],
        serde_json::json!([])
    );

    let skipped = run_json(&[]);
    let json = skipped.json();
    assert_eq!(json["derp"]["skipped"], true);
    assert_eq!(json["derp"]["netcheck_logs"], serde_json::json!([]));
    assert_eq!(mismatches(&json, &health_report()), Vec::<String>::new());

    let partly = run_json(&["--access-url", &nginx.url(), "--only", "access-url,derp"]);
    assert_eq!(
        mismatches(&partly.json(), &health_report()),
        Vec::<String>::new()
    );
}
