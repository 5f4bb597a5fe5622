//! A real STUN server: coturn (`turnserver --stun-only`) on a free loopback UDP port, plus a
//! silent UDP listener for "no answer" cases.

use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{spawn_with_lifeline, temp_dir};

pub struct Coturn {
    pub port: u16,
}

/// A free UDP port on 127.0.0.1 (the socket is closed before the port is used).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind a free UDP port")
}

/// The command line of derp-stun.md 5.1, with our port and directory.
pub fn command_line(port: u16, dir: &Path) -> String {
    let d = dir.display();
    format!(
        "/usr/bin/turnserver -n --listening-ip=127.0.0.1 --listening-port={port} --stun-only \
         --no-cli --no-tls --no-dtls --no-tcp --no-rfc5780 --log-file=stdout --simple-log \
         --db={d}/turndb --pidfile={d}/coturn.pid"
    )
}

impl Coturn {
    pub fn start() -> Coturn {
        let dir = temp_dir("hc-coturn-");
        let port = free_udp_port();
        let log = dir.join("coturn.log");
        spawn_with_lifeline(&command_line(port, &dir), &log);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if stun_answers(port) {
                return Coturn { port };
            }
        }
        panic!(
            "coturn did not answer STUN on port {port}; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// One plain Binding Request (header only), waiting 200 ms for a Binding Success.
pub fn stun_answers(port: u16) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    request.extend_from_slice(b"readiness!!!");
    if socket.send_to(&request, ("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(200));
        return false;
    }
    let mut buf = [0u8; 1500];
    match socket.recv_from(&mut buf) {
        Ok((n, _)) => n >= 20 && buf[0] == 0x01 && buf[1] == 0x01 && buf[8..20] == request[8..20],
        Err(_) => false,
    }
}

/// A UDP port that reads and never answers (derp-stun.md 5.3).
pub fn silent_udp() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        loop {
            let _ = socket.recv_from(&mut buf);
        }
    });
    port
}
