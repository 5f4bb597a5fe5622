//! The run's one database connection. It is opened once, on a thread of its own, as soon as the
//! run starts; the Database, Workspace Proxies and Provisioner Daemons sections and the
//! dismissed-list read all use it in turn. If it cannot be opened, every one of them hears the
//! same cause at once.

use std::sync::{Arc, Mutex};

use super::{CoderDb, DbError};
use crate::eventually::Eventually;
use crate::net::deadline::Deadline;
use crate::settings::DsnSetting;

pub struct SharedDb {
    /// `host:port` of the DSN (empty when it does not parse), for messages.
    endpoint: String,
    connection: Arc<Eventually<Result<Mutex<CoderDb>, DbError>>>,
}

impl SharedDb {
    /// Starts connecting; the attempt is bounded by `deadline`.
    pub fn open(setting: &DsnSetting, deadline: Deadline) -> SharedDb {
        let endpoint = crate::net::dsn::Dsn::parse(&setting.dsn)
            .map(|dsn| dsn.endpoint())
            .unwrap_or_default();
        let setting = setting.clone();
        let connection = Eventually::spawn(
            "database-connect",
            move || CoderDb::connect(&setting, deadline.at()).map(Mutex::new),
            |why| {
                Err(DbError::Connect(format!(
                    "internal error while connecting: {why}"
                )))
            },
        );
        SharedDb {
            endpoint,
            connection,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Runs `work` on the connection once it is open; waits no longer than `deadline` for it.
    /// Callers take turns: the connection serves one of them at a time.
    pub fn with<T>(
        &self,
        deadline: Deadline,
        work: impl FnOnce(&mut CoderDb) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        match self.connection.wait(deadline.at()) {
            Some(Ok(db)) => work(&mut db.lock().unwrap_or_else(|e| e.into_inner())),
            Some(Err(e)) => Err(e.clone()),
            None => Err(DbError::Connect(format!(
                "connect to {}: timed out after {}",
                self.endpoint,
                deadline.words()
            ))),
        }
    }
}
