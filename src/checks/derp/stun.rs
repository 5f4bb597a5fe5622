//! STUN Binding probes to every STUN-enabled node from ONE local UDP socket per address family,
//! so that differing mapped addresses mean a NAT that maps per destination (ESTUN02), not just
//! different local ports.
//!
//! Codec: `stun-types` 2.0.4 (maintained, sans-IO, fits a blocking socket with read timeouts);
//! it has no MAPPED-ADDRESS type, so that fallback and the non-standard 0x8020 XOR attribute are
//! decoded from the raw attribute bytes here.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use stun_types::attribute::{AttributeType, ErrorCode, Software, XorMappedAddress};
use stun_types::message::{Message, MessageClass, MessageWriteVec, TransactionId, BINDING};
use stun_types::prelude::*;

use super::transport::resolve;
use crate::net::conn::io_evidence;
use crate::report::derp::DerpNode;
use crate::report::{Evidence, Phase};

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
    /// What was observed when it failed (no answer in time, an unreachable network).
    pub evidence: Option<Evidence>,
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
    sends: u32,
    done: bool,
}

/// How long one wait for answers may last while lookups are still running, so a target whose
/// lookup just finished is probed promptly.
const LOOKUP_POLL: Duration = Duration::from_millis(20);

/// Probes each target as soon as its lookup arrives on `arrivals` (index, address or lookup
/// error), until each answered or the deadline passed: one slow lookup must not hold back the
/// others. Results are in index order, `count` of them.
pub fn probe_all(
    count: usize,
    arrivals: Receiver<(usize, Result<SocketAddr, String>)>,
    deadline: Instant,
) -> Vec<StunOutcome> {
    let mut probes = Probes::new(count);
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        probes.take_arrivals(&arrivals, now, deadline);
        let mut next_event = probes.send_due(now, deadline);
        if !probes.lookups_open && probes.all_done() {
            break;
        }
        if probes.lookups_open {
            next_event = next_event.min(Instant::now() + LOOKUP_POLL);
        }
        probes.receive_until(next_event, deadline);
    }
    probes.finish()
}

/// The state of every probe while `probe_all` runs.
struct Probes {
    out: Vec<StunOutcome>,
    /// Whether each target's lookup has reported.
    arrived: Vec<bool>,
    lookups_open: bool,
    pending: Vec<Option<Pending>>,
    /// Opened when the first target of the family arrives.
    v4: Option<Result<UdpSocket, String>>,
    v6: Option<Result<UdpSocket, String>>,
    /// Each request's target and send time: a retransmission has its own transaction id, so
    /// the round trip is timed from the send that was answered.
    txids: HashMap<TransactionId, (usize, Instant)>,
}

impl Probes {
    fn new(count: usize) -> Probes {
        Probes {
            out: vec![StunOutcome::default(); count],
            arrived: vec![false; count],
            lookups_open: true,
            pending: (0..count).map(|_| None).collect(),
            v4: None,
            v6: None,
            txids: HashMap::new(),
        }
    }

    fn all_done(&self) -> bool {
        self.pending.iter().flatten().all(|p| p.done)
    }

    /// Takes the lookups that have finished; with nothing in flight there is nothing to listen
    /// for, so it sleeps until a lookup arrives rather than polling.
    fn take_arrivals(
        &mut self,
        arrivals: &Receiver<(usize, Result<SocketAddr, String>)>,
        now: Instant,
        deadline: Instant,
    ) {
        let mut block = self
            .pending
            .iter()
            .all(|p| p.as_ref().is_none_or(|p| p.done));
        while self.lookups_open {
            let arrival = if std::mem::take(&mut block) {
                arrivals
                    .recv_timeout(deadline.saturating_duration_since(now))
                    .map_err(|e| match e {
                        RecvTimeoutError::Timeout => TryRecvError::Empty,
                        RecvTimeoutError::Disconnected => TryRecvError::Disconnected,
                    })
            } else {
                arrivals.try_recv()
            };
            match arrival {
                Ok((i, target)) if i < self.out.len() => self.arrive(i, target, now),
                Ok(_) => {}
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.lookups_open = false,
            }
        }
    }

    fn arrive(&mut self, i: usize, target: Result<SocketAddr, String>, now: Instant) {
        self.arrived[i] = true;
        match target {
            Ok(server) => {
                self.out[i].server = Some(server);
                self.pending[i] = Some(Pending {
                    server,
                    next_send: now,
                    interval: FIRST_INTERVAL,
                    sends: 0,
                    done: false,
                });
            }
            Err(e) => self.out[i].error = Some(format!("get stun addr: {e}; request never sent")),
        }
    }

    /// Sends the requests that are due (first sends and retransmissions); returns when the
    /// next one is due.
    fn send_due(&mut self, now: Instant, deadline: Instant) -> Instant {
        let mut next_event = deadline;
        for (i, slot) in self.pending.iter_mut().enumerate() {
            let Some(p) = slot.as_mut().filter(|p| !p.done) else {
                continue;
            };
            let family = if p.server.is_ipv4() {
                &mut self.v4
            } else {
                &mut self.v6
            };
            let socket = family.get_or_insert_with(|| open_socket(p.server.is_ipv6()));
            let Some(socket) = socket.as_ref().ok() else {
                let e = socket.as_ref().err().cloned().unwrap_or_default();
                self.out[i].error = Some(format!("probe stun: cannot open a UDP socket: {e}"));
                p.done = true;
                continue;
            };
            if p.next_send <= now {
                let (bytes, txid) = binding_request();
                if let Err(e) = socket.send_to(&bytes, p.server) {
                    self.out[i].error = Some(format!("probe stun: send to {}: {e}", p.server));
                    self.out[i].evidence = io_evidence(&p.server.to_string(), &e, Phase::Answer);
                    p.done = true;
                    continue;
                }
                self.txids.insert(txid, (i, Instant::now()));
                p.sends += 1;
                p.next_send = now + p.interval;
                p.interval = (p.interval * 2).min(MAX_INTERVAL);
            }
            next_event = next_event.min(p.next_send);
        }
        next_event
    }

    /// Waits for answers until `next_event` (the next send), sharing the time between the
    /// sockets; the turn ends then (or at the deadline) however many packets keep arriving.
    fn receive_until(&mut self, next_event: Instant, deadline: Instant) {
        let sockets: Vec<&UdpSocket> = [&self.v4, &self.v6]
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_ref().ok())
            .collect();
        if sockets.is_empty() {
            std::thread::sleep(
                next_event
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            );
            return;
        }
        let share = next_event.saturating_duration_since(Instant::now()) / sockets.len() as u32;
        for socket in sockets {
            let turn_end = (Instant::now() + share.max(Duration::from_millis(1))).min(deadline);
            let mut buf = [0u8; 1500];
            loop {
                let left = turn_end.saturating_duration_since(Instant::now());
                if left.is_zero() || socket.set_read_timeout(Some(left)).is_err() {
                    break;
                }
                let Ok((n, _from)) = socket.recv_from(&mut buf) else {
                    break;
                };
                let received = Instant::now();
                let Some((i, sent, result)) = parse_response(&buf[..n], &self.txids) else {
                    continue;
                };
                let Some(p) = self.pending[i].as_mut().filter(|p| !p.done) else {
                    continue;
                };
                p.done = true;
                let outcome = &mut self.out[i];
                match result {
                    Ok(mapped) => {
                        outcome.can_stun = true;
                        outcome.error = None;
                        outcome.mapped = Some(mapped);
                        outcome.rtt = Some(received.saturating_duration_since(sent));
                    }
                    Err(e) => outcome.error = Some(format!("probe stun: {e}")),
                }
                // Every request answered: no reason to sit out the rest of the turn.
                if self.pending.iter().flatten().all(|p| p.done) {
                    break;
                }
            }
        }
    }

    /// The outcomes, each target that neither answered nor failed saying why.
    fn finish(mut self) -> Vec<StunOutcome> {
        for (i, outcome) in self.out.iter_mut().enumerate() {
            if outcome.error.is_some() || outcome.can_stun {
                continue;
            }
            outcome.error = Some(match &self.pending[i] {
                _ if !self.arrived[i] => {
                    "get stun addr: the lookup did not finish before the deadline; request never \
                     sent"
                        .to_string()
                }
                Some(p) if p.sends > 0 => {
                    outcome.evidence = Some(Evidence::Timeout {
                        address: p.server.to_string(),
                        phase: Phase::Answer,
                    });
                    format!(
                        "probe stun: no answer from {} to {} request(s) before the deadline",
                        p.server, p.sends
                    )
                }
                Some(p) => format!("probe stun: no time left to send a request to {}", p.server),
                None => "probe stun: not probed".to_string(),
            });
        }
        self.out
    }
}

/// One socket per address family for all targets (ESTUN02 compares their mappings).
fn open_socket(v6: bool) -> Result<UdpSocket, String> {
    UdpSocket::bind(if v6 { "[::]:0" } else { "0.0.0.0:0" }).map_err(|e| e.to_string())
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
pub(crate) fn parse_response(
    data: &[u8],
    txids: &HashMap<TransactionId, (usize, Instant)>,
) -> Option<(usize, Instant, Result<SocketAddr, String>)> {
    let msg = Message::from_bytes(data).ok()?;
    if !msg.has_method(BINDING) {
        return None;
    }
    let txid = msg.transaction_id();
    let (index, sent) = *txids.get(&txid)?;
    if msg.has_class(MessageClass::Error) {
        let text = match msg.attribute::<ErrorCode>() {
            Ok(e) => format!("error response {} {}", e.code(), e.reason()),
            Err(_) => "error response without ERROR-CODE".to_string(),
        };
        return Some((index, sent, Err(text)));
    }
    if !msg.has_class(MessageClass::Success) {
        return None;
    }
    Some((index, sent, mapped_address(&msg, txid)))
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
pub(crate) fn decode_address(value: &[u8], xor: Option<TransactionId>) -> Option<SocketAddr> {
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
        let sent = Instant::now();
        let txids = HashMap::from([(txid, (3usize, sent))]);
        let (index, when, mapped) = parse_response(&data, &txids).unwrap();
        assert_eq!(when, sent);
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

    /// A UDP peer on loopback; `answer(n)` says whether to answer the n-th request (from 0).
    /// With `flood`, it sends junk to the client without pause after the first request.
    fn fake_stun(answer: fn(usize) -> bool, flood: bool) -> SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            for n in 0.. {
                let Ok((len, from)) = socket.recv_from(&mut buf) else {
                    return;
                };
                if flood {
                    let until = Instant::now() + Duration::from_secs(3);
                    while Instant::now() < until {
                        let _ = socket.send_to(b"junk", from);
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    return;
                }
                if len < 20 || !answer(n) {
                    continue;
                }
                // Success with a plain MAPPED-ADDRESS 192.0.2.7:8080, same transaction id.
                let mut reply = vec![0x01, 0x01, 0x00, 0x0c];
                reply.extend_from_slice(&buf[4..20]);
                reply.extend_from_slice(&[0x00, 0x01, 0x00, 0x08, 0, 1, 0x1F, 0x90, 192, 0, 2, 7]);
                let _ = socket.send_to(&reply, from);
            }
        });
        addr
    }

    #[test]
    fn a_slow_lookup_does_not_hold_back_the_others() {
        let server = fake_stun(|_| true, false);
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send((0, Ok(server))).unwrap();
        // Target 1's lookup never reports (tx stays open past the deadline).
        let started = Instant::now();
        let out = probe_all(2, rx, started + Duration::from_millis(400));
        drop(tx);
        assert!(out[0].can_stun, "{:?}", out[0]);
        assert_eq!(out[0].mapped, Some("192.0.2.7:8080".parse().unwrap()));
        let e = out[1].error.as_deref().unwrap();
        assert!(
            e.contains("lookup did not finish") && e.contains("request never sent"),
            "{e}"
        );
        assert!(started.elapsed() < Duration::from_millis(600));
    }

    #[test]
    fn a_lookup_error_says_nothing_was_sent() {
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send((0, Err("lookup stun.example: timed out".to_string())))
            .unwrap();
        drop(tx);
        let out = probe_all(1, rx, Instant::now() + Duration::from_millis(300));
        assert_eq!(
            out[0].error.as_deref(),
            Some("get stun addr: lookup stun.example: timed out; request never sent")
        );
    }

    #[test]
    fn a_stream_of_packets_cannot_keep_the_probe_past_its_deadline() {
        let server = fake_stun(|_| false, true);
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send((0, Ok(server))).unwrap();
        drop(tx);
        let started = Instant::now();
        let out = probe_all(1, rx, started + Duration::from_millis(300));
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        let e = out[0].error.as_deref().unwrap();
        assert!(
            e.contains("no answer from") && e.contains("request(s)"),
            "{e}"
        );
    }

    #[test]
    fn the_round_trip_is_timed_from_the_answered_request() {
        // The first request (t=0) is ignored, the retransmission (t=250ms) answered at once:
        // the round trip is the retransmission's, not 250ms+.
        let server = fake_stun(|n| n >= 1, false);
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send((0, Ok(server))).unwrap();
        drop(tx);
        let out = probe_all(1, rx, Instant::now() + Duration::from_secs(2));
        assert!(out[0].can_stun, "{:?}", out[0]);
        let rtt = out[0].rtt.unwrap();
        assert!(rtt < Duration::from_millis(150), "{rtt:?}");
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
