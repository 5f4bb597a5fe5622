//! STUN Binding probes to every STUN-enabled node from ONE local UDP socket per address family,
//! so that differing mapped addresses mean a NAT that maps per destination (ESTUN02), not just
//! different local ports.
//!
//! Codec: `stun-types` 2.0.4 (maintained, sans-IO, fits a blocking socket with read timeouts);
//! it has no MAPPED-ADDRESS type, so that fallback and the non-standard 0x8020 XOR attribute are
//! decoded from the raw attribute bytes here.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use stun_types::attribute::{AttributeType, ErrorCode, Software, XorMappedAddress};
use stun_types::message::{Message, MessageClass, MessageWriteVec, TransactionId, BINDING};
use stun_types::prelude::*;

use super::map::DerpNode;
use super::transport::resolve;

/// First retransmission; later ones double, up to `MAX_INTERVAL`, while the deadline allows.
const FIRST_INTERVAL: Duration = Duration::from_millis(250);
const MAX_INTERVAL: Duration = Duration::from_secs(2);
const MAPPED_ADDRESS: AttributeType = AttributeType::new(0x0001);
const XOR_MAPPED_ADDRESS_ALT: AttributeType = AttributeType::new(0x8020);

#[derive(Clone, Debug, Default)]
pub struct StunOutcome {
    pub can_stun: bool,
    pub error: Option<String>,
    pub server: Option<SocketAddr>,
    pub mapped: Option<SocketAddr>,
    pub rtt: Option<Duration>,
}

/// Coder's STUN target for a node: port (0 -> 3478), then STUNTestIP, the first DNS answer for
/// HostName, IPv4, IPv6.
pub fn target(node: &DerpNode, deadline: Instant) -> Result<SocketAddr, String> {
    let port = match node.stun_port {
        0 => 3478,
        p if (0..=65535).contains(&p) => p as u16,
        p => return Err(format!("invalid stun port {p}")),
    };
    if !node.stun_test_ip.is_empty() {
        let ip: IpAddr = node
            .stun_test_ip
            .parse()
            .map_err(|_| format!("invalid STUNTestIP {:?}", node.stun_test_ip))?;
        return Ok(SocketAddr::new(ip, port));
    }
    if !node.host_name.is_empty() {
        return resolve(&node.host_name, port, deadline).map(|a| a[0]);
    }
    if !node.ipv4.is_empty() {
        let ip: Ipv4Addr = node
            .ipv4
            .parse()
            .map_err(|_| format!("invalid IPv4 {:?}", node.ipv4))?;
        return Ok(SocketAddr::new(IpAddr::V4(ip), port));
    }
    if !node.ipv6.is_empty() {
        let ip: Ipv6Addr = node
            .ipv6
            .parse()
            .map_err(|_| format!("invalid IPv6 {:?}", node.ipv6))?;
        return Ok(SocketAddr::new(IpAddr::V6(ip), port));
    }
    Err("no stun ips provided".to_string())
}

struct Pending {
    server: SocketAddr,
    next_send: Instant,
    interval: Duration,
    first_send: Option<Instant>,
    done: bool,
}

/// Probes every resolved target until each answered or the deadline passed. Unresolved targets
/// keep their error. Results are in the order of `targets`.
pub fn probe_all(targets: &[Result<SocketAddr, String>], deadline: Instant) -> Vec<StunOutcome> {
    let mut out: Vec<StunOutcome> = targets
        .iter()
        .map(|t| StunOutcome {
            error: t.as_ref().err().map(|e| format!("get stun addr: {e}")),
            server: t.as_ref().ok().copied(),
            ..StunOutcome::default()
        })
        .collect();
    let now = Instant::now();
    let mut pending: Vec<Option<Pending>> = targets
        .iter()
        .map(|t| {
            t.as_ref().ok().map(|server| Pending {
                server: *server,
                next_send: now,
                interval: FIRST_INTERVAL,
                first_send: None,
                done: false,
            })
        })
        .collect();
    let v4 = open_socket(&pending, false, &mut out, "0.0.0.0:0");
    let v6 = open_socket(&pending, true, &mut out, "[::]:0");
    let mut txids: HashMap<TransactionId, usize> = HashMap::new();

    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        // Send what is due.
        let mut next_event = deadline;
        for (i, slot) in pending.iter_mut().enumerate() {
            let Some(p) = slot.as_mut().filter(|p| !p.done) else {
                continue;
            };
            let socket = if p.server.is_ipv4() { &v4 } else { &v6 };
            let Some(socket) = socket else {
                p.done = true;
                continue;
            };
            if p.next_send <= now {
                let (bytes, txid) = binding_request();
                txids.insert(txid, i);
                if let Err(e) = socket.send_to(&bytes, p.server) {
                    out[i].error = Some(format!("probe stun: send to {}: {e}", p.server));
                    p.done = true;
                    continue;
                }
                p.first_send.get_or_insert(now);
                p.next_send = now + p.interval;
                p.interval = (p.interval * 2).min(MAX_INTERVAL);
            }
            next_event = next_event.min(p.next_send);
        }
        if pending.iter().flatten().all(|p| p.done) {
            break;
        }
        // Wait for answers until the next send is due.
        let wait = next_event
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        for socket in [&v4, &v6].into_iter().flatten() {
            let share = if v4.is_some() && v6.is_some() {
                wait / 2
            } else {
                wait
            };
            let _ = socket.set_read_timeout(Some(share.max(Duration::from_millis(1))));
            let mut buf = [0u8; 1500];
            // Drain everything that arrived; a timeout ends the turn.
            while let Ok((n, _from)) = socket.recv_from(&mut buf) {
                if let Some((i, result)) = parse_response(&buf[..n], &txids) {
                    let Some(p) = pending[i].as_mut().filter(|p| !p.done) else {
                        continue;
                    };
                    p.done = true;
                    match result {
                        Ok(mapped) => {
                            out[i].can_stun = true;
                            out[i].error = None;
                            out[i].mapped = Some(mapped);
                            out[i].rtt = p.first_send.map(|t| t.elapsed());
                        }
                        Err(e) => out[i].error = Some(format!("probe stun: {e}")),
                    }
                }
                let _ = socket.set_read_timeout(Some(Duration::from_millis(1)));
            }
        }
    }
    for (i, slot) in pending.iter().enumerate() {
        if let Some(p) = slot {
            if !p.done && out[i].error.is_none() {
                out[i].error = Some(format!(
                    "probe stun: no answer from {} before the deadline",
                    p.server
                ));
            }
        }
    }
    out
}

fn open_socket(
    pending: &[Option<Pending>],
    v6: bool,
    out: &mut [StunOutcome],
    bind: &str,
) -> Option<UdpSocket> {
    if !pending.iter().flatten().any(|p| p.server.is_ipv6() == v6) {
        return None;
    }
    match UdpSocket::bind(bind) {
        Ok(s) => Some(s),
        Err(e) => {
            for (i, p) in pending.iter().enumerate() {
                if p.as_ref().is_some_and(|p| p.server.is_ipv6() == v6) {
                    out[i].error = Some(format!("probe stun: cannot open a UDP socket: {e}"));
                }
            }
            None
        }
    }
}

/// A netcheck-style request: SOFTWARE "tailnode" and FINGERPRINT.
fn binding_request() -> (Vec<u8>, TransactionId) {
    let mut msg = Message::builder_request(BINDING, MessageWriteVec::new());
    if let Ok(software) = Software::new("tailnode") {
        let _ = msg.add_attribute(&software);
    }
    let _ = msg.add_fingerprint();
    let bytes = msg.finish();
    let txid = Message::from_bytes(&bytes)
        .map(|m| m.transaction_id())
        .unwrap_or_else(|_| TransactionId::generate());
    (bytes, txid)
}

/// Returns the target index and its mapped address (or the server's error) for an answer to
/// one of our requests; anything else is dropped.
fn parse_response(
    data: &[u8],
    txids: &HashMap<TransactionId, usize>,
) -> Option<(usize, Result<SocketAddr, String>)> {
    let msg = Message::from_bytes(data).ok()?;
    if !msg.has_method(BINDING) {
        return None;
    }
    let txid = msg.transaction_id();
    let index = *txids.get(&txid)?;
    if msg.has_class(MessageClass::Error) {
        let text = match msg.attribute::<ErrorCode>() {
            Ok(e) => format!("error response {} {}", e.code(), e.reason()),
            Err(_) => "error response without ERROR-CODE".to_string(),
        };
        return Some((index, Err(text)));
    }
    if !msg.has_class(MessageClass::Success) {
        return None;
    }
    Some((index, mapped_address(&msg, txid)))
}

fn mapped_address(msg: &Message, txid: TransactionId) -> Result<SocketAddr, String> {
    if let Ok(xor) = msg.attribute::<XorMappedAddress>() {
        return Ok(unmap(xor.addr(txid)));
    }
    if let Some(raw) = msg.raw_attribute(XOR_MAPPED_ADDRESS_ALT) {
        if let Some(addr) = decode_address(&raw.value, Some(txid)) {
            return Ok(unmap(addr));
        }
    }
    if let Some(raw) = msg.raw_attribute(MAPPED_ADDRESS) {
        if let Some(addr) = decode_address(&raw.value, None) {
            return Ok(unmap(addr));
        }
    }
    Err("malformed response: no usable (XOR-)MAPPED-ADDRESS".to_string())
}

/// Decodes an (XOR-)MAPPED-ADDRESS value: reserved, family, port, address.
fn decode_address(value: &[u8], xor: Option<TransactionId>) -> Option<SocketAddr> {
    const COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
    if value.len() < 4 {
        return None;
    }
    let mut mask = COOKIE.to_vec();
    if let Some(txid) = xor {
        mask.extend_from_slice(&u128::from(txid).to_be_bytes()[4..]);
    }
    let unmask = |bytes: &[u8]| -> Vec<u8> {
        bytes
            .iter()
            .enumerate()
            .map(|(i, b)| if xor.is_some() { b ^ mask[i] } else { *b })
            .collect()
    };
    let port_bytes = unmask(&value[2..4]);
    let port = u16::from_be_bytes([port_bytes[0], port_bytes[1]]);
    match value[1] {
        0x01 if value.len() >= 8 => {
            let a = unmask(&value[4..8]);
            Some(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])),
                port,
            ))
        }
        0x02 if value.len() >= 20 => {
            let a = unmask(&value[4..20]);
            let octets: [u8; 16] = a.try_into().ok()?;
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port))
        }
        _ => None,
    }
}

fn unmap(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_xor_and_plain_addresses() {
        // derp-stun.md 3.3's example: X-Port E9 5A, X-Address 5E 12 A4 43 -> 127.0.0.1:51272.
        let xor = [0, 1, 0xE9, 0x5A, 0x5E, 0x12, 0xA4, 0x43];
        let txid = TransactionId::from(0u128);
        assert_eq!(
            decode_address(&xor, Some(txid)),
            Some("127.0.0.1:51272".parse().unwrap())
        );
        let plain = [0, 1, 0xC8, 0x48, 127, 0, 0, 1];
        assert_eq!(
            decode_address(&plain, None),
            Some("127.0.0.1:51272".parse().unwrap())
        );
        assert_eq!(decode_address(&[0, 9, 0, 0], None), None);
    }

    #[test]
    fn mapped_address_is_the_fallback_and_strangers_are_dropped() {
        let txid = TransactionId::from(0x0102_0304_0506_0708_090a_0b0cu128);
        let mut data = vec![0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xA4, 0x42];
        data.extend_from_slice(&u128::from(txid).to_be_bytes()[4..]);
        data.extend_from_slice(&[0x00, 0x01, 0x00, 0x08, 0, 1, 0x1F, 0x90, 192, 0, 2, 7]);
        let txids = HashMap::from([(txid, 3usize)]);
        let (index, mapped) = parse_response(&data, &txids).unwrap();
        assert_eq!(index, 3);
        assert_eq!(mapped.unwrap(), "192.0.2.7:8080".parse().unwrap());
        assert!(parse_response(&data, &HashMap::new()).is_none());
        assert!(parse_response(b"garbage", &txids).is_none());
    }

    #[test]
    fn request_is_netcheck_shaped() {
        let (bytes, _) = binding_request();
        assert_eq!(bytes.len(), 40);
        assert_eq!(&bytes[..2], &[0, 1]);
        assert_eq!(&bytes[20..24], &[0x80, 0x22, 0, 8]);
        assert_eq!(&bytes[32..34], &[0x80, 0x28]);
    }

    #[test]
    fn stun_targets_follow_coder() {
        let far = Instant::now() + Duration::from_secs(1);
        let mut node = DerpNode {
            ipv4: "10.1.2.3".into(),
            ..DerpNode::default()
        };
        assert_eq!(
            target(&node, far).unwrap(),
            "10.1.2.3:3478".parse().unwrap()
        );
        node.stun_port = 70000;
        assert_eq!(target(&node, far).unwrap_err(), "invalid stun port 70000");
        node.stun_port = 1;
        node.ipv4.clear();
        assert_eq!(target(&node, far).unwrap_err(), "no stun ips provided");
    }
}
