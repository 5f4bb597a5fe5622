//! `--format prometheus|junit` and `--output`: what the binary writes for healthy, failing,
//! skipped and dismissed runs, read by the formats' reference tools (promtool, prometheus_client,
//! xmllint, junitparser), with the values asserted against the run.

mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use healthcheck::render::{renderer, RenderOptions};
use healthcheck::report::run_fails;
use healthcheck::settings::{OutputFormat, Settings, Terminal};
use support::http::{coder_like, fixed_server, path_of, response};
use support::parsers::{
    find, parse_junit, parse_prometheus, promtool_check, value, xmllint, Sample,
};
use support::postgres::{PgServer, PASSWORD};
use support::{healthcheck, run, temp_dir};

/// The runs every format is checked on: name, arguments, expected exit code.
fn runs() -> Vec<(&'static str, Vec<String>, i32)> {
    let good = format!("http://127.0.0.1:{}", coder_like("v2.18.1"));
    let dsn = PgServer::shared().dsn("sslmode=disable");
    // Port 1 on loopback refuses: EACS03.
    let refused = "http://127.0.0.1:1".to_string();
    let strings = |args: &[&str]| args.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        (
            "healthy",
            strings(&[
                "--only",
                "access-url,database",
                "--access-url",
                &good,
                "--postgres-url",
                &dsn,
                "--health-check-threshold-database",
                "1s",
            ]),
            0,
        ),
        (
            "failing",
            strings(&["--only", "access-url", "--access-url", &refused]),
            1,
        ),
        (
            "skipped",
            strings(&["--only", "access-url", "--access-url", &good]),
            0,
        ),
        (
            "dismissed",
            strings(&[
                "--only",
                "access-url",
                "--access-url",
                &refused,
                "--dismiss",
                "access-url",
            ]),
            0,
        ),
    ]
}

fn formatted(format: &str, args: &[String]) -> support::Output {
    let mut cmd = healthcheck();
    cmd.args(["run", "--format", format, "--timeout", "3s"])
        .args(args);
    run(cmd)
}

fn section(name: &str) -> [(&'static str, &str); 1] {
    [("section", name)]
}

#[test]
fn prometheus_of_every_kind_of_run_passes_promtool_and_the_parser() {
    for (kind, args, code) in runs() {
        let out = formatted("prometheus", &args);
        assert_eq!(out.code, code, "{kind}: {}", out.all());
        assert!(!out.all().contains(PASSWORD), "{kind}");
        promtool_check(&out.stdout);
        let (families, samples) = parse_prometheus(&out.stdout);
        assert_eq!(families.len(), 23, "{kind}: {families:?}");
        assert!(families.values().all(|t| t == "gauge"), "{kind}");
        let v = |name: &str, labels: &[(&str, &str)]| value(&samples, name, labels);
        let skipped = |name: &str| v("coder_healthcheck_section_skipped", &section(name));
        match kind {
            "healthy" => {
                assert_eq!(v("coder_healthcheck_healthy", &[]), 1.0);
                assert_eq!(v("coder_healthcheck_severity", &[]), 0.0);
                assert_eq!(
                    v("coder_healthcheck_section_healthy", &section("database")),
                    1.0
                );
                assert_eq!(v("coder_healthcheck_database_threshold_seconds", &[]), 1.0);
                let latency = v("coder_healthcheck_database_latency_seconds", &[]);
                assert!((0.0..1.0).contains(&latency), "{latency}");
                let pubsub = v("coder_healthcheck_db_pubsub_round_trip_seconds", &[]);
                assert!((0.0..1.0).contains(&pubsub), "{pubsub}");
                assert_eq!(
                    v("coder_healthcheck_db_connections", &[("state", "max")]),
                    60.0
                );
                assert_eq!(
                    v(
                        "coder_healthcheck_info",
                        &[
                            ("coder_version", "v2.18.1"),
                            ("version", env!("CARGO_PKG_VERSION"))
                        ]
                    ),
                    1.0
                );
            }
            "failing" => {
                assert_eq!(v("coder_healthcheck_healthy", &[]), 0.0);
                assert_eq!(v("coder_healthcheck_severity", &[]), 2.0);
                assert_eq!(
                    v("coder_healthcheck_section_healthy", &section("access_url")),
                    0.0
                );
                let finding = [
                    ("section", "access_url"),
                    ("code", "EACS03"),
                    ("severity", "error"),
                ];
                assert_eq!(v("coder_healthcheck_finding", &finding), 1.0);
            }
            "skipped" => {
                assert_eq!(v("coder_healthcheck_healthy", &[]), 1.0);
                assert_eq!(skipped("database"), 1.0);
                assert_eq!(skipped("access_url"), 0.0);
                // A section that did not run has no verdict: unknown is not 0.
                assert!(find(
                    &samples,
                    "coder_healthcheck_section_healthy",
                    &section("derp")
                )
                .is_empty());
                assert!(
                    find(&samples, "coder_healthcheck_database_latency_seconds", &[]).is_empty()
                );
            }
            "dismissed" => {
                // Coder's verdict keeps dismissed sections; the series says it is dismissed.
                assert_eq!(v("coder_healthcheck_healthy", &[]), 0.0);
                assert_eq!(
                    v(
                        "coder_healthcheck_section_dismissed",
                        &section("access_url")
                    ),
                    1.0
                );
                assert_eq!(
                    v("coder_healthcheck_section_dismissed", &section("database")),
                    0.0
                );
            }
            _ => unreachable!(),
        }
        let at = v("coder_healthcheck_last_run_timestamp_seconds", &[]);
        let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
        assert!(
            (now - 60.0..=now + 1.0).contains(&at),
            "{kind}: {at} vs {now}"
        );
        // HELP and TYPE even for families without samples (no certificates section yet).
        assert!(out
            .stdout
            .contains("# TYPE coder_healthcheck_tls_certificate_expiry_timestamp_seconds gauge\n"));
    }
}

/// Settings for an in-process run, resolved as the binary resolves them, from no environment.
fn settings(args: &[&str]) -> Settings {
    let argv = ["healthcheck", "run"]
        .into_iter()
        .chain(args.iter().copied());
    let (cli, _) = healthcheck::cli::parse_from(argv).unwrap();
    let healthcheck::cli::Command::Run(run_args) = cli.command else {
        unreachable!()
    };
    let env: HashMap<String, String> = HashMap::new();
    let files: HashMap<PathBuf, String> = HashMap::new();
    Settings::resolve(&run_args, &env, &files, Terminal::default()).unwrap()
}

#[test]
fn database_latency_metric_equals_the_json_of_the_same_run() {
    let pg = PgServer::shared();
    // A slow path, so the latency is tens of milliseconds rather than zero.
    let port = support::tcp::delaying_proxy(pg.port, Duration::from_millis(20));
    let dsn = format!("postgres://coder:{PASSWORD}@127.0.0.1:{port}/coder?sslmode=disable");
    let settings = settings(&[
        "--only",
        "database",
        "--postgres-url",
        &dsn,
        "--health-check-threshold-database",
        "2s",
        "--timeout",
        "10s",
    ]);
    let net = healthcheck::net::Net::new(&settings.ca_certs, settings.proxy.clone()).unwrap();
    let report = healthcheck::checks::run(&settings, net, &|_| {});
    let options = RenderOptions::for_run(&settings, run_fails(&report, settings.output.fail_on));
    let json = renderer(OutputFormat::Json)
        .render(&report, &options)
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let text = renderer(OutputFormat::Prometheus)
        .render(&report, &options)
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    promtool_check(&text);
    let (_, samples) = parse_prometheus(&text);
    let latency_ms = json["database"]["latency_ms"].as_u64().unwrap();
    assert!(latency_ms >= 20, "{}", json["database"]);
    let latency = value(&samples, "coder_healthcheck_database_latency_seconds", &[]);
    // The JSON's `latency` (Go's form, full precision) in seconds, and its whole milliseconds.
    let exact = healthcheck::duration::parse(json["database"]["latency"].as_str().unwrap())
        .unwrap()
        .as_secs_f64();
    assert_eq!(latency, exact, "{}", json["database"]);
    assert!(
        (latency - latency_ms as f64 / 1000.0).abs() < 0.001,
        "{latency} vs {latency_ms}ms"
    );
    assert_eq!(
        value(
            &samples,
            "coder_healthcheck_database_threshold_seconds",
            &[]
        ),
        2.0
    );
    let duration_ms = json["database"]["duration_ms"].as_u64().unwrap();
    assert_eq!(
        value(
            &samples,
            "coder_healthcheck_section_duration_seconds",
            &section("database")
        ),
        duration_ms as f64 / 1000.0
    );
}

/// DERP node names come from a DERP map anyone can write: quotes, backslashes and line breaks
/// must come out as escapes the parser turns back into the same name.
#[test]
fn derp_node_names_are_escaped_as_the_exposition_format_requires() {
    let dir = temp_dir("hc-formats-derp-");
    let map = dir.join("derp.json");
    let relay = support::derp_relay::DerpRelay::start(support::derp_relay::Mode::Normal);
    let name = "edge \"one\" \\ two\nthree";
    let derp_map = serde_json::json!({"Regions": {"900": {
        "RegionID": 900, "RegionCode": "r\"900", "RegionName": "test",
        "Nodes": [{"Name": name, "RegionID": 900, "HostName": "127.0.0.1",
                   "DERPPort": relay.port, "ForceHTTP": true, "STUNPort": -1}]}}});
    std::fs::write(&map, derp_map.to_string()).unwrap();
    let mut cmd = healthcheck();
    cmd.args([
        "run",
        "--format",
        "prometheus",
        "--only",
        "derp",
        "--timeout",
        "3s",
    ])
    .args(["--derp-server-enable", "false"])
    .arg("--derp-config-path")
    .arg(&map);
    let out = run(cmd);
    promtool_check(&out.stdout);
    assert!(
        out.stdout.contains(r#"node="edge \"one\" \\ two\nthree""#),
        "{}",
        out.stdout
    );
    let (_, samples) = parse_prometheus(&out.stdout);
    let node = value(
        &samples,
        "coder_healthcheck_derp_node_healthy",
        &[
            ("node", name),
            ("region_code", "r\"900"),
            ("region_id", "900"),
        ],
    );
    assert_eq!(node, 1.0, "{}", out.stdout);
    let rtt: Vec<&Sample> = find(
        &samples,
        "coder_healthcheck_derp_node_round_trip_seconds",
        &[],
    );
    assert_eq!(rtt.len(), 1);
    assert!(rtt[0].value >= 0.0 && rtt[0].value < 3.0);
}

#[test]
fn junit_of_every_kind_of_run_is_read_by_junitparser() {
    for (kind, args, code) in runs() {
        let out = formatted("junit", &args);
        assert_eq!(out.code, code, "{kind}: {}", out.all());
        xmllint(&out.stdout);
        let parsed = parse_junit(&out.stdout);
        let suites = parsed["suites"].as_array().unwrap();
        assert_eq!(suites.len(), 1, "{kind}");
        let suite = &suites[0];
        assert_eq!(suite["name"], "healthcheck");
        let cases = suite["cases"].as_array().unwrap();
        let names: Vec<&str> = cases.iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "Access URL",
                "Websocket",
                "Database",
                "DERP and STUN",
                "Workspace Proxies",
                "Provisioner Daemons",
                "TLS Certificates"
            ],
            "{kind}"
        );
        assert!(cases.iter().all(|c| c["classname"] == "healthcheck"));
        assert_eq!(suite["tests"], 7);
        let kinds = |k: &str| {
            cases
                .iter()
                .filter(|c| {
                    c["results"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| r["kind"] == k)
                })
                .count()
        };
        // The suite's counts match its test cases.
        assert_eq!(suite["failures"], kinds("Failure"), "{kind}");
        assert_eq!(suite["skipped"], kinds("Skipped"), "{kind}");
        assert_eq!(suite["errors"], 0);
        let access = &cases[0];
        match kind {
            "healthy" => {
                assert_eq!(kinds("Failure"), 0);
                // The sections this run does not configure, and TLS Certificates: nothing in
                // this run speaks TLS.
                assert_eq!(kinds("Skipped"), 5);
                assert!(cases[2]["results"].as_array().unwrap().is_empty());
            }
            "failing" => {
                assert_eq!(kinds("Failure"), 1);
                let failure = &access["results"][0];
                assert_eq!(failure["type"], "EACS03");
                let message = failure["message"].as_str().unwrap();
                assert!(message.starts_with("EACS03: "), "{message}");
                let text = failure["text"].as_str().unwrap();
                assert!(text.contains("Problem: "), "{text}");
                assert!(text.contains("Solution: "), "{text}");
                assert!(text.contains("health-check#eacs03"), "{text}");
            }
            "skipped" => {
                let skipped = &cases[1]["results"][0];
                assert_eq!(skipped["kind"], "Skipped");
                assert_eq!(skipped["message"], "not selected by --only");
            }
            "dismissed" => {
                assert_eq!(kinds("Failure"), 0, "dismissed sections do not fail");
                let out = access["system_out"].as_str().unwrap();
                assert!(out.contains("dismissed"), "{out}");
                assert!(out.contains("EACS03"), "{out}");
            }
            _ => unreachable!(),
        }
    }
}

#[test]
fn junit_escapes_what_servers_send_and_lists_warnings_below_fail_on() {
    // A server whose header and body carry markup, quotes and a control character.
    let evil = fixed_server(|head| match path_of(head) {
        "/healthz" => response(
            "503 Service Unavailable",
            &[("Server", "edge<1> & \"quoted\" 'single'")],
            "<html>down & \"out\"\u{1}</html>",
        ),
        _ => response("404 Not Found", &[], ""),
    });
    let url = format!("http://127.0.0.1:{evil}");
    // A slow path to PostgreSQL: every ping is above a 1ms threshold, EDB02, a warning.
    let slow = support::tcp::delaying_proxy(PgServer::shared().port, Duration::from_millis(5));
    let dsn = format!("postgres://coder:{PASSWORD}@127.0.0.1:{slow}/coder?sslmode=disable");
    for fail_on in ["error", "warning"] {
        let mut cmd = healthcheck();
        cmd.args(["run", "--format", "junit", "--only", "access-url,database"])
            .args(["--fail-on", fail_on, "--access-url", &url])
            .args(["--postgres-url", &dsn, "--timeout", "5s"])
            .args(["--health-check-threshold-database", "1ms"]);
        let out = run(cmd);
        assert_eq!(out.code, 1, "{}", out.all());
        assert!(!out.all().contains(PASSWORD));
        xmllint(&out.stdout);
        assert!(
            out.stdout.contains("&lt;html&gt;down &amp;"),
            "{}",
            out.stdout
        );
        assert!(!out.stdout.contains('\u{1}'));
        let parsed = parse_junit(&out.stdout);
        let suite = &parsed["suites"][0];
        let cases = suite["cases"].as_array().unwrap();
        let failure = &cases[0]["results"][0];
        assert_eq!(failure["type"], "EACS04");
        let message = failure["message"].as_str().unwrap();
        assert!(
            message.contains("edge<1> & \\\"quoted\\\" 'single'"),
            "{message}"
        );
        assert!(message.contains("<html>down & \\\"out\\\""), "{message}");
        let database = &cases[2];
        if fail_on == "error" {
            // Below --fail-on: not a failure, but said in system-out.
            assert_eq!(suite["failures"], 1);
            let notes = database["system_out"].as_str().unwrap_or_default();
            assert!(notes.contains("WARN: EDB02: "), "{}", out.stdout);
            assert!(database["results"].as_array().unwrap().is_empty());
        } else {
            assert_eq!(suite["failures"], 2);
            assert_eq!(database["results"][0]["type"], "EDB02", "{}", out.stdout);
        }
    }
}

#[test]
fn output_file_gets_the_report_and_stdout_stays_empty() {
    let dir = temp_dir("hc-output-");
    let file = dir.join("healthcheck.prom");
    std::fs::write(&file, "stale\n").unwrap();
    let mut cmd = healthcheck();
    cmd.args(["run", "--format", "prometheus", "--only", "access-url"])
        .args(["--access-url", "http://127.0.0.1:1", "--output"])
        .arg(&file);
    let out = run(cmd);
    assert_eq!(out.code, 1, "the exit code is the run's: {}", out.all());
    assert_eq!(out.stdout, "");
    let text = std::fs::read_to_string(&file).unwrap();
    promtool_check(&text);
    assert!(text.contains("coder_healthcheck_healthy 0\n"));
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["healthcheck.prom"], "no temporary files left");
}

#[test]
fn an_unwritable_output_is_a_usage_error_before_anything_is_probed() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let port = fixed_server(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        response("200 OK", &[], "OK")
    });
    let dir = temp_dir("hc-output-bad-");
    let plain = dir.join("plain");
    std::fs::write(&plain, "").unwrap();
    for path in [
        dir.join("missing/healthcheck.prom"),
        plain.join("healthcheck.prom"),
        dir.clone(),
        PathBuf::from("/sys/healthcheck.prom"),
    ] {
        let mut cmd = healthcheck();
        cmd.args(["run", "--format", "junit", "--only", "access-url"])
            .arg("--access-url")
            .arg(format!("http://127.0.0.1:{port}"))
            .arg("--output")
            .arg(&path);
        let out = run(cmd);
        assert_eq!(out.code, 2, "{}: {}", path.display(), out.all());
        assert!(
            out.stderr.contains(&path.display().to_string()),
            "{}",
            out.stderr
        );
        assert_eq!(out.stdout, "");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no run started");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1, "only the plain file: {left:?}");
}

#[test]
fn json_with_another_format_is_a_usage_error() {
    let mut cmd = healthcheck();
    cmd.args(["run", "--json", "--format", "prometheus"]);
    let out = run(cmd);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--format prometheus"), "{}", out.stderr);
    let mut cmd = healthcheck();
    cmd.args(["run", "--json", "--format", "json", "--only", "access-url"]);
    let out = run(cmd);
    assert_eq!(out.code, 1, "EACS01");
    assert_eq!(out.json()["access_url"]["severity"], "error");
}
