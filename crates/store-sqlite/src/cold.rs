//! The cold reads (tenants, credentials, the change log, webhooks): statements on the readers'
//! connections (`reads::Readers::now`), their rows read column by column for the decoders both
//! backends share (`roster_store::sql::decode`).

use roster_store::StoreError;
use roster_store::sql::decode::Columns;
use rusqlite::{Connection, Params, Row};
use time::OffsetDateTime;

use crate::{lite_err, parse_ts};

/// A row, read by column name. Timestamps are fixed-width UTC text (see `ts` in the crate
/// root).
pub struct Cols<'a, 'r>(pub &'a Row<'r>);

impl Columns for Cols<'_, '_> {
    fn opt_time(&self, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        let text: Option<String> = self.0.get(column).map_err(lite_err)?;
        text.as_deref().map(parse_ts).transpose()
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.0.get(column).map_err(lite_err)
    }
    fn opt_flag(&self, column: &str) -> Result<Option<bool>, StoreError> {
        self.0.get(column).map_err(lite_err)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.0.get(column).map_err(lite_err)
    }
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(column).map_err(lite_err)
    }
}

/// Every row `sql` answers, each decoded by `decode`.
pub fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl Fn(&Cols<'_, '_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(lite_err)?;
    let mut rows = statement.query(params).map_err(lite_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(lite_err)? {
        out.push(decode(&Cols(row))?);
    }
    Ok(out)
}

/// The first row `sql` answers, if any, decoded by `decode`.
pub fn first<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl FnOnce(&Cols<'_, '_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(lite_err)?;
    let mut rows = statement.query(params).map_err(lite_err)?;
    match rows.next().map_err(lite_err)? {
        Some(row) => decode(&Cols(row)).map(Some),
        None => Ok(None),
    }
}

/// The one value of a statement that answers with exactly one row (a count, a flag).
pub fn scalar<T: rusqlite::types::FromSql>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
) -> Result<T, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut q| q.query_row(params, |r| r.get(0)))
        .map_err(lite_err)
}
