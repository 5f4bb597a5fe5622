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
    let tls = &ctx.net.tls;

    // Every node that has STUN, in map order, probed together from one socket.
    let stun_nodes = node_positions(&regions, |n| n.stun_port != -1);

    // Every relay node (not STUN-only), in map order, probed by a fixed pool of workers.
    let relay_nodes = node_positions(&regions, |n| !n.stun_only);

    let regions_ref = &regions;
    let (stun_nodes_ref, relay_nodes_ref) = (&stun_nodes, &relay_nodes);
    let (relay_results, stun_results) = std::thread::scope(|scope| {
        let stun_job = scope.spawn(move || {
            // Each lookup reports as it finishes and is probed at once: one slow name must not
            // leave the others unsent until the deadline.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::scope(|inner| {
                inner.spawn(move || {
                    crate::pool::map(
                        stun_nodes_ref.len(),
                        STUN_LOOKUP_WORKERS,
                        "check-derp-stun",
                        |i| {
                            let (r, n) = stun_nodes_ref[i];
                            let target = stun::target(&regions_ref[r].nodes[n], deadline);
                            let _ = tx.send((i, target));
                        },
                    )
                });
                stun::probe_all(stun_nodes_ref.len(), rx, deadline)
            })
        });
        let relay_results = crate::pool::map(
            relay_nodes_ref.len(),
            RELAY_WORKERS,
            "check-derp-relay",
            |i| {
                let (r, n) = relay_nodes_ref[i];
                let node = &regions_ref[r].nodes[n];
                let url = node.derp_url();
                let proxy = proxy_for(ctx, &url, &node.name);
                exchange::run(&url, tls, proxy, deadline)
            },
        );
        (relay_results, stun_job.join().ok())
    });
    // exchanges[r][n]: None for a STUN-only node, Some(None) for a probe that panicked.
    let mut exchanges: Vec<Vec<Option<Option<exchange::Exchange>>>> = regions
        .iter()
        .map(|region| region.nodes.iter().map(|_| None).collect())
        .collect();
    for (&(r, n), result) in relay_nodes.iter().zip(relay_results) {
        exchanges[r][n] = Some(result);
    }

    let mut stun_by_node = std::collections::HashMap::new();
    if let Some(results) = &stun_results {
        for (&(r, n), outcome) in stun_nodes.iter().zip(results) {
            stun_by_node.insert((r, n), outcome.clone());
        }
    }

    for (r, region) in regions.iter().enumerate() {
        let mut region_report = RegionReport {
            region: region.clone(),
            ..RegionReport::default()
        };
        for (n, node) in region.nodes.iter().enumerate() {
            let label = crate::report::derp::node_label(node, region);
            let mut node_report = NodeReport {
                node: node.clone(),
                ..NodeReport::default()
            };
            let mut problems = Vec::new();
            match &exchanges[r][n] {
                None => {}
                // A panicked probe leaves no report: the region says a node is missing.
                Some(None) => continue,
                Some(Some(ex)) => {
                    node_report.can_exchange_messages = ex.can_exchange_messages;
                    node_report.node_info = ex.node_info;
                    node_report.uses_websocket = ex.uses_websocket;
                    node_report.client_logs = ex.client_logs.to_vec();
                    node_report.client_errs = ex.client_errs.to_vec();
                    if let Some(rtt) = ex.round_trip {
                        node_report.round_trip_ping = crate::duration::go_string(rtt);
                        node_report.round_trip_ping_ms = rtt.as_millis() as u64;
                    }
                    if let Some(f) = &ex.failure {
                        problems.push(format!(
                            "cannot exchange messages through {}: {f}",
                            crate::redact::redact_url(&node.derp_url())
                        ));
                    }
                }
            }
            if node.stun_port != -1 {
                node_report.stun.enabled = true;
                match stun_by_node.get(&(r, n)) {
                    Some(outcome) => {
                        node_report.stun.can_stun = outcome.can_stun;
                        node_report.stun.error = outcome.error.clone();
                        node_report.stun.evidence = outcome.evidence.clone();
                        node_report.stun.mapped_address = outcome.mapped.map(|a| a.to_string());
                    }
                    None => {
                        node_report.stun.error =
                            Some("probe stun: the STUN probe did not finish".into())
                    }
                }
                if let Some(e) = &node_report.stun.error {
                    problems.push(format!("STUN failed ({e})"));
                }
            }
            node_report.conclude(&label);
            if !node_report.healthy && !problems.is_empty() {
                node_report.error = Some(format!("{label}: {}", problems.join("; ")));
            }
            region_report.node_reports.push(node_report);
        }
        region_report.conclude(region.nodes.len());
        report
            .regions
            .insert(region.region_id.to_string(), region_report);
    }

    report.conclude(hard_nat(&stun_nodes, &regions, stun_results.as_deref()));
    report.netcheck_logs = netcheck_logs(&stun_nodes, &regions, stun_results.as_deref());
    report
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

/// `(region index, node index)` of every node that `wanted` picks, in map order.
fn node_positions(
    regions: &[DerpRegion],
    wanted: impl Fn(&DerpNode) -> bool,
) -> Vec<(usize, usize)> {
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
fn hard_nat(
    stun_nodes: &[(usize, usize)],
    regions: &[DerpRegion],
    results: Option<&[stun::StunOutcome]>,
) -> Option<String> {
    let results = results?;
    let mut first: Option<(&str, std::net::SocketAddr)> = None;
    for (&(r, n), outcome) in stun_nodes.iter().zip(results) {
        let Some(mapped) = outcome.mapped.filter(|m| m.is_ipv4()) else {
            continue;
        };
        let name = regions[r].nodes[n].name.as_str();
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
    stun_nodes: &[(usize, usize)],
    regions: &[DerpRegion],
    results: Option<&[stun::StunOutcome]>,
) -> Vec<String> {
    let Some(results) = results else {
        return Vec::new();
    };
    stun_nodes
        .iter()
        .zip(results)
        .map(|(&(r, n), o)| {
            let name = &regions[r].nodes[n].name;
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
