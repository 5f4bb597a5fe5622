//! Proxies from the environment, as Go's `http.ProxyFromEnvironment` reads them (Coder's own
//! clients use it): `HTTPS_PROXY` for https/wss, `HTTP_PROXY` for http/ws (the upper-case name
//! when it is set, else the lower-case one), `NO_PROXY` for exceptions, loopback always direct,
//! and `HTTP_PROXY` ignored when `REQUEST_METHOD` says we run as CGI. Pure rules; the settings
//! read the variables and `net` uses the answer.

use std::net::IpAddr;

use crate::redact::base64;

pub mod client;
mod route;

pub use route::RouteLog;

/// A forward proxy (only `http://` proxies: CONNECT for TLS and raw streams, absolute-form
/// requests for plain HTTP).
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// Without brackets for IPv6.
    pub host: String,
    pub port: u16,
    /// Percent-decoded.
    pub username: String,
    /// Percent-decoded; a secret.
    pub password: Option<String>,
    /// The variable it came from, e.g. `HTTPS_PROXY`.
    pub source: &'static str,
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

impl ProxyUrl {
    /// For messages: `http://user:[REDACTED]@host:port`.
    pub fn shown(&self) -> String {
        let auth = match (&self.password, self.username.is_empty()) {
            (Some(_), _) => format!("{}:{}@", self.username, crate::redact::REDACTED),
            (None, false) => format!("{}@", self.username),
            (None, true) => String::new(),
        };
        format!("http://{auth}{}", self.host_port())
    }

    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The `Proxy-Authorization` value, when the proxy URL carries credentials.
    pub fn authorization(&self) -> Option<String> {
        if self.username.is_empty() && self.password.is_none() {
            return None;
        }
        let pair = format!(
            "{}:{}",
            self.username,
            self.password.as_deref().unwrap_or_default()
        );
        Some(format!("Basic {}", base64(pair.as_bytes())))
    }
}

/// One `NO_PROXY` entry, as Go's httpproxy package classifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Matcher {
    All,
    Cidr(IpAddr, u8),
    Ip(IpAddr, Option<u16>),
    /// `suffix` starts with a dot; `exact` also matches the bare domain (`foo.com` does,
    /// `.foo.com` does not).
    Domain {
        suffix: String,
        port: Option<u16>,
        exact: bool,
    },
}

/// The proxy settings of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    http: Option<ProxyUrl>,
    https: Option<ProxyUrl>,
    no_proxy: Vec<Matcher>,
}

/// How a request is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route<'a> {
    Direct(Direct),
    Proxy(&'a ProxyUrl),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direct {
    /// No proxy is configured for the scheme.
    NoProxy,
    /// Loopback (`localhost`, 127.0.0.0/8, ::1) never uses a proxy.
    Loopback,
    /// A `NO_PROXY` entry matches.
    Excepted,
}

impl ProxyConfig {
    /// Reads the variables through `var` (which treats empty values as unset, as Go does).
    /// A value that is not a usable proxy URL is an error naming the variable: going direct
    /// without a word would mislead a diagnosis.
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<ProxyConfig, String> {
        let pick = |upper: &'static str, lower: &'static str| {
            var(upper)
                .map(|v| (upper, v))
                .or_else(|| var(lower).map(|v| (lower, v)))
        };
        let parse = |found: Option<(&'static str, String)>| match found {
            Some((name, value)) => parse_proxy(&value, name).map(Some),
            None => Ok(None),
        };
        let cgi = var("REQUEST_METHOD").is_some();
        let http = if cgi {
            None
        } else {
            parse(pick("HTTP_PROXY", "http_proxy"))?
        };
        let https = parse(pick("HTTPS_PROXY", "https_proxy"))?;
        let no_proxy = pick("NO_PROXY", "no_proxy")
            .map(|(_, v)| parse_no_proxy(&v))
            .unwrap_or_default();
        Ok(ProxyConfig {
            http,
            https,
            no_proxy,
        })
    }

    pub fn is_configured(&self) -> bool {
        self.http.is_some() || self.https.is_some()
    }

    /// The proxies' passwords, for the run's secrets.
    pub fn passwords(&self) -> Vec<String> {
        [&self.http, &self.https]
            .into_iter()
            .flatten()
            .filter_map(|p| p.password.clone())
            .collect()
    }

    /// The route for a URL: `https`/`wss` use HTTPS_PROXY, `http`/`ws` HTTP_PROXY.
    pub fn route_for_url(&self, url: &url::Url) -> Route<'_> {
        let secure = matches!(url.scheme(), "https" | "wss");
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => String::new(),
        };
        let port = url
            .port_or_known_default()
            .unwrap_or(if secure { 443 } else { 80 });
        self.route(secure, &host, port)
    }

    /// The route to `host:port` for a TLS (`secure`) or plain connection.
    pub fn route(&self, secure: bool, host: &str, port: u16) -> Route<'_> {
        let proxy = if secure { &self.https } else { &self.http };
        let Some(proxy) = proxy else {
            return Route::Direct(Direct::NoProxy);
        };
        let host = host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        // Go reads an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) as the IPv4 address.
        let ip = host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
        if host == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
            return Route::Direct(Direct::Loopback);
        }
        if self
            .no_proxy
            .iter()
            .any(|m| matches(m, &host, ip.as_ref(), port))
        {
            return Route::Direct(Direct::Excepted);
        }
        Route::Proxy(proxy)
    }
}

/// What a proxy variable must look like, for messages.
const EXPECTED: &str = "expected http://[user:password@]host[:port] or host[:port]";

/// Go's `parseProxy`: a value without a scheme is read as `http://VALUE`. Every message about a
/// bad value shows it with the password hidden (a scheme-less value has userinfo too).
fn parse_proxy(value: &str, name: &'static str) -> Result<ProxyUrl, String> {
    let value = value.trim();
    let scheme = value
        .split_once("://")
        .map(|(s, _)| s)
        .filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
        .map(str::to_ascii_lowercase);
    let full = match &scheme {
        Some(s) if s == "http" => value.to_string(),
        // Go would prepend http:// to an unknown scheme and get a nonsense host; name it instead.
        Some(s) => {
            return Err(format!(
                "{name}: {}:// proxies are not supported (only http:// forward proxies): {}",
                crate::text::snippet(s, 40),
                shown_value(value)
            ))
        }
        None => format!("http://{value}"),
    };
    let bad = |why: String| {
        format!(
            "{name}: not a usable proxy URL ({why}): {}; {EXPECTED}",
            shown_value(value)
        )
    };
    let parsed = url::Url::parse(&full).map_err(|e| bad(e.to_string()))?;
    let host = match parsed.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        Some(host) if !host.to_string().is_empty() => host.to_string(),
        _ => return Err(bad("no host".to_string())),
    };
    // Go ignores a path, query or fragment; one holding `@` is a password cut short by an
    // unencoded `/`, `?` or `#`, which would send every request to the wrong host.
    let tail = [
        parsed.path(),
        parsed.query().unwrap_or(""),
        parsed.fragment().unwrap_or(""),
    ];
    if tail.iter().any(|t| t.contains('@')) {
        return Err(bad(
            "the userinfo holds an unencoded `/`, `?` or `#`; percent-encode them (%2F, %3F, %23)"
                .to_string(),
        ));
    }
    Ok(ProxyUrl {
        host,
        port: parsed.port().unwrap_or(80),
        username: percent_decode(parsed.username()),
        password: parsed.password().map(percent_decode),
        source: name,
    })
}

/// A proxy value for messages: everything before the last `@` is userinfo, shown as
/// `user:[REDACTED]` (or hidden whole when it holds characters that cut a URL short), also when
/// the value has no scheme or does not parse; cut to a readable length.
fn shown_value(value: &str) -> String {
    let (scheme, rest) = match value.find("://") {
        Some(i) => value.split_at(i + 3),
        None => ("", value),
    };
    let shown = match rest.rfind('@') {
        Some(at) => {
            let (userinfo, host) = (&rest[..at], &rest[at + 1..]);
            let user = userinfo.split_once(':').map(|(user, _)| user);
            let hidden = match user {
                Some(user) if !user.contains(['#', '?', '/']) => {
                    format!("{user}:{}", crate::redact::REDACTED)
                }
                None if !userinfo.contains(['#', '?', '/']) => userinfo.to_string(),
                _ => crate::redact::REDACTED.to_string(),
            };
            format!("{scheme}{hidden}@{host}")
        }
        None => value.to_string(),
    };
    crate::text::snippet(&shown, 200)
}

/// Go's `NO_PROXY` grammar: `*`, CIDR, IP, IP:port, [IPv6]:port, domain, .domain, *.domain,
/// each optionally with :port; commas between; case-insensitive.
fn parse_no_proxy(list: &str) -> Vec<Matcher> {
    let mut matchers = Vec::new();
    for entry in list.split(',') {
        let entry = entry.trim().to_ascii_lowercase();
        if entry.is_empty() {
            continue;
        }
        if entry == "*" {
            return vec![Matcher::All];
        }
        if let Some(cidr) = parse_cidr(&entry) {
            matchers.push(cidr);
            continue;
        }
        let (host, port) = split_host_port(&entry);
        let port = match port {
            Some(p) => match p.parse::<u16>() {
                Ok(p) => Some(p),
                // Go keeps the entry, and a port that is not a number never matches.
                Err(_) => continue,
            },
            None => None,
        };
        if host.is_empty() {
            continue;
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            matchers.push(Matcher::Ip(ip.to_canonical(), port));
            continue;
        }
        let host = host.strip_prefix('*').unwrap_or(host);
        let (suffix, exact) = match host.strip_prefix('.') {
            Some(_) => (host.to_string(), false),
            None => (format!(".{host}"), true),
        };
        if suffix.len() > 1 {
            matchers.push(Matcher::Domain {
                suffix,
                port,
                exact,
            });
        }
    }
    matchers
}

/// `host:port`, `[v6]:port`, `[v6]`, or a bare host (an IPv6 literal has several colons).
fn split_host_port(entry: &str) -> (&str, Option<&str>) {
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':')),
            None => (entry, None),
        };
    }
    match entry.split_once(':') {
        Some((host, port)) if !port.contains(':') => (host, Some(port)),
        _ => (entry, None),
    }
}

fn parse_cidr(entry: &str) -> Option<Matcher> {
    let (ip, bits) = entry.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    // A mapped IPv4 network (`::ffff:10.0.0.0/104`) is that IPv4 network, as hosts are compared.
    let (ip, bits) = match ip {
        IpAddr::V6(v6) if bits >= 96 && v6.to_ipv4_mapped().is_some() => {
            (ip.to_canonical(), bits - 96)
        }
        _ => (ip, bits),
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some(Matcher::Cidr(ip, bits))
}

fn matches(m: &Matcher, host: &str, ip: Option<&IpAddr>, port: u16) -> bool {
    let port_ok = |want: &Option<u16>| want.is_none_or(|p| p == port);
    match m {
        Matcher::All => true,
        Matcher::Cidr(net, bits) => ip.is_some_and(|ip| in_cidr(ip, net, *bits)),
        Matcher::Ip(want, want_port) => ip == Some(want) && port_ok(want_port),
        Matcher::Domain {
            suffix,
            port: want_port,
            exact,
        } => {
            (host.ends_with(suffix.as_str()) || (*exact && host == &suffix[1..]))
                && port_ok(want_port)
        }
    }
}

fn in_cidr(ip: &IpAddr, net: &IpAddr, bits: u8) -> bool {
    let (a, b, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(*a) as u128, u32::from(*b) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(*a), u128::from(*b), 128),
        _ => return false,
    };
    if bits == 0 {
        return true;
    }
    let shift = width - bits as u32;
    (a >> shift) == (b >> shift)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
