//! Coder's roll-up from nodes to regions to the DERP section (coder-health.md §5.2).

use crate::report::derp::{node_label, DerpReport, NodeReport, RegionReport};
use crate::report::{Code, Message, Severity};

pub const MSG_WEBSOCKET: &str =
    "Node uses WebSockets because the \"Upgrade: DERP\" header may be blocked on the load balancer.";

pub const MSG_ONE_NODE: &str =
    "Region is operational, but performance might be degraded as one node is unhealthy.";

pub const MSG_NO_STUN: &str = "No STUN servers are available.";

pub const MSG_HARD_NAT: &str = "STUN returned different addresses; you may be behind a hard NAT.";

pub const MSG_MISSING_NODE: &str = "Missing node health report, probably a developer error.";

impl NodeReport {
    /// Node verdict: no exchange (unless STUN-only) or a STUN error is an error; the WebSocket
    /// fallback then overwrites the severity with warning (Coder's quirk; healthy stays false).
    pub fn conclude(&mut self, label: &str) {
        self.healthy = true;
        self.severity = Severity::Ok;
        if (!self.can_exchange_messages && !self.node.stun_only) || self.stun.error.is_some() {
            self.healthy = false;
            self.severity = Severity::Error;
        }
        if self.uses_websocket {
            self.warnings.push(Message::new(
                Code::Ederp01,
                format!("{MSG_WEBSOCKET} ({label})"),
            ));
            self.severity = Severity::Warning;
        }
    }
}

impl RegionReport {
    /// Region verdict from its node reports; `expected` is the number of nodes in the map.
    pub fn conclude(&mut self, expected: usize) {
        self.node_reports
            .sort_by(|a, b| a.node.name.cmp(&b.node.name));
        self.healthy = true;
        self.severity = Severity::Ok;
        for node in &self.node_reports {
            self.warnings.extend(node.warnings.iter().cloned());
        }
        let unhealthy: Vec<&NodeReport> = self
            .node_reports
            .iter()
            .filter(|n| n.severity != Severity::Ok)
            .collect();
        if self.node_reports.len() != expected {
            self.healthy = false;
            self.severity = Severity::Error;
            self.error = Some(MSG_MISSING_NODE.to_string());
        } else if expected == 1 {
            self.severity = self.node_reports[0].severity;
            self.healthy = self.severity != Severity::Error;
        } else if unhealthy.len() == 1 {
            self.severity = Severity::Warning;
            let bad = unhealthy[0];
            let why = bad.error.clone().unwrap_or_else(|| {
                format!(
                    "{} is {}",
                    node_label(&bad.node, &self.region),
                    bad.severity.as_str()
                )
            });
            self.warnings.push(Message::new(
                Code::Ederp02,
                format!("{MSG_ONE_NODE} ({why})"),
            ));
        } else if unhealthy.len() > 1 {
            self.healthy = false;
            self.severity = unhealthy
                .iter()
                .map(|n| n.severity)
                .max()
                .unwrap_or_default();
        }
    }
}

impl DerpReport {
    /// Section verdict: region warnings, ESTUN02 (entry only), ESTUN01 (warning), then the
    /// worst region.
    pub fn conclude(&mut self, hard_nat: Option<String>) {
        self.healthy = true;
        let mut severity = Severity::Ok;
        let mut warnings = Vec::new();
        for region in self.regions.values() {
            warnings.extend(region.warnings.iter().cloned());
            if !region.healthy {
                self.healthy = false;
            }
        }
        if let Some(detail) = hard_nat {
            warnings.push(Message::new(
                Code::Estun02,
                format!("{MSG_HARD_NAT} ({detail})"),
            ));
        }
        let nodes = || self.regions.values().flat_map(|r| r.node_reports.iter());
        let enabled = nodes().filter(|n| n.stun.enabled).count();
        let capable = nodes().filter(|n| n.stun.can_stun).count();
        if enabled > 0 && capable == 0 {
            severity = Severity::Warning;
            let names: Vec<&str> = nodes()
                .filter(|n| n.stun.enabled)
                .map(|n| n.node.name.as_str())
                .collect();
            warnings.push(Message::new(
                Code::Estun01,
                format!("{MSG_NO_STUN} (none of {} answered)", names.join(", ")),
            ));
        }
        for region in self.regions.values() {
            severity = severity.max(region.severity);
        }
        self.base.severity = severity;
        self.base.warnings = warnings;
        // Coder leaves the section error empty (failures stay on nodes and regions); the table
        // gets them through `problems`.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::derp::DerpNode;

    fn node(name: &str, stun_only: bool, exchange: bool, stun_err: bool, ws: bool) -> NodeReport {
        let mut n = NodeReport {
            node: DerpNode {
                name: name.into(),
                stun_only,
                ..DerpNode::default()
            },
            can_exchange_messages: exchange,
            uses_websocket: ws,
            ..NodeReport::default()
        };
        n.stun.enabled = stun_err || stun_only;
        n.stun.can_stun = stun_only && !stun_err;
        n.stun.error = stun_err.then(|| "probe stun: x".to_string());
        n.conclude(name);
        n
    }

    fn region(nodes: Vec<NodeReport>) -> RegionReport {
        let count = nodes.len();
        let mut r = RegionReport {
            node_reports: nodes,
            ..RegionReport::default()
        };
        r.conclude(count);
        r
    }

    fn section(regions: Vec<RegionReport>, hard_nat: bool) -> DerpReport {
        let mut d = DerpReport::default();
        for (i, r) in regions.into_iter().enumerate() {
            d.regions.insert(i.to_string(), r);
        }
        d.conclude(hard_nat.then(|| "a vs b".to_string()));
        d
    }

    fn codes(w: &[Message]) -> Vec<&str> {
        w.iter().map(|m| m.code.as_str()).collect()
    }

    #[test]
    fn websocket_fallback_overwrites_error_with_warning() {
        let n = node("1a", false, false, false, true);
        assert!(!n.healthy);
        assert_eq!(n.severity, Severity::Warning);
        assert_eq!(codes(&n.warnings), ["EDERP01"]);
    }

    #[test]
    fn e3_one_bad_node_of_two_is_a_warning() {
        let r = region(vec![
            node("1b", false, false, false, false),
            node("1a", false, true, false, false),
        ]);
        assert!(r.healthy);
        assert_eq!(r.severity, Severity::Warning);
        assert_eq!(r.node_reports[0].node.name, "1a");
        let d = section(vec![r], false);
        assert!(d.healthy);
        assert_eq!(d.base.severity, Severity::Warning);
        assert_eq!(codes(&d.base.warnings), ["EDERP02"]);
    }

    #[test]
    fn e4_good_relay_and_failing_stun_only_node() {
        let r = region(vec![
            node("1a", false, true, false, false),
            node("badstun", true, false, true, false),
        ]);
        let d = section(vec![r], false);
        assert!(d.healthy);
        assert_eq!(d.base.severity, Severity::Warning);
        assert_eq!(codes(&d.base.warnings), ["EDERP02", "ESTUN01"]);
    }

    #[test]
    fn e9_single_failing_stun_only_region_is_an_error() {
        let d = section(
            vec![region(vec![node("badstun", true, false, true, false)])],
            false,
        );
        assert!(!d.healthy);
        assert_eq!(d.base.severity, Severity::Error);
        assert_eq!(codes(&d.base.warnings), ["ESTUN01"]);
    }

    #[test]
    fn two_websocket_nodes_make_an_unhealthy_warning_region() {
        let r = region(vec![
            node("a", false, true, false, true),
            node("b", false, true, false, true),
        ]);
        assert!(!r.healthy);
        assert_eq!(r.severity, Severity::Warning);
    }

    #[test]
    fn hard_nat_does_not_raise_severity_and_missing_node_is_an_error() {
        let d = section(
            vec![region(vec![node("a", false, true, false, false)])],
            true,
        );
        assert_eq!(d.base.severity, Severity::Ok);
        assert_eq!(codes(&d.base.warnings), ["ESTUN02"]);
        let mut r = RegionReport::default();
        r.conclude(1);
        assert_eq!(r.severity, Severity::Error);
        assert_eq!(r.error.as_deref(), Some(MSG_MISSING_NODE));
    }
}
