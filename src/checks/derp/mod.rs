//! DERP and STUN section: builds the DERP map as Coder does, then probes every relay node (two
//! clients exchange a packet through it) and every STUN node, all under one deadline, on fixed
//! pools of workers (a map may name thousands of nodes).

pub(crate) mod client;
mod exchange;
pub mod map;
pub(crate) mod protocol;
mod rollup;
pub(crate) mod stun;
mod transport;

use std::collections::HashMap;
use std::time::Instant;

use crate::checks::{Context, REPORT_MARGIN};
use crate::report::derp::{DerpNode, DerpRegion, DerpReport, NodeReport, RegionReport};
use crate::report::Code;
use crate::settings::{AccessUrl, CheckSettings, DerpSettings};

/// What the DERP section is given: Coder's DERP options and the access URL (where the embedded
/// relay lives).
pub struct Options {
    pub access_url: Option<AccessUrl>,
    pub derp: DerpSettings,
}

impl From<&CheckSettings> for Options {
    fn from(settings: &CheckSettings) -> Options {
        Options {
            access_url: settings.access_url.clone(),
            derp: settings.derp.clone(),
        }
    }
}

/// Threads looking up STUN targets (each lookup also takes a slot of `net::lookup`'s pool).
const STUN_LOOKUP_WORKERS: usize = 32;
/// Relay nodes probed at once; a map with more waits for a free worker, within the deadline.
const RELAY_WORKERS: usize = 64;

pub fn run(options: &Options, ctx: &Context) -> DerpReport {
    let mut report = DerpReport::default();
    let regions = match map::build(options, ctx) {
        Ok(regions) => regions,
        Err(map::MapProblem::Skip(reason)) => {
            report.base.skip(reason);
            return report;
        }
        Err(map::MapProblem::Invalid(problem)) => {
            report.base.fail(Code::Eunknown, problem);
            return report;
        }
    };
    let deadline = ctx.deadline.less(REPORT_MARGIN).at();
    let probes = probe(&regions, ctx, deadline);
    for (r, region) in regions.iter().enumerate() {
        report.regions.insert(
            region.region_id.to_string(),
            region_report(r, region, &probes),
        );
    }
    let stun = probes.stun.as_deref();
    report.conclude(hard_nat(&regions, stun));
    report.netcheck_logs = netcheck_logs(&regions, stun);
    report
}

/// A node's place in the map: (region index, node index).
type At = (usize, usize);

/// What probing a relay node gave.
enum Relay {
    Probed(Box<exchange::Exchange>),
    /// The probe panicked: no report, and the region says a node is missing.
    Panicked,
}

/// What probing every node gave.
struct Probes {
    /// Every relay node (not STUN-only).
    relays: HashMap<At, Relay>,
    /// Every STUN node's outcome, in map order; `None` when the STUN prober itself failed.
    stun: Option<Vec<(At, stun::StunOutcome)>>,
    /// Where each node's outcome sits in `stun` (a map may name thousands of nodes).
    stun_index: HashMap<At, usize>,
}

impl Probes {
    fn stun_outcome(&self, at: At) -> Option<&stun::StunOutcome> {
        let i = *self.stun_index.get(&at)?;
        self.stun.as_ref().map(|all| &all[i].1)
    }
}

/// Probes every relay node (two clients exchange a packet through it, on a fixed pool of
/// workers) and every STUN node (together, from one socket per family), at once.
fn probe(regions: &[DerpRegion], ctx: &Context, deadline: Instant) -> Probes {
    let stun_nodes = node_positions(regions, |n| n.stun_port != -1);
    let relay_nodes = node_positions(regions, |n| !n.stun_only);
    let (relay_results, stun_results) = std::thread::scope(|scope| {
        let stun_job = scope.spawn(|| probe_stun(regions, &stun_nodes, deadline));
        let relay_results =
            crate::pool::map(relay_nodes.len(), RELAY_WORKERS, "check-derp-relay", |i| {
                let (r, n) = relay_nodes[i];
                let node = &regions[r].nodes[n];
                let url = node.derp_url();
                let proxy = proxy_for(ctx, &url, &node.name);
                exchange::run(&url, &ctx.net.tls, proxy, deadline)
            });
        (relay_results, stun_job.join().ok())
    });
    let relays = relay_nodes
        .into_iter()
        .zip(relay_results)
        .map(|(at, result)| {
            (
                at,
                result.map_or(Relay::Panicked, |ex| Relay::Probed(Box::new(ex))),
            )
        })
        .collect();
    let stun_index = stun_nodes
        .iter()
        .enumerate()
        .map(|(i, at)| (*at, i))
        .collect();
    let stun = stun_results.map(|results| stun_nodes.into_iter().zip(results).collect());
    Probes {
        relays,
        stun,
        stun_index,
    }
}

/// Looks up every STUN target on a pool of threads and probes each as soon as its lookup
/// reports: one slow name must not leave the others unsent until the deadline.
fn probe_stun(regions: &[DerpRegion], nodes: &[At], deadline: Instant) -> Vec<stun::StunOutcome> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|inner| {
        inner.spawn(move || {
            crate::pool::map(nodes.len(), STUN_LOOKUP_WORKERS, "check-derp-stun", |i| {
                let (r, n) = nodes[i];
                let target = stun::target(&regions[r].nodes[n], deadline);
                let _ = tx.send((i, target));
            })
        });
        stun::probe_all(nodes.len(), rx, deadline)
    })
}

/// One region's report from its nodes' probes, concluded as Coder does.
fn region_report(r: usize, region: &DerpRegion, probes: &Probes) -> RegionReport {
    let mut region_report = RegionReport {
        region: region.clone(),
        ..RegionReport::default()
    };
    for (n, node) in region.nodes.iter().enumerate() {
        if let Some(node_report) = node_report(region, node, (r, n), probes) {
            region_report.node_reports.push(node_report);
        }
    }
    region_report.conclude(region.nodes.len());
    region_report
}

/// One node's report; `None` when its relay probe panicked.
fn node_report(
    region: &DerpRegion,
    node: &DerpNode,
    at: At,
    probes: &Probes,
) -> Option<NodeReport> {
    let label = crate::report::derp::node_label(node, region);
    let mut report = NodeReport {
        node: node.clone(),
        ..NodeReport::default()
    };
    let mut problems = Vec::new();
    match probes.relays.get(&at) {
        None => {}
        Some(Relay::Panicked) => return None,
        Some(Relay::Probed(ex)) => {
            report.can_exchange_messages = ex.can_exchange_messages;
            report.node_info = ex.node_info;
            report.uses_websocket = ex.uses_websocket;
            report.client_logs = ex.client_logs.to_vec();
            report.client_errs = ex.client_errs.to_vec();
            if let Some(rtt) = ex.round_trip {
                report.round_trip_ping = crate::duration::go_string(rtt);
                report.round_trip_ping_ms = rtt.as_millis() as u64;
            }
            if let Some(f) = &ex.failure {
                report.evidence = ex.evidence.clone();
                problems.push(format!(
                    "cannot exchange messages through {}: {f}",
                    crate::redact::redact_url(&node.derp_url())
                ));
            }
        }
    }
    if node.stun_port != -1 {
        report.stun.enabled = true;
        match probes.stun_outcome(at) {
            Some(outcome) => {
                report.stun.can_stun = outcome.can_stun;
                report.stun.error = outcome.error.clone();
                report.stun.evidence = outcome.evidence.clone();
                report.stun.mapped_address = outcome.mapped.map(|a| a.to_string());
            }
            None => report.stun.error = Some("probe stun: the STUN probe did not finish".into()),
        }
        if let Some(e) = &report.stun.error {
            problems.push(format!("STUN failed ({e})"));
        }
    }
    report.conclude(&label);
    if !report.healthy && !problems.is_empty() {
        report.error = Some(format!("{label}: {}", problems.join("; ")));
    }
    Some(report)
}

/// The proxy the environment names for a DERP node's URL (noted for `--verbose`).
fn proxy_for(ctx: &Context, url: &str, name: &str) -> Option<crate::net::proxy::ProxyUrl> {
    use crate::net::proxy::Route;
    let parsed = url::Url::parse(url).ok()?;
    let route = ctx.net.proxy.route_for_url(&parsed);
    ctx.net
        .routes
        .note(&ctx.net.proxy, &format!("DERP node {name} {url}"), &route);
    match route {
        Route::Proxy(p) => Some(p.clone()),
        Route::Direct(_) => None,
    }
}

/// Every node that `wanted` picks, in map order.
fn node_positions(regions: &[DerpRegion], wanted: impl Fn(&DerpNode) -> bool) -> Vec<At> {
    regions
        .iter()
        .enumerate()
        .flat_map(|(r, region)| {
            region
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| wanted(n))
                .map(move |(n, _)| (r, n))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// ESTUN02's evidence: two servers that saw different IPv4 mappings of our one socket.
fn hard_nat(regions: &[DerpRegion], results: Option<&[(At, stun::StunOutcome)]>) -> Option<String> {
    let mut first: Option<(&str, std::net::SocketAddr)> = None;
    for ((r, n), outcome) in results? {
        let Some(mapped) = outcome.mapped.filter(|m| m.is_ipv4()) else {
            continue;
        };
        let name = regions[*r].nodes[*n].name.as_str();
        match first {
            None => first = Some((name, mapped)),
            Some((first_name, first_mapped)) if first_mapped != mapped => {
                return Some(format!(
                    "{first_name} saw us as {first_mapped}, {name} as {mapped}"
                ))
            }
            Some(_) => {}
        }
    }
    None
}

/// Our stand-in for netcheck's log: one line per STUN probe.
fn netcheck_logs(
    regions: &[DerpRegion],
    results: Option<&[(At, stun::StunOutcome)]>,
) -> Vec<String> {
    results
        .unwrap_or_default()
        .iter()
        .map(|((r, n), o)| {
            let name = &regions[*r].nodes[*n].name;
            let server = o
                .server
                .map(|s| s.to_string())
                .unwrap_or_else(|| "?".to_string());
            match (&o.mapped, &o.error) {
                (Some(m), _) => format!(
                    "netcheck: STUN {name} ({server}) mapped us to {m} in {}",
                    o.rtt.map(crate::duration::go_string).unwrap_or_default()
                ),
                (None, Some(e)) => format!("netcheck: STUN {name} ({server}): {e}"),
                _ => format!("netcheck: STUN {name} ({server}): no answer"),
            }
        })
        .collect()
}
