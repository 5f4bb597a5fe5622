//! The DERP map: tailscale's `DERPMap` JSON (read leniently, as Go's decoder does) and the map
//! Coder assembles from the access URL, the STUN list and a custom map file or URL.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Options;
use crate::checks::Context;
use crate::files::read_regular;
use crate::report::derp::{DerpNode, DerpRegion};
use crate::settings::AccessUrl;

/// Coder's defaults for the embedded relay region (`--derp-server-region-*`).
pub const EMBEDDED_REGION_ID: i64 = 999;
const EMBEDDED_REGION_CODE: &str = "coder";
const EMBEDDED_REGION_NAME: &str = "Coder Embedded Relay";
/// Maps are small (tens of KiB); the HTTP client keeps at most this much of an answer, and a
/// map file is held to the same limit.
const MAX_MAP_BYTES: u64 = crate::net::http::MAX_BODY_BYTES;

/// Why there is no map to probe.
#[derive(Debug)]
pub enum MapProblem {
    /// Nothing is configured: the section is skipped with this reason.
    Skip(String),
    /// A configured input is bad: a finding naming it.
    Invalid(String),
}

impl From<String> for MapProblem {
    fn from(s: String) -> Self {
        MapProblem::Invalid(s)
    }
}

fn too_large(source: &str, size: u64) -> String {
    format!(
        "{source}: too large for a DERP map (at least {size} bytes; the limit is {MAX_MAP_BYTES})"
    )
}

/// Builds the map Coder would serve from the settings, in region-id order.
pub fn build(options: &Options, ctx: &Context) -> Result<Vec<DerpRegion>, MapProblem> {
    let settings = &options.derp;
    let mut regions: BTreeMap<i64, DerpRegion> = BTreeMap::new();

    // The custom map is the base; Coder's own regions are added on top and must not clash.
    let custom = if let Some(path) = &settings.config_path {
        let source = format!("DERP map file {}", path.display());
        let text = read_regular(path, MAX_MAP_BYTES).map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidData && e.to_string().starts_with("larger") {
                too_large(&source, MAX_MAP_BYTES + 1)
            } else {
                format!("{source}: cannot read: {e}")
            }
        })?;
        Some((parse_map(&text, &source)?, source))
    } else if let Some(url) = &settings.config_url {
        let shown = crate::redact::redact_url(url);
        let source = format!("DERP map URL {shown}");
        let response = ctx
            .net
            .http
            .get(url, ctx.deadline, &[("Accept", "application/json")])
            .map_err(|e| format!("{source}: {e}"))?;
        if response.status != 200 {
            return Err(format!("{source}: HTTP status {}", response.status).into());
        }
        // The client cuts the body at its cap: a cut map would only fail as "not valid JSON".
        if response.body_truncated || response.body.len() as u64 > MAX_MAP_BYTES {
            return Err(too_large(&source, response.body.len() as u64).into());
        }
        Some((parse_map(&response.body, &source)?, source))
    } else {
        None
    };
    let source = custom.as_ref().map(|(_, s)| s.clone()).unwrap_or_default();
    if let Some((custom, _)) = custom {
        for region in custom {
            regions.insert(region.region_id, region);
        }
    }

    let mut own = Vec::new();
    if settings.server_enable {
        match options.access_url.as_ref() {
            // A bad access URL is the access URL section's finding (EACS02); here it only
            // means there is no embedded relay to probe.
            Some(access) => match embedded_region(access) {
                Ok(embedded) => {
                    own.push(embedded);
                    if !settings.block_direct {
                        own.extend(stun_regions(&settings.stun_addresses));
                    }
                }
                Err(e) if regions.is_empty() => return Err(MapProblem::Skip(e)),
                Err(_) => {}
            },
            None if regions.is_empty() => {
                return Err(MapProblem::Skip(
                    "no access URL is configured (the embedded relay lives there) and no DERP map \
                     was given (--derp-config-path, --derp-config-url)"
                        .to_string(),
                ))
            }
            None => {}
        }
    } else if regions.is_empty() {
        return Err(MapProblem::Skip(
            "the embedded relay is disabled (--derp-server-enable=false) and no DERP map was given \
             (--derp-config-path, --derp-config-url)"
                .to_string(),
        ));
    }
    for region in own {
        if regions.contains_key(&region.region_id) {
            return Err(MapProblem::Invalid(format!(
                "{source}: region {} clashes with Coder's own region {} ({}); Coder refuses to \
                 start with this map",
                region.region_id, region.region_id, region.region_name
            )));
        }
        regions.insert(region.region_id, region);
    }

    if settings.block_direct {
        // Coder's disable-STUN switch: no STUN anywhere, STUN-only nodes gone.
        for region in regions.values_mut() {
            region.nodes.retain(|n| !n.stun_only);
            for node in &mut region.nodes {
                node.stun_port = -1;
            }
        }
        regions.retain(|_, r| !r.nodes.is_empty());
    }
    Ok(regions.into_values().collect())
}

fn embedded_region(access: &AccessUrl) -> Result<DerpRegion, String> {
    let url = access
        .parsed()
        .map_err(|e| format!("{e}, so the embedded relay cannot be located"))?;
    let force_http = url.scheme() == "http";
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url
        .port_or_known_default()
        .unwrap_or(if force_http { 80 } else { 443 });
    Ok(DerpRegion {
        embedded_relay: true,
        region_id: EMBEDDED_REGION_ID,
        region_code: EMBEDDED_REGION_CODE.to_string(),
        region_name: EMBEDDED_REGION_NAME.to_string(),
        nodes: vec![DerpNode {
            name: format!("{EMBEDDED_REGION_ID}b"),
            region_id: EMBEDDED_REGION_ID,
            host_name: host,
            derp_port: i64::from(port),
            stun_port: -1,
            force_http,
            ..DerpNode::default()
        }],
        ..DerpRegion::default()
    })
}

/// Newest Coder shape: one STUN-only region per address, ids after the embedded region's.
fn stun_regions(addresses: &[String]) -> Vec<DerpRegion> {
    addresses
        .iter()
        .enumerate()
        .filter_map(|(index, address)| {
            let (host, port) = address.rsplit_once(':')?;
            let port: i64 = port.parse().ok()?;
            let id = EMBEDDED_REGION_ID + 1 + index as i64;
            Some(DerpRegion {
                region_id: id,
                region_code: format!("coder_stun_{id}"),
                region_name: format!("Coder STUN {id}"),
                nodes: vec![DerpNode {
                    name: format!("{id}stun0"),
                    region_id: id,
                    host_name: crate::redact::redact_host(
                        host.trim_start_matches('[').trim_end_matches(']'),
                    ),
                    stun_port: port,
                    stun_only: true,
                    ..DerpNode::default()
                }],
                ..DerpRegion::default()
            })
        })
        .collect()
}

/// Parses tailscale's DERPMap JSON as Go would: keys match case-insensitively, unknown keys are
/// ignored, null means the zero value; a wrong type is an error naming where it is.
pub fn parse_map(text: &str, source: &str) -> Result<Vec<DerpRegion>, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("{source}: not valid JSON: {e}"))?;
    let top = match &value {
        Value::Object(o) => o,
        other => {
            return Err(format!(
                "{source}: expected a JSON object, found {}",
                kind(other)
            ))
        }
    };
    let mut regions = Vec::new();
    match field(top, "Regions") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (key, raw) in map {
                let at = format!("Regions[{key:?}]");
                let region = parse_region(raw, &at).map_err(|e| format!("{source}: {e}"))?;
                regions.push(region);
            }
        }
        Some(other) => {
            return Err(format!(
                "{source}: Regions: expected an object keyed by region id, found {}",
                kind(other)
            ))
        }
    }
    if regions.is_empty() {
        return Err(format!("{source}: the DERP map has no regions"));
    }
    let mut seen = BTreeMap::new();
    for region in &regions {
        if let Some(prev) = seen.insert(region.region_id, region.region_code.clone()) {
            return Err(format!(
                "{source}: region id {} is used twice ({prev:?} and {:?})",
                region.region_id, region.region_code
            ));
        }
    }
    regions.sort_by_key(|r| r.region_id);
    Ok(regions)
}

fn parse_region(value: &Value, at: &str) -> Result<DerpRegion, String> {
    let obj = match value {
        Value::Object(o) => o,
        Value::Null => return Ok(DerpRegion::default()),
        other => return Err(format!("{at}: expected an object, found {}", kind(other))),
    };
    let mut nodes = Vec::new();
    match field(obj, "Nodes") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                nodes.push(parse_node(item, &format!("{at}.Nodes[{i}]"))?);
            }
        }
        Some(other) => {
            return Err(format!(
                "{at}.Nodes: expected an array, found {}",
                kind(other)
            ))
        }
    }
    Ok(DerpRegion {
        embedded_relay: get_bool(obj, "EmbeddedRelay", at)?,
        region_id: get_int(obj, "RegionID", at)?,
        region_code: get_string(obj, "RegionCode", at)?,
        region_name: get_string(obj, "RegionName", at)?,
        avoid: get_bool(obj, "Avoid", at)?,
        no_measure_no_home: get_bool(obj, "NoMeasureNoHome", at)?,
        latitude: get_float(obj, "Latitude", at)?,
        longitude: get_float(obj, "Longitude", at)?,
        nodes,
    })
}

fn parse_node(value: &Value, at: &str) -> Result<DerpNode, String> {
    let obj = match value {
        Value::Object(o) => o,
        Value::Null => return Ok(DerpNode::default()),
        other => return Err(format!("{at}: expected an object, found {}", kind(other))),
    };
    // A host with `user:password@` is no host name; hide the userinfo before anything quotes it.
    let host = |name: &str| get_string(obj, name, at).map(|h| crate::redact::redact_host(&h));
    Ok(DerpNode {
        name: get_string(obj, "Name", at)?,
        region_id: get_int(obj, "RegionID", at)?,
        host_name: host("HostName")?,
        cert_name: host("CertName")?,
        ipv4: host("IPv4")?,
        ipv6: host("IPv6")?,
        stun_port: get_int(obj, "STUNPort", at)?,
        stun_only: get_bool(obj, "STUNOnly", at)?,
        derp_port: get_int(obj, "DERPPort", at)?,
        insecure_for_tests: get_bool(obj, "InsecureForTests", at)?,
        force_http: get_bool(obj, "ForceHTTP", at)?,
        stun_test_ip: host("STUNTestIP")?,
        can_port_80: get_bool(obj, "CanPort80", at)?,
    })
}

type Object = serde_json::Map<String, Value>;

/// Go's rule: an exact key match wins, else the first case-insensitive one.
fn field<'a>(obj: &'a Object, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

fn get_int(obj: &Object, name: &str, at: &str) -> Result<i64, String> {
    match field(obj, name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64().unwrap_or_default()),
        Some(other) => Err(format!(
            "{at}.{name}: expected an integer, found {}",
            kind(other)
        )),
    }
}

fn get_float(obj: &Object, name: &str, at: &str) -> Result<f64, String> {
    match field(obj, name) {
        None | Some(Value::Null) => Ok(0.0),
        Some(Value::Number(n)) => Ok(n.as_f64().unwrap_or_default()),
        Some(other) => Err(format!(
            "{at}.{name}: expected a number, found {}",
            kind(other)
        )),
    }
}

fn get_bool(obj: &Object, name: &str, at: &str) -> Result<bool, String> {
    match field(obj, name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!(
            "{at}.{name}: expected true or false, found {}",
            kind(other)
        )),
    }
}

fn get_string(obj: &Object, name: &str, at: &str) -> Result<String, String> {
    match field(obj, name) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!(
            "{at}.{name}: expected a string, found {}",
            kind(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_leniently_like_go() {
        let text = r#"{"regions": {"5": {"regionid": 5, "RegionCode": "x", "Extra": [1],
            "NODES": [{"name": "5a", "HostName": "h", "DERPPort": 8080, "ForceHTTP": true,
            "STUNPort": -1}]}}, "omitDefaultRegions": true}"#;
        let regions = parse_map(text, "test").unwrap();
        assert_eq!(regions.len(), 1);
        assert_eq!(regions[0].region_id, 5);
        let node = &regions[0].nodes[0];
        assert_eq!(node.name, "5a");
        assert_eq!(node.stun_port, -1);
        assert_eq!(node.derp_url(), "http://h:8080/derp");
    }

    #[test]
    fn bad_maps_name_the_source_and_place() {
        let e = parse_map("{", "DERP map file m.json").unwrap_err();
        assert!(e.starts_with("DERP map file m.json: not valid JSON"), "{e}");
        let e = parse_map(r#"{"Regions":{"1":{"RegionID":"abc"}}}"#, "f").unwrap_err();
        assert!(
            e.contains("Regions[\"1\"].RegionID: expected an integer, found string \"abc\""),
            "{e}"
        );
        let e = parse_map(r#"{"Regions":{}}"#, "f").unwrap_err();
        assert!(e.contains("no regions"), "{e}");
    }

    #[test]
    fn derp_urls_follow_coder() {
        let mut node = DerpNode {
            host_name: "example.com".into(),
            derp_port: 443,
            ..DerpNode::default()
        };
        assert_eq!(node.derp_url(), "https://example.com/derp");
        node.derp_port = 0;
        assert_eq!(node.derp_url(), "https://example.com/derp");
        node.force_http = true;
        node.derp_port = 3000;
        assert_eq!(node.derp_url(), "http://example.com:3000/derp");
        node.host_name.clear();
        node.ipv4 = "10.0.0.1".into();
        assert_eq!(node.derp_url(), "http://10.0.0.1:3000/derp");
    }

    #[test]
    fn embedded_and_stun_regions() {
        let r = embedded_region(&AccessUrl::new("http://127.0.0.1:3000")).unwrap();
        assert_eq!(r.nodes[0].name, "999b");
        assert_eq!(r.nodes[0].derp_port, 3000);
        assert!(r.nodes[0].force_http);
        assert_eq!(r.nodes[0].stun_port, -1);
        let s = stun_regions(&["a:1".into(), "b:2".into()]);
        assert_eq!(s[1].region_id, 1001);
        assert_eq!(s[1].region_code, "coder_stun_1001");
        assert_eq!(s[1].nodes[0].name, "1001stun0");
        assert!(s[1].nodes[0].stun_only);
    }
}
