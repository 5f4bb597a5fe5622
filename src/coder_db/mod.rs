//! A read-only view of Coder's schema. Every query runs inside a READ ONLY transaction on a
//! connection whose default is read-only too, under a statement timeout taken from the caller's
//! deadline. Columns are looked up in `information_schema.columns` first and only those that
//! exist are selected, so an older Coder's schema reads as "unknown" fields, never as a crash.
//! Secret columns (`token_hashed_secret`, other `site_configs` keys) are never selected.

mod daemons;
mod jobs;
mod licenses;
mod proxies;
pub mod pubsub;
mod server;
mod shared;
mod site_configs;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Instant;

use postgres::types::{ToSql, Type};
use postgres::{Client, Transaction};
use time::OffsetDateTime;

use crate::net::postgres::{describe_pg_error, Dsn};
use crate::report::Evidence;
use crate::settings::DsnSetting;

pub use daemons::{is_recent_age, DaemonRow, Daemons, STALE_INTERVAL_MICROS};
pub use jobs::{JobGroup, PendingJobs, MAX_GROUPS};
pub use licenses::Licenses;
pub use proxies::{Proxies, ProxyRow};
pub use server::ServerFacts;
pub use shared::{SharedDb, Snapshot};
pub use site_configs::{
    parse_dismissed, SiteConfigs, DEFAULT_PROXY_DISPLAY_NAME, DEFAULT_PROXY_ICON_URL,
};

/// Why Coder's data could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbError {
    /// The DSN does not parse.
    Dsn(String),
    /// The server could not be reached or refused the connection; what was observed, if known.
    Connect(String, Option<Evidence>),
    /// The server refused the connection for want of a free slot (SQLSTATE 53300).
    OutOfSlots(String, Option<Evidence>),
    /// A table or column every Coder schema has is missing.
    NotCoder {
        place: String,
        what: String,
    },
    /// The table exists but this role may read none of its columns.
    NoAccess {
        place: String,
        table: String,
    },
    Query(String),
}

impl DbError {
    /// What was observed when connecting (a SQLSTATE, a refusal, a TLS problem), if anything.
    pub fn evidence(&self) -> Option<&Evidence> {
        match self {
            DbError::Connect(_, evidence) | DbError::OutOfSlots(_, evidence) => evidence.as_ref(),
            _ => None,
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Dsn(e)
            | DbError::Connect(e, _)
            | DbError::OutOfSlots(e, _)
            | DbError::Query(e) => f.write_str(e),
            DbError::NotCoder { place, what } => {
                write!(
                    f,
                    "the database at {place} does not look like Coder's: {what}"
                )
            }
            DbError::NoAccess { place, table } => write!(
                f,
                "the database role cannot read table {table} at {place} (no privilege on any of \
                 its columns; grant SELECT on Coder's tables)"
            ),
        }
    }
}

/// One connection to Coder's database.
pub struct CoderDb {
    client: Client,
    dsn: Dsn,
    /// The columns of each table, looked up once per connection (several sections read the
    /// same tables, and the schema does not change under a health check); a table that is
    /// missing or unreadable is remembered as such.
    columns: HashMap<&'static str, Result<Columns, DbError>>,
}

impl CoderDb {
    /// Parses the DSN and connects under the deadline.
    pub fn connect(setting: &DsnSetting, deadline: Instant) -> Result<CoderDb, DbError> {
        let dsn = Dsn::parse(&setting.dsn).map_err(|e| {
            DbError::Dsn(format!("parse DSN from {}: {e}", setting.source.describe()))
        })?;
        let client = dsn
            .connect(deadline)
            .map_err(|e| pubsub::connect_error(&e, &dsn))?;
        Ok(CoderDb {
            client,
            dsn,
            columns: HashMap::new(),
        })
    }

    /// One round trip on the open connection (Coder's ping), bounded by `timeout`.
    pub fn ping(&mut self, timeout: std::time::Duration) -> Result<(), String> {
        self.client.is_valid(timeout).map_err(|e| {
            // The driver's own timeout on an open connection: not a connect failure.
            if e.to_string().contains("timeout") {
                format!(
                    "no answer from {} within {}",
                    self.dsn.endpoint(),
                    crate::duration::go_string(timeout)
                )
            } else {
                describe_pg_error(&e, &self.dsn)
            }
        })
    }

    /// Runs `read` inside one READ ONLY transaction whose statements may not outlive `deadline`.
    pub fn read<T>(
        &mut self,
        deadline: Instant,
        read: impl FnOnce(&mut Reader<'_, '_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let dsn = self.dsn.clone();
        let pg = |e: postgres::Error| DbError::Query(describe_pg_error(&e, &dsn));
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(DbError::Query(format!(
                "no time left to query {}",
                self.dsn.endpoint()
            )));
        }
        let mut tx = self
            .client
            .build_transaction()
            .read_only(true)
            .start()
            .map_err(pg)?;
        // A statement blocked behind a migration's lock gives up at our deadline.
        let timeout_ms = remaining.as_millis().clamp(1, i32::MAX as u128);
        tx.batch_execute(&format!(
            "SET LOCAL statement_timeout = {timeout_ms}; SET LOCAL lock_timeout = {timeout_ms}"
        ))
        .map_err(pg)?;
        let row = tx
            .query_typed_one("SELECT current_database()::text, now()", &[])
            .map_err(pg)?;
        let database: String = row.try_get(0).map_err(pg)?;
        let mut reader = Reader {
            place: format!("{}/{database}", self.dsn.endpoint()),
            now: row.try_get(1).map_err(pg)?,
            tx,
            dsn: &dsn,
            columns: &mut self.columns,
            deadline,
        };
        let value = read(&mut reader)?;
        reader.tx.commit().map_err(pg)?;
        Ok(value)
    }
}

/// Queries inside one read-only transaction.
pub struct Reader<'c, 'd> {
    tx: Transaction<'c>,
    dsn: &'d Dsn,
    columns: &'c mut HashMap<&'static str, Result<Columns, DbError>>,
    /// Checked before each statement: `statement_timeout` bounds one statement, not the sum.
    deadline: Instant,
    /// `host:port/database`, for messages.
    pub place: String,
    /// The database server's clock at the start of the transaction.
    pub now: OffsetDateTime,
}

/// The columns of one table that this role can see.
#[derive(Clone, Debug)]
pub struct Columns {
    /// The schema the table resolved to (via the search path, as Coder's queries resolve it).
    schema: String,
    table: &'static str,
    names: HashSet<String>,
}

impl Columns {
    pub fn has(&self, column: &str) -> bool {
        self.names.contains(column)
    }

    /// Adds the select expression of each optional column this schema has; returns the
    /// columns it lacks (reported as unknown, never a failed query).
    fn select_optional(
        &self,
        optional: &[(&'static str, &str)],
        select: &mut Vec<String>,
    ) -> Vec<&'static str> {
        let mut missing = Vec::new();
        for (column, expr) in optional {
            if self.has(column) {
                select.push(expr.to_string());
            } else {
                missing.push(*column);
            }
        }
        missing
    }

    fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(self.table))
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Reader<'_, '_> {
    fn pg(&self, e: postgres::Error) -> DbError {
        DbError::Query(describe_pg_error(&e, self.dsn))
    }

    /// An error once the deadline has passed, so the next statement is not sent.
    fn in_time(&self) -> Result<(), DbError> {
        if Instant::now() >= self.deadline {
            return Err(DbError::Query(format!(
                "no time left to query {} before the deadline",
                self.place
            )));
        }
        Ok(())
    }

    /// Which columns of `table` exist (looked up once per connection); a missing table means
    /// this is not Coder's database.
    pub fn columns(&mut self, table: &'static str) -> Result<Columns, DbError> {
        if !self.columns.contains_key(table) {
            self.look_up_columns(&[table])?;
        }
        self.columns
            .get(table)
            .cloned()
            .unwrap_or_else(|| Err(DbError::Query(format!("table {table} was not looked up"))))
    }

    /// Looks up the columns of several tables in one round trip, for [`Reader::columns`].
    pub fn look_up_columns(&mut self, tables: &[&'static str]) -> Result<(), DbError> {
        // Each table as the search path resolves it (as Coder's queries resolve it), with the
        // columns this role may use, as information_schema.columns would list them: one query
        // on the catalogue, which is much cheaper to plan than that view.
        let names: Vec<&str> = tables.to_vec();
        let rows = self.rows(
            "SELECT t.name, n.nspname::text, a.attname::text \
             FROM unnest($1::text[]) AS t(name) \
             JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(t.name) \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 \
               AND NOT a.attisdropped \
               AND (pg_catalog.pg_has_role(c.relowner, 'USAGE') \
                 OR pg_catalog.has_column_privilege(c.oid, a.attnum, \
                    'SELECT, INSERT, UPDATE, REFERENCES'))",
            &[(&names, Type::TEXT_ARRAY)],
        )?;
        let mut found: HashMap<String, (String, HashSet<String>)> = HashMap::new();
        for row in &rows {
            let get = |e: postgres::Error| DbError::Query(format!("read the catalogue: {e}"));
            let table: String = row.try_get(0).map_err(get)?;
            let schema: String = row.try_get(1).map_err(get)?;
            let column: Option<String> = row.try_get(2).map_err(get)?;
            let entry = found
                .entry(table)
                .or_insert_with(|| (schema, HashSet::new()));
            entry.1.extend(column);
        }
        for &table in tables {
            let result = match found.remove(table) {
                None => Err(DbError::NotCoder {
                    place: self.place.clone(),
                    what: format!("table {table} is missing"),
                }),
                Some((_, names)) if names.is_empty() => Err(DbError::NoAccess {
                    place: self.place.clone(),
                    table: table.to_string(),
                }),
                Some((schema, names)) => Ok(Columns {
                    schema,
                    table,
                    names,
                }),
            };
            self.columns.insert(table, result);
        }
        Ok(())
    }

    /// Runs statements that return no rows, inside this READ ONLY transaction: a write among
    /// them is refused by the server (SQLSTATE 25006).
    pub fn statements(&mut self, sql: &str) -> Result<(), DbError> {
        self.in_time()?;
        self.tx.batch_execute(sql).map_err(|e| self.pg(e))
    }

    /// One statement in one round trip: with the parameter types given, nothing is prepared
    /// first (a prepare, an execute and a close would be three).
    fn rows(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<postgres::Row>, DbError> {
        self.in_time()?;
        self.tx.query_typed(sql, params).map_err(|e| self.pg(e))
    }

    fn one(
        &mut self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<postgres::Row, DbError> {
        self.in_time()?;
        self.tx.query_typed_one(sql, params).map_err(|e| self.pg(e))
    }

    fn require(&self, columns: &Columns, required: &[&str]) -> Result<(), DbError> {
        match required.iter().find(|c| !columns.has(c)) {
            Some(missing) => Err(DbError::NotCoder {
                place: self.place.clone(),
                what: format!("table {} has no column {missing}", columns.table),
            }),
            None => Ok(()),
        }
    }
}

/// A column that may be absent from this schema generation (then `None`) or NULL.
fn opt<'a, T: postgres::types::FromSql<'a>>(
    row: &'a postgres::Row,
    present: bool,
    name: &str,
) -> Result<Option<T>, postgres::Error> {
    if present {
        row.try_get(name)
    } else {
        Ok(None)
    }
}
