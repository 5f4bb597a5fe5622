//! Conformance with the real coderd (the pinned release that scripts/build-peers builds): for each
//! scenario, `healthcheck run --json` with an owner token and coderd's own report
//! (`GET /api/v2/debug/health?force=true`) must agree on every one of Coder's six sections
//! (severity and set of codes), and our JSON must have the shape of coderd's real report (every
//! key coderd writes, with the same JSON type; our additive keys aside).
//!
//! One coderd serves the scenarios that can be switched under a running server: its access URL
//! is a real nginx whose upgrade forwarding a flag file turns off, its database path can delay
//! replies, and its STUN address is a path to coturn that can go silent. Scenarios that need a
//! different server configuration start their own coderd.
//!
//! Not covered: a provisioner daemon of an older version (EPD02). The AGPL server registers only
//! its built-in daemons, at its own version; external daemons register through the enterprise
//! API, which this build does not have. The schema-dump tests (tests/provisioner_daemons.rs)
//! keep EPD02 and EPD03.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use serde_json::Value;
use support::coderd::{Coderd, CoderdOptions, DelayPath, StunPath};
use support::coturn::Coturn;
use support::nginx::Nginx;
use support::postgres::PgServer;
use support::{free_port, run_json, temp_dir};

/// Code prefixes of Coder's namespace; our own codes (ELST, ETLS, EPG, EPQ, ELIC) are additive.
const CODER_PREFIXES: [&str; 8] = [
    "EUNKNOWN", "EACS", "EDB", "EWS", "EDERP", "ESTUN", "EWP", "EPD",
];

struct Shared {
    coderd: Coderd,
    /// While this file exists, nginx forwards no Upgrade or Connection header.
    no_upgrade_flag: PathBuf,
    pg_path: DelayPath,
    stun_path: StunPath,
    _nginx: Nginx,
    _coturn: Coturn,
}

/// The shared coderd, one scenario at a time (scenarios switch its paths).
fn shared() -> MutexGuard<'static, Shared> {
    static SHARED: OnceLock<Mutex<Shared>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let coturn = Coturn::start();
            let stun_path = StunPath::start(coturn.port);
            let pg_path = DelayPath::start(PgServer::shared().port);
            let flag = temp_dir("hc-conformance-").join("no-upgrade");
            let coderd_port = free_port();
            let nginx = Nginx::start(&format!(
                "    set $pass_upgrade $http_upgrade;\n    set $pass_connection \"\";\n\
                 \x20   if ($http_upgrade != \"\") {{ set $pass_connection upgrade; }}\n\
                 \x20   if (-f {flag}) {{ set $pass_upgrade \"\"; set $pass_connection \"\"; }}\n\
                 \x20   location / {{\n      proxy_pass http://127.0.0.1:{coderd_port};\n\
                 \x20     proxy_http_version 1.1;\n      proxy_set_header Host $host;\n\
                 \x20     proxy_set_header Upgrade $pass_upgrade;\n\
                 \x20     proxy_set_header Connection $pass_connection;\n    }}",
                flag = flag.display()
            ));
            let mut options = CoderdOptions::new("coderd_shared", &stun_path.addr());
            options.port = coderd_port;
            options.pg_port = pg_path.port;
            options.access_url = Some(nginx.url());
            Mutex::new(Shared {
                coderd: Coderd::start(options),
                no_upgrade_flag: flag,
                pg_path,
                stun_path,
                _nginx: nginx,
                _coturn: coturn,
            })
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Both reports of one scenario.
struct Reports {
    ours: Value,
    coderd: Value,
    code: i32,
}

/// Both reports, after `switch` changed the deployment. A check coderd started earlier may still
/// run (a caller that gave up does not stop it, and a forced request joins it), so one report is
/// fetched first to let it finish; coderd's answer must come from a check started after the
/// switch.
fn reports_after(coderd: &Coderd, switch: impl FnOnce()) -> Reports {
    coderd.health_report();
    switch();
    both_reports(coderd)
}

fn both_reports(coderd: &Coderd) -> Reports {
    let started = std::time::Instant::now();
    let coderd_report = coderd.health_report();
    eprintln!("coderd's forced health check took {:?}", started.elapsed());
    let mut args = coderd.args();
    args.extend(["--timeout".to_string(), "10s".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_json(&args);
    Reports {
        ours: out.json(),
        coderd: coderd_report,
        code: out.code,
    }
}

/// The codes a section reports: its warnings' codes and its error's `CODE: ` prefix.
fn codes(section: &Value, only_coders: bool) -> BTreeSet<String> {
    let mut codes: BTreeSet<String> = section["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["code"].as_str().map(str::to_string))
        .collect();
    if let Some(error) = section["error"].as_str() {
        if let Some((code, _)) = error.split_once(": ") {
            if code.starts_with('E') && code.chars().skip(1).all(|c| c.is_ascii_alphanumeric()) {
                codes.insert(code.to_string());
            }
        }
    }
    if only_coders {
        codes.retain(|c| CODER_PREFIXES.iter().any(|p| c.starts_with(p)));
    }
    codes
}

/// Every disagreement between the two verdicts, section by section, with both sections.
fn disagreements(reports: &Reports) -> Vec<String> {
    let mut out = Vec::new();
    for section in support::CODER_SECTIONS {
        let (ours, theirs) = (&reports.ours[section], &reports.coderd[section]);
        let (ours_codes, their_codes) = (codes(ours, true), codes(theirs, false));
        // Coder's Provisioner Daemons report has no `healthy`.
        let healthy_differs =
            theirs.get("healthy").is_some() && ours["healthy"] != theirs["healthy"];
        if ours["severity"] != theirs["severity"] || ours_codes != their_codes || healthy_differs {
            out.push(format!(
                "{section}: ours {} healthy={} {ours_codes:?}, coderd {} healthy={} {their_codes:?}\n\
                 ours: {ours:#}\ncoderd: {theirs:#}",
                ours["severity"], ours["healthy"], theirs["severity"], theirs["healthy"]
            ));
        }
    }
    for key in ["healthy", "severity"] {
        if reports.ours[key] != reports.coderd[key] {
            out.push(format!(
                "top-level {key}: ours {} coderd {}",
                reports.ours[key], reports.coderd[key]
            ));
        }
    }
    out
}

/// Keys that Coder's own report type omits when empty (`omitempty`), so a client of Coder's
/// report already copes with their absence. `netcheck` is tailscale's netcheck report, which we
/// do not produce: our STUN probes fill `netcheck_logs` and the STUN verdicts instead.
const OMITTED_WHEN_EMPTY: [&str; 3] = ["$.derp.netcheck", "$.derp.netcheck_err", "error"];

/// Where `ours` lacks a key of coderd's real report or has another JSON type there. A null on
/// either side fits anything (Coder writes null for empty errors and unset times); arrays are
/// compared element by element against coderd's first element.
fn shape_mismatches(ours: &Value, theirs: &Value, path: &str, out: &mut Vec<String>) {
    match (ours, theirs) {
        (_, Value::Null) | (Value::Null, _) => {}
        (Value::Object(o), Value::Object(t)) => {
            for (key, value) in t {
                let at = format!("{path}.{key}");
                if OMITTED_WHEN_EMPTY.contains(&at.as_str())
                    || OMITTED_WHEN_EMPTY.contains(&key.as_str())
                {
                    if let Some(mine) = o.get(key) {
                        shape_mismatches(mine, value, &at, out);
                    }
                    continue;
                }
                match o.get(key) {
                    Some(mine) => shape_mismatches(mine, value, &format!("{path}.{key}"), out),
                    None => out.push(format!("{path}.{key}: missing (coderd: {value})")),
                }
            }
        }
        (Value::Array(o), Value::Array(t)) => {
            if let Some(first) = t.first() {
                for (i, mine) in o.iter().enumerate() {
                    shape_mismatches(mine, first, &format!("{path}[{i}]"), out);
                }
            }
        }
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        (mine, value) => out.push(format!("{path}: ours {mine}, coderd {value}")),
    }
}

/// The scenario's assertions shared by all: the verdicts agree and the shapes fit.
fn assert_conformant(reports: &Reports) {
    let why = disagreements(reports);
    assert!(
        why.is_empty(),
        "healthcheck and coderd disagree:\n{}",
        why.join("\n")
    );
    let mut shape = Vec::new();
    shape_mismatches(&reports.ours, &reports.coderd, "$", &mut shape);
    assert!(
        shape.is_empty(),
        "our JSON does not have the shape of coderd's report:\n{}",
        shape.join("\n")
    );
}

fn severity<'a>(report: &'a Value, section: &str) -> &'a str {
    report[section]["severity"].as_str().unwrap_or("")
}

#[test]
fn healthy_deployment_both_say_ok_and_the_db_sections_read_coderds_schema() {
    let shared = shared();
    let reports = reports_after(&shared.coderd, || {});
    assert_conformant(&reports);
    for section in support::CODER_SECTIONS {
        assert_eq!(
            severity(&reports.coderd, section),
            "ok",
            "{section}: {:#}",
            reports.coderd
        );
    }
    assert_eq!(reports.ours["healthy"], true);
    assert_eq!(reports.code, 0, "{:#}", reports.ours);
    assert_eq!(reports.ours["coder_version"], shared.coderd.version());

    // The DB sections ran against the schema the real coderd migrated, without schema errors.
    let proxies = &reports.ours["workspace_proxy"];
    assert_eq!(proxies["skipped"], false, "{proxies:#}");
    assert!(proxies["error"].is_null(), "{proxies:#}");
    let daemons = &reports.ours["provisioner_daemons"];
    assert_eq!(daemons["skipped"], false, "{daemons:#}");
    assert!(daemons["error"].is_null(), "{daemons:#}");
    let names = |report: &Value| support::daemon_names(&report["provisioner_daemons"]);
    assert_eq!(names(&reports.ours), names(&reports.coderd));
    assert_eq!(names(&reports.ours).len(), 1, "{daemons:#}");
    let daemon = &daemons["items"][0]["provisioner_daemon"];
    assert_eq!(daemon["version"], shared.coderd.version());
    assert_eq!(daemon["provisioners"], serde_json::json!(["echo"]));
    let in_db: i64 = shared
        .coderd
        .db()
        .query_one("SELECT count(*) FROM provisioner_daemons", &[])
        .unwrap()
        .get(0);
    assert_eq!(in_db, 1);
}

#[test]
fn slow_database_path_gives_edb02_to_both() {
    let shared = shared();
    let reports = reports_after(&shared.coderd, || {
        shared.pg_path.set_delay(Duration::from_millis(40))
    });
    shared.pg_path.set_delay(Duration::ZERO);
    assert_conformant(&reports);
    assert_eq!(severity(&reports.coderd, "database"), "warning");
    assert!(codes(&reports.ours["database"], true).contains("EDB02"));
    let latency = reports.ours["database"]["latency_ms"].as_u64().unwrap();
    assert!(latency >= 40, "{:#}", reports.ours["database"]);
}

#[test]
fn nginx_without_upgrade_headers_breaks_websocket_and_derp_for_both() {
    let shared = shared();
    let reports = reports_after(&shared.coderd, || {
        std::fs::write(&shared.no_upgrade_flag, "").unwrap()
    });
    std::fs::remove_file(&shared.no_upgrade_flag).unwrap();
    assert_conformant(&reports);
    assert_eq!(severity(&reports.coderd, "websocket"), "error");
    assert!(codes(&reports.ours["websocket"], true).contains("EWS01"));
    // Coder's quirk, which both follow: `Upgrade: DERP` refused with a 4xx sets uses_websocket,
    // and that turns the node's error into the EDERP01 warning even though the WebSocket
    // upgrade was refused too and no message went through.
    assert_eq!(severity(&reports.coderd, "derp"), "warning");
    assert!(codes(&reports.ours["derp"], true).contains("EDERP01"));
    for report in [&reports.ours, &reports.coderd] {
        let node = &report["derp"]["regions"]["999"]["node_reports"][0];
        assert_eq!(node["uses_websocket"], true, "{node:#}");
        assert_eq!(node["can_exchange_messages"], false, "{node:#}");
        assert_eq!(node["healthy"], false, "{node:#}");
    }
    assert_eq!(reports.code, 1);
}

#[test]
fn silent_stun_port_gives_estun01_to_both() {
    let shared = shared();
    let reports = reports_after(&shared.coderd, || shared.stun_path.set_silent(true));
    shared.stun_path.set_silent(false);
    assert_conformant(&reports);
    // The STUN address is region 1000's only node: its failure is the region's error, and
    // ESTUN01 says no STUN server answered at all.
    assert_eq!(severity(&reports.coderd, "derp"), "error");
    assert!(codes(&reports.ours["derp"], true).contains("ESTUN01"));
    assert_eq!(reports.ours["derp"]["regions"]["1000"]["severity"], "error");
    assert_eq!(reports.ours["derp"]["regions"]["999"]["severity"], "ok");
}

#[test]
fn no_builtin_provisioner_daemons_gives_epd01_to_both() {
    let mut options = CoderdOptions::new("coderd_no_daemons", "disable");
    options.daemons = 0;
    let coderd = Coderd::start(options);
    let reports = both_reports(&coderd);
    assert_conformant(&reports);
    assert_eq!(severity(&reports.coderd, "provisioner_daemons"), "error");
    assert!(codes(&reports.ours["provisioner_daemons"], true).contains("EPD01"));
    assert_eq!(
        reports.ours["provisioner_daemons"]["items"],
        serde_json::json!([])
    );
    assert_eq!(reports.code, 1);

    // coderd stopped: coderd itself can report nothing (its API is gone), while we still see
    // the deployment from outside. Here coderd cannot see what we see, so there is nothing to
    // compare: the access URL and coderd's own listener refuse (EACS03, ELST02), the Websocket
    // and embedded-relay checks fail with them, and the database sections still read the
    // database coderd left behind.
    let mut args = coderd.args();
    let listener = format!("127.0.0.1:{}", coderd.port);
    let api = format!("http://{listener}/api/v2/buildinfo");
    drop(coderd);
    assert!(ureq::get(&api).call().is_err(), "coderd still answers");
    args.extend([
        "--http-address".into(),
        listener,
        "--timeout".into(),
        "10s".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_json(&args);
    let ours = out.json();
    assert!(
        codes(&ours["access_url"], false).contains("EACS03"),
        "{:#}",
        ours["access_url"]
    );
    assert!(
        codes(&ours["access_url"], false).contains("ELST02"),
        "{:#}",
        ours["access_url"]
    );
    assert_eq!(severity(&ours, "websocket"), "error");
    assert_eq!(severity(&ours, "database"), "ok", "{:#}", ours["database"]);
    assert_eq!(
        severity(&ours, "workspace_proxy"),
        "ok",
        "{:#}",
        ours["workspace_proxy"]
    );
    assert!(codes(&ours["provisioner_daemons"], true).contains("EPD01"));
    assert_eq!(out.code, 1);
}
