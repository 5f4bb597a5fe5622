//! The two probes: Coder's echo test (token) and the DERP relay's first frame (no token).

use std::time::{Duration, Instant};

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};

use super::dial::{self, Conn, Target};
use super::upgrade::{self, DialError, Shared};
use super::{explain_refusal, fail_uncoded};
use crate::checks::Context;
use crate::report::websocket::{Probe, WebsocketReport};
use crate::report::Code;

/// DERP frame type of the ServerKey frame, and the magic that opens its payload.
const FRAME_SERVER_KEY: u8 = 0x01;
const DERP_MAGIC: [u8; 8] = [0x44, 0x45, 0x52, 0x50, 0xf0, 0x9f, 0x94, 0x91];
/// Frame header (type + length) + magic + 32-byte key.
const SERVER_KEY_FRAME_LEN: usize = 5 + 8 + 32;

/// Coder's echo test: three text messages on `/api/v2/debug/ws`, each must come back unchanged.
pub fn echo(ctx: &Context, access_url: &url::Url, token: &str, report: &mut WebsocketReport) {
    report.probe = Probe::Echo;
    let Some(mut ws) = open(
        ctx,
        access_url,
        "/api/v2/debug/ws",
        &[("Coder-Session-Token", token)],
        None,
        report,
    ) else {
        return;
    };
    let timeout = ctx.deadline.budget();
    for i in 0..3 {
        let want = i.to_string();
        if let Err(why) = send(
            &mut ws,
            Message::text(want.clone()),
            ctx.deadline.at(),
            timeout,
        ) {
            report
                .base
                .fail(Code::Ews02, format!("write message: {why}"));
            return;
        }
        match receive(&mut ws, ctx.deadline.at(), timeout) {
            Err(why) => {
                report
                    .base
                    .fail(Code::Ews02, format!("read message: {why}"));
                return;
            }
            Ok(Message::Text(got)) if got.as_str() == want => report.echoed += 1,
            Ok(Message::Text(got)) => {
                report.base.fail(
                    Code::Ews03,
                    format!(
                        "received incorrect message: wanted {want:?}, got {:?}",
                        got.as_str()
                    ),
                );
                return;
            }
            Ok(other) => {
                report.base.fail(
                    Code::Ews03,
                    format!("received incorrect message type: {}", kind(&other)),
                );
                return;
            }
        }
    }
    goodbye(&mut ws, ctx.deadline.at());
    report.healthy = true;
}

/// Token-free: upgrade on the embedded relay's `/derp` with subprotocol `derp` and read the
/// ServerKey frame the relay sends first. Proves the upgrade passes and data flows to us.
pub fn derp_key(ctx: &Context, access_url: &url::Url, report: &mut WebsocketReport) {
    report.probe = Probe::DerpKey;
    let Some(mut ws) = open(ctx, access_url, "/derp", &[], Some("derp"), report) else {
        return;
    };
    let timeout = ctx.deadline.budget();
    // DERP over WebSocket is a byte stream in binary messages; a frame may span several.
    let mut stream = Vec::new();
    while stream.len() < SERVER_KEY_FRAME_LEN {
        match receive(&mut ws, ctx.deadline.at(), timeout) {
            Err(why) => {
                let what = if stream.is_empty() {
                    "no DERP frame from the relay"
                } else {
                    "the relay's ServerKey frame was cut short"
                };
                report
                    .base
                    .fail(Code::Ews02, format!("read message: {what}: {why}"));
                return;
            }
            Ok(Message::Binary(bytes)) => stream.extend_from_slice(&bytes),
            Ok(other) => {
                report.base.fail(
                    Code::Ews03,
                    format!(
                        "received incorrect message type: {} (the DERP relay sends binary messages)",
                        kind(&other)
                    ),
                );
                return;
            }
        }
        if let Err(why) = check_server_key(&stream) {
            report
                .base
                .fail(Code::Ews03, format!("received incorrect message: {why}"));
            return;
        }
    }
    report.relay_key = Some(hex(&stream[13..SERVER_KEY_FRAME_LEN]));
    goodbye(&mut ws, ctx.deadline.at());
    report.healthy = true;
}

/// Checks what has arrived so far of the first DERP frame: type, length, magic.
fn check_server_key(stream: &[u8]) -> Result<(), String> {
    if let Some(&kind) = stream.first() {
        if kind != FRAME_SERVER_KEY {
            return Err(format!(
                "the first DERP frame has type 0x{kind:02x}, not a ServerKey frame (0x01)"
            ));
        }
    }
    if stream.len() >= 5 {
        let length = u32::from_be_bytes([stream[1], stream[2], stream[3], stream[4]]) as usize;
        if !(40..=1024).contains(&length) {
            return Err(format!(
                "the ServerKey frame says its payload is {length} bytes; expected magic + 32-byte key"
            ));
        }
    }
    let magic = &stream[stream.len().min(5)..stream.len().min(13)];
    if magic != &DERP_MAGIC[..magic.len()] {
        return Err(format!(
            "the ServerKey frame does not start with the DERP magic (got {})",
            hex(magic)
        ));
    }
    Ok(())
}

/// Dials and upgrades, filling `code`/`body`/`url`; on failure records EWS01 and returns None.
fn open(
    ctx: &Context,
    access_url: &url::Url,
    path: &str,
    headers: &[(&str, &str)],
    subprotocol: Option<&str>,
    report: &mut WebsocketReport,
) -> Option<WebSocket<Shared>> {
    let timeout = ctx.deadline.budget();
    let target = match Target::new(access_url, path) {
        Ok(target) => target,
        Err(e) => {
            fail_uncoded(report, format!("parse access url: {e}"));
            return None;
        }
    };
    report.url = target.shown.clone();
    let request = match target.request(headers, subprotocol) {
        Ok(request) => request,
        Err(e) => {
            report
                .base
                .fail(Code::Ews01, format!("websocket dial: {e}"));
            return None;
        }
    };
    let started = Instant::now();
    let conn: Conn = match dial::connect(&ctx.net, &target, ctx.deadline.at(), timeout) {
        Ok(conn) => conn,
        Err(failed) => {
            report.base.fail_with(
                Code::Ews01,
                format!("websocket dial: {}: {}", target.shown, failed.why),
                failed.evidence,
            );
            return None;
        }
    };
    let address = target.address();
    match upgrade::handshake(
        request,
        conn,
        ctx.deadline.at(),
        timeout,
        &target.shown,
        &address,
    ) {
        Ok((ws, response)) => {
            report.code = response.status().as_u16();
            report.body = String::new();
            report.upgrade_time = Some(started.elapsed());
            Some(ws)
        }
        Err(DialError::Refused(mut refusal)) => {
            // A proxy's error page may echo request headers; never pass the token on.
            for (_, value) in headers.iter().filter(|(_, v)| !v.is_empty()) {
                refusal.body = refusal.body.replace(value, crate::redact::REDACTED);
            }
            report.code = refusal.status;
            report.body = refusal.body.clone();
            report.base.fail_with(
                Code::Ews01,
                format!(
                    "websocket dial: {}: {}",
                    target.shown,
                    explain_refusal(&refusal, &report.probe)
                ),
                refusal.evidence(),
            );
            None
        }
        Err(DialError::Failed(failed)) => {
            report.base.fail_with(
                Code::Ews01,
                format!("websocket dial: {}", failed.why),
                failed.evidence,
            );
            None
        }
    }
}

fn send(
    ws: &mut WebSocket<Shared>,
    message: Message,
    deadline: Instant,
    timeout: Duration,
) -> Result<(), String> {
    ws.get_ref()
        .arm(deadline)
        .map_err(|e| dial::describe_io("", "", &e, timeout))?;
    ws.send(message)
        .map_err(|e| dial::describe_ws_error("", &e, timeout))
}

/// The next data message; control frames are answered by tungstenite and skipped here.
fn receive(
    ws: &mut WebSocket<Shared>,
    deadline: Instant,
    timeout: Duration,
) -> Result<Message, String> {
    loop {
        if ws.get_ref().arm(deadline).is_err() {
            return Err(format!(
                "no answer within the {} deadline",
                crate::duration::go_string(timeout)
            ));
        }
        match ws.read() {
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
            Ok(Message::Close(frame)) => {
                return Err(match frame {
                    Some(f) if !f.reason.is_empty() => format!(
                        "the server closed the connection (status {}, {:?})",
                        u16::from(f.code),
                        f.reason.as_str()
                    ),
                    Some(f) => format!(
                        "the server closed the connection (status {})",
                        u16::from(f.code)
                    ),
                    None => "the server closed the connection".to_string(),
                })
            }
            Ok(message) => return Ok(message),
            Err(tungstenite::Error::Io(e)) if dial::is_timeout(&e) => {
                return Err(format!(
                    "no answer within the {} deadline",
                    crate::duration::go_string(timeout)
                ))
            }
            Err(e) => return Err(dial::describe_ws_error("", &e, timeout)),
        }
    }
}

/// Closes as Coder does (1001 "goodbye"); errors here do not change the verdict.
fn goodbye(ws: &mut WebSocket<Shared>, deadline: Instant) {
    if ws.get_ref().arm(deadline).is_err() {
        return;
    }
    let _ = ws.close(Some(CloseFrame {
        code: CloseCode::Away,
        reason: "goodbye".into(),
    }));
    let _ = ws.flush();
}

fn kind(message: &Message) -> &'static str {
    match message {
        // Go's websocket.MessageType names, as Coder prints them.
        Message::Text(_) => "MessageText",
        Message::Binary(_) => "MessageBinary",
        Message::Ping(_) => "MessagePing",
        Message::Pong(_) => "MessagePong",
        Message::Close(_) => "MessageClose",
        Message::Frame(_) => "MessageFrame",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_key_frame() -> Vec<u8> {
        let mut frame = vec![FRAME_SERVER_KEY, 0, 0, 0, 40];
        frame.extend_from_slice(&DERP_MAGIC);
        frame.extend_from_slice(&[7u8; 32]);
        frame
    }

    #[test]
    fn server_key_checks_type_length_and_magic_incrementally() {
        let frame = server_key_frame();
        for cut in 0..=frame.len() {
            assert!(check_server_key(&frame[..cut]).is_ok(), "prefix {cut}");
        }
        let mut wrong_type = frame.clone();
        wrong_type[0] = 0x02;
        assert!(check_server_key(&wrong_type).unwrap_err().contains("0x02"));
        let mut wrong_magic = frame.clone();
        wrong_magic[8] = b'X';
        assert!(check_server_key(&wrong_magic[..9])
            .unwrap_err()
            .contains("magic"));
        let mut wrong_length = frame;
        wrong_length[4] = 3;
        assert!(check_server_key(&wrong_length)
            .unwrap_err()
            .contains("3 bytes"));
    }
}
