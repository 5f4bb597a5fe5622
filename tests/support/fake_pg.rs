//! A PostgreSQL server that completes the start-up and then never answers a query, while keeping
//! the connection open: a database process frozen after accepting us, which no real server does on
//! demand.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn read_exact(stream: &mut TcpStream, n: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf).ok()?;
    Some(buf)
}

fn length(bytes: &[u8]) -> usize {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize
}

fn serve(mut stream: TcpStream) -> Option<()> {
    // Start-up (an SSLRequest first is refused with 'N').
    loop {
        let len = length(&read_exact(&mut stream, 4)?);
        let body = read_exact(&mut stream, len.checked_sub(4)?)?;
        if body.get(..4) == Some(&[0x04, 0xd2, 0x16, 0x2f]) {
            stream.write_all(b"N").ok()?;
            continue;
        }
        break;
    }
    let mut hello = message(b'R', &0u32.to_be_bytes());
    hello.extend(message(b'K', &[0, 0, 0, 1, 0, 0, 0, 2]));
    hello.extend(message(b'Z', b"I"));
    stream.write_all(&hello).ok()?;
    // Every query goes unanswered; the connection stays open until the client says goodbye.
    loop {
        let kind = read_exact(&mut stream, 1)?[0];
        let len = length(&read_exact(&mut stream, 4)?);
        read_exact(&mut stream, len.checked_sub(4)?)?;
        if kind == b'X' {
            return Some(());
        }
    }
}

/// Starts the server; returns its port.
pub fn frozen_after_startup() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    port
}
