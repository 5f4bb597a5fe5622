//! A real packet filter for "no answer" faults: an nftables table of our own that drops what
//! arrives for one loopback port, so a connect gets no SYN-ACK and a STUN request no reply, as
//! behind a firewall that drops rather than rejects. The table is named after this process and
//! the port and deleted when the guard is dropped, so it touches nothing else on the host.

use std::io::Write;
use std::process::{Command, Stdio};

pub struct Drop {
    table: String,
}

#[derive(Clone, Copy, Debug)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn word(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl Drop {
    /// Drops every packet to 127.0.0.0/8 on `port` (input hook: the sender sees silence, not
    /// an error).
    pub fn inbound(proto: Proto, port: u16) -> Drop {
        let table = format!(
            "hc_rootcause_{}_{}_{port}",
            std::process::id(),
            proto.word()
        );
        let script = format!(
            "table inet {table} {{\n  chain input {{\n    type filter hook input priority -10;\n    \
             ip daddr 127.0.0.0/8 {} dport {port} drop\n  }}\n}}\n",
            proto.word()
        );
        nft(&["-f", "-"], Some(&script));
        Drop { table }
    }
}

impl std::ops::Drop for Drop {
    fn drop(&mut self) {
        let _ = Command::new("nft")
            .args(["delete", "table", "inet", &self.table])
            .status();
    }
}

fn nft(args: &[&str], stdin: Option<&str>) {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nft (scripts/setup installs nftables)");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
