//! Probable root causes: when several findings follow from one cause, say so once. Each rule is
//! a small function over the finished report (data in, an optional diagnosis out), listed in
//! `RULES` and tested on its own; a finding no rule explains is left alone. Runs after the
//! report is complete; renderers only read the result.

use crate::report::derp::NodeReport;
use crate::report::diagnosis::Diagnosis;
use crate::report::{Code, Evidence, Report, SectionId, Severity};
use crate::text::generalize;

/// At most this many lines: a diagnosis that needs more is no longer one cause.
pub const MAX_DIAGNOSES: usize = 3;

/// One rule: its name (for tests and docs) and what it concludes from a report.
pub struct Rule {
    pub name: &'static str,
    pub diagnose: fn(&Report) -> Option<Diagnosis>,
}

/// The rules, most specific first.
pub const RULES: &[Rule] = &[
    Rule {
        name: "coderd down on its own listener",
        diagnose: coderd_down,
    },
    Rule {
        name: "path between the access URL and coderd",
        diagnose: broken_path,
    },
    Rule {
        name: "access URL unreachable",
        diagnose: access_url_unreachable,
    },
    Rule {
        name: "database unreachable",
        diagnose: database_unreachable,
    },
    Rule {
        name: "every STUN server fails the same way",
        diagnose: stun_all_same,
    },
    Rule {
        name: "several DERP nodes fail the same way",
        diagnose: derp_nodes_same,
    },
];

pub fn diagnose(report: &Report) -> Vec<Diagnosis> {
    RULES
        .iter()
        .filter_map(|rule| (rule.diagnose)(report))
        .take(MAX_DIAGNOSES)
        .collect()
}

/// What else fails when the access URL cannot be reached: the Websocket section and the
/// embedded relay, both of which live at the access URL.
fn access_url_dependents(report: &Report) -> (Vec<Code>, Vec<&'static str>) {
    let mut codes = Vec::new();
    let mut sections = Vec::new();
    let ws = &report.websocket.base;
    if !ws.skipped && ws.error_coded(Code::Ews01).is_some() {
        codes.push(Code::Ews01);
        sections.push(SectionId::Websocket.cli_name());
    }
    let embedded_failed = report
        .derp
        .regions
        .values()
        .filter(|r| r.region.embedded_relay)
        .flat_map(|r| &r.node_reports)
        .any(|n| !n.node.stun_only && !n.can_exchange_messages);
    if !report.derp.base.skipped && embedded_failed {
        sections.push(SectionId::Derp.cli_name());
    }
    (codes, sections)
}

fn access_url_failed(report: &Report) -> Vec<Code> {
    let base = &report.access_url.base;
    let mut codes = Vec::new();
    if base.error_coded(Code::Eacs03).is_some() {
        codes.push(Code::Eacs03);
    }
    if base.warning_coded(Code::Eacs04).is_some() {
        codes.push(Code::Eacs04);
    }
    codes
}

fn has_warning(report: &Report, id: SectionId, code: Code) -> bool {
    report.base(id).warning_coded(code).is_some()
}

fn coderd_down(report: &Report) -> Option<Diagnosis> {
    if !has_warning(report, SectionId::AccessUrl, Code::Elst02) {
        return None;
    }
    let mut explains = access_url_failed(report);
    let (codes, mut sections) = access_url_dependents(report);
    explains.extend(codes);
    if explains.is_empty() && sections.is_empty() {
        return None;
    }
    let follow = failures_named(&explains, &sections);
    sections.insert(0, SectionId::AccessUrl.cli_name());
    Some(Diagnosis {
        code: Some(Code::Elst02),
        message: format!(
            "coderd itself does not answer on its own listener: start or fix the coder service \
             first; {follow} follow from it"
        ),
        explains,
        sections,
    })
}

/// "the access URL, WebSocket and embedded relay failures", naming only those that failed.
fn failures_named(codes: &[Code], sections: &[&str]) -> String {
    let mut names = Vec::new();
    if codes
        .iter()
        .any(|c| matches!(c, Code::Eacs03 | Code::Eacs04))
    {
        names.push("the access URL");
    }
    if sections.contains(&SectionId::Websocket.cli_name()) {
        names.push("WebSocket");
    }
    if sections.contains(&SectionId::Derp.cli_name()) {
        names.push("embedded relay");
    }
    let list = match names.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    };
    format!(
        "the {} failure{}",
        list.trim_start_matches("the "),
        if names.len() == 1 { "" } else { "s" }
    )
}

fn broken_path(report: &Report) -> Option<Diagnosis> {
    if !has_warning(report, SectionId::AccessUrl, Code::Elst01) {
        return None;
    }
    let mut explains = access_url_failed(report);
    let (codes, mut sections) = access_url_dependents(report);
    explains.extend(codes);
    sections.insert(0, SectionId::AccessUrl.cli_name());
    Some(Diagnosis {
        code: Some(Code::Elst01),
        message: "coderd answers on its own listener, so the fault is in the path to it: DNS, the \
                  load balancer, the reverse proxy or a firewall between the access URL and coderd"
            .to_string(),
        explains,
        sections,
    })
}

fn access_url_unreachable(report: &Report) -> Option<Diagnosis> {
    // With the local listener known, the two rules above say more.
    if has_warning(report, SectionId::AccessUrl, Code::Elst01)
        || has_warning(report, SectionId::AccessUrl, Code::Elst02)
    {
        return None;
    }
    let failed = report.access_url.base.error_coded(Code::Eacs03)?;
    let why = match failed.evidence.as_ref()? {
        Evidence::Dns { .. } => "does not resolve",
        Evidence::Refused { .. } => "refuses connections",
        Evidence::Timeout { .. } => "does not answer",
        Evidence::Tls { .. } => "fails TLS",
        _ => return None,
    };
    let (explains, sections) = access_url_dependents(report);
    if sections.is_empty() {
        return None;
    }
    let host = url::Url::parse(&report.access_url.access_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "the access URL host".to_string());
    let names: Vec<&str> = sections
        .iter()
        .map(|s| match *s {
            "websocket" => "the WebSocket check",
            _ => "the embedded DERP relay",
        })
        .collect();
    Some(Diagnosis {
        code: Some(Code::Eacs03),
        message: format!(
            "the access URL host {host} {why}: {} fail{} for the same reason; fix the access URL \
             first",
            names.join(" and "),
            if names.len() == 1 { "s" } else { "" }
        ),
        explains,
        sections,
    })
}

fn database_unreachable(report: &Report) -> Option<Diagnosis> {
    let db = &report.database.base;
    if db.skipped || db.error_coded(Code::Edb01).is_none() {
        return None;
    }
    let mut explains = Vec::new();
    let mut sections = Vec::new();
    let proxies = &report.workspace_proxy.base;
    if !proxies.skipped && proxies.error_coded(Code::Ewp02).is_some() {
        explains.push(Code::Ewp02);
        sections.push(SectionId::WorkspaceProxy.cli_name());
    }
    let daemons = &report.provisioner_daemons.base;
    if !daemons.skipped && daemons.has_error() && daemons.severity == Severity::Error {
        sections.push(SectionId::ProvisionerDaemons.cli_name());
    }
    if sections.is_empty() {
        return None;
    }
    Some(Diagnosis {
        code: Some(Code::Edb01),
        message: "the database cannot be reached: the Workspace Proxies and Provisioner Daemons \
                  checks read it, so their errors follow from this one"
            .to_string(),
        explains,
        sections,
    })
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

fn stun_all_same(report: &Report) -> Option<Diagnosis> {
    if report.derp.base.skipped || !has_warning(report, SectionId::Derp, Code::Estun01) {
        return None;
    }
    let stun = report
        .derp
        .regions
        .values()
        .flat_map(|r| &r.node_reports)
        .filter(|n| n.stun.enabled);
    let (count, failure) = common_failure(stun.map(|n| (n, n.stun.error.as_ref())))?;
    if count < 2 {
        return None;
    }
    Some(Diagnosis {
        code: Some(Code::Estun01),
        message: format!(
            "all {count} STUN servers fail the same way ({failure}): one cause, most likely DNS \
             or outbound UDP from this host, not {count} broken servers"
        ),
        explains: Vec::new(),
        sections: vec![SectionId::Derp.cli_name()],
    })
}

fn derp_nodes_same(report: &Report) -> Option<Diagnosis> {
    if report.derp.base.skipped {
        return None;
    }
    // The embedded relay is the access URL's; the access URL rules speak for it.
    let failing = report
        .derp
        .regions
        .values()
        .filter(|r| !r.region.embedded_relay)
        .flat_map(|r| &r.node_reports)
        .filter(|n| !n.node.stun_only && !n.can_exchange_messages);
    let errors = failing.map(|n| (n, n.client_errs.iter().flatten().last()));
    let (count, failure) = common_failure(errors)?;
    if count < 2 {
        return None;
    }
    Some(Diagnosis {
        code: None,
        message: format!(
            "{count} DERP relays fail the same way ({failure}): look for the one cause (a \
             firewall, a proxy, the relays' certificate) rather than at each relay"
        ),
        explains: Vec::new(),
        sections: vec![SectionId::Derp.cli_name()],
    })
}

#[cfg(test)]
mod tests;
