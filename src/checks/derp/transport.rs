//! Byte transports for DERP: TCP or TLS (rustls, ALPN http/1.1) over a `DeadlineStream`, so
//! every read and write (including each step of TLS and WebSocket loops) is bounded by the
//! deadline and a peer trickling bytes cannot keep a node's check alive past it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use crate::net::deadline::DeadlineStream;

pub enum Transport {
    Plain(DeadlineStream),
    Tls(Box<StreamOwned<ClientConnection, DeadlineStream>>),
}

impl Transport {
    fn stream(&mut self) -> &mut DeadlineStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(s) => &mut s.sock,
        }
    }

    /// Bounds all further reads and writes by `deadline`; no time left is a timeout now.
    pub fn arm(&mut self, deadline: Instant) -> io::Result<()> {
        remaining(deadline)?;
        self.stream().set_deadline(deadline);
        Ok(())
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}

pub fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left < Duration::from_millis(1) {
        Err(io::Error::new(io::ErrorKind::TimedOut, "deadline reached"))
    } else {
        Ok(left)
    }
}

pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Resolves a host under the deadline (the system resolver has no timeout of its own, so it
/// runs in a thread we stop waiting for).
pub fn resolve(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (tx, rx) = mpsc::channel();
    let name = host.to_string();
    std::thread::spawn(move || {
        let _ = tx.send(
            (name.as_str(), port)
                .to_socket_addrs()
                .map(|a| a.collect::<Vec<_>>()),
        );
    });
    let left = remaining(deadline).map_err(|_| format!("lookup {host}: deadline reached"))?;
    match rx.recv_timeout(left) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(format!("lookup {host}: no addresses")),
        Ok(Err(e)) => Err(format!("lookup {host}: {e}")),
        Err(_) => Err(format!("lookup {host}: timed out")),
    }
}

/// TCP (and TLS when `tls` is given) to host:port under the deadline.
pub fn dial(
    host: &str,
    port: u16,
    tls: Option<Arc<ClientConfig>>,
    deadline: Instant,
) -> Result<Transport, String> {
    let addrs = resolve(host, port, deadline)?;
    let mut last = String::from("no address");
    let mut stream = None;
    for addr in addrs {
        let left = remaining(deadline).map_err(|_| format!("dial {addr}: deadline reached"))?;
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if is_timeout(&e) => last = format!("dial tcp {addr}: i/o timeout"),
            Err(e) => last = format!("dial tcp {addr}: {e}"),
        }
    }
    let stream = stream.ok_or(last)?;
    let _ = stream.set_nodelay(true);
    let stream = DeadlineStream::new(stream, deadline);
    let mut transport = match tls {
        None => Transport::Plain(stream),
        Some(config) => {
            let bare = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let name =
                ServerName::try_from(bare).map_err(|e| format!("TLS server name {host:?}: {e}"))?;
            let conn = ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
            let mut t = Transport::Tls(Box::new(StreamOwned::new(conn, stream)));
            if let Transport::Tls(s) = &mut t {
                while s.conn.is_handshaking() {
                    s.conn
                        .complete_io(&mut s.sock)
                        .map_err(|e| tls_error_text(&e))?;
                }
            }
            t
        }
    };
    transport
        .arm(deadline)
        .map_err(|e| format!("socket setup: {e}"))?;
    Ok(transport)
}

fn tls_error_text(e: &io::Error) -> String {
    if is_timeout(e) {
        return "TLS handshake: timed out".to_string();
    }
    match crate::net::tls::find_tls_error(e) {
        Some(tls) => crate::net::tls::describe_tls_error(tls),
        None => format!("TLS handshake: {e}"),
    }
}
