//! Probable root causes. Whenever a run has a finding, the first line names the cause in the
//! operator's terms, where it is (a host, a proxy, a certificate, a database role, a daemon) and
//! what to do. Each rule is a small function over the finished report that reads codes and
//! evidence (never the words of a message), listed in `RULES` in causal order: what explains
//! the most comes first. A section with a finding no rule accounts for gets its finding restated
//! as a cause. Errors come before warnings; a cause that leaves the deployment working says
//! "degraded: ". Runs after the report is complete; renderers only read the result.

mod database;
mod fleet;
mod front_door;
mod relays;

use crate::report::diagnosis::Diagnosis;
use crate::report::{BaseReport, Code, Evidence, Report, SectionId, Severity, Shown};

/// At most this many lines: a diagnosis that needs more is no longer a few causes.
pub const MAX_DIAGNOSES: usize = 3;

/// One rule: its name (for tests, `explain` and the README) and what it concludes.
pub struct Rule {
    pub name: &'static str,
    pub diagnose: fn(&Report) -> Option<Diagnosis>,
}

/// The rules, in causal order: a cause listed earlier explains failures of later ones.
pub const RULES: &[Rule] = &[
    Rule {
        name: "a forward proxy from the environment refuses the CONNECT (suggest NO_PROXY)",
        diagnose: front_door::forward_proxy,
    },
    Rule {
        name: "the access URL's certificate: untrusted CA, incomplete chain, expired, wrong name",
        diagnose: front_door::certificate,
    },
    Rule {
        name: "coderd down: its own listener does not answer",
        diagnose: front_door::coderd_down,
    },
    Rule {
        name: "coderd answers locally: the path to the access URL is broken",
        diagnose: front_door::broken_path,
    },
    Rule {
        name: "the access URL does not answer (coderd down or the path broken)",
        diagnose: front_door::access_url_unreachable,
    },
    Rule {
        name: "coderd advertises another access URL than the one that answers",
        diagnose: front_door::advertised_elsewhere,
    },
    Rule {
        name: "a reverse proxy drops the WebSocket upgrade or speaks HTTP/1.0",
        diagnose: front_door::upgrade_dropped,
    },
    Rule {
        name: "the database by its own error (password, pg_hba, missing, slots, TLS)",
        diagnose: database::refused,
    },
    Rule {
        name: "the DSN points at a standby; coderd needs the primary",
        diagnose: database::standby,
    },
    Rule {
        name: "pubsub does not round-trip (a transaction-pooling PgBouncer)",
        diagnose: database::pubsub_broken,
    },
    Rule {
        name: "connection slots running out, with their largest holders",
        diagnose: database::slots,
    },
    Rule {
        name: "the database is far away",
        diagnose: database::slow,
    },
    Rule {
        name: "no live provisioner daemon (names and ages)",
        diagnose: fleet::stale_daemons,
    },
    Rule {
        name: "builds no live daemon can take (their tags), or a slow queue",
        diagnose: fleet::pending_jobs,
    },
    Rule {
        name: "provisioner daemons on another version",
        diagnose: fleet::skewed_daemons,
    },
    Rule {
        name: "the license has expired or is about to (premium features stop)",
        diagnose: fleet::license,
    },
    Rule {
        name: "a workspace proxy answered by something else (the primary, a web page)",
        diagnose: fleet::proxies,
    },
    Rule {
        name: "a load balancer refuses Upgrade: DERP (WebSocket fallback)",
        diagnose: relays::derp_upgrade_refused,
    },
    Rule {
        name: "outbound UDP blocked: every STUN server times out while DERP works",
        diagnose: relays::udp_blocked,
    },
    Rule {
        name: "some STUN servers do not answer",
        diagnose: relays::stun_some,
    },
    Rule {
        name: "several DERP relays fail the same way",
        diagnose: relays::derp_nodes_same,
    },
];

pub fn diagnose(report: &Report) -> Vec<Diagnosis> {
    let mut lines: Vec<Diagnosis> = RULES
        .iter()
        .filter_map(|rule| (rule.diagnose)(report))
        .collect();
    // A section with a finding no rule accounts for is restated as its own cause.
    for id in SectionId::ALL {
        let covered = lines
            .iter()
            .any(|d| d.origin == Some(id) || d.sections.contains(&id.cli_name()));
        if !covered {
            lines.extend(restate(report, id));
        }
    }
    // Errors first; among equals, the rules' causal order.
    lines.sort_by_key(|d| std::cmp::Reverse(d.severity));
    for d in &mut lines {
        if d.severity < Severity::Error && !d.message.starts_with(DEGRADED) {
            d.message.insert_str(0, DEGRADED);
        }
    }
    lines.truncate(MAX_DIAGNOSES);
    lines
}

/// How a cause that leaves the deployment working begins.
pub const DEGRADED: &str = "degraded: ";

/// A diagnosis under construction.
fn line(code: Code, origin: SectionId, severity: Severity, message: String) -> Diagnosis {
    Diagnosis {
        code: Some(code),
        message,
        explains: Vec::new(),
        sections: Vec::new(),
        evidence: Vec::new(),
        severity,
        origin: Some(origin),
    }
}

/// Adds the kind of `evidence` (once) to a diagnosis.
fn cite(d: &mut Diagnosis, evidence: Option<&Evidence>) {
    if let Some(kind) = evidence.map(Evidence::kind) {
        if !d.evidence.contains(&kind) {
            d.evidence.push(kind);
        }
    }
}

/// Notes that `d` accounts for `section`'s failure (and its `code`, when it has one).
fn account(d: &mut Diagnosis, section: SectionId, code: Option<Code>) {
    if let Some(code) = code {
        if d.code != Some(code) && !d.explains.contains(&code) {
            d.explains.push(code);
        }
    }
    let name = section.cli_name();
    if d.origin != Some(section) && !d.sections.contains(&name) {
        d.sections.push(name);
    }
}

/// A cause for one shown finding, at its shown severity and citing its evidence.
fn cause(finding: &Shown<'_>, code: Code, origin: SectionId, message: String) -> Diagnosis {
    let mut d = line(code, origin, finding.severity, message);
    cite(&mut d, finding.evidence);
    d
}

/// A section's finding of `code` as every format shows it (its shown severity), when it ran.
fn shown_coded(report: &Report, id: SectionId, code: Code) -> Option<Shown<'_>> {
    ran(report, id)?
        .shown()
        .into_iter()
        .find(|s| s.code == Some(code))
}

/// The section's base, when it ran.
fn ran(report: &Report, id: SectionId) -> Option<&BaseReport> {
    let base = report.base(id);
    (!base.skipped).then_some(base)
}

/// The worst finding of a section restated as a cause: where, what, and the code's remedy.
fn restate(report: &Report, id: SectionId) -> Option<Diagnosis> {
    let base = ran(report, id)?;
    let shown = base.shown();
    let worst = shown.iter().max_by_key(|s| s.severity);
    let (code, severity, message, evidence) = match worst {
        Some(s) => (s.code, s.severity, s.message.to_string(), s.evidence),
        None if base.severity > Severity::Ok => {
            let (detail, evidence) = relays::first_failing_node(report)
                .filter(|_| id == SectionId::Derp)
                .unwrap_or_else(|| ("see the section's rows".to_string(), None));
            (None, base.severity, detail, evidence)
        }
        None => return None,
    };
    let text = match evidence.and_then(evidence_words) {
        // What was observed says where the fault is better than the code's general remedy.
        Some(words) => format!("{} fails because {words}", id.title()),
        None => {
            let remedy = code
                .map(|c| format!(": {}", first_sentence(c.info().solution)))
                .unwrap_or_default();
            format!("{}: {message}{remedy}", id.title())
        }
    };
    let mut d = Diagnosis {
        code,
        message: text,
        explains: Vec::new(),
        sections: Vec::new(),
        evidence: Vec::new(),
        severity,
        origin: Some(id),
    };
    cite(&mut d, evidence);
    Some(d)
}

/// A failure to reach something, in the operator's words with what to do.
fn evidence_words(evidence: &Evidence) -> Option<String> {
    Some(match evidence {
        Evidence::Refused { address } => {
            format!("nothing listens at {address}: start the service there or fix the address")
        }
        Evidence::Timeout { address, .. } => format!(
            "{address} gives no answer in time: a firewall drops the traffic, or the host or \
             service is down"
        ),
        Evidence::Unreachable { address } => {
            format!("there is no route to {address}: check the address and this host's routes")
        }
        Evidence::Dns { host, detail } => {
            format!("{host} does not resolve ({detail}): fix the name or its DNS record")
        }
        Evidence::Tls { address, problem } => format!(
            "the TLS handshake with {address} fails ({}): fix its certificate, or pass its CA \
             with --ca-cert",
            problem.kind()
        ),
        Evidence::ProxyRefused { proxy, .. } => format!(
            "the forward proxy {proxy} refused the CONNECT: add the host to NO_PROXY if it is \
             reachable directly"
        ),
        _ => return None,
    })
}

fn first_sentence(text: &str) -> &str {
    let end = text.find(". ").map(|i| i + 1).unwrap_or(text.len());
    text[..end].trim_end_matches('.')
}

/// `host:port` of a URL (the scheme's default port when none is written).
fn host_port(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    Some(if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

/// "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests;
