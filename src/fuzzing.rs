//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz) and for the corpus regression test
//! (`tests/fuzz_corpus.rs`): one function per parser of untrusted input, each taking raw bytes.
//! They must never panic, and they assert the parsers' promises (a DSN's `Display` never shows
//! its password, a DERP map host never keeps its userinfo). Not an API: the parsers themselves
//! stay private to their modules.

use std::collections::HashMap;
use std::time::Instant;

use crate::checks::derp::{client, protocol, stun};
use crate::report::derp::ServerInfo;

/// One fuzz target: raw bytes in, a panic on a broken promise.
pub type Target = fn(&[u8]);

/// The fuzz targets by name (as in fuzz/fuzz_targets), for the corpus test.
pub const TARGETS: &[(&str, Target)] = &[
    ("stun", stun_message),
    ("derp_frames", derp_frames),
    ("derp_map", derp_map),
    ("build_info", build_info),
    ("upgrade_response", upgrade_response),
    ("env_file", env_file),
    ("dsn", dsn),
];

/// A STUN answer as our probe reads it: as an answer to the transaction it names, and its
/// attributes as (XOR-)MAPPED-ADDRESS values.
pub fn stun_message(data: &[u8]) {
    use stun_types::message::{Message, TransactionId};
    let txid = Message::from_bytes(data)
        .map(|m| m.transaction_id())
        .unwrap_or_else(|_| TransactionId::from(0u128));
    let txids = HashMap::from([(txid, (0usize, Instant::now()))]);
    let _ = stun::parse_response(data, &txids);
    let _ = stun::decode_address(data, None);
    let _ = stun::decode_address(data, Some(txid));
}

/// A stream of DERP frames: headers under both caps, a ServerKey, ServerInfo JSON.
pub fn derp_frames(data: &[u8]) {
    let mut rest = data;
    while rest.len() >= protocol::HEADER_LEN {
        let mut header = [0u8; protocol::HEADER_LEN];
        header.copy_from_slice(&rest[..protocol::HEADER_LEN]);
        let _ = protocol::parse_header(&header, protocol::MAX_SERVER_KEY_LEN);
        let Ok((kind, len)) = protocol::parse_header(&header, protocol::MAX_FRAME_LEN) else {
            break;
        };
        let body = &rest[protocol::HEADER_LEN..];
        let payload = &body[..len.min(body.len())];
        if let Ok(key) = protocol::parse_server_key(kind, payload) {
            assert_eq!(&payload[protocol::MAGIC.len()..][..protocol::KEY_LEN], &key);
        }
        let _ = ServerInfo::parse(payload);
        rest = &body[len.min(body.len())..];
    }
}

/// A DERP map: parsed leniently, each node's URL built, no host keeping `user:password@`.
pub fn derp_map(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(regions) = crate::checks::derp::map::parse_map(text, "fuzz") {
        for node in regions.iter().flat_map(|r| &r.nodes) {
            let _ = node.derp_url();
            for host in [&node.host_name, &node.ipv4, &node.ipv6, &node.stun_test_ip] {
                if let Some((userinfo, _)) = host.rsplit_once('@') {
                    assert_eq!(userinfo, crate::redact::REDACTED, "{host}");
                }
            }
        }
    }
}

/// `/api/v2/buildinfo`'s body.
pub fn build_info(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(info) = crate::checks::deployment::parse_buildinfo(&text, Some("v0.0.0")) {
        assert!(info.version.is_none_or(|v| !v.is_empty()));
    }
}

/// The answer to an HTTP upgrade: the DERP client's parser, and the WebSocket refusal's
/// chunked body decoder.
pub fn upgrade_response(data: &[u8]) {
    if let Ok(Some((_, head_len))) = client::parse_upgrade_response(data, "relay") {
        assert!(head_len <= data.len());
    }
    let (body, _) = crate::checks::websocket::upgrade::dechunk(data);
    assert!(body.len() <= data.len());
}

/// Coder's env file.
pub fn env_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for key in crate::settings::env_file::parse(&text).keys() {
        assert!(key.starts_with("CODER_"));
    }
}

/// A DSN: whatever parses, its `Display` does not depend on the password (so never shows it),
/// and `password_of` finds the password the parser found.
pub fn dsn(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = crate::net::dsn::Dsn::parse(text) else {
        let _ = crate::net::dsn::password_of(text);
        return;
    };
    let shown = parsed.to_string();
    let mut other = parsed.clone();
    other.password = other.password.as_ref().map(|p| format!("{p}-other"));
    assert_eq!(shown, other.to_string(), "Display depends on the password");
    assert_eq!(crate::net::dsn::password_of(text), parsed.password);
}
