//! An in-process Coder look-alike for the Websocket section: `/api/v2/debug/ws` (token check,
//! then an echo server), `/derp` (DERP over WebSocket: 101 with subprotocol `derp`, then the
//! ServerKey frame), `/healthz` and `/api/v2/buildinfo`. Faults that a real Coder will not
//! produce on demand are switched on per server.

use std::io::{Cursor, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tungstenite::handshake::server::{Request, Response};
use tungstenite::http::HeaderValue;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};

use super::http::{path_of, read_head, response};

pub const VERSION: &str = "v2.18.0";

/// The DERP magic, "DERP" + U+1F511.
pub const DERP_MAGIC: [u8; 8] = [0x44, 0x45, 0x52, 0x50, 0xf0, 0x9f, 0x94, 0x91];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Upgrade, then close the connection at once.
    CloseAtOnce,
    /// Upgrade, then never send anything.
    NeverAnswer,
    /// Echo a different payload.
    WrongPayload,
    /// Echo as a binary frame.
    Binary,
    /// Answer `400 test error` instead of upgrading (Coder's own test, D2).
    Refuse400,
    /// `/derp`: send a frame that is not a DERP ServerKey.
    BadDerpMagic,
    /// Answer every WebSocket upgrade with a 101 reply sent one byte every 300 ms.
    Trickle101,
    /// Echo a 2 MiB text message (over the client's 1 MiB cap).
    Huge,
}

/// Close frames the server received: (code, reason).
pub type Closes = Arc<Mutex<Vec<(u16, String)>>>;

pub struct WsServer {
    pub port: u16,
    /// Every close frame a client sent on an echo connection.
    pub closes: Closes,
}

impl WsServer {
    /// `token` is the only session token `/api/v2/debug/ws` accepts.
    pub fn start(token: &'static str, fault: Fault) -> WsServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let closes = Closes::default();
        let recorded = closes.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = recorded.clone();
                std::thread::spawn(move || serve(stream, token, fault, &recorded));
            }
        });
        WsServer { port, closes }
    }

    /// The close frames received so far, waiting up to a second for the first one (the client
    /// may exit before the server thread has read it).
    pub fn wait_for_close(&self) -> Vec<(u16, String)> {
        for _ in 0..100 {
            let got = self.closes.lock().unwrap().clone();
            if !got.is_empty() {
                return got;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Vec::new()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The stream with the already-read request head put back in front, for tungstenite's accept.
struct Replay {
    head: Cursor<Vec<u8>>,
    stream: TcpStream,
}

impl Read for Replay {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.head.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        self.stream.read(buf)
    }
}

impl Write for Replay {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn wants_websocket(head: &str) -> bool {
    header(head, "Upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        && header(head, "Connection").is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"))
}

fn answer(mut stream: TcpStream, bytes: Vec<u8>) {
    let _ = stream.write_all(&bytes);
    let _ = stream.flush();
}

/// Answers an upgrade with a valid-looking 101 reply, one byte every 300 ms, long enough to
/// outlast any test timeout; stops when the client goes away.
pub fn trickle_101(mut stream: TcpStream) {
    let mut reply = String::from("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n");
    for i in 0..20 {
        reply.push_str(&format!("X-Slow-{i}: {}\r\n", "z".repeat(20)));
    }
    reply.push_str("\r\n");
    for byte in reply.bytes() {
        if stream.write_all(&[byte]).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn serve(mut stream: TcpStream, token: &str, fault: Fault, closes: &Closes) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let head = read_head(&mut stream);
    if fault == Fault::Trickle101 && wants_websocket(&head) {
        return trickle_101(stream);
    }
    let coder = [("X-Coder-Build-Version", VERSION)];
    // coderd's WebSocket library refuses an upgrade over HTTP/1.0 (nginx's default upstream
    // protocol). Only when the upgrade headers came through: older tests here expect the
    // header complaint for a request that lacks both.
    let websocket_path = matches!(path_of(&head), "/api/v2/debug/ws" | "/derp");
    let http10 = head.lines().next().is_some_and(|l| l.ends_with("HTTP/1.0"));
    if websocket_path && http10 && wants_websocket(&head) {
        return answer(
            stream,
            response(
                "426 Upgrade Required",
                &[coder[0], ("Upgrade", "websocket")],
                "WebSocket protocol violation: handshake request must be at least HTTP/1.1: \"HTTP/1.0\"",
            ),
        );
    }
    match path_of(&head) {
        "/healthz" => answer(stream, response("200 OK", &coder, "OK")),
        "/api/v2/buildinfo" => answer(
            stream,
            response(
                "200 OK",
                &[("Content-Type", "application/json"), coder[0]],
                &format!(
                    r#"{{"external_url":"","version":"{VERSION}","dashboard_url":"","workspace_proxy":false,"provisioner_api_version":"1.20"}}"#
                ),
            ),
        ),
        "/api/v2/debug/ws" => {
            let json = [("Content-Type", "application/json"), coder[0]];
            match header(&head, "Coder-Session-Token") {
                None => {
                    return answer(
                        stream,
                        response(
                            "401 Unauthorized",
                            &json,
                            r#"{"message":"Cookie \"coder_session_token\" or query parameter must be provided."}"#,
                        ),
                    )
                }
                Some(given) if given != token => {
                    return answer(
                        stream,
                        response(
                            "401 Unauthorized",
                            &json,
                            r#"{"message":"API key secret is invalid."}"#,
                        ),
                    )
                }
                Some(_) => {}
            }
            if fault == Fault::Refuse400 {
                return answer(stream, response("400 Bad Request", &coder, "test error"));
            }
            if !wants_websocket(&head) {
                // What Coder's WebSocket library answers to a request whose upgrade was dropped.
                let connection = header(&head, "Connection").unwrap_or("");
                return answer(
                    stream,
                    response(
                        "426 Upgrade Required",
                        &[coder[0], ("Upgrade", "websocket")],
                        &format!(
                            "WebSocket protocol violation: Connection header {connection:?} does not contain Upgrade"
                        ),
                    ),
                );
            }
            if let Some(ws) = accept(stream, head, None) {
                echo(ws, fault, closes);
            }
        }
        "/derp" => {
            let subprotocol = header(&head, "Sec-WebSocket-Protocol").unwrap_or("");
            if !wants_websocket(&head) || !subprotocol.contains("derp") {
                return answer(
                    stream,
                    response(
                        "426 Upgrade Required",
                        &coder,
                        "DERP requires connection upgrade",
                    ),
                );
            }
            if let Some(ws) = accept(stream, head, Some("derp")) {
                relay(ws, fault);
            }
        }
        _ => answer(stream, response("404 Not Found", &coder, "not found")),
    }
}

// tungstenite fixes the callback's error type (a whole HTTP response).
#[allow(clippy::result_large_err)]
fn accept(
    stream: TcpStream,
    head: String,
    subprotocol: Option<&'static str>,
) -> Option<WebSocket<Replay>> {
    let replay = Replay {
        head: Cursor::new(head.into_bytes()),
        stream,
    };
    tungstenite::accept_hdr(replay, move |_req: &Request, mut resp: Response| {
        if let Some(protocol) = subprotocol {
            resp.headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(protocol));
        }
        Ok(resp)
    })
    .ok()
}

/// Coder's echo test expects "0", "1", "2" in that order; anything else gets an answer that
/// the client must reject, so a client sending the wrong payloads cannot pass.
fn echo(mut ws: WebSocket<Replay>, fault: Fault, closes: &Closes) {
    if fault == Fault::CloseAtOnce {
        let _ = ws.get_ref().stream.shutdown(std::net::Shutdown::Both);
        return;
    }
    let mut next = 0;
    loop {
        let message = match ws.read() {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => m,
            Ok(Message::Close(frame)) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((0, String::new()));
                closes.lock().unwrap().push((code, reason));
                return;
            }
            Err(_) => return,
            Ok(_) => continue,
        };
        let expected = matches!(&message, Message::Text(t) if t.as_str() == next.to_string());
        next += 1;
        let reply = match (fault, message) {
            (Fault::NeverAnswer, _) => continue,
            (Fault::WrongPayload, _) => Message::text("x"),
            (Fault::Huge, _) => Message::text("x".repeat(2 << 20)),
            (_, m) if !expected => {
                Message::text(format!("out of order: {}", m.to_text().unwrap_or("?")))
            }
            (Fault::Binary, m) => Message::binary(m.into_data()),
            (_, m) => m,
        };
        if ws.send(reply).is_err() {
            return;
        }
    }
}

fn relay(mut ws: WebSocket<Replay>, fault: Fault) {
    match fault {
        Fault::NeverAnswer => {}
        Fault::CloseAtOnce => {
            let _ = ws.close(Some(CloseFrame {
                code: CloseCode::Away,
                reason: "bye".into(),
            }));
            let _ = ws.flush();
            return;
        }
        _ => {
            let mut frame = vec![0x01, 0, 0, 0, 40];
            if fault == Fault::BadDerpMagic {
                frame.extend_from_slice(b"NOTDERP!");
            } else {
                frame.extend_from_slice(&DERP_MAGIC);
            }
            frame.extend_from_slice(&[0x5a; 32]);
            if ws.send(Message::binary(frame)).is_err() {
                return;
            }
        }
    }
    // Hold the connection until the client goes away, as a relay would.
    while let Ok(message) = ws.read() {
        if let Message::Close(_) = message {
            return;
        }
    }
}
