//! The run's one database connection, and the one read of Coder's data that the sections share.
//!
//! The connection is opened once, on a thread of its own, as soon as the run starts. The tables
//! the sections need (site configs, workspace proxies, provisioner daemons) are then read once,
//! in one READ ONLY transaction, and every section that needs them waits for that snapshot; the
//! Database section's pings take their own turn on the connection. Round trips are what a slow
//! database costs, so each is made once. If the connection cannot be opened, every section hears
//! the same cause at once.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::{CoderDb, Daemons, DbError, Licenses, PendingJobs, Proxies, ServerFacts, SiteConfigs};
use crate::eventually::Eventually;
use crate::net::deadline::Deadline;
use crate::report::{Evidence, Phase};
use crate::settings::DsnSetting;

/// What the sections read from Coder's database, read once per run. Each table has its own
/// result: one missing table must not hide the others.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// `host:port/database`, for messages.
    pub place: String,
    /// The database server's clock when the read began.
    pub now: OffsetDateTime,
    pub site_configs: Result<SiteConfigs, DbError>,
    pub proxies: Result<Proxies, DbError>,
    pub daemons: Result<Daemons, DbError>,
    /// Beyond Coder's reads: the server's own state (standby, connection slots).
    pub server: Result<ServerFacts, DbError>,
    /// Provisioner jobs waiting longer than the run's `--job-pending-warning`.
    pub pending_jobs: Result<PendingJobs, DbError>,
    pub licenses: Result<Licenses, DbError>,
}

pub struct SharedDb {
    /// `None` only inside `drop`, which hands it to a thread of its own.
    inner: Option<Arc<Inner>>,
}

struct Inner {
    /// `host:port` of the DSN (empty when it does not parse), for messages.
    endpoint: String,
    connection: Arc<Eventually<Result<Mutex<CoderDb>, DbError>>>,
    /// Whose turn it is: `true` while a caller uses the connection. A Condvar rather than the
    /// connection's Mutex alone, so a waiter gives up at its own deadline.
    busy: Mutex<bool>,
    free: Condvar,
    /// Set once the connection can no longer be trusted (a request timed out on our side and
    /// may still be in flight): later callers fail at once instead of queueing behind it.
    broken: Mutex<Option<String>>,
    /// Whether the Database section's pings are still to come: they go first, so that a
    /// connection that freezes is reported by the section that measures it.
    pings_pending: Mutex<bool>,
    pinged: Condvar,
    snapshot: OnceSnapshot,
}

/// The read ends this much before the run's deadline, so the sections waiting for it hear its
/// own error (a statement timeout behind a migration's lock, say), not only "did not finish".
const READ_MARGIN: Duration = Duration::from_millis(150);

type OnceSnapshot = std::sync::OnceLock<Arc<Eventually<Result<Snapshot, DbError>>>>;

impl SharedDb {
    /// Starts connecting, then reading the snapshot; both are bounded by `deadline`. With
    /// `pings_first`, the read waits for the Database section's pings (see [`SharedDb::ping`]).
    /// Jobs pending longer than `job_pending` are read (EPQ01).
    pub fn open(
        setting: &DsnSetting,
        deadline: Deadline,
        pings_first: bool,
        job_pending: Duration,
    ) -> SharedDb {
        let endpoint = crate::net::dsn::Dsn::parse(&setting.dsn)
            .map(|dsn| dsn.endpoint())
            .unwrap_or_default();
        let setting = setting.clone();
        let connection = Eventually::spawn(
            "database-connect",
            move || CoderDb::connect(&setting, deadline.at()).map(Mutex::new),
            |why| {
                Err(DbError::Connect(
                    format!("internal error while connecting: {why}"),
                    None,
                ))
            },
        );
        let inner = Arc::new(Inner {
            endpoint,
            connection,
            busy: Mutex::new(false),
            free: Condvar::new(),
            broken: Mutex::new(None),
            pings_pending: Mutex::new(pings_first),
            pinged: Condvar::new(),
            snapshot: OnceSnapshot::new(),
        });
        let reader = inner.clone();
        let snapshot = Eventually::spawn(
            "database-read",
            move || {
                let deadline = deadline.less(READ_MARGIN);
                reader.wait_for_pings(deadline);
                reader.with(deadline, |db| read_snapshot(db, deadline, job_pending))
            },
            |why| {
                Err(DbError::Query(format!(
                    "internal error while reading: {why}"
                )))
            },
        );
        let _ = inner.snapshot.set(snapshot);
        SharedDb { inner: Some(inner) }
    }

    pub fn endpoint(&self) -> &str {
        &self.inner().endpoint
    }

    /// Runs `work` on the connection once it is open and free; waits no longer than `deadline`
    /// for either. Callers take turns: the connection serves one of them at a time.
    pub fn with<T>(
        &self,
        deadline: Deadline,
        work: impl FnOnce(&mut CoderDb) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.inner().with(deadline, work)
    }

    /// The Database section's turn: like [`SharedDb::with`], and the shared read starts once it
    /// is over, however it ends.
    pub fn ping<T>(
        &self,
        deadline: Deadline,
        work: impl FnOnce(&mut CoderDb) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        struct Done<'a>(&'a Inner);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                *self
                    .0
                    .pings_pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = false;
                self.0.pinged.notify_all();
            }
        }
        let _done = Done(self.inner());
        self.inner().with(deadline, work)
    }

    /// The run's read of Coder's tables, waiting no longer than `deadline` for it.
    pub fn snapshot(&self, deadline: Deadline) -> Result<Snapshot, DbError> {
        let Some(snapshot) = self.inner().snapshot.get() else {
            return Err(DbError::Query("the read was never started".to_string()));
        };
        match snapshot.wait(deadline.at()) {
            Some(result) => result.clone(),
            None => Err(DbError::Query(format!(
                "reading Coder's tables at {} did not finish within {}",
                self.inner().endpoint,
                deadline.words()
            ))),
        }
    }

    fn inner(&self) -> &Inner {
        match &self.inner {
            Some(inner) => inner,
            None => unreachable!("SharedDb is used after drop"),
        }
    }

    /// Marks the connection unusable (a request of ours timed out and may still be pending).
    pub fn mark_broken(&self, why: &str) {
        let mut broken = self
            .inner()
            .broken
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        broken.get_or_insert_with(|| why.to_string());
    }
}

impl Drop for SharedDb {
    /// Closing a connection waits for the server to answer what is still in flight, without a
    /// limit. A silent server must not hold the run (or the next run of `--watch`) hostage, so
    /// the close happens on a thread of its own.
    ///
    /// The reference is moved, not cloned, to that thread: with a clone, the thread could drop
    /// its copy first and leave the last one (and the close) to this thread.
    fn drop(&mut self) {
        let inner = self.inner.take();
        let _ = std::thread::Builder::new()
            .name("check-database-close".to_string())
            .spawn(move || drop(inner));
    }
}

impl Inner {
    fn with<T>(
        &self,
        deadline: Deadline,
        work: impl FnOnce(&mut CoderDb) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let db = match self.connection.wait(deadline.at()) {
            Some(Ok(db)) => db,
            Some(Err(e)) => return Err(e.clone()),
            None => {
                return Err(DbError::Connect(
                    format!(
                        "connect to {}: timed out after {}",
                        self.endpoint,
                        deadline.words()
                    ),
                    Some(Evidence::Timeout {
                        address: self.endpoint.clone(),
                        phase: Phase::Connect,
                    }),
                ))
            }
        };
        if let Some(why) = self
            .broken
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Err(DbError::Query(why));
        }
        let _turn = self.take_turn(deadline)?;
        let mut conn = db.lock().unwrap_or_else(|e| e.into_inner());
        work(&mut conn)
    }

    /// Waits until the Database section's pings are over, no longer than `deadline`.
    fn wait_for_pings(&self, deadline: Deadline) {
        let mut pending = self.pings_pending.lock().unwrap_or_else(|e| e.into_inner());
        while *pending {
            let left = deadline.at().saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            pending = self
                .pinged
                .wait_timeout(pending, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits for the connection to be free, no longer than `deadline`.
    fn take_turn(&self, deadline: Deadline) -> Result<Turn<'_>, DbError> {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        while *busy {
            let left = deadline.at().saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(DbError::Query(format!(
                    "the connection to {} was still busy with another section's queries at the \
                     {} deadline",
                    self.endpoint,
                    deadline.words()
                )));
            }
            busy = self
                .free
                .wait_timeout(busy, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *busy = true;
        Ok(Turn(self))
    }
}

/// One caller's turn on the connection; the next caller's starts when it is dropped.
struct Turn<'a>(&'a Inner);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.0.free.notify_one();
    }
}

/// Every table the sections need, in one transaction. A query error aborts the transaction, so
/// the tables after it carry that error too, said as such.
fn read_snapshot(
    db: &mut CoderDb,
    deadline: Deadline,
    job_pending: Duration,
) -> Result<Snapshot, DbError> {
    db.read(deadline.at(), |r| {
        // Every table's columns in one round trip; a missing or unreadable table is that
        // table's own error, a failed query every table's.
        if let Err(e) = r.look_up_columns(&[
            "site_configs",
            "workspace_proxies",
            "provisioner_daemons",
            "provisioner_jobs",
            "licenses",
        ]) {
            return Ok(Snapshot {
                place: r.place.clone(),
                now: r.now,
                site_configs: Err(e.clone()),
                proxies: Err(e.clone()),
                daemons: Err(e.clone()),
                server: Err(e.clone()),
                pending_jobs: Err(e.clone()),
                licenses: Err(e),
            });
        }
        // First: it reads no table of Coder's, so it cannot fail where they would not.
        let server = r.server_facts();
        let site_configs = after(&server).unwrap_or_else(|| r.site_configs());
        let proxies = after(&site_configs).unwrap_or_else(|| r.workspace_proxies());
        let daemons = after(&proxies)
            .or_else(|| after(&site_configs))
            .unwrap_or_else(|| r.provisioner_daemons());
        // Ours come after Coder's, so a failure of theirs cannot cost Coder's reads.
        let pending_jobs = after(&daemons)
            .or_else(|| after(&proxies))
            .or_else(|| after(&site_configs))
            .unwrap_or_else(|| r.pending_jobs(job_pending));
        let licenses = after(&pending_jobs)
            .or_else(|| after(&daemons))
            .or_else(|| after(&proxies))
            .or_else(|| after(&site_configs))
            .unwrap_or_else(|| r.licenses());
        Ok(Snapshot {
            place: r.place.clone(),
            now: r.now,
            site_configs,
            proxies,
            daemons,
            server,
            pending_jobs,
            licenses,
        })
    })
}

/// When `earlier` failed in a way that aborts the transaction, the error a later read gets.
fn after<T, U>(earlier: &Result<T, DbError>) -> Option<Result<U, DbError>> {
    match earlier {
        Err(DbError::Query(e)) => Some(Err(DbError::Query(format!(
            "not read after an earlier query failed: {e}"
        )))),
        _ => None,
    }
}
