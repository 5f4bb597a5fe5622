//! The pubsub probe: does a NOTIFY sent on one connection reach a LISTEN on another, as Coder's
//! pubsub needs? The listener is a connection of its own, outside any transaction, on a channel
//! named at random, so no other listener hears us and nothing else is written. The NOTIFY goes
//! out on the run's shared connection: two client connections are the point (through a
//! transaction-pooling PgBouncer, LISTEN and NOTIFY on one client connection do round-trip).

use std::sync::mpsc;
use std::time::Instant;

use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;

use super::{CoderDb, DbError};
use crate::net::postgres::{describe_pg_error, ConnectError, Dsn};
use crate::settings::DsnSetting;

/// A fresh channel name and payload, random each run.
#[derive(Clone, Debug)]
pub struct Probe {
    pub channel: String,
    pub payload: String,
}

impl Probe {
    pub fn new() -> Probe {
        Probe {
            channel: format!("healthcheck_{}", random_hex()),
            payload: random_hex(),
        }
    }
}

impl Default for Probe {
    fn default() -> Self {
        Probe::new()
    }
}

fn random_hex() -> String {
    let mut bytes = [0u8; 12];
    // Without the OS's randomness, the clock still makes a name no one else listens on.
    if getrandom::getrandom(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes.copy_from_slice(&nanos.to_le_bytes()[..12]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The listener's side, on a thread of its own: `ready` hears whether LISTEN is in place, then
/// `heard` when the notification arrived (`None`: not by the deadline).
pub struct Listening {
    pub ready: mpsc::Receiver<Result<(), DbError>>,
    pub heard: mpsc::Receiver<Result<Option<Instant>, DbError>>,
}

/// Connects, LISTENs on the probe's channel and waits for its payload until `deadline`.
pub fn listen(setting: &DsnSetting, probe: &Probe, deadline: Instant) -> Listening {
    let (ready_tx, ready) = mpsc::channel();
    let (heard_tx, heard) = mpsc::channel();
    let setting = setting.clone();
    let probe = probe.clone();
    let spawned = std::thread::Builder::new()
        .name("database-listen".to_string())
        .spawn(move || {
            let mut client = match open(&setting, &probe, deadline) {
                Ok(client) => client,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            let _ = heard_tx.send(wait(&mut client, &probe, deadline));
            // Closing waits for the server; nobody waits for this thread.
            drop(client);
        });
    if let Err(e) = spawned {
        let (ready_tx, ready_rx) = mpsc::channel();
        let _ = ready_tx.send(Err(DbError::Query(format!("cannot start a thread: {e}"))));
        return Listening {
            ready: ready_rx,
            heard,
        };
    }
    Listening { ready, heard }
}

fn open(setting: &DsnSetting, probe: &Probe, deadline: Instant) -> Result<Client, DbError> {
    let mut dsn = Dsn::parse(&setting.dsn)
        .map_err(|e| DbError::Dsn(format!("parse DSN from {}: {e}", setting.source.describe())))?;
    // Told apart from the run's own connection in pg_stat_activity and the server's log.
    let name = dsn.application_name.as_deref().unwrap_or("healthcheck");
    dsn.application_name = Some(format!("{name}-pubsub"));
    let mut client = dsn.connect(deadline).map_err(|e| connect_error(&e, &dsn))?;
    client
        .batch_execute(&format!("LISTEN {}", probe.channel))
        .map_err(|e| DbError::Query(format!("LISTEN: {}", describe_pg_error(&e, &dsn))))?;
    Ok(client)
}

/// A connect failure; running out of connection slots (SQLSTATE 53300) is told apart.
pub fn connect_error(e: &ConnectError, dsn: &Dsn) -> DbError {
    let text = format!("connect to {}: {}", dsn.endpoint(), e.describe(dsn));
    match e {
        ConnectError::Postgres(pg)
            if pg.code() == Some(&postgres::error::SqlState::TOO_MANY_CONNECTIONS) =>
        {
            DbError::OutOfSlots(text, e.evidence(dsn))
        }
        _ => DbError::Connect(text, e.evidence(dsn)),
    }
}

fn wait(client: &mut Client, probe: &Probe, deadline: Instant) -> Result<Option<Instant>, DbError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let mut notifications = client.notifications();
        let next = notifications.timeout_iter(left).next();
        match next {
            Ok(None) => return Ok(None),
            Ok(Some(n)) if n.channel() == probe.channel && n.payload() == probe.payload => {
                return Ok(Some(Instant::now()))
            }
            // Not ours (cannot happen on a random channel, but costs nothing to ignore).
            Ok(Some(_)) => {}
            Err(e) => {
                return Err(DbError::Query(format!(
                    "the listening connection failed: {e}"
                )))
            }
        }
    }
}

impl CoderDb {
    /// Sends the probe's notification, outside a transaction of ours (NOTIFY is allowed in the
    /// read-only one it runs in). A simple query: a prepared statement would not survive a
    /// transaction pooler between its preparation and its execution. The channel and payload
    /// are hexadecimal, so they need no quoting.
    pub fn notify(&mut self, probe: &Probe) -> Result<(), DbError> {
        self.client
            .batch_execute(&format!("NOTIFY {}, '{}'", probe.channel, probe.payload))
            .map_err(|e| DbError::Query(format!("NOTIFY: {}", describe_pg_error(&e, &self.dsn))))
    }
}
