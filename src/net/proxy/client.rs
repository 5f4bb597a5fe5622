//! One HTTP/1.1 GET through a forward proxy, on our own connection code (the CONNECT tunnel the
//! WebSocket and DERP paths use): every phase (connecting to the proxy, CONNECT, the TLS
//! handshake, the request, the response) runs on a `DeadlineStream`, so nothing outlives the
//! run's deadline, and no proxy's answer can make us panic. Plain http is sent to the proxy in
//! absolute form with its credentials; https goes through a tunnel, TLS end to end.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use rustls::ClientConfig;

use super::ProxyUrl;
use crate::net::conn::{self, Conn, DialError};

/// A response head is a status line and headers; 64 KiB is far beyond any real one.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Header lines parsed in a response head.
pub const MAX_HEADERS: usize = 128;
/// Interim answers (`100 Continue`, `103 Early Hints`) skipped before the real one.
const MAX_INTERIM: usize = 8;
/// A chunk-size line or trailer line is a few bytes.
const MAX_LINE: usize = 4096;

/// The status line and headers of an answer.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

/// Why a proxied request got no answer.
#[derive(Debug)]
pub enum Failure {
    /// Reaching the proxy, CONNECT, or the TLS handshake inside the tunnel.
    Dial(DialError),
    /// The proxy could not be reached (plain http: the request goes to the proxy itself).
    Proxy(conn::ProxyError),
    /// Sending the request or reading the answer; `doing` says which.
    Io(io::Error, &'static str),
    /// An answer that is not HTTP/1.x, or a request we cannot send.
    Protocol(String),
}

/// GET `url` through `proxy`. `tls` is used for https URLs. Returns the answer's head and a
/// reader of its body (framed by Content-Length or chunked encoding, else read to the end);
/// every read stays bounded by `deadline`.
pub fn get(
    proxy: &ProxyUrl,
    url: &url::Url,
    headers: &[(&str, &str)],
    tls: Arc<ClientConfig>,
    deadline: Instant,
) -> Result<(Head, Box<dyn Read + Send>), Failure> {
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Failure::Protocol("the URL has no host".to_string()))?;
    let secure = match url.scheme() {
        "https" => true,
        "http" => false,
        other => {
            return Err(Failure::Protocol(format!(
                "{other}:// URLs cannot be fetched"
            )))
        }
    };
    let port = url
        .port_or_known_default()
        .unwrap_or(if secure { 443 } else { 80 });
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let mut request = if secure {
        format!(
            "GET {} HTTP/1.1\r\n",
            &url[url::Position::BeforePath..url::Position::AfterQuery]
        )
    } else {
        let mut absolute = url.clone();
        absolute.set_fragment(None);
        let _ = absolute.set_username("");
        let _ = absolute.set_password(None);
        format!("GET {absolute} HTTP/1.1\r\n")
    };
    request.push_str(&format!(
        "Host: {authority}\r\nUser-Agent: healthcheck/{}\r\nAccept: */*\r\nConnection: close\r\n",
        env!("CARGO_PKG_VERSION")
    ));
    if !secure {
        if let Some(auth) = proxy.authorization() {
            request.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
        }
    }
    // A URL's userinfo is sent as basic auth, as Go's client (and ureq, on direct requests) do.
    let has_authorization = headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("authorization"));
    if !has_authorization && (!url.username().is_empty() || url.password().is_some()) {
        let pair = format!(
            "{}:{}",
            super::percent_decode(url.username()),
            super::percent_decode(url.password().unwrap_or_default())
        );
        request.push_str(&format!(
            "Authorization: Basic {}\r\n",
            super::base64(pair.as_bytes())
        ));
    }
    for (name, value) in headers {
        if [name, value].iter().any(|s| s.contains(['\r', '\n'])) {
            return Err(Failure::Protocol(format!(
                "the value of header {name:?} holds a line break"
            )));
        }
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");

    let mut stream = if secure {
        conn::dial_via(bare, port, Some(tls), Some(proxy), deadline).map_err(Failure::Dial)?
    } else {
        let tcp = conn::connect_tcp(&proxy.host, proxy.port, deadline)
            .map_err(|e| Failure::Proxy(conn::unreachable_proxy(proxy, &e)))?;
        Conn::Plain(tcp)
    };
    stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(|e| Failure::Io(e, "sending the request"))?;
    let mut reader = BufReader::new(stream);
    let mut interim = 0;
    let head = loop {
        let head = read_head(&mut reader)?;
        // 101 would switch protocols; a GET without Upgrade never asks for it.
        if (100..200).contains(&head.status) && head.status != 101 && interim < MAX_INTERIM {
            interim += 1;
            continue;
        }
        break head;
    };
    let body: Box<dyn Read + Send> = if matches!(head.status, 100..=199 | 204 | 304) {
        Box::new(io::empty())
    } else if header(&head, "transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().trim_end().ends_with("chunked"))
    {
        Box::new(Chunked::new(reader))
    } else if let Some(length) = header(&head, "content-length") {
        let length: u64 = length.trim().parse().map_err(|_| {
            Failure::Protocol(format!(
                "the answer's Content-Length is not a number: {:?}",
                crate::text::snippet(length, 40)
            ))
        })?;
        Box::new(LengthChecked {
            inner: reader.take(length),
            left: length,
        })
    } else {
        Box::new(reader)
    };
    Ok((head, body))
}

fn header<'a>(head: &'a Head, name: &str) -> Option<&'a str> {
    head.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Reads one response head (up to the blank line) and parses it.
fn read_head(reader: &mut impl BufRead) -> Result<Head, Failure> {
    let mut raw = Vec::new();
    loop {
        let before = raw.len();
        let mut line = Vec::new();
        let room = (MAX_HEAD_BYTES + 1).saturating_sub(before) as u64;
        let n = reader
            .by_ref()
            .take(room)
            .read_until(b'\n', &mut line)
            .map_err(|e| Failure::Io(e, "reading the response"))?;
        raw.extend_from_slice(&line);
        if raw.len() > MAX_HEAD_BYTES {
            return Err(Failure::Protocol(format!(
                "the response head is longer than {} KiB",
                MAX_HEAD_BYTES / 1024
            )));
        }
        if n == 0 {
            return Err(Failure::Io(
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    if raw.is_empty() {
                        "the connection closed before any answer"
                    } else {
                        "the connection closed in the middle of the response head"
                    },
                ),
                "reading the response",
            ));
        }
        // Blank lines before the status line are tolerated, as by most clients.
        if (line == b"\r\n" || line == b"\n") && raw.len() > line.len() {
            break;
        }
        if raw == b"\r\n" || raw == b"\n" {
            raw.clear();
        }
    }
    let mut headers = vec![httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&raw) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(Failure::Protocol(
                "the response head is incomplete".to_string(),
            ))
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Failure::Protocol(format!(
                "the response has more than {MAX_HEADERS} headers"
            )))
        }
        Err(e) => {
            return Err(Failure::Protocol(format!(
                "the answer is not HTTP/1.x ({e}): {:?}",
                crate::text::snippet(&String::from_utf8_lossy(&raw), 80)
            )))
        }
    }
    Ok(Head {
        status: response.code.unwrap_or(0),
        headers: response
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect(),
    })
}

/// A Content-Length body: ending before the stated length is an error, not a short body.
struct LengthChecked<R> {
    inner: io::Take<R>,
    left: u64,
}

impl<R: Read> Read for LengthChecked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the body ended {} bytes before its Content-Length",
                    self.left
                ),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A `Transfer-Encoding: chunked` body, decoded.
struct Chunked<R> {
    inner: R,
    /// Bytes left in the current chunk.
    left: u64,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    fn new(inner: R) -> Chunked<R> {
        Chunked {
            inner,
            left: 0,
            done: false,
        }
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        self.inner
            .by_ref()
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\n") {
            return Err(bad_chunk(if line.len() >= MAX_LINE {
                "a chunk line is too long"
            } else {
                "the body ended inside a chunk line"
            }));
        }
        Ok(String::from_utf8_lossy(&line).trim().to_string())
    }
}

fn bad_chunk(why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad chunked encoding: {why}"),
    )
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let line = self.line()?;
            let size = line.split(';').next().unwrap_or_default().trim();
            self.left = u64::from_str_radix(size, 16)
                .map_err(|_| bad_chunk("a chunk size is not a hex number"))?;
            if self.left == 0 {
                // Trailers, up to the blank line.
                while !self.line()?.is_empty() {}
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the body ended inside a chunk",
            ));
        }
        self.left -= n as u64;
        if self.left == 0 && !self.line()?.is_empty() {
            return Err(bad_chunk("a chunk is longer than its size"));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(body: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Chunked::new(io::Cursor::new(body.to_vec())).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn chunked_bodies_are_decoded_and_bad_ones_refused() {
        assert_eq!(
            chunked(b"2\r\nOK\r\n3;ext=1\r\n!!!\r\n0\r\nX-Trailer: 1\r\n\r\n").unwrap(),
            b"OK!!!"
        );
        assert!(chunked(b"zz\r\nOK\r\n0\r\n\r\n").is_err());
        assert!(chunked(b"5\r\nOK").is_err());
        assert!(chunked(b"2\r\nOKAY\r\n0\r\n\r\n").is_err());
    }

    #[test]
    fn plain_http_goes_to_the_proxy_in_absolute_form_with_its_credentials() {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                stream.read_exact(&mut byte).unwrap();
                head.push(byte[0]);
            }
            stream
                .write_all(
                    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\
                      Transfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n",
                )
                .unwrap();
            String::from_utf8(head).unwrap()
        });
        let proxy = ProxyUrl {
            host: "127.0.0.1".into(),
            port,
            username: "u".into(),
            password: Some("p".into()),
            source: "HTTP_PROXY",
        };
        let url = url::Url::parse("http://a:b%40c@coder.example:8080/healthz?x=1#frag").unwrap();
        let (config, _) = crate::net::tls::RecordingVerifier::config();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let (head, mut body) = get(&proxy, &url, &[("X-Test", "1")], config, deadline).unwrap();
        assert_eq!(head.status, 200);
        let mut text = String::new();
        body.read_to_string(&mut text).unwrap();
        assert_eq!(text, "OK");
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET http://coder.example:8080/healthz?x=1 HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains("\r\nHost: coder.example:8080\r\n"),
            "{request}"
        );
        assert!(
            request.contains(&format!(
                "\r\nProxy-Authorization: Basic {}\r\n",
                super::super::base64(b"u:p")
            )),
            "{request}"
        );
        assert!(
            request.contains(&format!(
                "\r\nAuthorization: Basic {}\r\n",
                super::super::base64(b"a:b@c")
            )),
            "{request}"
        );
        assert!(request.contains("\r\nX-Test: 1\r\n"), "{request}");
        let bad = get(
            &proxy,
            &url,
            &[("X-Bad", "a\r\nInjected: 1")],
            crate::net::tls::RecordingVerifier::config().0,
            deadline,
        );
        assert!(matches!(bad, Err(Failure::Protocol(why)) if why.contains("line break")));
    }

    #[test]
    fn heads_parse_and_oversized_ones_are_named() {
        let head = read_head(&mut io::Cursor::new(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK".to_vec(),
        ))
        .unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(header(&head, "content-length"), Some("2"));
        let many: String = (0..200).map(|i| format!("X-{i}: y\r\n")).collect();
        let raw = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
        match read_head(&mut io::Cursor::new(raw.into_bytes())) {
            Err(Failure::Protocol(why)) => assert!(why.contains("more than 128 headers"), "{why}"),
            other => panic!("{other:?}"),
        }
        let huge = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "y".repeat(70_000));
        match read_head(&mut io::Cursor::new(huge.into_bytes())) {
            Err(Failure::Protocol(why)) => assert!(why.contains("longer than 64 KiB"), "{why}"),
            other => panic!("{other:?}"),
        }
        match read_head(&mut io::Cursor::new(b"SSH-2.0-OpenSSH\r\n\r\n".to_vec())) {
            Err(Failure::Protocol(why)) => assert!(why.contains("not HTTP"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
