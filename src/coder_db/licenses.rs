//! `licenses`: only when each license expires (`exp`), never the license itself (`jwt`).

use time::OffsetDateTime;

use super::{DbError, Reader};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Licenses {
    pub count: i64,
    /// The latest expiry among them; `None` when there are none.
    pub latest_expiry: Option<OffsetDateTime>,
}

impl Reader<'_, '_> {
    pub fn licenses(&mut self) -> Result<Licenses, DbError> {
        let columns = self.columns("licenses")?;
        self.require(&columns, &["exp"])?;
        let sql = format!(
            "SELECT count(*), max(exp)::timestamptz FROM {}",
            columns.qualified()
        );
        let row = self.one(&sql, &[])?;
        let get = |e: postgres::Error| DbError::Query(format!("read licenses: {e}"));
        Ok(Licenses {
            count: row.try_get(0).map_err(get)?,
            latest_expiry: row.try_get(1).map_err(get)?,
        })
    }
}
