//! In-process HTTP servers for faults no real server produces on demand: a server that accepts
//! and never answers, and one that answers whatever bytes a test gives it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// Accepts connections and never answers; connections are held open until the process ends.
pub fn stall_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

/// Answers every request with what `respond(request_head)` returns (raw HTTP bytes), then
/// closes the connection.
pub fn fixed_server(respond: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let respond = Arc::new(respond);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let respond = respond.clone();
            std::thread::spawn(move || serve_one(stream, &*respond));
        }
    });
    port
}

fn serve_one(mut stream: TcpStream, respond: &dyn Fn(&str) -> Vec<u8>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let head = read_head(&mut stream);
    let _ = stream.write_all(&respond(&head));
    let _ = stream.flush();
}

/// Reads up to the blank line that ends the request head.
pub fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A complete HTTP/1.1 response with a body.
pub fn response(status: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

/// The request path of a request head (`GET /healthz HTTP/1.1` -> `/healthz`).
pub fn path_of(head: &str) -> &str {
    head.split_whitespace().nth(1).unwrap_or("")
}

/// A minimal Coder look-alike: `/healthz` answers `OK`, `/api/v2/buildinfo` a version.
pub fn coder_like(version: &'static str) -> u16 {
    fixed_server(move |head| match path_of(head) {
        "/healthz" => response("200 OK", &[("X-Coder-Build-Version", version)], "OK"),
        "/api/v2/buildinfo" => response(
            "200 OK",
            &[
                ("Content-Type", "application/json"),
                ("X-Coder-Build-Version", version),
            ],
            &format!(
                r#"{{"external_url":"","version":"{version}","dashboard_url":"","workspace_proxy":false,"provisioner_api_version":"1.20"}}"#
            ),
        ),
        _ => response("404 Not Found", &[], "not found"),
    })
}
