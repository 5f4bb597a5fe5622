//! Coder's DERP health test for one node: two clients on the node, a 1-byte packet from the
//! sender through the relay to the receiver, resent every second, timed from the latest send.

use std::time::{Duration, Instant};

use crate::net::tls::Tls;

use super::client::{ConnError, DerpConn, Target};
use super::protocol as p;
use crate::report::derp::ServerInfo;
use crate::report::Evidence;

/// Coder's client retries a connect this often.
const CONNECT_TRIES: usize = 5;
/// Coder resends the probe packet once a second.
const RESEND_EVERY: Duration = Duration::from_secs(1);
/// Coder's log line for the fallback; `uses_websocket` follows it.
const WEBSOCKET_LOG: &str = "We'll use WebSockets on the next connection attempt";

#[derive(Debug, Default)]
pub struct Exchange {
    pub can_exchange_messages: bool,
    pub round_trip: Option<Duration>,
    pub node_info: ServerInfo,
    pub uses_websocket: bool,
    pub client_logs: [Vec<String>; 2],
    pub client_errs: [Vec<String>; 2],
    /// Why the exchange failed, in one line.
    pub failure: Option<String>,
    /// What was observed when it failed.
    pub evidence: Option<Evidence>,
}

/// Runs the exchange against `url`, giving up at `deadline`.
pub fn run(
    url: &str,
    tls: &Tls,
    proxy: Option<crate::net::proxy::ProxyUrl>,
    deadline: Instant,
) -> Exchange {
    let mut out = Exchange::default();
    let target = match Target::new(url, tls, proxy) {
        Ok(t) => t,
        Err(e) => {
            out.client_errs[0].push(e.clone());
            out.failure = Some(e);
            return out;
        }
    };
    let Some(mut receiver) = connect(&target, 0, deadline, &mut out) else {
        out.failure = Some(connect_failure(&out, 0));
        return out;
    };
    out.node_info = receiver.server_info;
    let Some(mut sender) = connect(&target, 1, deadline, &mut out) else {
        out.failure = Some(connect_failure(&out, 1));
        return out;
    };

    let mut counter: u8 = 0;
    let mut sent_at;
    loop {
        sent_at = Instant::now();
        if let Err(e) = sender.write(
            &p::send_packet(&receiver.identity.public, &[counter]),
            deadline,
        ) {
            let e = format!("send derp message: {e}");
            out.client_errs[1].push(e.clone());
            out.failure = Some(e);
            break;
        }
        let wait_until = (sent_at + RESEND_EVERY).min(deadline);
        match wait_for_packet(&mut receiver, sender.identity.public, wait_until) {
            Ok(()) => {
                out.round_trip = Some(sent_at.elapsed());
                out.can_exchange_messages = true;
                out.client_logs[0].push(format!("received probe packet {counter} from the sender"));
                break;
            }
            Err(ConnError::Timeout(_)) if Instant::now() + Duration::from_millis(5) < deadline => {
                counter = counter.wrapping_add(1);
                out.client_logs[1].push(format!(
                    "no delivery after 1s, resending as packet {counter}"
                ));
            }
            Err(e) => {
                let mut e = match e {
                    ConnError::Timeout(_) => {
                        "handshake ok, but the probe packet never arrived before the deadline"
                            .to_string()
                    }
                    other => format!("recv derp message: {other}"),
                };
                let mut notes = receiver.notes();
                notes.extend(sender.notes());
                if !notes.is_empty() {
                    e.push_str(&format!(" ({})", notes.join("; ")));
                }
                out.client_errs[0].push(e.clone());
                out.failure = Some(e);
                break;
            }
        }
    }
    out.client_logs[0].extend(receiver.notes());
    out.client_logs[1].extend(sender.notes());
    out
}

/// Reads the receiver's frames until the sender's packet arrives.
fn wait_for_packet(conn: &mut DerpConn, from: p::Key, until: Instant) -> Result<(), ConnError> {
    loop {
        let (kind, payload) = conn.read_frame(p::MAX_FRAME_LEN, until)?;
        if kind == p::FRAME_RECV_PACKET {
            if payload.len() < p::KEY_LEN {
                continue;
            }
            if payload[..p::KEY_LEN] != from {
                let mut key = [0u8; p::KEY_LEN];
                key.copy_from_slice(&payload[..p::KEY_LEN]);
                return Err(ConnError::Other(format!(
                    "received pkt from unknown peer: {}",
                    p::short_key(&key)
                )));
            }
            return Ok(());
        }
        if kind == p::FRAME_SERVER_INFO {
            continue;
        }
        conn.note_frame(kind, &payload, until)?;
    }
}

/// Up to five attempts; a 4xx to `Upgrade: DERP` switches the next attempts to WebSocket, as
/// Coder's client does.
fn connect(target: &Target, id: usize, deadline: Instant, out: &mut Exchange) -> Option<DerpConn> {
    let mut websocket = false;
    for attempt in 1..=CONNECT_TRIES {
        let how = if websocket {
            "DERP over WebSocket"
        } else {
            "Upgrade: DERP"
        };
        out.client_logs[id].push(format!("connecting to {} ({how})", target.url));
        let result = if websocket {
            DerpConn::connect_websocket(target, deadline)
        } else {
            DerpConn::connect_upgrade(target, deadline)
        };
        match result {
            Ok(conn) => {
                out.client_logs[id].push(format!(
                    "connected; server key {}",
                    p::short_key(&conn.server_key)
                ));
                return Some(conn);
            }
            Err(e) => {
                let last = e.to_string();
                out.client_errs[id].push(format!("connect to derp: {e}"));
                out.evidence = e.evidence(&format!("{}:{}", target.host, target.port));
                if let ConnError::Refused4xx(..) = e {
                    if !websocket {
                        websocket = true;
                        out.uses_websocket = true;
                        out.client_logs[id].push(format!("{WEBSOCKET_LOG}: {e}"));
                    }
                }
                // A rejected handshake would only be rejected again: say it once.
                if matches!(e, ConnError::Timeout(_) | ConnError::Rejected(_))
                    || Instant::now() >= deadline
                {
                    break;
                }
                if attempt == CONNECT_TRIES {
                    out.client_errs[id].push(format!(
                        "couldn't connect after {CONNECT_TRIES} tries, last error: {last}"
                    ));
                }
            }
        }
    }
    None
}

fn connect_failure(out: &Exchange, id: usize) -> String {
    let who = if id == 0 { "receiving" } else { "sending" };
    let last = out.client_errs[id]
        .iter()
        .rev()
        .find(|e| e.starts_with("connect to derp: "))
        .map(|e| e.trim_start_matches("connect to derp: ").to_string())
        .unwrap_or_default();
    format!("the {who} client could not connect: {last}")
}
