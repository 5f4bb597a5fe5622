//! Every renderer shows each finding as `BaseReport::shown` says: the table's rows, the JSON's
//! error lines and warnings, the Prometheus finding counts, the JUnit cases and watch's change
//! lines agree finding by finding, for a healthy deployment, coderd down, a dead database, a
//! degraded DERP map and an expiring certificate.

use std::collections::BTreeMap;

use healthcheck::render::changes::Changes;
use healthcheck::render::json::JsonRenderer;
use healthcheck::render::junit::JunitRenderer;
use healthcheck::render::prometheus::PrometheusRenderer;
use healthcheck::render::table::TableRenderer;
use healthcheck::render::{RenderOptions, Renderer};
use healthcheck::report::{Code, Evidence, Phase, Report, SectionId, Severity, TlsProblem};
use healthcheck::settings::Settings;
use serde_json::Value;

fn finish(mut report: Report) -> Report {
    report.time = "2026-12-05T10:00:00Z".to_string();
    report.compute_verdict();
    report.diagnosis = healthcheck::diagnosis::diagnose(&report);
    report
}

fn healthy() -> Report {
    finish(Report::default())
}

/// coderd does not answer on its own listener, so the access URL and the WebSocket fail.
fn coderd_down() -> Report {
    let mut r = Report::default();
    r.access_url.access_url = "https://coder.example.com".into();
    r.access_url.base.fail_with(
        Code::Eacs03,
        "get healthz endpoint https://coder.example.com/healthz: connection refused",
        Evidence::Refused {
            address: "coder.example.com:443".into(),
        },
    );
    r.access_url.base.warn_beyond_coder_with(
        Severity::Error,
        Code::Elst02,
        "coderd does not answer on its own listener http://127.0.0.1:3000/healthz",
        Evidence::Refused {
            address: "127.0.0.1:3000".into(),
        },
    );
    r.websocket.base.fail_with(
        Code::Ews01,
        "websocket dial: connection refused",
        Evidence::Refused {
            address: "coder.example.com:443".into(),
        },
    );
    finish(r)
}

/// PostgreSQL refuses the password: the database, the proxies and the daemons fail.
fn dead_database() -> Report {
    let mut r = Report::default();
    r.database.base.fail_with(
        Code::Edb01,
        "connect to 127.0.0.1:5432: authentication failed",
        Evidence::PgSqlstate {
            code: "28P01".into(),
            message: "password authentication failed for user \"coder\"".into(),
        },
    );
    r.workspace_proxy.base.fail(
        Code::Ewp02,
        "fetch workspace proxies: authentication failed",
    );
    r.provisioner_daemons
        .base
        .fail_uncoded("error fetching provisioner daemons: authentication failed");
    // A warning of an error-by-nature code that the check gave at warning stays a warning.
    r.provisioner_daemons.base.warn(
        Severity::Warning,
        Code::Eunknown,
        "cannot compare daemon versions: server version unknown",
    );
    finish(r)
}

/// One of two relays in a region is down and STUN is out: degraded, not down.
fn degraded_derp() -> Report {
    let mut r = Report::default();
    r.derp.base.warn(
        Severity::Warning,
        Code::Ederp02,
        "Region is operational, but performance might be degraded as one node is unhealthy.",
    );
    r.derp.base.warn_with(
        Severity::Warning,
        Code::Estun01,
        "No STUN servers are available.",
        Evidence::Timeout {
            address: "stun.example.com:3478".into(),
            phase: Phase::Answer,
        },
    );
    finish(r)
}

/// The access URL's certificate expires in 3 days; a relay's has expired (dismissed section
/// shows its findings as dismissed).
fn expiring_certificate() -> Report {
    let mut r = Report::default();
    r.certificates.base.warn(
        Severity::Warning,
        Code::Etls01,
        "coder.example.com:443 (access URL): expires in 3 days",
    );
    r.certificates.base.warn_with(
        Severity::Error,
        Code::Etls02,
        "relay.example.com:443 (DERP): expired",
        Evidence::Tls {
            address: "relay.example.com:443".into(),
            problem: TlsProblem::Expired {
                not_after: Some("2026-12-01T00:00:00Z".into()),
            },
        },
    );
    r.websocket
        .base
        .warn(Severity::Warning, Code::Ews01, "slow");
    r.websocket.base.dismissed = true;
    finish(r)
}

/// One finding as the rule shows it: its code (None: Coder's uncoded error) and severity.
type Shown = (Option<Code>, Severity);

fn expected(report: &Report) -> BTreeMap<SectionId, Vec<Shown>> {
    SectionId::ALL
        .into_iter()
        .map(|id| {
            let shown = report
                .base(id)
                .shown()
                .iter()
                .map(|s| (s.code, s.severity))
                .collect();
            (id, shown)
        })
        .collect()
}

fn options() -> RenderOptions {
    let mut options = RenderOptions::for_run(&Settings::default(), false);
    options.color = false;
    options
}

fn render(renderer: &dyn Renderer, report: &Report) -> String {
    String::from_utf8(renderer.render(report, &options()).unwrap()).unwrap()
}

fn label(severity: Severity, dismissed: bool) -> &'static str {
    match (dismissed, severity) {
        (true, _) => "DISMISSED",
        (false, Severity::Error) => "ERROR",
        (false, _) => "WARN",
    }
}

/// The table: per section, the (status, code) of each row that has a status.
fn table_rows(text: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut rows: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().filter(|l| l.starts_with('│')) {
        let cells: Vec<&str> = line.split(['│', '┆']).map(str::trim).collect();
        if cells.len() < 5 || cells[1] == "Section" {
            continue;
        }
        if !cells[1].is_empty() {
            section = cells[1].to_string();
        }
        if !cells[2].is_empty() {
            rows.entry(section.clone())
                .or_default()
                .push((cells[2].to_string(), cells[3].to_string()));
        }
    }
    rows
}

fn check_table(report: &Report, want: &BTreeMap<SectionId, Vec<Shown>>) {
    let rows = table_rows(&render(&TableRenderer, report));
    for (id, shown) in want {
        if shown.is_empty() {
            continue;
        }
        let dismissed = report.base(*id).dismissed;
        let expect: Vec<(String, String)> = shown
            .iter()
            .map(|(code, severity)| {
                (
                    label(*severity, dismissed).to_string(),
                    code.map(|c| c.to_string()).unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(rows[id.title()], expect, "table, {id}");
    }
}

fn check_json(report: &Report, want: &BTreeMap<SectionId, Vec<Shown>>) {
    let json: Value = serde_json::from_str(&render(&JsonRenderer, report)).unwrap();
    for (id, shown) in want {
        let section = &json[id.json_key()];
        // Coder's spelling: the error's lines (`CODE: message`, or uncoded words), then warnings.
        let mut codes: Vec<Option<Code>> = section["error"]
            .as_str()
            .map(|e| {
                e.lines()
                    .map(|line| {
                        Code::ALL
                            .into_iter()
                            .find(|c| line.starts_with(&format!("{c}: ")))
                    })
                    .collect()
            })
            .unwrap_or_default();
        for w in section["warnings"].as_array().unwrap() {
            codes.push(Code::parse(w["code"].as_str().unwrap()));
        }
        let expect: Vec<Option<Code>> = shown.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, expect, "json, {id}");
    }
}

fn check_prometheus(report: &Report, want: &BTreeMap<SectionId, Vec<Shown>>) {
    let text = render(&PrometheusRenderer, report);
    let mut seen: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("coder_healthcheck_finding{"))
    {
        let (labels, value) = line.rsplit_once(' ').unwrap();
        let label = |name: &str| {
            let start = labels.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            labels[start..start + labels[start..].find('"').unwrap()].to_string()
        };
        seen.insert(
            (label("section"), label("code"), label("severity")),
            value.parse().unwrap(),
        );
    }
    let mut expect: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    for (id, shown) in want {
        for (code, severity) in shown {
            if let Some(code) = code {
                let key = (
                    id.json_key().to_string(),
                    code.to_string(),
                    severity.as_str().to_string(),
                );
                *expect.entry(key).or_default() += 1.0;
            }
        }
    }
    assert_eq!(seen, expect, "prometheus");
}

fn check_junit(report: &Report, want: &BTreeMap<SectionId, Vec<Shown>>) {
    let xml = render(&JunitRenderer, report);
    for (id, shown) in want {
        let start = xml
            .find(&format!("name=\"{}\"", id.title()))
            .unwrap_or_else(|| panic!("junit has no case for {id}"));
        let rest = &xml[start..];
        let open_tag = &rest[..rest.find('\n').unwrap()];
        // A case without findings is one self-closing tag.
        let case = if open_tag.ends_with("/>") {
            open_tag
        } else {
            &rest[..rest.find("</testcase>").unwrap()]
        };
        if case.contains("<failure") {
            // The failure's type is the first finding shown: its code, or the severity of an
            // uncoded error.
            let expect = shown.first().map(|(code, severity)| match code {
                Some(code) => code.to_string(),
                None => severity.as_str().to_string(),
            });
            let kind = case
                .split("type=\"")
                .nth(1)
                .map(|t| t[..t.find('"').unwrap()].to_string());
            assert_eq!(kind, expect, "junit failure type, {id}");
        } else {
            // A passing case lists each finding with the status it is shown with.
            let dismissed = report.base(*id).dismissed;
            for (code, severity) in shown {
                if let Some(code) = code {
                    let line = format!("{}: {code}: ", label(*severity, dismissed));
                    assert!(case.contains(&line), "junit, {id}: {line} in {case}");
                }
            }
        }
        for (code, _) in shown {
            if let Some(code) = code {
                assert!(case.contains(code.as_str()), "junit, {id}: {code}");
            }
        }
    }
}

fn check_changes(report: &Report, want: &BTreeMap<SectionId, Vec<Shown>>) {
    let lines = Changes::default().lines(report, &options());
    for (id, shown) in want {
        let line = lines
            .lines()
            .find(|l| l.split(' ').nth(1) == Some(id.cli_name()))
            .unwrap_or_else(|| panic!("no change line for {id}: {lines}"));
        let dismissed = report.base(*id).dismissed;
        let status = if shown.is_empty() {
            "OK".to_string()
        } else if shown.iter().any(|(_, s)| *s == Severity::Error) {
            label(Severity::Error, dismissed).to_string()
        } else {
            label(Severity::Warning, dismissed).to_string()
        };
        let mut codes: Vec<String> = shown
            .iter()
            .filter_map(|(c, _)| c.map(|c| c.to_string()))
            .collect();
        codes.dedup();
        let mut expect = format!("{} {} - -> {status}", report.time, id.cli_name());
        if !codes.is_empty() {
            expect.push_str(&format!(" {}", codes.join(",")));
        }
        assert!(
            line.starts_with(&expect),
            "watch, {id}: {line:?} should start {expect:?}"
        );
    }
}

#[test]
fn every_renderer_shows_each_finding_as_the_rule_says() {
    for (name, report) in [
        ("healthy", healthy()),
        ("coderd down", coderd_down()),
        ("dead database", dead_database()),
        ("degraded DERP", degraded_derp()),
        ("expiring certificate", expiring_certificate()),
    ] {
        let want = expected(&report);
        println!("{name}: {want:?}");
        check_table(&report, &want);
        check_json(&report, &want);
        check_prometheus(&report, &want);
        check_junit(&report, &want);
        check_changes(&report, &want);
    }
}

#[test]
fn coderd_down_counts_elst02_as_an_error_everywhere() {
    // The drift this test was written for: the metrics once called it a warning.
    let report = coderd_down();
    let shown = report.access_url.base.shown();
    assert_eq!(
        shown
            .iter()
            .map(|s| (s.code, s.severity))
            .collect::<Vec<_>>(),
        [
            (Some(Code::Eacs03), Severity::Error),
            (Some(Code::Elst02), Severity::Error),
        ]
    );
    let metrics = render(&PrometheusRenderer, &report);
    assert!(metrics.contains(
        "coder_healthcheck_finding{section=\"access_url\",code=\"ELST02\",severity=\"error\"} 1\n"
    ));
    let json: Value = serde_json::from_str(&render(&JsonRenderer, &report)).unwrap();
    assert_eq!(json["access_url"]["error_evidence"]["kind"], "refused");
    assert_eq!(
        json["access_url"]["warnings"][0]["evidence"]["address"],
        "127.0.0.1:3000"
    );
}
