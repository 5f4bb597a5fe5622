//! Each rule on its own, from a report shaped like the situation it names.

use super::*;
use crate::report::derp::{DerpNode, DerpRegion, NodeReport, RegionReport};

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

fn stun_node(name: &str, host: &str, error: &str) -> NodeReport {
    let mut n = NodeReport {
        node: DerpNode {
            name: name.into(),
            host_name: host.into(),
            stun_only: true,
            ..DerpNode::default()
        },
        ..NodeReport::default()
    };
    n.stun.enabled = true;
    n.stun.error = Some(error.into());
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

fn with_region(r: &mut Report, id: &str, nodes: Vec<NodeReport>) {
    r.derp.regions.insert(
        id.into(),
        RegionReport {
            node_reports: nodes,
            ..RegionReport::default()
        },
    );
}

#[test]
fn a_refused_access_url_explains_websocket_and_the_embedded_relay() {
    let d = access_url_unreachable(&refused_access_url()).unwrap();
    assert_eq!(d.code, Some(Code::Eacs03));
    assert_eq!(d.explains, [Code::Ews01]);
    assert_eq!(d.sections, ["websocket", "derp"]);
    assert!(
        d.message.contains("coder.example.com refuses connections"),
        "{}",
        d.message
    );
}

#[test]
fn an_unreachable_access_url_that_explains_nothing_is_left_alone() {
    let mut r = refused_access_url();
    r.websocket = Default::default();
    r.derp = Default::default();
    assert_eq!(access_url_unreachable(&r), None);
    assert!(diagnose(&r).is_empty());
}

#[test]
fn the_local_listener_rules_take_over_from_the_access_url_rule() {
    let mut r = refused_access_url();
    r.access_url
        .base
        .warn_beyond_coder(Severity::Warning, Code::Elst01, "coderd answers");
    assert_eq!(access_url_unreachable(&r), None);
    let d = broken_path(&r).unwrap();
    assert_eq!(d.code, Some(Code::Elst01));
    assert_eq!(d.explains, [Code::Eacs03, Code::Ews01]);
    assert_eq!(d.sections, ["access-url", "websocket", "derp"]);
    assert_eq!(diagnose(&r).len(), 1);

    let mut down = refused_access_url();
    down.access_url
        .base
        .warn_beyond_coder(Severity::Error, Code::Elst02, "refused");
    let d = coderd_down(&down).unwrap();
    assert_eq!(d.code, Some(Code::Elst02));
    assert_eq!(d.explains, [Code::Eacs03, Code::Ews01]);
}

#[test]
fn an_unreachable_database_explains_proxies_and_daemons() {
    let mut r = Report::default();
    r.database.base.fail(Code::Edb01, "ping database: refused");
    assert_eq!(database_unreachable(&r), None, "nothing else failed");
    r.workspace_proxy
        .base
        .fail(Code::Ewp02, "fetch workspace proxies: refused");
    r.provisioner_daemons
        .base
        .fail_uncoded("error fetching provisioner daemons: x");
    r.provisioner_daemons.base.severity = Severity::Error;
    let d = database_unreachable(&r).unwrap();
    assert_eq!(d.code, Some(Code::Edb01));
    assert_eq!(d.explains, [Code::Ewp02]);
    assert_eq!(d.sections, ["workspace-proxy", "provisioner-daemons"]);
}

#[test]
fn stun_servers_failing_alike_are_one_line() {
    let mut r = Report::default();
    r.derp
        .base
        .warn(Severity::Warning, Code::Estun01, "no STUN servers");
    for (i, host) in [
        "stun.l.google.com",
        "stun1.l.google.com",
        "stun2.l.google.com",
    ]
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
            )],
        );
    }
    let d = stun_all_same(&r).unwrap();
    assert_eq!(d.code, Some(Code::Estun01));
    assert!(
        d.message
            .starts_with("all 3 STUN servers fail the same way (lookup <host>: Name"),
        "{}",
        d.message
    );

    // One that fails differently: no common cause.
    with_region(
        &mut r,
        "1009",
        vec![stun_node("x", "stun.example", "timed out")],
    );
    assert_eq!(stun_all_same(&r), None);
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
    assert_eq!(derp_nodes_same(&r), None, "one relay is not a pattern");
    with_region(
        &mut r,
        "2",
        vec![relay_node(
            "2a",
            "derp2.example.com",
            "dial tcp derp2.example.com:443: i/o timeout",
        )],
    );
    let d = derp_nodes_same(&r).unwrap();
    assert_eq!(d.code, None);
    assert!(
        d.message
            .starts_with("2 DERP relays fail the same way (dial tcp <host>:443"),
        "{}",
        d.message
    );
}

#[test]
fn at_most_a_few_lines() {
    let mut r = refused_access_url();
    r.database.base.fail(Code::Edb01, "x");
    r.workspace_proxy.base.fail(Code::Ewp02, "x");
    assert_eq!(diagnose(&r).len(), 2);
    assert!(RULES.len() > MAX_DIAGNOSES);
}

#[test]
fn failures_are_named_as_they_happened() {
    assert_eq!(
        failures_named(&[Code::Eacs03], &[]),
        "the access URL failure"
    );
    assert_eq!(
        failures_named(&[Code::Eacs04, Code::Ews01], &["websocket", "derp"]),
        "the access URL, WebSocket and embedded relay failures"
    );
}
