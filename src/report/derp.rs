//! The `derp` section of the report: regions and nodes of the DERP map as Coder reports them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{BaseReport, Evidence, Message, Severity};

#[derive(Debug, Default, Serialize)]
pub struct DerpReport {
    #[serde(flatten)]
    pub base: BaseReport,
    pub healthy: bool,
    pub regions: BTreeMap<String, RegionReport>,
    pub netcheck_logs: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct RegionReport {
    pub healthy: bool,
    pub severity: Severity,
    pub warnings: Vec<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub region: DerpRegion,
    pub node_reports: Vec<NodeReport>,
}

#[derive(Debug, Default, Serialize)]
pub struct NodeReport {
    pub healthy: bool,
    pub severity: Severity,
    pub warnings: Vec<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub node: DerpNode,
    pub node_info: ServerInfo,
    pub can_exchange_messages: bool,
    pub round_trip_ping: String,
    pub round_trip_ping_ms: u64,
    pub uses_websocket: bool,
    pub client_logs: Vec<Vec<String>>,
    pub client_errs: Vec<Vec<String>>,
    pub stun: StunReport,
    /// Additive: what was observed when messages could not be exchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// Coder's `stun` object has Go's untagged (capitalised) names; `mapped_address` is ours.
#[derive(Debug, Default, Serialize)]
pub struct StunReport {
    #[serde(rename = "Enabled")]
    pub enabled: bool,
    #[serde(rename = "CanSTUN")]
    pub can_stun: bool,
    #[serde(rename = "Error")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapped_address: Option<String>,
    /// Additive: what was observed when STUN failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
}

/// Where a node sits, for messages.
pub fn node_label(node: &DerpNode, region: &DerpRegion) -> String {
    format!(
        "node {} in region {} ({})",
        node.name,
        region.region_id,
        if region.region_name.is_empty() {
            &region.region_code
        } else {
            &region.region_name
        }
    )
}

/// The rate limit a server announces (Coder shows it as `node_info`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServerInfo {
    #[serde(rename = "TokenBucketBytesPerSecond")]
    pub token_bucket_bytes_per_second: i64,
    #[serde(rename = "TokenBucketBytesBurst")]
    pub token_bucket_bytes_burst: i64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero_i(n: &i64) -> bool {
    *n == 0
}

fn is_zero_f(n: &f64) -> bool {
    *n == 0.0
}

/// `tailcfg.DERPRegion` with Coder's fork fields, serialised with tailscale's names.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DerpRegion {
    #[serde(rename = "EmbeddedRelay")]
    pub embedded_relay: bool,
    #[serde(rename = "RegionID")]
    pub region_id: i64,
    #[serde(rename = "RegionCode")]
    pub region_code: String,
    #[serde(rename = "RegionName")]
    pub region_name: String,
    #[serde(rename = "Avoid", skip_serializing_if = "is_false")]
    pub avoid: bool,
    #[serde(rename = "NoMeasureNoHome", skip_serializing_if = "is_false")]
    pub no_measure_no_home: bool,
    #[serde(rename = "Latitude", skip_serializing_if = "is_zero_f")]
    pub latitude: f64,
    #[serde(rename = "Longitude", skip_serializing_if = "is_zero_f")]
    pub longitude: f64,
    #[serde(rename = "Nodes")]
    pub nodes: Vec<DerpNode>,
}

/// `tailcfg.DERPNode` (omitempty fields as in Go).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DerpNode {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "RegionID")]
    pub region_id: i64,
    #[serde(rename = "HostName")]
    pub host_name: String,
    #[serde(rename = "CertName", skip_serializing_if = "String::is_empty")]
    pub cert_name: String,
    #[serde(rename = "IPv4", skip_serializing_if = "String::is_empty")]
    pub ipv4: String,
    #[serde(rename = "IPv6", skip_serializing_if = "String::is_empty")]
    pub ipv6: String,
    #[serde(rename = "STUNPort", skip_serializing_if = "is_zero_i")]
    pub stun_port: i64,
    #[serde(rename = "STUNOnly", skip_serializing_if = "is_false")]
    pub stun_only: bool,
    #[serde(rename = "DERPPort", skip_serializing_if = "is_zero_i")]
    pub derp_port: i64,
    #[serde(rename = "InsecureForTests", skip_serializing_if = "is_false")]
    pub insecure_for_tests: bool,
    #[serde(rename = "ForceHTTP", skip_serializing_if = "is_false")]
    pub force_http: bool,
    #[serde(rename = "STUNTestIP", skip_serializing_if = "String::is_empty")]
    pub stun_test_ip: String,
    #[serde(rename = "CanPort80", skip_serializing_if = "is_false")]
    pub can_port_80: bool,
}

impl DerpNode {
    /// How failure texts name this node (its URL, host:port, host, addresses, name), longest
    /// first: replaced, they let failures of different nodes compare equal.
    pub fn subjects(&self) -> Vec<String> {
        let mut out = vec![self.derp_url()];
        for host in [&self.host_name, &self.ipv4, &self.ipv6] {
            if host.is_empty() {
                continue;
            }
            for port in [self.stun_port, self.derp_port] {
                if port > 0 {
                    out.push(format!("{host}:{port}"));
                }
            }
            out.push(host.clone());
        }
        if !self.name.is_empty() {
            out.push(self.name.clone());
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.len()));
        out.dedup();
        out
    }

    /// Coder's URL for the node: https unless ForceHTTP, HostName else IPv4, port only when it
    /// is not the scheme's default, path /derp.
    pub fn derp_url(&self) -> String {
        let scheme = if self.force_http { "http" } else { "https" };
        let mut host = if self.host_name.is_empty() {
            self.ipv4.clone()
        } else {
            self.host_name.clone()
        };
        if host.contains(':') && !host.starts_with('[') {
            host = format!("[{host}]");
        }
        let default_port = if self.force_http { 80 } else { 443 };
        if self.derp_port != 0 && self.derp_port != default_port {
            format!("{scheme}://{host}:{}/derp", self.derp_port)
        } else {
            format!("{scheme}://{host}/derp")
        }
    }
}
