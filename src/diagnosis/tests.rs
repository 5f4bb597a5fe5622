//! Each rule on its own, from a report shaped like the situation it names, and the order and
//! wording rules every diagnosis follows.

use super::*;
use crate::report::derp::{DerpNode, DerpRegion, NodeReport, RegionReport};
use crate::report::{Phase, TlsProblem};

fn refused_access_url() -> Report {
    let mut r = Report::default();
    r.access_url.access_url = "https://coder.example.com".into();
    r.access_url.base.fail_with(
        Code::Eacs03,
        "get healthz endpoint: connection refused",
        Evidence::Refused {
            address: "coder.example.com:443".into(),
        },
    );
    r.websocket
        .base
        .fail(Code::Ews01, "websocket dial: connection refused");
    r.derp.regions.insert(
        "999".into(),
        RegionReport {
            region: DerpRegion {
                embedded_relay: true,
                ..DerpRegion::default()
            },
            node_reports: vec![NodeReport::default()],
            ..RegionReport::default()
        },
    );
    r
}

fn stun_node(name: &str, host: &str, error: &str, evidence: Option<Evidence>) -> NodeReport {
    let mut n = NodeReport {
        node: DerpNode {
            name: name.into(),
            host_name: host.into(),
            stun_only: true,
            stun_port: 3478,
            ..DerpNode::default()
        },
        ..NodeReport::default()
    };
    n.stun.enabled = true;
    n.stun.error = Some(error.into());
    n.stun.evidence = evidence;
    n
}

fn relay_node(name: &str, host: &str, error: &str) -> NodeReport {
    NodeReport {
        node: DerpNode {
            name: name.into(),
            host_name: host.into(),
            ..DerpNode::default()
        },
        client_errs: vec![vec![error.into()], vec![]],
        ..NodeReport::default()
    }
}

fn working_relay() -> NodeReport {
    NodeReport {
        node: DerpNode {
            name: "1a".into(),
            host_name: "derp.example.com".into(),
            ..DerpNode::default()
        },
        can_exchange_messages: true,
        healthy: true,
        ..NodeReport::default()
    }
}

fn with_region(r: &mut Report, id: &str, nodes: Vec<NodeReport>) {
    r.derp.regions.insert(
        id.into(),
        RegionReport {
            node_reports: nodes,
            ..RegionReport::default()
        },
    );
}

fn silent(address: &str) -> Option<Evidence> {
    Some(Evidence::Timeout {
        address: address.into(),
        phase: Phase::Answer,
    })
}

#[test]
fn a_healthy_run_has_no_diagnosis() {
    assert!(diagnose(&Report::default()).is_empty());
}

#[test]
fn a_refused_access_url_explains_websocket_and_the_embedded_relay() {
    let d = front_door::access_url_unreachable(&refused_access_url()).unwrap();
    assert_eq!(d.code, Some(Code::Eacs03));
    assert_eq!(d.explains, [Code::Ews01]);
    assert_eq!(d.sections, ["websocket", "derp"]);
    assert_eq!(d.evidence, ["refused"]);
    // Without coderd's own listener, down and unreachable look alike: both are said.
    assert!(
        d.message.contains("coder.example.com:443") && d.message.contains("--http-address"),
        "{}",
        d.message
    );
    assert_eq!(diagnose(&refused_access_url()).len(), 1);
}

#[test]
fn the_local_listener_rules_take_over_from_the_access_url_rule() {
    let mut r = refused_access_url();
    r.access_url
        .base
        .warn_beyond_coder(Severity::Warning, Code::Elst01, "coderd answers");
    assert_eq!(front_door::access_url_unreachable(&r), None);
    let d = front_door::broken_path(&r).unwrap();
    assert_eq!(d.code, Some(Code::Elst01));
    assert_eq!(d.explains, [Code::Eacs03, Code::Ews01]);
    assert_eq!(d.sections, ["websocket", "derp"]);
    assert!(d.message.contains("nothing listens at the access URL"));
    assert_eq!(diagnose(&r).len(), 1);

    let mut down = refused_access_url();
    down.access_url.base.warn_beyond_coder_with(
        Severity::Error,
        Code::Elst02,
        "refused",
        Evidence::Refused {
            address: "127.0.0.1:3000".into(),
        },
    );
    let d = front_door::coderd_down(&down).unwrap();
    assert_eq!(d.code, Some(Code::Elst02));
    assert_eq!(d.explains, [Code::Eacs03, Code::Ews01]);
    assert!(
        d.message.starts_with("coderd itself is down"),
        "{}",
        d.message
    );
}

#[test]
fn certificate_problems_are_named_and_explain_the_rest() {
    let mut r = refused_access_url();
    r.access_url.base.errors.clear();
    r.access_url.base.fail_with(
        Code::Eacs03,
        "tls",
        Evidence::Tls {
            address: "coder.example.com:443".into(),
            problem: TlsProblem::IncompleteChain {
                issuer: "CN=Issuing CA 2".into(),
            },
        },
    );
    let d = front_door::certificate(&r).unwrap();
    assert_eq!(d.evidence, ["tls_incomplete_chain"]);
    assert!(
        d.message.contains("without the intermediate"),
        "{}",
        d.message
    );
    assert_eq!(front_door::access_url_unreachable(&r), None);
    assert_eq!(diagnose(&r).len(), 1);
}

#[test]
fn the_database_is_named_by_its_sqlstate_and_explains_proxies_and_daemons() {
    let mut r = Report::default();
    r.database.endpoint = "db.internal:5432".into();
    r.database.base.fail_with(
        Code::Edb01,
        "password authentication failed",
        Evidence::PgSqlstate {
            code: "28P01".into(),
            message: "password authentication failed for user \"coder\"".into(),
        },
    );
    r.workspace_proxy
        .base
        .fail(Code::Ewp02, "fetch workspace proxies: refused");
    r.provisioner_daemons
        .base
        .fail_uncoded("error fetching provisioner daemons: x");
    r.provisioner_daemons.base.severity = Severity::Error;
    let d = database::refused(&r).unwrap();
    assert_eq!(d.code, Some(Code::Edb01));
    assert_eq!(d.explains, [Code::Ewp02]);
    assert_eq!(d.sections, ["workspace-proxy", "provisioner-daemons"]);
    assert!(
        d.message.contains("role \"coder\"") && d.message.contains("db.internal:5432"),
        "{}",
        d.message
    );
    assert_eq!(diagnose(&r).len(), 1);
}

#[test]
fn a_run_with_warnings_only_is_degraded_and_errors_come_first() {
    let mut r = Report::default();
    r.database.endpoint = "db:5432".into();
    r.database.latency = "40ms".into();
    r.database.base.warn(Severity::Warning, Code::Edb02, "slow");
    let d = diagnose(&r);
    assert!(d[0].message.starts_with(DEGRADED), "{}", d[0].message);

    // An error elsewhere comes first, without the prefix; the warning keeps it.
    r.provisioner_daemons.base.warn(
        Severity::Error,
        Code::Epd01,
        "No active provisioner daemons found!",
    );
    let d = diagnose(&r);
    assert_eq!(d[0].code, Some(Code::Epd01));
    assert!(!d[0].message.starts_with(DEGRADED));
    assert!(d[1].message.starts_with(DEGRADED));
}

#[test]
fn a_finding_no_rule_explains_is_restated_with_its_remedy() {
    let mut r = Report::default();
    r.websocket.base.fail(Code::Ews03, "echo mismatch");
    let d = diagnose(&r);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, Some(Code::Ews03));
    assert!(
        d[0].message.starts_with("Websocket: echo mismatch: "),
        "{}",
        d[0].message
    );
}

#[test]
fn stun_silent_everywhere_while_derp_works_is_blocked_udp() {
    let mut r = Report::default();
    r.derp
        .base
        .warn(Severity::Warning, Code::Estun01, "no STUN servers");
    with_region(&mut r, "1", vec![working_relay()]);
    for (i, host) in ["10.0.0.1", "10.0.0.2"].iter().enumerate() {
        let at = format!("{host}:3478");
        with_region(
            &mut r,
            &format!("100{i}"),
            vec![stun_node(
                &format!("100{i}stun0"),
                host,
                "no answer",
                silent(&at),
            )],
        );
    }
    let d = relays::udp_blocked(&r).unwrap();
    assert!(
        d.message.starts_with("UDP from this host is blocked"),
        "{}",
        d.message
    );
    assert_eq!(d.evidence, ["timeout"]);
    assert_eq!(relays::stun_some(&r), None);

    // Without a working relay, blocked UDP cannot be told from a dead path.
    r.derp.regions.remove("1");
    assert_eq!(relays::udp_blocked(&r), None);
    assert!(relays::stun_some(&r).is_some());
}

#[test]
fn stun_servers_failing_alike_by_name_are_one_line() {
    let mut r = Report::default();
    r.derp
        .base
        .warn(Severity::Warning, Code::Estun01, "no STUN servers");
    for (i, host) in ["stun.l.google.com", "stun1.l.google.com"]
        .iter()
        .enumerate()
    {
        with_region(
            &mut r,
            &format!("100{i}"),
            vec![stun_node(
                &format!("100{i}stun0"),
                host,
                &format!("lookup {host}: Name or service not known"),
                None,
            )],
        );
    }
    let d = relays::stun_some(&r).unwrap();
    assert!(
        d.message
            .starts_with("all 2 STUN servers fail the same way (lookup <host>: Name"),
        "{}",
        d.message
    );
}

#[test]
fn derp_relays_failing_alike_are_one_line_and_the_embedded_one_is_not_counted() {
    let mut r = refused_access_url();
    with_region(
        &mut r,
        "1",
        vec![relay_node(
            "1a",
            "derp1.example.com",
            "dial tcp derp1.example.com:443: i/o timeout",
        )],
    );
    assert_eq!(
        relays::derp_nodes_same(&r),
        None,
        "one relay is not a pattern"
    );
    with_region(
        &mut r,
        "2",
        vec![relay_node(
            "2a",
            "derp2.example.com",
            "dial tcp derp2.example.com:443: i/o timeout",
        )],
    );
    let d = relays::derp_nodes_same(&r).unwrap();
    assert_eq!(d.code, None);
    assert!(
        d.message
            .starts_with("2 DERP relays fail the same way (dial tcp <host>:443"),
        "{}",
        d.message
    );
}

#[test]
fn ages_read_as_people_say_them() {
    assert_eq!(fleet::age_words(45_000_000), "45 s");
    assert_eq!(fleet::age_words(600_000_000), "10 min");
    assert_eq!(fleet::age_words(3 * 3_600_000_000 + 5_000_000), "3 h");
    assert_eq!(fleet::age_words(3 * 86_400_000_000), "3 days");
}

#[test]
fn at_most_a_few_lines() {
    let mut r = refused_access_url();
    r.database.base.fail(Code::Edb01, "x");
    r.workspace_proxy.base.fail(Code::Ewp02, "x");
    r.provisioner_daemons
        .base
        .warn(Severity::Error, Code::Epd01, "none");
    r.certificates.base.fail(Code::Etls02, "expired");
    assert_eq!(diagnose(&r).len(), MAX_DIAGNOSES);
    assert!(RULES.len() > MAX_DIAGNOSES);
}

// ---- the checks beyond Coder's -----------------------------------------------------------------

#[test]
fn a_standby_and_broken_pubsub_are_named_as_causes() {
    let mut r = Report::default();
    r.database.endpoint = "replica.internal:5432".into();
    r.database
        .base
        .warn_beyond_coder(Severity::Error, Code::Epg03, "pg_is_in_recovery() is true");
    let d = diagnose(&r);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, Some(Code::Epg03));
    assert!(
        d[0].message.contains("standby (replica.internal:5432") && d[0].message.contains("primary"),
        "{}",
        d[0].message
    );

    let mut r = Report::default();
    r.database.endpoint = "pgbouncer:6432".into();
    r.database
        .base
        .warn_beyond_coder(Severity::Error, Code::Epg01, "no notification within 2s");
    let d = diagnose(&r);
    assert_eq!(d[0].code, Some(Code::Epg01));
    assert!(
        d[0].message.contains("pgbouncer:6432") && d[0].message.contains("pool_mode = session"),
        "{}",
        d[0].message
    );
}

#[test]
fn slots_name_their_holders_and_a_refusal_for_want_of_one_is_one_line() {
    use crate::report::database::{Connections, Holder};
    let mut r = Report::default();
    r.database.endpoint = "db:5432".into();
    r.database.base.warn_beyond_coder(
        Severity::Warning,
        Code::Epg02,
        "connection slots running out",
    );
    r.database.connections = Some(Connections {
        used: 85,
        max: 103,
        reserved: 3,
        top: vec![
            Holder {
                name: "coderd".into(),
                count: 60,
            },
            Holder {
                name: "grafana".into(),
                count: 20,
            },
        ],
    });
    let d = diagnose(&r);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].severity, Severity::Warning);
    assert!(
        d[0].message.starts_with(DEGRADED)
            && d[0].message.contains("85 of 100 slots")
            && d[0].message.contains("coderd 60 and grafana 20"),
        "{}",
        d[0].message
    );

    // Refused on connect with 53300: the database rule names it and accounts for EPG02.
    let mut r = Report::default();
    r.database.endpoint = "db:5432".into();
    let evidence = Evidence::PgSqlstate {
        code: "53300".into(),
        message: "sorry, too many clients already".into(),
    };
    r.database
        .base
        .fail_with(Code::Edb01, "ping database: too many", evidence.clone());
    r.database.base.warn_beyond_coder_with(
        Severity::Error,
        Code::Epg02,
        "no connection slot left",
        evidence,
    );
    let d = diagnose(&r);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, Some(Code::Edb01));
    assert_eq!(d[0].explains, [Code::Epg02]);
    assert!(
        d[0].message.contains("out of connection slots"),
        "{}",
        d[0].message
    );
}

fn pending(count: i64, tags: serde_json::Value, matched: bool) -> Report {
    use crate::report::provisioner_daemons::{JobGroup, PendingJobs};
    let mut r = Report::default();
    let severity = if matched {
        Severity::Warning
    } else {
        Severity::Error
    };
    r.provisioner_daemons
        .base
        .warn_beyond_coder(severity, Code::Epq01, "jobs not started");
    r.provisioner_daemons.pending_jobs = Some(PendingJobs {
        count,
        oldest_age_seconds: Some(1800.0),
        groups: vec![JobGroup {
            organization_id: None,
            provisioner: Some("terraform".into()),
            tags,
            count,
            oldest_age_seconds: 1800.0,
            matched: Some(matched),
        }],
        notes: Vec::new(),
    });
    r
}

#[test]
fn builds_no_daemon_can_take_name_the_tags_and_how_to_start_one() {
    let r = pending(
        3,
        serde_json::json!({"scope": "organization", "gpu": "true"}),
        false,
    );
    let d = diagnose(&r);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, Some(Code::Epq01));
    assert_eq!(d[0].severity, Severity::Error);
    let m = &d[0].message;
    assert!(m.starts_with("3 builds are waiting"), "{m}");
    assert!(
        m.contains(r#"offers tags {"scope":"organization","gpu":"true"} for terraform"#),
        "{m}"
    );
    assert!(m.contains("the oldest for 30 min"), "{m}");
    assert!(
        m.contains("(coder provisioner start --tag gpu=true)"),
        "{m}"
    );

    let r = pending(2, serde_json::json!({"scope": "organization"}), true);
    let d = diagnose(&r);
    assert_eq!(d[0].severity, Severity::Warning);
    assert!(
        d[0].message.starts_with("degraded: 2 builds are queued"),
        "{}",
        d[0].message
    );

    // No live daemon at all: one line, the stale daemons, which accounts for the builds.
    let mut r = pending(1, serde_json::json!({}), false);
    r.provisioner_daemons.base.warn(
        Severity::Error,
        Code::Epd01,
        "No active provisioner daemons found!",
    );
    r.provisioner_daemons.view.inactive = vec![("built-in".into(), Some(600_000_000))];
    let d = diagnose(&r);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, Some(Code::Epd01));
    assert_eq!(d[0].explains, [Code::Epq01]);
    assert!(
        d[0].message.ends_with("; 1 build is waiting already"),
        "{}",
        d[0].message
    );
}

#[test]
fn the_license_names_its_date() {
    use crate::report::workspace_proxy::License;
    let expires_at = time::macros::datetime!(2026-12-15 00:00 UTC);
    let mut r = Report::default();
    r.workspace_proxy
        .base
        .warn_beyond_coder(Severity::Warning, Code::Elic01, "expires soon");
    r.workspace_proxy.license = Some(License {
        expires_at,
        days_left: 10,
    });
    let d = diagnose(&r);
    assert_eq!(d[0].code, Some(Code::Elic01));
    assert!(
        d[0].message
            .starts_with("degraded: the Coder license expires on 2026-12-15"),
        "{}",
        d[0].message
    );
    r.workspace_proxy.license = Some(License {
        expires_at,
        days_left: -1,
    });
    r.workspace_proxy.base = Default::default();
    r.workspace_proxy
        .base
        .warn_beyond_coder(Severity::Error, Code::Elic01, "expired");
    let d = diagnose(&r);
    assert_eq!(d[0].severity, Severity::Error);
    assert!(
        d[0].message
            .starts_with("the Coder license expired on 2026-12-15"),
        "{}",
        d[0].message
    );
}
