//! One HTTP client for every plain request: the shared TLS config, a user agent, redirects as
//! Go's default client follows them, a deadline per request and a cap on body size.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::net::deadline::Deadline;
use crate::net::tls::{describe_tls_error, find_tls_error, tls_problem, Tls};
use crate::report::{Evidence, Phase};

/// Go's default client stops at the tenth redirect; so do we.
pub const MAX_REDIRECTS: u32 = 10;
const USER_AGENT: &str = concat!("healthcheck/", env!("CARGO_PKG_VERSION"));
/// Bodies are read up to this size; health endpoints answer a few bytes.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

#[derive(Clone)]
pub struct HttpClient {
    tls: Tls,
    proxy: std::sync::Arc<crate::net::proxy::ProxyConfig>,
    routes: crate::net::proxy::RouteLog,
}

#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// The URL that finally answered, after redirects.
    pub final_url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub body_truncated: bool,
}

impl HttpResponse {
    /// The start of the body, one line, for messages.
    pub fn body_snippet(&self, max_chars: usize) -> String {
        crate::text::snippet(&self.body, max_chars)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One answer's status, headers and body reader, from ureq or from our proxy client.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Box<dyn Read + Send>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request got no HTTP answer.
#[derive(Clone, Debug)]
pub struct HttpError {
    pub kind: HttpErrorKind,
    pub detail: String,
    /// What was observed, as data: the failure's kind with the address (or proxy) it concerns.
    pub evidence: Option<Evidence>,
}

impl HttpError {
    pub fn new(kind: HttpErrorKind, detail: impl Into<String>) -> HttpError {
        HttpError {
            kind,
            detail: detail.into(),
            evidence: None,
        }
    }
}

/// Where one request went, for evidence: the origin's `host:port`, and the proxy (shown,
/// credentials redacted) when the request went through one.
struct Peer {
    host: String,
    address: String,
    proxy: Option<String>,
}

impl Peer {
    fn of(url: &str, proxy: &crate::net::proxy::ProxyConfig) -> Peer {
        let parsed = url::Url::parse(url).ok();
        let host = parsed
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let port = parsed
            .as_ref()
            .and_then(url::Url::port_or_known_default)
            .unwrap_or(0);
        let proxy = parsed.as_ref().and_then(|u| match proxy.route_for_url(u) {
            crate::net::proxy::Route::Proxy(p) => Some(p.shown()),
            crate::net::proxy::Route::Direct(_) => None,
        });
        Peer {
            address: format!("{host}:{port}"),
            host,
            proxy,
        }
    }

    /// The address a connection-level failure concerns: the proxy's when there is one.
    fn reached(&self) -> String {
        self.proxy.clone().unwrap_or_else(|| self.address.clone())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpErrorKind {
    InvalidUrl,
    Dns,
    Refused,
    Tls,
    Timeout,
    TooManyRedirects,
    /// A redirect we refuse to follow (a non-HTTP scheme, no host, an unparsable Location).
    BadRedirect,
    Other,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// Resolves on the bounded lookup pool and gives up at the request's deadline: the system
/// resolver has no timeout of its own.
struct BoundedResolver {
    deadline: Instant,
}

impl ureq::Resolver for BoundedResolver {
    fn resolve(&self, netloc: &str) -> std::io::Result<Vec<std::net::SocketAddr>> {
        use crate::net::lookup::{lookup, LookupFailure};
        // An IP literal needs no lookup, so it can never fail as one.
        if let Ok(addr) = netloc.parse::<std::net::SocketAddr>() {
            return Ok(vec![addr]);
        }
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "no port in address");
        let (host, port) = netloc.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        lookup(host, port, self.deadline).map_err(|e| match e {
            LookupFailure::Failed(e) => e,
            LookupFailure::TimedOut => std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("DNS lookup of {netloc} timed out"),
            ),
        })
    }
}

impl HttpClient {
    pub fn new(tls: &Tls) -> HttpClient {
        HttpClient {
            tls: tls.clone(),
            proxy: Default::default(),
            routes: Default::default(),
        }
    }

    /// The same client, sending requests through the proxies of `proxy` (from the environment).
    pub fn with_proxy(
        mut self,
        proxy: std::sync::Arc<crate::net::proxy::ProxyConfig>,
        routes: crate::net::proxy::RouteLog,
    ) -> HttpClient {
        self.proxy = proxy;
        self.routes = routes;
        self
    }

    /// An agent for one direct request: its name lookups end at the request's deadline too.
    fn agent(&self, deadline: Instant, url: &str) -> ureq::Agent {
        let mut builder = ureq::AgentBuilder::new().resolver(BoundedResolver { deadline });
        // Only HTTPS reads the trust store (see `Tls`); each hop of a redirect gets its own agent.
        if url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        {
            builder = builder.tls_config(self.tls.config());
        }
        builder
            // ureq's own connect limit (30 s) would outlast the run: a SYN that gets no answer
            // must fail at the deadline, in time for the check to report it.
            .timeout_connect(deadline.saturating_duration_since(Instant::now()))
            // We follow redirects ourselves (`follow`): ureq 2 panics on a Location without a
            // host (`file:`, `data:`, `mailto:`).
            .redirects(0)
            .user_agent(USER_AGENT)
            .build()
    }

    /// One GET, without following redirects: direct with ureq, or through the proxy the
    /// environment names for `url` with our own client (ureq 2's proxy support can panic,
    /// cannot reach an IPv6 proxy and lets the TLS handshake outlive the deadline).
    fn hop(
        &self,
        url: &str,
        deadline: Deadline,
        headers: &[(&str, &str)],
    ) -> Result<Reply, HttpError> {
        let parsed = url::Url::parse(url).ok();
        if let Some(parsed) = &parsed {
            let route = self.proxy.route_for_url(parsed);
            self.routes
                .note(&self.proxy, &format!("GET {}", shown(url)), &route);
            if let crate::net::proxy::Route::Proxy(proxy) = route {
                return self.via_proxy(proxy, parsed, deadline, headers);
            }
        }
        let mut request = self
            .agent(deadline.at(), url)
            .get(url)
            .timeout(deadline.remaining());
        for (name, value) in headers {
            request = request.set(name, value);
        }
        let response = match request.call() {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(transport)) => {
                // ureq's texts quote the URL; a URL from the database may carry credentials.
                // The run's budget, not the time left: `4.998123s` says nothing.
                let peer = Peer::of(url, &self.proxy);
                let mut error = classify_transport(&transport, deadline.budget(), &peer);
                error.detail = error.detail.replace(url, &shown(url));
                return Err(error);
            }
        };
        let headers = response
            .headers_names()
            .into_iter()
            .filter_map(|name| {
                let value = response.header(&name)?.to_string();
                Some((name, value))
            })
            .collect();
        Ok(Reply {
            status: response.status(),
            headers,
            body: Box::new(response.into_reader()),
        })
    }

    fn via_proxy(
        &self,
        proxy: &crate::net::proxy::ProxyUrl,
        url: &url::Url,
        deadline: Deadline,
        headers: &[(&str, &str)],
    ) -> Result<Reply, HttpError> {
        use crate::net::proxy::client::{self, Failure};
        let config = self.tls.config();
        let peer = Peer::of(url.as_str(), &self.proxy);
        match client::get(proxy, url, headers, config, deadline.at()) {
            Ok((head, body)) => Ok(Reply {
                status: head.status,
                headers: head.headers,
                body,
            }),
            Err(Failure::Dial(e)) => Err(classify_dial(e, deadline.budget(), &peer)),
            Err(Failure::Proxy(why)) => Err(proxy_error(why)),
            Err(Failure::Io(e, doing)) => {
                let mut error = classify_io(&e, deadline.budget(), doing, &peer, Phase::Answer);
                error.detail = format!("{} (through proxy {})", error.detail, proxy.shown());
                Err(error)
            }
            Err(Failure::Protocol(why)) => Err(HttpError::new(
                HttpErrorKind::Other,
                format!("{why} (through proxy {})", proxy.shown()),
            )),
        }
    }

    /// GET under a deadline; any HTTP status is a response, not an error.
    pub fn get(
        &self,
        url: &str,
        deadline: Deadline,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, HttpError> {
        let remaining = deadline.remaining();
        if remaining.is_zero() {
            return Err(HttpError::new(
                HttpErrorKind::Timeout,
                "no time left before the deadline".to_string(),
            ));
        }
        let (reply, final_url) = self.follow(url, deadline, headers)?;
        let Reply {
            status,
            headers,
            body,
        } = reply;
        let mut bytes = Vec::new();
        let read = body.take(MAX_BODY_BYTES + 1).read_to_end(&mut bytes);
        if let Err(e) = read {
            let peer = Peer::of(&final_url, &self.proxy);
            return Err(classify_io(
                &e,
                deadline.budget(),
                "reading the response body",
                &peer,
                Phase::Answer,
            ));
        }
        let body_truncated = bytes.len() as u64 > MAX_BODY_BYTES;
        bytes.truncate(MAX_BODY_BYTES as usize);
        Ok(HttpResponse {
            status,
            final_url,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            body_truncated,
        })
    }
}

/// Statuses Go's client follows (with a GET; all our requests are GETs).
fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Headers Go drops when a redirect leaves the original host (and its subdomains); our token
/// header is one of them too.
const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "www-authenticate",
    "coder-session-token",
];

impl HttpClient {
    /// One GET per hop, each under the same deadline, as Go's default client: at most
    /// `MAX_REDIRECTS` hops, relative Locations resolved against the current URL, only http and
    /// https followed. A 3xx without a Location is the answer. Returns the last response and
    /// its URL.
    fn follow(
        &self,
        url: &str,
        deadline: Deadline,
        headers: &[(&str, &str)],
    ) -> Result<(Reply, String), HttpError> {
        let first_host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
        let mut current = url.to_string();
        let mut hop = 0;
        loop {
            let remaining = deadline.remaining();
            if remaining.is_zero() {
                return Err(HttpError::new(
                    HttpErrorKind::Timeout,
                    if hop == 0 {
                        "no time left before the deadline".to_string()
                    } else {
                        format!(
                            "no time left before the deadline to follow the redirect to {}",
                            shown(&current)
                        )
                    },
                ));
            }
            let same_site = url::Url::parse(&current)
                .ok()
                .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
                .zip(first_host.as_deref())
                .is_some_and(|(host, first)| host == first || host.ends_with(&format!(".{first}")));
            // The headers of this hop: sensitive ones only while on the first site.
            let hop_headers: Vec<(&str, &str)> = headers
                .iter()
                .filter(|(name, _)| {
                    same_site || !SENSITIVE_HEADERS.contains(&name.to_ascii_lowercase().as_str())
                })
                .copied()
                .collect();
            // Each hop goes through the proxy the environment names for it (or direct).
            let response = self
                .hop(&current, deadline, &hop_headers)
                .map_err(|mut error| {
                    if hop > 0 {
                        error.detail =
                            format!("after a redirect to {}: {}", shown(&current), error.detail);
                    }
                    error
                })?;
            let location = response.header("Location").map(str::to_string);
            let (true, Some(location)) = (is_redirect(response.status), location) else {
                return Ok((response, current));
            };
            // Go counts the redirects received and refuses to follow the tenth.
            if hop + 1 >= MAX_REDIRECTS {
                return Err(HttpError::new(
                    HttpErrorKind::TooManyRedirects,
                    format!(
                        "stopped after {MAX_REDIRECTS} redirects (the last from {})",
                        shown(&current)
                    ),
                ));
            }
            current = next_hop(&current, &location, response.status)?;
            hop += 1;
        }
    }
}

/// Where a redirect goes: `location` resolved against `from`, which must be an http(s) URL with
/// a host. Anything else ends the request with an error naming it, as Go's client does.
fn next_hop(from: &str, location: &str, status: u16) -> Result<String, HttpError> {
    let bad = |why: String| {
        HttpError::new(
            HttpErrorKind::BadRedirect,
            format!("{} from {} {why}", status_words(status), shown(from)),
        )
    };
    let base = url::Url::parse(from).map_err(|e| bad(format!("cannot be followed: {e}")))?;
    let next = base.join(location.trim()).map_err(|e| {
        bad(format!(
            "has a Location that is not a URL ({e}): {:?}",
            crate::text::snippet(location, 200)
        ))
    })?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(bad(format!(
            "points to a non-HTTP URL ({}:…); only http and https redirects are followed",
            crate::text::snippet(next.scheme(), 40)
        )));
    }
    if next.host_str().is_none_or(str::is_empty) {
        return Err(bad(format!(
            "points to a URL without a host: {:?}",
            crate::text::snippet(&shown(next.as_str()), 200)
        )));
    }
    Ok(next.to_string())
}

fn status_words(status: u16) -> String {
    format!("the {status} redirect")
}

/// A URL for messages: credentials and query hidden, and cut to a readable length.
fn shown(url: &str) -> String {
    crate::text::snippet(&crate::redact::redact_url(url), 300)
}

fn classify_transport(t: &ureq::Transport, timeout: Duration, peer: &Peer) -> HttpError {
    use ureq::ErrorKind as K;
    if let Some(tls) = find_tls_error(t) {
        return tls_error(tls, peer);
    }
    if t.kind() == K::Dns {
        let why = std::error::Error::source(t)
            .map(|s| s.to_string())
            .or_else(|| t.message().map(str::to_string))
            .unwrap_or_else(|| "host not found".to_string());
        return HttpError {
            kind: HttpErrorKind::Dns,
            detail: format!("DNS lookup failed: {why}"),
            evidence: Some(Evidence::Dns {
                host: peer.proxy.clone().unwrap_or_else(|| peer.host.clone()),
                detail: why,
            }),
        };
    }
    let source_io = std::error::Error::source(t).and_then(|s| s.downcast_ref::<std::io::Error>());
    if let Some(io) = source_io {
        // ureq reports a failed connect as ConnectionFailed; anything later as Io.
        let phase = if t.kind() == K::ConnectionFailed {
            Phase::Connect
        } else {
            Phase::Answer
        };
        let classified = classify_io(io, timeout, "", peer, phase);
        if classified.kind != HttpErrorKind::Other {
            return classified;
        }
    }
    let message = t.message().map(str::to_string).unwrap_or_default();
    let (kind, detail) = match t.kind() {
        K::Dns => (
            HttpErrorKind::Dns,
            format!(
                "DNS lookup failed: {}",
                non_empty(&message, "host not found")
            ),
        ),
        K::ConnectionFailed => (
            HttpErrorKind::Refused,
            format!("connection failed: {}", non_empty(&message, &t.to_string())),
        ),
        K::TooManyRedirects => (
            HttpErrorKind::TooManyRedirects,
            format!("more than {MAX_REDIRECTS} redirects"),
        ),
        K::InvalidUrl | K::UnknownScheme => (HttpErrorKind::InvalidUrl, t.to_string()),
        _ => (HttpErrorKind::Other, t.to_string()),
    };
    HttpError::new(kind, detail)
}

fn tls_error(tls: &rustls::Error, peer: &Peer) -> HttpError {
    HttpError {
        kind: HttpErrorKind::Tls,
        detail: describe_tls_error(tls),
        evidence: Some(Evidence::Tls {
            address: peer.address.clone(),
            problem: tls_problem(tls),
        }),
    }
}

/// A failure of the tunnel through a proxy, or of the TLS handshake inside it.
fn classify_dial(e: crate::net::conn::DialError, timeout: Duration, peer: &Peer) -> HttpError {
    use crate::net::conn::{is_timeout, DialError};
    match e {
        DialError::Tls(io) if is_timeout(&io) => HttpError {
            kind: HttpErrorKind::Timeout,
            detail: format!(
                "timed out in the TLS handshake through the proxy (the {} deadline)",
                crate::duration::go_string(timeout)
            ),
            evidence: Some(Evidence::Timeout {
                address: peer.address.clone(),
                phase: Phase::Tls,
            }),
        },
        DialError::Tls(io) => classify_io(
            &io,
            timeout,
            "in the TLS handshake through the proxy",
            peer,
            Phase::Tls,
        ),
        DialError::TlsName(why) => HttpError::new(
            HttpErrorKind::InvalidUrl,
            format!("not a TLS server name: {why}"),
        ),
        // The tunnel's own words name the proxy (credentials hidden) and what it answered.
        DialError::Proxy(why) => proxy_error(why),
        DialError::Deadline => HttpError::new(
            HttpErrorKind::Timeout,
            "no time left before the deadline".to_string(),
        ),
        other => HttpError::new(HttpErrorKind::Other, format!("{other:?}")),
    }
}

fn proxy_error(why: crate::net::conn::ProxyError) -> HttpError {
    let timed_out = matches!(why.evidence, Some(Evidence::Timeout { .. }))
        || why.message.ends_with("timed out");
    HttpError {
        kind: if timed_out {
            HttpErrorKind::Timeout
        } else {
            HttpErrorKind::Other
        },
        detail: why.message,
        evidence: why.evidence,
    }
}

fn classify_io(
    io: &std::io::Error,
    timeout: Duration,
    doing: &str,
    peer: &Peer,
    phase: Phase,
) -> HttpError {
    use std::io::ErrorKind as K;
    if let Some(inner) = io.get_ref() {
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return tls_error(tls, peer);
        }
    }
    let doing = if doing.is_empty() {
        String::new()
    } else {
        format!(" {doing}")
    };
    let address = peer.reached();
    let (kind, detail, evidence) = match io.kind() {
        K::TimedOut | K::WouldBlock => (
            HttpErrorKind::Timeout,
            format!(
                "timed out{doing} (the {} deadline)",
                crate::duration::go_string(timeout)
            ),
            Some(Evidence::Timeout { address, phase }),
        ),
        K::ConnectionRefused => (
            HttpErrorKind::Refused,
            format!("connection refused{doing} (nothing listening on that port?)"),
            Some(Evidence::Refused { address }),
        ),
        K::HostUnreachable | K::NetworkUnreachable => (
            HttpErrorKind::Other,
            format!("{io}{doing}"),
            Some(Evidence::Unreachable { address }),
        ),
        K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof => (
            HttpErrorKind::Other,
            format!("connection closed by the server{doing}: {io}"),
            None,
        ),
        _ => (HttpErrorKind::Other, format!("{io}{doing}"), None),
    };
    HttpError {
        kind,
        detail,
        evidence,
    }
}

fn non_empty(s: &str, fallback: &str) -> String {
    if s.is_empty() {
        fallback.to_string()
    } else {
        s.to_string()
    }
}
