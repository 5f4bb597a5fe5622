//! Facts about the PostgreSQL server itself, not Coder's tables: whether it is a standby, and how
//! many of its connection slots are taken. One query on catalogue functions and
//! `pg_stat_activity`, which every role may read (other roles' rows only in part).

use super::{DbError, Reader};

/// How many holders of connections are named.
pub const TOP_HOLDERS: i64 = 5;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFacts {
    /// `pg_is_in_recovery()`: a standby or read replica.
    pub in_recovery: bool,
    pub max_connections: i64,
    /// Slots a non-superuser cannot take: `superuser_reserved_connections`, plus
    /// `reserved_connections` where the server has it (PostgreSQL 16 and later).
    pub reserved: i64,
    /// Client connections open now, this run's own included.
    pub used: i64,
    /// The largest holders: application name (and user), or the user alone, with their count.
    pub top: Vec<(String, i64)>,
}

impl ServerFacts {
    /// The slots a non-superuser may take.
    pub fn usable(&self) -> i64 {
        crate::report::database::usable_slots(self.max_connections, self.reserved)
    }
}

impl Reader<'_, '_> {
    pub fn server_facts(&mut self) -> Result<ServerFacts, DbError> {
        // A row this role may not fully read has no backend_type; a client backend always has
        // a database, the server's own processes (but autovacuum workers) have none.
        let clients = "(s.backend_type = 'client backend' \
                        OR (s.backend_type IS NULL AND s.datid IS NOT NULL))";
        // One pass over the function behind pg_stat_activity (the view's joins cost more to
        // plan than the rest), counted and grouped.
        let sql = format!(
            "WITH clients AS MATERIALIZED ( \
               SELECT CASE WHEN coalesce(s.application_name, '') <> '' \
                        THEN s.application_name || ' (' || coalesce(pg_get_userbyid(s.usesysid)::text, '?') || ')' \
                        ELSE coalesce(pg_get_userbyid(s.usesysid)::text, '?') END AS who \
               FROM pg_catalog.pg_stat_get_activity(NULL) s WHERE {clients}), \
             holders AS (SELECT who, count(*) AS n FROM clients \
               GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TOP_HOLDERS}) \
             SELECT pg_is_in_recovery(), \
               current_setting('max_connections')::bigint, \
               current_setting('superuser_reserved_connections')::bigint \
                 + coalesce(current_setting('reserved_connections', true), '0')::bigint, \
               (SELECT count(*) FROM clients), \
               (SELECT coalesce(json_agg(json_build_array(who, n)), '[]'::json)::text \
                FROM holders)"
        );
        let row = self.one(&sql, &[])?;
        let get = |e: postgres::Error| DbError::Query(format!("read server settings: {e}"));
        let top_json: String = row.try_get(4).map_err(get)?;
        let top = serde_json::from_str::<Vec<(String, i64)>>(&top_json)
            .map_err(|e| DbError::Query(format!("read connection holders: {e}")))?;
        Ok(ServerFacts {
            in_recovery: row.try_get(0).map_err(get)?,
            max_connections: row.try_get(1).map_err(get)?,
            reserved: row.try_get(2).map_err(get)?,
            used: row.try_get(3).map_err(get)?,
            top,
        })
    }
}
