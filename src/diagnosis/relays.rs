//! Causes in DERP and STUN: a load balancer that refuses `Upgrade: DERP`, outbound UDP blocked
//! (every STUN server silent while DERP over TCP works), single STUN servers that do not
//! answer, and several relays failing alike.

use super::{and_list, cite, host_port, line, ran, Diagnosis};
use crate::report::derp::NodeReport;
use crate::report::{Code, Evidence, Report, SectionId, Severity};
use crate::text::generalize;

fn nodes(report: &Report) -> impl Iterator<Item = (bool, &NodeReport)> {
    report
        .derp
        .regions
        .values()
        .flat_map(|r| r.node_reports.iter().map(|n| (r.region.embedded_relay, n)))
}

/// The first failing node, for restating a DERP failure no rule explains: where it is, in
/// words that do not repeat its row, and what was observed.
pub fn first_failing_node(report: &Report) -> Option<(String, Option<&Evidence>)> {
    let (embedded, node) = nodes(report).find(|(_, n)| n.error.is_some())?;
    let what = if node.node.stun_only {
        format!("STUN server {} does not work", stun_at(node))
    } else {
        format!(
            "relay node {} at {} cannot exchange messages",
            node.node.name,
            relay_at(report, embedded, node)
        )
    };
    let evidence = node.evidence.as_ref().or(node.stun.evidence.as_ref());
    Some((
        format!("{what} (its row says how): check that server and the path to it"),
        evidence,
    ))
}

/// Where a relay node is, as `host:port` (the access URL's for the embedded relay).
fn relay_at(report: &Report, embedded: bool, node: &NodeReport) -> String {
    if embedded {
        if let Some(at) = host_port(&report.access_url.access_url) {
            return at;
        }
    }
    format!("{}:{}", node.node.host_name, node.node.derp_port)
}

/// Where a STUN server is: the address probed, else the node's host and STUN port.
fn stun_at(node: &NodeReport) -> String {
    match &node.stun.evidence {
        Some(
            Evidence::Timeout { address, .. }
            | Evidence::Unreachable { address }
            | Evidence::Refused { address },
        ) => address.clone(),
        _ => format!("{}:{}", node.node.host_name, node.node.stun_port),
    }
}

pub fn derp_upgrade_refused(report: &Report) -> Option<Diagnosis> {
    let finding = ran(report, SectionId::Derp)?.warning_coded(Code::Ederp01)?;
    let fell_back: Vec<(bool, &NodeReport)> = nodes(report)
        .filter(|(_, n)| n.warnings.iter().any(|w| w.code == Code::Ederp01))
        .collect();
    let mut hosts: Vec<String> = fell_back
        .iter()
        .map(|(embedded, n)| relay_at(report, *embedded, n))
        .collect();
    hosts.dedup();
    let mut d = line(
        Code::Ederp01,
        SectionId::Derp,
        Severity::Warning,
        String::new(),
    );
    cite(&mut d, finding.evidence.as_ref());
    for (_, n) in &fell_back {
        cite(&mut d, n.evidence.as_ref());
    }
    // EDERP01 is itself the observation: the DERP upgrade was turned away, WebSocket worked.
    if !d.evidence.contains(&"upgrade_refused") {
        d.evidence.push("upgrade_refused");
    }
    d.message = format!(
        "the load balancer or proxy in front of {} refuses `Upgrade: DERP` but passes \
         WebSockets, so DERP runs over the slower WebSocket fallback: allow the DERP upgrade on \
         /derp (pass the Upgrade and Connection headers whatever the protocol), or set \
         CODER_DERP_FORCE_WEBSOCKETS=true so clients skip the failing attempt",
        if hosts.is_empty() {
            "the relay".to_string()
        } else {
            and_list(&hosts)
        }
    );
    Some(d)
}

/// The STUN nodes that were probed, and those that failed.
fn stun_nodes(report: &Report) -> (Vec<&NodeReport>, Vec<&NodeReport>) {
    let probed: Vec<&NodeReport> = nodes(report)
        .map(|(_, n)| n)
        .filter(|n| n.stun.enabled)
        .collect();
    let failed = probed
        .iter()
        .copied()
        .filter(|n| n.stun.error.is_some())
        .collect();
    (probed, failed)
}

/// No answer, or a send this host refused: what blocked UDP looks like.
fn silent(node: &NodeReport) -> bool {
    matches!(
        node.stun.evidence,
        Some(Evidence::Timeout { .. } | Evidence::Unreachable { .. })
    )
}

fn udp_is_blocked(report: &Report) -> bool {
    let (probed, failed) = stun_nodes(report);
    let relay_works = nodes(report).any(|(_, n)| !n.node.stun_only && n.can_exchange_messages);
    probed.len() >= 2
        && failed.len() == probed.len()
        && failed.iter().all(|n| silent(n))
        && relay_works
}

pub fn udp_blocked(report: &Report) -> Option<Diagnosis> {
    ran(report, SectionId::Derp)?;
    if !udp_is_blocked(report) {
        return None;
    }
    let (_, failed) = stun_nodes(report);
    let servers: Vec<String> = failed.iter().map(|n| stun_at(n)).collect();
    let locally = failed
        .iter()
        .all(|n| matches!(n.stun.evidence, Some(Evidence::Unreachable { .. })));
    let severity = report.derp.base.severity.max(Severity::Warning);
    let mut d = line(Code::Estun01, SectionId::Derp, severity, String::new());
    for n in &failed {
        cite(&mut d, n.stun.evidence.as_ref());
    }
    d.message = format!(
        "UDP from this host is blocked{}: all {} STUN servers ({}) {} while DERP over TCP works; \
         allow outbound UDP to their ports in {}. Until then connections are relayed through \
         DERP instead of going direct. (Unless every one of them is down: a STUN server known to \
         work, such as stun.l.google.com:19302, tells the two apart)",
        if locally {
            " by this host's own firewall"
        } else {
            ""
        },
        failed.len(),
        and_list(&servers),
        if locally {
            "fail to send at once"
        } else {
            "time out"
        },
        if locally {
            "this host's firewall (an output rule)"
        } else {
            "the firewalls between this host and them"
        }
    );
    Some(d)
}

pub fn stun_some(report: &Report) -> Option<Diagnosis> {
    let base = ran(report, SectionId::Derp)?;
    // ESTUN01 is Coder's only when no server answers; a single silent one is a node's error.
    let finding = base.warning_coded(Code::Estun01);
    if udp_is_blocked(report) {
        return None;
    }
    let (probed, failed) = stun_nodes(report);
    if failed.is_empty() {
        return None;
    }
    let servers: Vec<String> = failed.iter().map(|n| stun_at(n)).collect();
    let mut d = line(
        Code::Estun01,
        SectionId::Derp,
        base.severity.max(Severity::Warning),
        String::new(),
    );
    cite(&mut d, finding.and_then(|f| f.evidence.as_ref()));
    for n in &failed {
        cite(&mut d, n.stun.evidence.as_ref());
    }
    let one = servers.len() == 1;
    let alike = common_failure(failed.iter().map(|n| (*n, n.stun.error.as_ref())));
    d.message = if let (true, Some((count, failure))) = (failed.len() == probed.len(), alike) {
        format!(
            "all {count} STUN servers fail the same way ({failure}): one cause, most likely DNS \
             or the network path from this host, not {count} broken servers"
        )
    } else if failed.len() == probed.len() {
        format!(
            "no STUN server answers ({}), and no DERP relay works either to show whether UDP \
             alone is blocked: look at this host's network path first",
            and_list(&servers)
        )
    } else {
        format!(
            "STUN server{} {} do{} not answer ({} of {}), while the others do: check {} or \
             remove {} from CODER_DERP_SERVER_STUN_ADDRESSES",
            if one { "" } else { "s" },
            and_list(&servers),
            if one { "es" } else { "" },
            failed.len(),
            probed.len(),
            if one { "that server" } else { "those servers" },
            if one { "it" } else { "them" },
        )
    };
    Some(d)
}

/// The failures of several nodes, generalized over their names; `Some` when all are the same.
fn common_failure<'a>(
    nodes: impl Iterator<Item = (&'a NodeReport, Option<&'a String>)>,
) -> Option<(usize, String)> {
    let mut count = 0;
    let mut common: Option<String> = None;
    for (node, error) in nodes {
        let error = error?;
        let subjects = node.node.subjects();
        let subjects: Vec<&str> = subjects.iter().map(String::as_str).collect();
        let text = generalize(error, &subjects);
        match &common {
            Some(c) if *c != text => return None,
            Some(_) => {}
            None => common = Some(text),
        }
        count += 1;
    }
    common.map(|c| (count, c))
}

pub fn derp_nodes_same(report: &Report) -> Option<Diagnosis> {
    ran(report, SectionId::Derp)?;
    // The embedded relay is the access URL's; the access URL rules speak for it.
    let failing = nodes(report)
        .filter(|(embedded, n)| !embedded && !n.node.stun_only && !n.can_exchange_messages)
        .map(|(_, n)| (n, n.client_errs.iter().flatten().last()));
    let (count, failure) = common_failure(failing)?;
    if count < 2 {
        return None;
    }
    let severity = report.derp.base.severity.max(Severity::Warning);
    let mut d = line(Code::Ederp02, SectionId::Derp, severity, String::new());
    d.code = None;
    d.message = format!(
        "{count} DERP relays fail the same way ({failure}): look for the one cause (a firewall, \
         a proxy, the relays' certificate) rather than at each relay"
    );
    Some(d)
}
