//! A small DERP relay for tests, written from derp-stun.md independently of the client in
//! src/ (no shared code): HTTP `Upgrade: DERP` and DERP over WebSocket (subprotocol `derp`),
//! ServerKey / ClientInfo / ServerInfo with NaCl boxes, and packet forwarding between keys.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crypto_box::aead::{Aead, AeadCore, OsRng};
use crypto_box::{PublicKey, SalsaBox, SecretKey};
use tungstenite::handshake::server::{Request, Response};
use tungstenite::{Message, WebSocket};

const MAGIC: [u8; 8] = [0x44, 0x45, 0x52, 0x50, 0xF0, 0x9F, 0x94, 0x91];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Upgrade: DERP and WebSocket both work.
    Normal,
    /// Answers `400 bad request` to Upgrade: DERP; WebSocket works (Coder's E6 relay).
    RefuseDerpUpgrade,
    /// Answers the upgrade with 101, then a ServerKey frame whose magic is garbage.
    BadMagic,
    /// Answers `502 Bad Gateway` to Upgrade: DERP (not a 4xx: no WebSocket fallback).
    Refuse502,
    /// Answers `400` to Upgrade: DERP, and the WebSocket upgrade with a 101 reply sent one byte
    /// every 300 ms (a peer that keeps every single read alive but never finishes).
    TrickleWebSocket,
    /// Another dialect: a valid 101 and ServerKey, then it reads the ClientInfo and closes.
    CloseAfterServerKey,
    /// A valid 101 and ServerKey, then it reads the ClientInfo and never answers.
    SilentAfterServerKey,
    /// A valid 101, then it closes before any frame.
    CloseBeforeServerKey,
    /// A 101 that names `Upgrade: websocket`, then HTTP text instead of frames.
    WrongUpgradeHeader,
    /// A valid 101 and ServerKey, reads the ClientInfo, then sends 1 MiB Health frames without
    /// pause (never ServerInfo).
    FloodBeforeServerInfo,
    /// The whole handshake, then 1 MiB Health frames without pause; packets are not forwarded.
    FloodAfterServerInfo,
}

/// One 1 MiB Health frame (the Go client's frame limit).
fn health_flood_frame() -> Vec<u8> {
    encode(0x14, &vec![b'h'; 1 << 20])
}

pub struct DerpRelay {
    pub port: u16,
}

type Clients = Arc<Mutex<HashMap<[u8; 32], Sender<Vec<u8>>>>>;

impl DerpRelay {
    pub fn start(mode: Mode) -> DerpRelay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let secret = SecretKey::generate(&mut OsRng);
        let clients: Clients = Arc::new(Mutex::new(HashMap::new()));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                // As Go's net package does for every TCP connection (Coder's relay is Go).
                let _ = stream.set_nodelay(true);
                let secret = secret.clone();
                let clients = clients.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, mode, &secret, &clients);
                });
            }
        });
        DerpRelay { port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// How long a connection waits for its client before forwarding queued packets: the relay's
/// own share of a measured round trip.
const RELAY_POLL: Duration = Duration::from_millis(1);

/// The bytes under the frames: the upgraded TCP stream or WebSocket binary messages.
enum Wire {
    Tcp(TcpStream),
    Ws(Box<WebSocket<TcpStream>>),
}

impl Wire {
    /// Appends whatever arrives within the socket's short read timeout; false on close.
    fn pull(&mut self, into: &mut Vec<u8>) -> bool {
        match self {
            Wire::Tcp(s) => {
                let mut chunk = [0u8; 8192];
                match s.read(&mut chunk) {
                    Ok(0) => false,
                    Ok(n) => {
                        into.extend_from_slice(&chunk[..n]);
                        true
                    }
                    Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                }
            }
            Wire::Ws(ws) => match ws.read() {
                Ok(Message::Binary(b)) => {
                    into.extend_from_slice(&b);
                    true
                }
                Ok(Message::Close(_)) | Ok(Message::Text(_)) => false,
                Ok(_) => true,
                Err(tungstenite::Error::Io(e)) => {
                    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
                }
                Err(_) => false,
            },
        }
    }

    fn push(&mut self, bytes: &[u8]) -> bool {
        match self {
            Wire::Tcp(s) => s.write_all(bytes).is_ok(),
            Wire::Ws(ws) => ws.send(Message::binary(bytes.to_vec())).is_ok(),
        }
    }
}

fn encode(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![kind];
    v.extend_from_slice(&(body.len() as u32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Takes one whole frame off the front of `buf`, if there is one.
fn take_frame(buf: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    if buf.len() < 5 {
        return None;
    }
    let len = u32::from_be_bytes(buf[1..5].try_into().unwrap()) as usize;
    if buf.len() < 5 + len {
        return None;
    }
    let kind = buf[0];
    let body = buf[5..5 + len].to_vec();
    buf.drain(..5 + len);
    Some((kind, body))
}

fn peek_head(stream: &TcpStream) -> Option<String> {
    let mut buf = [0u8; 4096];
    for _ in 0..1000 {
        let n = stream.peek(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            return Some(text[..end + 4].to_string());
        }
        if n == 0 {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[allow(clippy::result_large_err)] // tungstenite's callback signature
fn serve(mut stream: TcpStream, mode: Mode, secret: &SecretKey, clients: &Clients) -> Option<()> {
    let head = peek_head(&stream)?;
    let server_key = *secret.public_key().as_bytes();
    let upgrade = header(&head, "Upgrade").unwrap_or("").to_ascii_lowercase();
    let wants_derp_ws = upgrade == "websocket"
        && header(&head, "Sec-WebSocket-Protocol").is_some_and(|p| p.contains("derp"));
    let mut wire = if wants_derp_ws && mode == Mode::TrickleWebSocket {
        super::ws_server::trickle_101(stream);
        return None;
    } else if wants_derp_ws {
        let ws = tungstenite::accept_hdr(stream, |_req: &Request, mut resp: Response| {
            resp.headers_mut()
                .insert("Sec-WebSocket-Protocol", "derp".parse().unwrap());
            Ok(resp)
        })
        .ok()?;
        Wire::Ws(Box::new(ws))
    } else {
        // Consume the request head we peeked at.
        let mut sink = vec![0u8; head.len()];
        stream.read_exact(&mut sink).ok()?;
        if upgrade != "derp" {
            let body = "DERP requires connection upgrade";
            let _ = write!(
                stream,
                "HTTP/1.1 426 Upgrade Required\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            return None;
        }
        if mode == Mode::Refuse502 {
            let _ = write!(
                stream,
                "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 11\r\nConnection: close\r\n\r\nbad gateway"
            );
            return None;
        }
        if matches!(mode, Mode::RefuseDerpUpgrade | Mode::TrickleWebSocket) {
            let _ = write!(
                stream,
                "HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nbad request"
            );
            return None;
        }
        if mode == Mode::WrongUpgradeHeader {
            let _ = write!(
                stream,
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\
                 HTTP/1.1 400 Bad Request\r\n\r\n"
            );
            return None;
        }
        let hex: String = server_key.iter().map(|b| format!("{b:02x}")).collect();
        write!(
            stream,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\
             Derp-Version: 2\r\nDerp-Public-Key: {hex}\r\n\r\n"
        )
        .ok()?;
        Wire::Tcp(stream)
    };

    if mode == Mode::CloseBeforeServerKey {
        return None;
    }
    let mut first = if mode == Mode::BadMagic {
        b"NOTDERP!".to_vec()
    } else {
        MAGIC.to_vec()
    };
    first.extend_from_slice(&server_key);
    if !wire.push(&encode(0x01, &first)) {
        return None;
    }
    match &wire {
        Wire::Tcp(s) => s.set_read_timeout(Some(RELAY_POLL)).ok()?,
        Wire::Ws(ws) => ws.get_ref().set_read_timeout(Some(RELAY_POLL)).ok()?,
    }

    let mut buf = Vec::new();
    if matches!(mode, Mode::CloseAfterServerKey | Mode::SilentAfterServerKey) {
        // Take the ClientInfo (closing with it unread would reset the connection instead).
        while take_frame(&mut buf).is_none() {
            if !wire.pull(&mut buf) {
                return None;
            }
        }
        if mode == Mode::SilentAfterServerKey {
            while wire.pull(&mut buf) {}
        }
        return None;
    }
    if mode == Mode::FloodBeforeServerInfo {
        while take_frame(&mut buf).is_none() {
            if !wire.pull(&mut buf) {
                return None;
            }
        }
        let flood = health_flood_frame();
        while wire.push(&flood) {}
        return None;
    }
    // ClientInfo: client key, nonce, box.
    let client_key: [u8; 32] = loop {
        if let Some((kind, body)) = take_frame(&mut buf) {
            if kind != 0x02 || body.len() < 32 + 24 + 16 {
                return None;
            }
            let key: [u8; 32] = body[..32].try_into().unwrap();
            let sealed = SalsaBox::new(&PublicKey::from(key), secret);
            let opened = sealed
                .decrypt(crypto_box::Nonce::from_slice(&body[32..56]), &body[56..])
                .ok()?;
            let info: serde_json::Value = serde_json::from_slice(&opened).ok()?;
            info.get("version")?;
            break key;
        }
        if !wire.pull(&mut buf) {
            return None;
        }
    };
    let (tx, rx): (Sender<Vec<u8>>, Receiver<Vec<u8>>) = channel();
    clients.lock().unwrap().insert(client_key, tx);
    let boxer = SalsaBox::new(&PublicKey::from(client_key), secret);
    let nonce = SalsaBox::generate_nonce(&mut OsRng);
    let mut info = nonce.to_vec();
    info.extend_from_slice(&boxer.encrypt(&nonce, br#"{"version":2}"#.as_slice()).ok()?);
    let mut alive = wire.push(&encode(0x03, &info));
    if mode == Mode::FloodAfterServerInfo {
        let flood = health_flood_frame();
        while alive {
            alive = wire.push(&flood);
        }
        return None;
    }

    while alive {
        while let Some((kind, body)) = take_frame(&mut buf) {
            match kind {
                0x04 if body.len() >= 32 => {
                    let dest: [u8; 32] = body[..32].try_into().unwrap();
                    let peer = clients.lock().unwrap().get(&dest).cloned();
                    let mut out = client_key.to_vec();
                    out.extend_from_slice(&body[32..]);
                    match peer {
                        Some(peer) => {
                            let _ = peer.send(encode(0x05, &out));
                        }
                        None => {
                            let mut gone = dest.to_vec();
                            gone.push(0x01);
                            alive &= wire.push(&encode(0x08, &gone));
                        }
                    }
                }
                0x12 if body.len() == 8 => alive &= wire.push(&encode(0x13, &body)),
                _ => {}
            }
        }
        for frame in rx.try_iter() {
            alive &= wire.push(&frame);
        }
        alive = alive && wire.pull(&mut buf);
    }
    clients.lock().unwrap().remove(&client_key);
    None
}

/// A "TLS server" that answers a ClientHello with the header of a 16 KiB handshake record and
/// then one byte every 300 ms: each read succeeds, the TLS handshake never completes.
pub fn trickle_tls_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut hello = [0u8; 4096];
                if stream.read(&mut hello).is_err()
                    || stream.write_all(&[0x16, 3, 3, 0x40, 0]).is_err()
                {
                    return;
                }
                for _ in 0..200 {
                    std::thread::sleep(Duration::from_millis(300));
                    if stream.write_all(&[0x02]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}
