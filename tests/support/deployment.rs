//! A whole healthy deployment laid out as Coder's docs recommend: a real nginx in front (WebSocket
//! upgrades passed), the Coder look-alike behind it, the DERP relay at `/derp`, a real coturn for
//! STUN and a real PostgreSQL with Coder's schema and one fresh provisioner daemon.

use super::coder_schema::{CoderDb, Generation, Seen};
use super::coturn::Coturn;
use super::derp_relay::{DerpRelay, Mode};
use super::nginx::Nginx;
use super::ws_server::{Fault, WsServer, VERSION};

pub struct Deployment {
    pub nginx: Nginx,
    /// The DERP relay behind nginx's `/derp`, for tests that point a DERP map at it.
    pub relay_port: u16,
    pub stun: Coturn,
    pub db: CoderDb,
    pub token: &'static str,
}

impl Deployment {
    /// Starts everything; `db_name` is this test's own database.
    pub fn start(db_name: &str, token: &'static str) -> Deployment {
        Deployment::start_with(db_name, token, true)
    }

    /// `pass_upgrades: false` is the classic nginx mistake (the demo's broken websocket): no
    /// `Upgrade` and `Connection` headers are passed on, so upgrades arrive as plain requests.
    pub fn start_with(db_name: &str, token: &'static str, pass_upgrades: bool) -> Deployment {
        let coder = WsServer::start(token, Fault::None);
        let relay = DerpRelay::start(Mode::Normal);
        let upgrade =
            "proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";";
        let pass = format!(
            "proxy_http_version 1.1; {} proxy_set_header Host $host;",
            if pass_upgrades { upgrade } else { "" }
        );
        let nginx = Nginx::start(&format!(
            "    location /derp {{ proxy_pass http://127.0.0.1:{}; {pass} }}\n    \
             location / {{ proxy_pass http://127.0.0.1:{}; {pass} }}",
            relay.port, coder.port
        ));
        let stun = Coturn::start();
        let db = CoderDb::create(db_name, Generation::Newest);
        db.add_daemon("built-in", VERSION, "1.0", Seen::SecondsAgo(5));
        Deployment {
            nginx,
            relay_port: relay.port,
            stun,
            db,
            token,
        }
    }

    /// The `healthcheck run` arguments that point at every part of it.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--access-url".to_string(),
            self.nginx.url(),
            "--postgres-url".to_string(),
            self.db.dsn(),
            "--token".to_string(),
            self.token.to_string(),
            "--derp-server-stun-addresses".to_string(),
            self.stun.addr(),
        ]
    }
}
