//! coderd's own listener (`CODER_HTTP_ADDRESS` / `CODER_TLS_ADDRESS`): where to ask for
//! `/healthz` without going through whatever sits in front of coderd.

/// A listen address turned into a place to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// Where to connect (`0.0.0.0`, `[::]` and an empty host became loopback), no brackets.
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// The setting it came from, for messages.
    pub setting: &'static str,
}

impl Listener {
    /// Parses Go's listen form, `host:port` or `:port`; `setting` names it in errors.
    pub fn parse(value: &str, tls: bool, setting: &'static str) -> Result<Listener, String> {
        let value = value.trim();
        let bad = |why: &str| {
            format!("invalid {setting} {value:?}: {why} (expected HOST:PORT, e.g. 0.0.0.0:3000)")
        };
        // Forms that are not listen addresses, named as what they are.
        if value.contains("://") {
            return Err(bad("a URL is not a listen address"));
        }
        if value.contains('/') {
            return Err(bad("a socket path is not a listen address"));
        }
        let (host, port) = match value.strip_prefix('[') {
            Some(rest) => {
                let (host, tail) = rest.split_once(']').ok_or_else(|| bad("unclosed ["))?;
                let port = tail.strip_prefix(':').ok_or_else(|| bad("missing port"))?;
                (host, port)
            }
            None => value.rsplit_once(':').ok_or_else(|| bad("missing port"))?,
        };
        if host.contains(':') && !value.starts_with('[') {
            return Err(bad("an IPv6 address needs brackets"));
        }
        let port: u16 = match port.parse::<u64>() {
            Ok(n) if n <= u64::from(u16::MAX) => n as u16,
            Ok(n) => return Err(bad(&format!("port {n} is out of range (1-65535)"))),
            Err(_) => return Err(bad("the port is not a number")),
        };
        if port == 0 {
            return Err(bad("port 0 is not a fixed port"));
        }
        // Listening on every interface includes loopback, which is where we are.
        let host = match host {
            "" | "0.0.0.0" => "127.0.0.1",
            "::" => "::1",
            other => other,
        };
        Ok(Listener {
            host: host.to_string(),
            port,
            tls,
            setting,
        })
    }

    /// `http://127.0.0.1:3000/healthz`.
    pub fn healthz_url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{host}:{}/healthz", self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_forms() {
        let l = Listener::parse("0.0.0.0:3000", false, "CODER_HTTP_ADDRESS").unwrap();
        assert_eq!(l.healthz_url(), "http://127.0.0.1:3000/healthz");
        let l = Listener::parse(":3000", false, "x").unwrap();
        assert_eq!(l.host, "127.0.0.1");
        let l = Listener::parse("[::]:3443", true, "x").unwrap();
        assert_eq!(l.healthz_url(), "https://[::1]:3443/healthz");
        let l = Listener::parse("10.1.2.3:80", false, "x").unwrap();
        assert_eq!(l.healthz_url(), "http://10.1.2.3:80/healthz");
        let l = Listener::parse("localhost:3000", false, "x").unwrap();
        assert_eq!(l.host, "localhost");
        for bad in ["3000", "host:", "host:http", "::1:3000", "[::1", ":0"] {
            let e = Listener::parse(bad, false, "--http-address").unwrap_err();
            assert!(e.starts_with("invalid --http-address"), "{bad}: {e}");
        }
        // Each names what was wrong and what is expected.
        for (bad, why) in [
            (":99999", "port 99999 is out of range (1-65535)"),
            ("http://127.0.0.1:80", "a URL is not a listen address"),
            ("https://[::1]:3443/", "a URL is not a listen address"),
            (
                "unix:/run/coder.sock:80",
                "a socket path is not a listen address",
            ),
            ("/run/coder.sock", "a socket path is not a listen address"),
        ] {
            let e = Listener::parse(bad, false, "--http-address").unwrap_err();
            assert!(
                e.contains(why) && e.ends_with("(expected HOST:PORT, e.g. 0.0.0.0:3000)"),
                "{bad}: {e}"
            );
        }
    }
}
