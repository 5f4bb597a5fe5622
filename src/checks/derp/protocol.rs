//! The DERP wire format (derp-stun.md §1.4-1.7): 5-byte frame headers, the magic, and the
//! NaCl-boxed ClientInfo/ServerInfo of the handshake. Transport-free: callers feed bytes in.

use crypto_box::aead::{Aead, AeadCore, OsRng};
use crypto_box::{PublicKey, SalsaBox, SecretKey};
use serde_json::Value;

use crate::report::derp::ServerInfo;

pub const MAGIC: &[u8; 8] = b"DERP\xF0\x9F\x94\x91";
pub const PROTOCOL_VERSION: u64 = 2;
pub const HEADER_LEN: usize = 5;
/// The Go client refuses frames over 1 MiB (plus a little room for keys).
pub const MAX_FRAME_LEN: usize = (1 << 20) + 64;
/// ServerKey is read with a 1 KiB cap.
pub const MAX_SERVER_KEY_LEN: usize = 1024;
pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 24;

pub const FRAME_SERVER_KEY: u8 = 0x01;
pub const FRAME_CLIENT_INFO: u8 = 0x02;
pub const FRAME_SERVER_INFO: u8 = 0x03;
pub const FRAME_SEND_PACKET: u8 = 0x04;
pub const FRAME_RECV_PACKET: u8 = 0x05;
pub const FRAME_KEEP_ALIVE: u8 = 0x06;
pub const FRAME_PEER_GONE: u8 = 0x08;
pub const FRAME_PING: u8 = 0x12;
pub const FRAME_PONG: u8 = 0x13;
pub const FRAME_HEALTH: u8 = 0x14;
pub const FRAME_RESTARTING: u8 = 0x15;

pub type Key = [u8; KEY_LEN];

/// One client identity: a fresh X25519 key pair per connection.
pub struct Identity {
    secret: SecretKey,
    pub public: Key,
}

impl Identity {
    pub fn generate() -> Identity {
        let secret = SecretKey::generate(&mut OsRng);
        let public = *secret.public_key().as_bytes();
        Identity { secret, public }
    }

    /// ClientInfo payload: our key, a fresh nonce, and the sealed JSON Coder's client sends.
    pub fn client_info(&self, server: &Key) -> Result<Vec<u8>, String> {
        let sealer = SalsaBox::new(&PublicKey::from(*server), &self.secret);
        let nonce = SalsaBox::generate_nonce(&mut OsRng);
        let json = format!(r#"{{"version":{PROTOCOL_VERSION},"CanAckPings":false}}"#);
        let sealed = sealer
            .encrypt(&nonce, json.as_bytes())
            .map_err(|_| "cannot seal ClientInfo".to_string())?;
        let mut payload = Vec::with_capacity(KEY_LEN + NONCE_LEN + sealed.len());
        payload.extend_from_slice(&self.public);
        payload.extend_from_slice(&nonce);
        payload.extend_from_slice(&sealed);
        Ok(payload)
    }

    /// Opens a ServerInfo payload; a box that does not open means the server does not hold the
    /// key it announced.
    pub fn open_server_info(&self, server: &Key, payload: &[u8]) -> Result<ServerInfo, String> {
        if payload.len() < NONCE_LEN + 16 {
            return Err(format!(
                "ServerInfo frame too short ({} bytes)",
                payload.len()
            ));
        }
        let (nonce, sealed) = payload.split_at(NONCE_LEN);
        let opener = SalsaBox::new(&PublicKey::from(*server), &self.secret);
        let nonce = crypto_box::Nonce::from_slice(nonce);
        let plain = opener.decrypt(nonce, sealed).map_err(|_| {
            "ServerInfo does not open with the server's announced key (not the relay it claims to be)"
                .to_string()
        })?;
        Ok(ServerInfo::parse(&plain))
    }
}

impl ServerInfo {
    /// Go decodes these case-insensitively and ignores the rest; so do we. Unreadable JSON
    /// leaves the zero value, as Coder's report would show it.
    pub(crate) fn parse(plain: &[u8]) -> ServerInfo {
        let mut info = ServerInfo::default();
        if let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(plain) {
            for (k, v) in obj {
                let n = v.as_i64().unwrap_or(0);
                if k.eq_ignore_ascii_case("TokenBucketBytesPerSecond") {
                    info.token_bucket_bytes_per_second = n;
                } else if k.eq_ignore_ascii_case("TokenBucketBytesBurst") {
                    info.token_bucket_bytes_burst = n;
                }
            }
        }
        info
    }
}

/// Encodes one frame.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// SendPacket to `dest`.
pub fn send_packet(dest: &Key, packet: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(KEY_LEN + packet.len());
    payload.extend_from_slice(dest);
    payload.extend_from_slice(packet);
    frame(FRAME_SEND_PACKET, &payload)
}

/// Reads a frame header: (type, payload length), refusing lengths over `cap`.
pub fn parse_header(header: &[u8; HEADER_LEN], cap: usize) -> Result<(u8, usize), String> {
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > cap {
        return Err(format!(
            "frame type {:#04x} claims {len} bytes, over the {cap}-byte limit",
            header[0]
        ));
    }
    Ok((header[0], len))
}

/// Checks the first frame and returns the server key. `first_bytes` helps say what answered
/// instead of a relay (an HTML page, a TLS alert).
pub fn parse_server_key(kind: u8, payload: &[u8]) -> Result<Key, String> {
    if kind != FRAME_SERVER_KEY {
        return Err(format!(
            "not a DERP server: the first frame has type {kind:#04x}, expected ServerKey (0x01)"
        ));
    }
    if payload.len() < MAGIC.len() + KEY_LEN {
        return Err(format!(
            "not a DERP server: ServerKey frame of {} bytes is shorter than magic + key (40)",
            payload.len()
        ));
    }
    if &payload[..MAGIC.len()] != MAGIC {
        return Err("not a DERP server: the ServerKey frame lacks the DERP magic".to_string());
    }
    let mut key = [0u8; KEY_LEN];
    key.copy_from_slice(&payload[MAGIC.len()..MAGIC.len() + KEY_LEN]);
    Ok(key)
}

pub fn hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// Tailscale's short form of a key in logs.
pub fn short_key(key: &Key) -> String {
    format!("[{}]", &hex(key)[..10])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_boxes_round_trip() {
        // Play the server with the same primitives: its secret opens what the client sealed.
        let server_secret = SecretKey::generate(&mut OsRng);
        let server_public = *server_secret.public_key().as_bytes();
        let client = Identity::generate();
        let info = client.client_info(&server_public).unwrap();
        let client_pub = PublicKey::from(<[u8; 32]>::try_from(&info[..32]).unwrap());
        let opener = SalsaBox::new(&client_pub, &server_secret);
        let plain = opener
            .decrypt(crypto_box::Nonce::from_slice(&info[32..56]), &info[56..])
            .unwrap();
        assert_eq!(plain, br#"{"version":2,"CanAckPings":false}"#);

        let nonce = SalsaBox::generate_nonce(&mut OsRng);
        let sealed = opener
            .encrypt(
                &nonce,
                br#"{"version":2,"tokenbucketbytespersecond":7}"#.as_slice(),
            )
            .unwrap();
        let mut payload = nonce.to_vec();
        payload.extend_from_slice(&sealed);
        let got = client.open_server_info(&server_public, &payload).unwrap();
        assert_eq!(got.token_bucket_bytes_per_second, 7);
        payload[30] ^= 1;
        assert!(client.open_server_info(&server_public, &payload).is_err());
    }

    #[test]
    fn server_key_checks() {
        let mut payload = MAGIC.to_vec();
        payload.extend_from_slice(&[7u8; 32]);
        assert_eq!(parse_server_key(1, &payload).unwrap(), [7u8; 32]);
        assert!(parse_server_key(2, &payload).is_err());
        payload[0] = b'X';
        assert!(parse_server_key(1, &payload).unwrap_err().contains("magic"));
        assert!(parse_header(&[1, 0xff, 0, 0, 0], 1024).is_err());
        assert_eq!(parse_header(&[5, 0, 0, 0, 33], 1024).unwrap(), (5, 33));
    }
}
